/* outbuf.c - output lines in a ring, streaming, measuring and wrapping. */
#include "outbuf.h"
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

int ui_out_init(ui_outbuf *b, size_t cap)
{
    memset(b, 0, sizeof *b);
    b->v = calloc(cap ? cap : 1, sizeof *b->v);
    if (!b->v)
        return -1;
    b->cap = cap ? cap : 1;
    return 0;
}

void ui_out_free(ui_outbuf *b)
{
    for (size_t i = 0; b->v && i < b->cap; i++)
        free(b->v[i].text);
    free(b->v);
    memset(b, 0, sizeof *b);
}

const ui_line *ui_out_get(const ui_outbuf *b, size_t i)
{
    if (i >= b->n)
        return NULL;
    return &b->v[(b->head + b->cap - b->n + i) % b->cap];
}

static ui_line *last_line(ui_outbuf *b)
{
    return b->n ? &b->v[(b->head + b->cap - 1) % b->cap] : NULL;
}

/* Append a new empty line (dropping the oldest when full). */
static ui_line *new_line(ui_outbuf *b, int role)
{
    ui_line *l = &b->v[b->head];
    free(l->text);
    l->text = calloc(1, 1);
    l->role = role;
    b->head = (b->head + 1) % b->cap;
    if (b->n < b->cap)
        b->n++;
    return l;
}

/* Append len bytes to l, cleaning control characters. */
static void line_append(ui_line *l, const char *s, size_t len)
{
    if (!l->text)
        return;
    size_t old = strlen(l->text);
    char *t = realloc(l->text, old + len + 1);
    if (!t)
        return;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        t[old + i] = c == '\t' ? ' ' : c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    t[old + len] = 0;
    l->text = t;
}

void ui_out_close(ui_outbuf *b)
{
    b->open = 0;
}

void ui_out_stream(ui_outbuf *b, int role, const char *text)
{
    ui_line *l = b->open ? last_line(b) : NULL;
    if (!l)
        l = new_line(b, role);
    b->open = 1;
    for (;;) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        line_append(l, text, len);
        if (!nl)
            return;
        text = nl + 1;
        l = new_line(b, role);
    }
}

void ui_out_add(ui_outbuf *b, int role, const char *text)
{
    ui_out_close(b);
    ui_out_stream(b, role, text);
    ui_out_close(b);
}

/* Decode one code point of s[0..len); its byte length in *used, its width. */
static int glyph_width(const char *s, size_t len, size_t *used)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    wchar_t wc;
    size_t r = mbrtowc(&wc, s, len, &st);
    if (r == (size_t)-1 || r == (size_t)-2 || r == 0) {
        *used = 1;
        return 1;
    }
    *used = r;
    int w = wcwidth(wc);
    return w < 0 ? 1 : w;
}

int ui_text_width(const char *s, size_t len)
{
    int w = 0;
    size_t i = 0, used;
    while (i < len) {
        w += glyph_width(s + i, len - i, &used);
        i += used;
    }
    return w;
}

int ui_wrap(const char *text, int w, size_t *starts, int max)
{
    size_t len = strlen(text), i = 0;
    int rows = 0;
    if (w < 1)
        w = 1;
    do {
        if (rows < max)
            starts[rows] = i;
        rows++;
        int col = 0;
        size_t j = i, brk = 0, used;
        while (j < len) {
            int gw = glyph_width(text + j, len - j, &used);
            if (col + gw > w)
                break;
            col += gw;
            j += used;
            if (text[j - 1] == ' ')
                brk = j;
        }
        if (j < len && brk > i && text[j] != ' ')
            j = brk;
        if (j == i) /* a glyph wider than the row */
            glyph_width(text + j, len - j, &used), j += used;
        if (j < len && text[j] == ' ') /* the blank at a break ends the row */
            j++;
        i = j;
    } while (i < len);
    return rows;
}
