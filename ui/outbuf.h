/* outbuf.h - the output pane's lines (command answers, errors, notices and
 * generated text streaming in) and the text measuring and wrapping it needs.
 * Pure: the curses side only draws what ui_wrap gives. */
#ifndef TLM_UI_OUTBUF_H
#define TLM_UI_OUTBUF_H
#include <stddef.h>

typedef struct ui_line {
    char *text; /* UTF-8, no newline */
    int role;   /* ui_role */
} ui_line;

typedef struct ui_outbuf {
    ui_line *v;     /* ring of cap lines */
    size_t cap, head, n;
    int open;       /* the last line is still being streamed into */
} ui_outbuf;

/* An empty buffer keeping the last cap lines (cap >= 1). -1 when out of
 * memory. */
int ui_out_init(ui_outbuf *b, size_t cap);
void ui_out_free(ui_outbuf *b);

/* Add text as new lines (one per '\n'-separated part; tabs become spaces,
 * other control characters '?'); closes a streamed line first. */
void ui_out_add(ui_outbuf *b, int role, const char *text);

/* Stream text into the open line (starting one when none is open); each '\n'
 * ends the line and opens the next. */
void ui_out_stream(ui_outbuf *b, int role, const char *text);

/* End the streamed line, if any. */
void ui_out_close(ui_outbuf *b);

/* Line i, 0 the oldest kept; NULL past the end. */
const ui_line *ui_out_get(const ui_outbuf *b, size_t i);

/* Display width of len bytes of UTF-8 (wcwidth; invalid bytes and
 * non-printable code points count 1). */
int ui_text_width(const char *s, size_t len);

/* Split text into rows of at most w columns, breaking after a blank when
 * one is in the row, else inside the word. starts[i] gets the byte offset
 * of row i (at most max rows recorded). Returns the number of rows (>= 1). */
int ui_wrap(const char *text, int w, size_t *starts, int max);

#endif
