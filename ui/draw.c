/* draw.c - colour scheme by role and copying cells into curses. */
#include "draw.h"
#include <string.h>
#include <wchar.h>
#include "outbuf.h"

typedef struct scheme {
    short fg, bg;     /* -1: the terminal's default */
    attr_t color_attr; /* attributes with colours */
    attr_t mono_attr;  /* attributes without */
} scheme;

/* One row per ui_role, in its order. */
static const scheme schemes[UI_R_COUNT] = {
    [UI_R_NORMAL] = {-1, -1, A_NORMAL, A_NORMAL},
    [UI_R_DIM] = {-1, -1, A_DIM, A_DIM},
    [UI_R_AXIS] = {COLOR_BLUE, -1, A_NORMAL, A_DIM},
    [UI_R_LABEL] = {COLOR_CYAN, -1, A_NORMAL, A_NORMAL},
    [UI_R_TRAIN] = {COLOR_GREEN, -1, A_BOLD, A_BOLD},
    [UI_R_ENVELOPE] = {COLOR_GREEN, -1, A_DIM, A_DIM},
    [UI_R_VAL] = {COLOR_MAGENTA, -1, A_BOLD, A_NORMAL},
    [UI_R_BAD] = {COLOR_RED, -1, A_BOLD, A_BOLD | A_REVERSE},
    [UI_R_TERNARY] = {COLOR_CYAN, -1, A_NORMAL, A_NORMAL},
    [UI_R_INT8] = {COLOR_YELLOW, -1, A_NORMAL, A_BOLD},
    [UI_R_FP32] = {COLOR_MAGENTA, -1, A_NORMAL, A_UNDERLINE},
    [UI_R_SELECT] = {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE},
    [UI_R_STATUS] = {COLOR_WHITE, COLOR_BLUE, A_NORMAL, A_REVERSE},
    [UI_R_RUNNING] = {COLOR_BLACK, COLOR_GREEN, A_BOLD, A_BOLD | A_REVERSE},
    [UI_R_PAUSED] = {COLOR_BLACK, COLOR_YELLOW, A_BOLD, A_BOLD},
    [UI_R_ALERT] = {COLOR_WHITE, COLOR_RED, A_BOLD, A_BOLD | A_UNDERLINE},
    [UI_R_TITLE] = {-1, -1, A_BOLD, A_BOLD},
    [UI_R_FOCUS] = {COLOR_BLACK, COLOR_CYAN, A_BOLD, A_REVERSE | A_BOLD},
    [UI_R_ERROR] = {COLOR_RED, -1, A_BOLD, A_BOLD},
    [UI_R_NOTE] = {COLOR_BLUE, -1, A_BOLD, A_DIM},
    [UI_R_TOKEN] = {COLOR_YELLOW, -1, A_NORMAL, A_NORMAL},
    [UI_R_ECHO] = {-1, -1, A_BOLD, A_BOLD},
    [UI_R_KEY] = {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE},
};

static int use_color;

int ui_colors_init(int mono)
{
    use_color = !mono && has_colors() && start_color() == OK && COLOR_PAIRS > UI_R_COUNT;
    if (!use_color)
        return 0;
    int defaults = use_default_colors() == OK;
    for (int r = 1; r < UI_R_COUNT; r++) {
        short fg = schemes[r].fg, bg = schemes[r].bg;
        if (!defaults) {
            fg = fg < 0 ? COLOR_WHITE : fg;
            bg = bg < 0 ? COLOR_BLACK : bg;
        }
        init_pair((short)r, fg, bg);
    }
    return 1;
}

void ui_role_attr(int role, attr_t *attr, short *pair)
{
    if (role < 0 || role >= UI_R_COUNT)
        role = UI_R_NORMAL;
    *attr = use_color ? schemes[role].color_attr : schemes[role].mono_attr;
    *pair = use_color && role ? (short)role : 0;
}

void ui_draw_grid(WINDOW *win, const ui_grid *g)
{
    int maxy = getmaxy(win), maxx = getmaxx(win);
    int cur = -1;
    for (int y = 0; y < g->h && y < maxy; y++) {
        wmove(win, y, 0);
        for (int x = 0; x < g->w && x < maxx; x++) {
            const ui_cell *c = &g->c[(size_t)y * (size_t)g->w + (size_t)x];
            if (c->role != cur) {
                attr_t a;
                short p;
                ui_role_attr(c->role, &a, &p);
                wattr_set(win, a, p, NULL);
                cur = c->role;
            }
            /* the bottom-right cell makes addstr return ERR: harmless */
            mvwaddstr(win, y, x, c->s[0] ? c->s : " ");
        }
    }
    wattr_set(win, A_NORMAL, 0, NULL);
}

int ui_draw_text(WINDOW *win, int y, int x, int w, const char *text, size_t len, int role)
{
    attr_t a;
    short p;
    ui_role_attr(role, &a, &p);
    wattr_set(win, a, p, NULL);
    wmove(win, y, x);
    int used = 0;
    size_t i = 0;
    while (i < len && text[i]) {
        mbstate_t st;
        memset(&st, 0, sizeof st);
        wchar_t wc;
        size_t n = mbrtowc(&wc, text + i, len - i, &st);
        int gw = n == (size_t)-1 || n == (size_t)-2 || n == 0 ? -1 : wcwidth(wc);
        if (gw < 0) { /* invalid UTF-8 or not printable: one '?' per byte */
            if (used + 1 > w)
                break;
            waddch(win, '?');
            used++;
            i++;
            continue;
        }
        if (used + gw > w)
            break;
        waddnstr(win, text + i, (int)n);
        used += gw;
        i += n;
    }
    wattr_set(win, A_NORMAL, 0, NULL);
    return used;
}
