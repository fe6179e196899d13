/* draw.h - the curses side of drawing: a colour scheme by role (with a
 * monochrome variant made of attributes only) and copying grids and text
 * into a window. UI thread only. */
#ifndef TLM_UI_DRAW_H
#define TLM_UI_DRAW_H
#include <curses.h>
#include "grid.h"

/* Set up the colour pairs of every role: colours when the terminal has them
 * and mono is 0, else attributes only (bold, dim, reverse, underline). Call
 * after initscr. Returns 1 when colours are used. */
int ui_colors_init(int mono);

/* Attributes and colour pair of a role for wattr_set. */
void ui_role_attr(int role, attr_t *attr, short *pair);

/* Copy the whole grid into win at its origin (cells past the window's edge
 * are skipped). */
void ui_draw_grid(WINDOW *win, const ui_grid *g);

/* Write UTF-8 text at (y, x), clipped to w columns, with a role. Returns the
 * columns used. */
int ui_draw_text(WINDOW *win, int y, int x, int w, const char *text, size_t len, int role);

#endif
