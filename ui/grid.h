/* grid.h - a rectangle of character cells, each one glyph with a colour
 * role. The pure drawing functions (chart.c, bars.c) write into a grid; the
 * curses side (draw.c) copies a grid into a window, mapping roles to colour
 * pairs and attributes. Nothing here touches the terminal, so every drawing
 * function can be tested from numbers to text. */
#ifndef TLM_UI_GRID_H
#define TLM_UI_GRID_H
#include <stddef.h>
#include <stdint.h>

/* What a cell means; the colour scheme (draw.c) gives each role a colour and
 * attributes, with a monochrome variant. */
typedef enum ui_role {
    UI_R_NORMAL = 0,
    UI_R_DIM,       /* secondary text, empty bar track */
    UI_R_AXIS,      /* chart axes and ticks */
    UI_R_LABEL,     /* axis labels, column headers */
    UI_R_TRAIN,     /* training loss (smoothed) */
    UI_R_ENVELOPE,  /* min/max envelope of the raw training loss */
    UI_R_VAL,       /* validation loss */
    UI_R_BAD,       /* NaN / Inf markers */
    UI_R_TERNARY,   /* bars of ternary linears */
    UI_R_INT8,      /* bars of int8 linears */
    UI_R_FP32,      /* bars of fp32 tensors */
    UI_R_SELECT,    /* the selected row of a focused pane */
    UI_R_STATUS,    /* the status line */
    UI_R_RUNNING,   /* state words */
    UI_R_PAUSED,
    UI_R_ALERT,     /* ERROR state, the save question */
    UI_R_TITLE,     /* pane titles */
    UI_R_FOCUS,     /* the title of the focused pane */
    UI_R_ERROR,     /* error lines in the output pane */
    UI_R_NOTE,      /* engine notices */
    UI_R_TOKEN,     /* generated text */
    UI_R_ECHO,      /* echoed command lines */
    UI_R_KEY,       /* function-key labels */
    UI_R_COUNT
} ui_role;

/* One cell: a NUL-terminated UTF-8 glyph of display width 1 ("" is a blank). */
typedef struct ui_cell {
    char s[5];
    uint8_t role;
} ui_cell;

typedef struct ui_grid {
    int w, h;
    ui_cell *c; /* h rows of w cells */
} ui_grid;

/* Allocate a w x h grid of blanks (w, h >= 0). Returns 0, or -1 when out of
 * memory (the grid is then empty). */
int ui_grid_init(ui_grid *g, int w, int h);

/* Free the cells; the grid becomes 0 x 0. */
void ui_grid_free(ui_grid *g);

/* Make every cell a blank of role UI_R_NORMAL. */
void ui_grid_clear(ui_grid *g);

/* The cell at (x, y), or NULL outside the grid. */
ui_cell *ui_grid_at(ui_grid *g, int x, int y);

/* Put one glyph (UTF-8, display width 1, at most 4 bytes) at (x, y) with a
 * role; outside the grid nothing happens. */
void ui_grid_put(ui_grid *g, int x, int y, const char *glyph, int role);

/* Write text from (x, y) rightwards, one code point per cell, at most maxw
 * cells (maxw < 0: to the grid's edge); returns the cells written. Text is
 * taken to be of single-width code points (names, numbers, messages). */
int ui_grid_text(ui_grid *g, int x, int y, const char *text, int role, int maxw);

/* Row y as a UTF-8 string (blanks as spaces, trailing blanks kept) into buf;
 * for tests and for copying into curses. Returns the bytes written. */
size_t ui_grid_row(const ui_grid *g, int y, char *buf, size_t n);

/* Write a pane title "─ text ───..." across w cells at (x, y); a focused
 * pane's title has the focus role. ASCII uses '-'. */
void ui_title(ui_grid *g, int x, int y, int w, const char *text, int focused, int utf8);

/* Length in bytes of the UTF-8 sequence starting with byte b (1 for bytes
 * that cannot start one, so bad input still advances). */
int ui_utf8_len(unsigned char b);

#endif
