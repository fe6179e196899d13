/* inspect.c - the inspector pane. Pure. */
#include "inspect.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "bars.h"
#include "chart.h"

int ui_inspect_head_rows(const ui_inspect_in *in)
{
    if (!in->layer)
        return 1;
    return 1 + (in->layer->linear >= 0 ? 3 : 0) + 3;
}

static void draw_header(ui_grid *g, int x, int y, int w, const tlm_layer_snap *l)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s  %dx%d  %s  g %.5g  zeros %.1f%%  grad %.3g", l->name, l->rows,
             l->cols, tlm_prec_name((tlm_prec)l->prec), (double)l->gamma,
             (double)l->sparsity * 100, (double)l->grad_norm);
    ui_grid_text(g, x, y, buf, UI_R_NORMAL, w);
}

/* Three bars: the share of codes -1, 0, +1 with the thresholds at +-g/2. */
static void draw_codes(ui_grid *g, int x, int y, int w, const tlm_layer_snap *l, int utf8)
{
    double total = (double)l->counts[0] + (double)l->counts[1] + (double)l->counts[2];
    double half = (double)l->gamma / 2;
    static const char *code[3] = {"-1", " 0", "+1"};
    for (int k = 0; k < 3; k++) {
        char lab[64], val[48];
        if (k == 0)
            snprintf(lab, sizeof lab, "w < %-+9.3g", -half);
        else if (k == 1)
            snprintf(lab, sizeof lab, "|w| < %-8.3g", half);
        else
            snprintf(lab, sizeof lab, "w > %-+9.3g", half);
        double share = total > 0 ? (double)l->counts[k] / total : 0;
        snprintf(val, sizeof val, " %5.1f%% %llu", share * 100, (unsigned long long)l->counts[k]);
        int lw = ui_grid_text(g, x, y + k, lab, UI_R_LABEL, w);
        lw += ui_grid_text(g, x + lw, y + k, code[k], UI_R_NORMAL, w - lw);
        int bw = w - lw - 1 - (int)strlen(val);
        if (bw > 40)
            bw = 40;
        if (bw < 4)
            continue;
        ui_bar_cells(g, x + lw + 1, y + k, bw, share, ui_prec_role(l->prec), utf8);
        ui_grid_text(g, x + lw + 1 + bw, y + k, val, UI_R_NORMAL, w - lw - 1 - bw);
    }
}

static void draw_spark(ui_grid *g, int x, int y, int w, const char *label, const char *value,
                       const double *v, size_t n, int role, int utf8)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%-6s%-10s", label, value);
    int lw = ui_grid_text(g, x, y, buf, UI_R_LABEL, w);
    if (v && n && w - lw > 4)
        ui_sparkline(g, x + lw, y, w - lw, v, n, role, utf8);
}

static void draw_history(ui_grid *g, int x, int y, int w, const ui_inspect_in *in)
{
    const tlm_layer_snap *l = in->layer;
    char a[32];
    snprintf(a, sizeof a, "%.4g", (double)l->gamma);
    draw_spark(g, x, y, w, "g", a, in->g_hist, in->n_hist, UI_R_TRAIN, in->utf8);
    snprintf(a, sizeof a, "%.1f%%", (double)l->sparsity * 100);
    draw_spark(g, x, y + 1, w, "zeros", a, in->zero_hist, in->n_hist, ui_prec_role(l->prec),
               in->utf8);
    if (l->linear >= 0)
        snprintf(a, sizeof a, "%.3f%%", (double)l->flip_rate * 100);
    else
        snprintf(a, sizeof a, "-");
    draw_spark(g, x, y + 2, w, "flips", a, l->linear >= 0 ? in->flip_hist : NULL, in->n_hist,
               UI_R_VAL, in->utf8);
}

void ui_inspect_draw(ui_grid *g, int x, int y, int w, int h, const ui_inspect_in *in)
{
    if (w < 10 || h < 1)
        return;
    int row = y;
    if (!in->layer) {
        char buf[128];
        snprintf(buf, sizeof buf, "no layer '%s' (emb, L0.attn.q ... L0.mlp.down, head)",
                 in->name ? in->name : "");
        ui_grid_text(g, x, row++, buf, UI_R_ERROR, w);
    } else {
        draw_header(g, x, row++, w, in->layer);
        if (in->layer->linear >= 0 && row + 3 <= y + h) {
            draw_codes(g, x, row, w, in->layer, in->utf8);
            row += 3;
        }
        if (row + 3 <= y + h) {
            draw_history(g, x, row, w, in);
            row += 3;
        }
    }
    if (row >= y + h)
        return;
    char title[128];
    snprintf(title, sizeof title, "inspect %s%s%s", in->name ? in->name : "",
             in->note ? "  " : "", in->note ? in->note : "");
    ui_title(g, x, row++, w, title, 0, in->utf8);
    for (int i = in->scroll; i < in->n_lines && row < y + h; i++)
        ui_grid_text(g, x, row++, in->lines[i], UI_R_NORMAL, w);
}
