/* grid.c - cells with roles, the medium of the pure drawing functions. */
#include "grid.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ui_grid_init(ui_grid *g, int w, int h)
{
    g->w = g->h = 0;
    g->c = NULL;
    if (w <= 0 || h <= 0)
        return 0;
    g->c = calloc((size_t)w * (size_t)h, sizeof *g->c);
    if (!g->c)
        return -1;
    g->w = w;
    g->h = h;
    return 0;
}

void ui_grid_free(ui_grid *g)
{
    free(g->c);
    g->c = NULL;
    g->w = g->h = 0;
}

void ui_grid_clear(ui_grid *g)
{
    if (g->c)
        memset(g->c, 0, (size_t)g->w * (size_t)g->h * sizeof *g->c);
}

ui_cell *ui_grid_at(ui_grid *g, int x, int y)
{
    if (x < 0 || y < 0 || x >= g->w || y >= g->h)
        return NULL;
    return &g->c[(size_t)y * (size_t)g->w + (size_t)x];
}

int ui_utf8_len(unsigned char b)
{
    if (b < 0xC0)
        return 1;
    if (b < 0xE0)
        return 2;
    if (b < 0xF0)
        return 3;
    return b < 0xF8 ? 4 : 1;
}

void ui_grid_put(ui_grid *g, int x, int y, const char *glyph, int role)
{
    ui_cell *c = ui_grid_at(g, x, y);
    if (!c)
        return;
    size_t n = strlen(glyph);
    if (n > 4)
        n = 4;
    memcpy(c->s, glyph, n);
    c->s[n] = 0;
    c->role = (uint8_t)role;
}

int ui_grid_text(ui_grid *g, int x, int y, const char *text, int role, int maxw)
{
    int n = 0;
    if (maxw < 0)
        maxw = g->w - x;
    while (*text && n < maxw) {
        int len = ui_utf8_len((unsigned char)*text);
        char glyph[5] = {0};
        int k = 0;
        for (; k < len && text[k]; k++)
            glyph[k] = text[k];
        if ((unsigned char)glyph[0] < 0x20)
            glyph[0] = ' ', glyph[1] = 0;
        ui_grid_put(g, x + n, y, glyph, role);
        text += k;
        n++;
    }
    return n;
}

size_t ui_grid_row(const ui_grid *g, int y, char *buf, size_t n)
{
    size_t used = 0;
    if (!n)
        return 0;
    for (int x = 0; y >= 0 && y < g->h && x < g->w; x++) {
        const char *s = g->c[(size_t)y * (size_t)g->w + (size_t)x].s;
        if (!*s)
            s = " ";
        size_t len = strlen(s);
        if (used + len + 1 > n)
            break;
        memcpy(buf + used, s, len);
        used += len;
    }
    buf[used] = 0;
    return used;
}

void ui_title(ui_grid *g, int x, int y, int w, const char *text, int focused, int utf8)
{
    const char *rule = utf8 ? "─" : "-";
    for (int i = 0; i < w; i++)
        ui_grid_put(g, x + i, y, rule, UI_R_AXIS);
    char buf[256];
    snprintf(buf, sizeof buf, " %s ", text);
    ui_grid_text(g, x + 1, y, buf, focused ? UI_R_FOCUS : UI_R_TITLE, w - 2);
}
