/* layout.h - where each pane goes for a terminal size and a view. Pure. */
#ifndef TLM_UI_LAYOUT_H
#define TLM_UI_LAYOUT_H

#define UI_MIN_W 80
#define UI_MIN_H 24

typedef struct ui_rect {
    int x, y, w, h; /* h == 0: the pane is not shown */
} ui_rect;

/* What the upper part of the screen shows (F5 cycles through the first four;
 * F1 toggles help). */
typedef enum ui_view {
    UI_VIEW_MAIN = 0, /* loss chart | sparsity bars */
    UI_VIEW_CHART,    /* the loss chart, full width */
    UI_VIEW_LAYERS,   /* the bars, full width, every linear */
    UI_VIEW_INSPECT,  /* one layer */
    UI_VIEW_HELP,     /* keys and commands */
    UI_VIEW_COUNT
} ui_view;

/* Panes; each pane's first row is its title. */
typedef struct ui_layout {
    int ok;         /* 0: the terminal is under UI_MIN_W x UI_MIN_H; nothing else is set */
    ui_rect status; /* one row at the top */
    ui_rect chart, bars, inspect, help;
    ui_rect output; /* command answers and generated text */
    ui_rect keys;   /* the function-key bar */
    ui_rect prompt; /* one row at the bottom */
} ui_layout;

/* Compute the panes of view v for a w x h terminal; panes of other views
 * have h == 0. The panes tile the screen without overlapping. */
void ui_layout_compute(ui_layout *l, int w, int h, ui_view v);

/* Short name of a view ("main", "chart", "layers", "inspect", "help"). */
const char *ui_view_name(ui_view v);

#endif
