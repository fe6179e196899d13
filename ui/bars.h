/* bars.h - per-layer sparsity bars as pure functions from numbers to cells.
 *
 * One row per tensor of the snapshot ("emb", "L0.attn.q" ... "head"), or one
 * row per block with the mean of its seven linears when the block is
 * collapsed: name, a bar of the share of zeros coloured by precision, the
 * value, the precision's name (tern / int8 / fp32 / mix, so the precision is
 * readable without colour) and the flip rate. */
#ifndef TLM_UI_BARS_H
#define TLM_UI_BARS_H
#include <stdint.h>
#include "../engine/session/session.h"
#include "grid.h"

typedef struct ui_bar_row {
    char name[24];
    double value;   /* share of zeros, 0..1 */
    int prec;       /* tlm_prec; -1 when a collapsed block mixes precisions */
    double flip;    /* flip rate, 0..1; NaN shows "-" */
    int layer;      /* block index; -1 for emb and head */
    int group;      /* 1: the collapsed row of a whole block */
    int snap_row;   /* row of the snapshot (the block's first linear when group) */
} ui_bar_row;

/* Colour role of a precision (UI_R_TERNARY, UI_R_INT8, UI_R_FP32; mixed:
 * UI_R_NORMAL) and its short name ("tern", "int8", "fp32", "mix"). */
int ui_prec_role(int prec);
const char *ui_prec_short(int prec);

/* Fill one bar of w cells at (x, y): frac (clamped to 0..1) of the width
 * filled, UTF-8 with eighth blocks, ASCII with '#' on a '.' track. */
void ui_bar_cells(ui_grid *g, int x, int y, int w, double frac, int role, int utf8);

/* Rows of the snapshot: block i is expanded to its seven linears when bit i
 * of expanded is set or expand_all; otherwise one row for the block. emb and
 * head always have a row. Returns the number of rows (at most max). */
int ui_bars_rows(const tlm_snapshot *s, uint64_t expanded, int expand_all, ui_bar_row *out,
                 int max);

/* Draw a header line and the rows into (x, y, w, h) of g. sel is the
 * selected row (-1: none), *scroll the first row shown, adjusted so that sel
 * is visible. Rows of an expanded block are indented under their block. */
void ui_bars_draw(ui_grid *g, int x, int y, int w, int h, const ui_bar_row *rows, int n,
                  int sel, int *scroll, int utf8);

#endif
