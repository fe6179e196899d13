/* test_ui_bars.c - sparsity bars from numbers to cells (rows from a
 * snapshot, collapsing, precision names and roles, scrolling) and the pane
 * layout for every view at sizes from 80x24 up. */
#include <math.h>
#include <string.h>
#include "tap.h"
#include "ui/bars.h"
#include "ui/layout.h"

static int row_has(const ui_grid *g, int y, const char *s)
{
    char buf[4096];
    ui_grid_row(g, y, buf, sizeof buf);
    return strstr(buf, s) != NULL;
}

static void row_str(const ui_grid *g, int y, char *buf, size_t n)
{
    ui_grid_row(g, y, buf, n);
}

/* A snapshot of a 2-block model: emb, 14 linears, head; block 1 sparser. */
static void fake_snapshot(tlm_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->n_layers = 2;
    int n = 0;
    snprintf(s->layer[n].name, sizeof s->layer[n].name, "emb");
    s->layer[n].linear = -1;
    s->layer[n++].prec = TLM_PREC_FP32;
    for (int b = 0; b < 2; b++)
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++) {
            tlm_layer_snap *l = &s->layer[n++];
            tlm_linear_name(b, j, l->name, sizeof l->name);
            l->linear = b * TLM_LIN_PER_BLOCK + j;
            l->prec = TLM_PREC_TERNARY;
            l->sparsity = b ? 0.5f : 0.3f;
            l->flip_rate = 0.001f;
        }
    snprintf(s->layer[n].name, sizeof s->layer[n].name, "head");
    s->layer[n].linear = -1;
    s->layer[n++].prec = TLM_PREC_FP32;
    s->n_rows = n;
}

static void test_bar_cells(void)
{
    ui_grid g;
    ui_grid_init(&g, 10, 1);
    char buf[128];
    ui_bar_cells(&g, 0, 0, 10, 0.5, UI_R_TERNARY, 1);
    row_str(&g, 0, buf, sizeof buf);
    ok(!strcmp(buf, "█████     "), "half bar |%s|", buf);
    ui_bar_cells(&g, 0, 0, 10, 0.55, UI_R_TERNARY, 1);
    row_str(&g, 0, buf, sizeof buf);
    ok(!strcmp(buf, "█████▌    "), "eighth blocks |%s|", buf);
    ok(g.c[0].role == UI_R_TERNARY && g.c[9].role == UI_R_DIM, "bar role and track role");
    ui_bar_cells(&g, 0, 0, 10, 0.3, UI_R_INT8, 0);
    row_str(&g, 0, buf, sizeof buf);
    ok(!strcmp(buf, "###......."), "ASCII bar |%s|", buf);
    ui_bar_cells(&g, 0, 0, 10, NAN, UI_R_INT8, 0);
    row_str(&g, 0, buf, sizeof buf);
    ok(!strcmp(buf, ".........."), "NaN draws an empty bar");
    ui_bar_cells(&g, 0, 0, 10, 7, UI_R_INT8, 0);
    row_str(&g, 0, buf, sizeof buf);
    ok(!strcmp(buf, "##########"), "values above 1 are clamped");
    ui_grid_free(&g);
}

static void test_rows(void)
{
    tlm_snapshot s;
    fake_snapshot(&s);
    ui_bar_row rows[64];
    int n = ui_bars_rows(&s, 0, 0, rows, 64);
    ok(n == 4 && !strcmp(rows[0].name, "emb") && !strcmp(rows[1].name, "L0") &&
           !strcmp(rows[2].name, "L1") && !strcmp(rows[3].name, "head"),
       "collapsed: emb, one row per block, head (%d rows)", n);
    ok(rows[1].group && fabs(rows[1].value - 0.3) < 1e-6 && fabs(rows[2].value - 0.5) < 1e-6,
       "a block row is the mean of its linears");
    ok(rows[1].prec == TLM_PREC_TERNARY && rows[0].prec == TLM_PREC_FP32, "precisions");
    ok(isnan(rows[0].flip) && fabs(rows[1].flip - 0.001) < 1e-6, "emb has no flip rate");
    n = ui_bars_rows(&s, 1u << 1, 0, rows, 64);
    ok(n == 11 && !strcmp(rows[3].name, "L1.attn.q") && rows[3].layer == 1,
       "block 1 expanded: its seven linears follow it (%d rows)", n);
    n = ui_bars_rows(&s, 0, 1, rows, 64);
    ok(n == 18, "all expanded: 18 rows (%d)", n);
    s.layer[1].prec = TLM_PREC_FP32;
    n = ui_bars_rows(&s, 0, 0, rows, 64);
    ok(rows[1].prec == -1 && !strcmp(ui_prec_short(rows[1].prec), "mix"),
       "a block of mixed precisions says mix");
    n = ui_bars_rows(&s, 0, 1, rows, 3);
    ok(n == 3, "rows are capped at max");
}

