/* bars.c - sparsity bars: rows from a snapshot, bars from numbers. Pure. */
#include "bars.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

int ui_prec_role(int prec)
{
    switch (prec) {
    case TLM_PREC_TERNARY: return UI_R_TERNARY;
    case TLM_PREC_INT8: return UI_R_INT8;
    case TLM_PREC_FP32: return UI_R_FP32;
    default: return UI_R_NORMAL;
    }
}

const char *ui_prec_short(int prec)
{
    switch (prec) {
    case TLM_PREC_TERNARY: return "tern";
    case TLM_PREC_INT8: return "int8";
    case TLM_PREC_FP32: return "fp32";
    default: return "mix";
    }
}

void ui_bar_cells(ui_grid *g, int x, int y, int w, double frac, int role, int utf8)
{
    static const char *eighths[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    if (!(frac >= 0))
        frac = 0;
    if (frac > 1)
        frac = 1;
    int units = (int)lround(frac * w * (utf8 ? 8 : 1));
    for (int i = 0; i < w; i++) {
        int u = units - i * (utf8 ? 8 : 1);
        if (utf8 && u >= 8)
            ui_grid_put(g, x + i, y, "█", role);
        else if (utf8 && u > 0)
            ui_grid_put(g, x + i, y, eighths[u], role);
        else if (!utf8 && u > 0)
            ui_grid_put(g, x + i, y, "#", role);
        else
            ui_grid_put(g, x + i, y, utf8 ? " " : ".", UI_R_DIM);
    }
}

static ui_bar_row row_of(const tlm_layer_snap *l, int snap_row)
{
    ui_bar_row r = {.value = l->sparsity, .prec = l->prec, .snap_row = snap_row, .layer = -1};
    snprintf(r.name, sizeof r.name, "%s", l->name);
    r.flip = l->linear >= 0 ? l->flip_rate : NAN;
    if (l->linear >= 0)
        r.layer = l->linear / TLM_LIN_PER_BLOCK;
    return r;
}

/* The collapsed row of block b: means of its linears; prec -1 when mixed. */
static ui_bar_row block_row(const tlm_snapshot *s, int b)
{
    ui_bar_row r = {.layer = b, .group = 1, .snap_row = -1, .prec = -2};
    double sp = 0, fl = 0;
    int n = 0;
    for (int i = 0; i < s->n_rows; i++) {
        const tlm_layer_snap *l = &s->layer[i];
        if (l->linear < 0 || l->linear / TLM_LIN_PER_BLOCK != b)
            continue;
        if (r.snap_row < 0)
            r.snap_row = i;
        sp += l->sparsity;
        fl += l->flip_rate;
        r.prec = r.prec == -2 || r.prec == l->prec ? l->prec : -1;
        n++;
    }
    snprintf(r.name, sizeof r.name, "L%d", b);
    r.value = n ? sp / n : 0;
    r.flip = n ? fl / n : NAN;
    if (r.prec == -2)
        r.prec = -1;
    return r;
}

int ui_bars_rows(const tlm_snapshot *s, uint64_t expanded, int expand_all, ui_bar_row *out,
                 int max)
{
    int n = 0, last_block = -1;
    for (int i = 0; i < s->n_rows && n < max; i++) {
        const tlm_layer_snap *l = &s->layer[i];
        if (l->linear < 0) {
            out[n++] = row_of(l, i);
            continue;
        }
        int b = l->linear / TLM_LIN_PER_BLOCK;
        int open = expand_all || (b < 64 && (expanded >> b & 1));
        if (b != last_block) {
            out[n++] = block_row(s, b);
            last_block = b;
        }
        if (open && n < max)
            out[n++] = row_of(l, i);
    }
    return n;
}

/* Widths of the columns after the bar; those that do not fit are dropped. */
typedef struct bar_cols {
    int name, bar, value, prec, flip;
} bar_cols;

static bar_cols columns(const ui_bar_row *rows, int n, int w)
{
    bar_cols c = {0, 0, 6, 5, 6};
    for (int i = 0; i < n; i++) {
        int len = (int)strlen(rows[i].name) + 2;
        if (len > c.name)
            c.name = len;
    }
    if (c.name > 14)
        c.name = 14;
    if (c.name < 6)
        c.name = 6;
    c.bar = w - c.name - c.value - c.prec - c.flip;
    if (c.bar < 4)
        c.bar += c.flip, c.flip = 0;
    if (c.bar < 4)
        c.bar += c.prec, c.prec = 0;
    if (c.bar < 2) {
        c.name = w - c.value - 2;
        if (c.name < 3)
            c.value = 0, c.name = w - 2;
        c.bar = w - c.name - c.value;
    }
    return c;
}

static void draw_header(ui_grid *g, int x, int y, const bar_cols *c)
{
    if (c->name > 0)
        ui_grid_text(g, x, y, "layer", UI_R_LABEL, c->name);
    ui_grid_text(g, x + c->name, y, "zeros", UI_R_LABEL, c->bar);
    int cx = x + c->name + c->bar + c->value;
    if (c->prec)
        ui_grid_text(g, cx + 1, y, "prec", UI_R_LABEL, 4);
    if (c->flip)
        ui_grid_text(g, cx + c->prec + 2, y, "flip", UI_R_LABEL, 4);
}

static void draw_row(ui_grid *g, int x, int y, const ui_bar_row *r, const bar_cols *c,
                     int selected, int open, int utf8)
{
    char name[32], val[16], flip[16];
    if (r->group)
        snprintf(name, sizeof name, "%c %s", open ? '-' : '+', r->name);
    else
        snprintf(name, sizeof name, "%s%s", r->layer >= 0 ? " " : "", r->name);
    int nrole = selected ? UI_R_SELECT : r->group ? UI_R_LABEL : UI_R_NORMAL;
    for (int i = 0; i < c->name; i++)
        ui_grid_put(g, x + i, y, " ", nrole);
    if (c->name > 1)
        ui_grid_text(g, x, y, name, nrole, c->name - 1);
    int role = ui_prec_role(r->prec);
    ui_bar_cells(g, x + c->name, y, c->bar, r->value, role, utf8);
    snprintf(val, sizeof val, "%5.1f%%", r->value * 100);
    int cx = x + c->name + c->bar;
    if (c->value)
        ui_grid_text(g, cx, y, val, UI_R_NORMAL, c->value);
    cx += c->value;
    if (c->prec) {
        ui_grid_text(g, cx + 1, y, ui_prec_short(r->prec), role, 4);
        cx += c->prec;
    }
    if (c->flip) {
        if (isfinite(r->flip))
            snprintf(flip, sizeof flip, "%5.2f%%", r->flip * 100);
        else
            snprintf(flip, sizeof flip, "%6s", "-");
        ui_grid_text(g, cx, y, flip, UI_R_DIM, c->flip);
    }
}

/* Whether the block row at i is followed by its own linears. */
static int block_open(const ui_bar_row *rows, int n, int i)
{
    return rows[i].group && i + 1 < n && !rows[i + 1].group && rows[i + 1].layer == rows[i].layer;
}

void ui_bars_draw(ui_grid *g, int x, int y, int w, int h, const ui_bar_row *rows, int n,
                  int sel, int *scroll, int utf8)
{
    if (w < 8 || h < 1)
        return;
    bar_cols c = columns(rows, n, w);
    draw_header(g, x, y, &c);
    int vis = h - 1;
    if (sel >= n)
        sel = n - 1;
    if (*scroll > n - vis)
        *scroll = n - vis;
    if (sel >= 0 && sel < *scroll)
        *scroll = sel;
    if (sel >= 0 && sel >= *scroll + vis)
        *scroll = sel - vis + 1;
    if (*scroll < 0)
        *scroll = 0;
    for (int k = 0; k < vis && *scroll + k < n; k++) {
        int i = *scroll + k;
        draw_row(g, x, y + 1 + k, &rows[i], &c, i == sel, block_open(rows, n, i), utf8);
    }
}
