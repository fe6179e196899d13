/* inspect.h - the inspector pane for one layer, as a pure function: the
 * layer's numbers from the snapshot (shape, precision, g, share of zeros,
 * flip rate, gradient norm), the -1/0/+1 counts of its ternary codes as bars
 * labelled with the thresholds +-g/2 that decide them, g / zeros / flips
 * over time as sparklines, and below them the lines the console's `inspect`
 * command answers (latent-weight histogram, activation statistics), shown
 * as they are. */
#ifndef TLM_UI_INSPECT_H
#define TLM_UI_INSPECT_H
#include "../engine/session/session.h"
#include "grid.h"

typedef struct ui_inspect_in {
    const tlm_layer_snap *layer;       /* NULL: the name is not a layer */
    const char *name;                  /* the layer asked for */
    const double *g_hist, *zero_hist, *flip_hist; /* per published step, oldest first */
    size_t n_hist;
    const char *const *lines;          /* the `inspect` answer (may be NULL) */
    int n_lines;
    int scroll;                        /* first answer line shown */
    const char *note;                  /* shown after the answer title ("waiting") */
    int utf8;
} ui_inspect_in;

/* Rows the pane needs above the answer lines for this layer. */
int ui_inspect_head_rows(const ui_inspect_in *in);

/* Draw the inspector into (x, y, w, h) of g. */
void ui_inspect_draw(ui_grid *g, int x, int y, int w, int h, const ui_inspect_in *in);

#endif