static void test_draw(void)
{
    tlm_snapshot s;
    fake_snapshot(&s);
    ui_bar_row rows[64];
    int n = ui_bars_rows(&s, 0, 1, rows, 64), scroll = 0;
    ui_grid g;
    ui_grid_init(&g, 40, 20);
    ui_bars_draw(&g, 0, 0, 40, 20, rows, n, -1, &scroll, 1);
    ok(row_has(&g, 0, "layer") && row_has(&g, 0, "prec") && row_has(&g, 0, "flip"), "header");
    ok(row_has(&g, 2, "- L0") && row_has(&g, 2, "30.0%") && row_has(&g, 2, "tern"),
       "block row: open marker, mean, precision");
    ok(row_has(&g, 3, "L0.attn.q") && row_has(&g, 3, "0.10%"), "linear row with its flip rate");
    ok(row_has(&g, 1, "emb") && row_has(&g, 1, "fp32") && row_has(&g, 1, " -"), "emb row");
    /* precision change: L0.* to fp32 changes the marker and the bar role */
    for (int i = 1; i <= 7; i++)
        s.layer[i].prec = TLM_PREC_FP32;
    n = ui_bars_rows(&s, 0, 1, rows, 64);
    ui_grid_clear(&g);
    ui_bars_draw(&g, 0, 0, 40, 20, rows, n, -1, &scroll, 1);
    ok(row_has(&g, 3, "L0.attn.q") && row_has(&g, 3, "fp32") && row_has(&g, 11, "tern"),
       "after precision L0.* fp32: L0 rows say fp32, L1 rows tern");
    int bar_x = -1;
    for (int x = 0; x < g.w; x++)
        if (!strcmp(g.c[3 * g.w + x].s, "█") || !strncmp(g.c[3 * g.w + x].s, "\xe2\x96", 2)) {
            bar_x = x;
            break;
        }
    ok(bar_x > 0 && g.c[3 * g.w + bar_x].role == UI_R_FP32, "the bar takes the fp32 colour role");
    ui_grid_free(&g);
}

static void test_scroll(void)
{
    tlm_snapshot s;
    fake_snapshot(&s);
    ui_bar_row rows[64];
    int n = ui_bars_rows(&s, 0, 1, rows, 64), scroll = 0;
    ui_grid g;
    ui_grid_init(&g, 40, 5);
    ui_bars_draw(&g, 0, 0, 40, 5, rows, n, 10, &scroll, 0);
    ok(scroll == 7 && row_has(&g, 4, "L1.attn.q"), "scrolls so the selection is the last row shown "
       "(scroll %d)", scroll);
    ok(g.c[4 * g.w].role == UI_R_SELECT, "the selected row has the selection role");
    ui_bars_draw(&g, 0, 0, 40, 5, rows, n, 0, &scroll, 0);
    ok(scroll == 0, "and back up");
    int narrow_ok = 1;
    for (int w = 8; w <= 40; w++) {
        ui_grid_clear(&g);
        ui_bars_draw(&g, 0, 0, w, 5, rows, n, 3, &scroll, 1);
        for (int y = 0; y < 5; y++)
            for (int x = w; x < g.w; x++)
                narrow_ok &= !g.c[y * g.w + x].s[0];
    }
    ok(narrow_ok, "narrow widths stay inside their rectangle");
    ui_grid_free(&g);
}

static int inside(const ui_rect *r, int w, int h)
{
    return !r->h || (r->x >= 0 && r->y >= 0 && r->w > 0 && r->x + r->w <= w && r->y + r->h <= h);
}

static int overlap(const ui_rect *a, const ui_rect *b)
{
    if (!a->h || !b->h)
        return 0;
    return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h && b->y < a->y + a->h;
}

static void test_layout(void)
{
    ui_layout l;
    ui_layout_compute(&l, 79, 40, UI_VIEW_MAIN);
    ok(!l.ok, "79 columns is too small");
    ui_layout_compute(&l, 120, 23, UI_VIEW_MAIN);
    ok(!l.ok, "23 rows is too small");
    static const int sizes[][2] = {{80, 24}, {100, 30}, {132, 43}, {200, 60}, {400, 120}};
    int good = 1, shown = 1;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int v = 0; v < UI_VIEW_COUNT; v++) {
            int w = sizes[k][0], h = sizes[k][1];
            ui_layout_compute(&l, w, h, (ui_view)v);
            ui_rect all[] = {l.status, l.chart, l.bars, l.inspect, l.help, l.output, l.keys,
                             l.prompt};
            int n = (int)(sizeof all / sizeof all[0]);
            good &= l.ok;
            for (int i = 0; i < n; i++) {
                good &= inside(&all[i], w, h);
                for (int j = i + 1; j < n; j++)
                    good &= !overlap(&all[i], &all[j]);
            }
            good &= l.prompt.y == h - 1 && l.status.y == 0 && l.output.h >= 5;
            shown &= v != UI_VIEW_MAIN || (l.chart.w >= 40 && l.bars.w >= 34 && l.chart.h >= 10);
            shown &= v != UI_VIEW_CHART || l.chart.w == w;
            shown &= v != UI_VIEW_LAYERS || l.bars.w == w;
            shown &= v != UI_VIEW_INSPECT || l.inspect.h >= 10;
        }
    ok(good, "every view at every size: panes inside the screen, not overlapping");
    ok(shown, "each view shows its panes with room (main at 80x24: chart >= 40, bars >= 34)");
    ok(!strcmp(ui_view_name(UI_VIEW_INSPECT), "inspect"), "view names");
}

int main(void)
{
    test_bar_cells();
    test_rows();
    test_draw();
    test_scroll();
    test_layout();
    return tap_done();
}
