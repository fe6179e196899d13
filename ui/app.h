/* app.h - the workbench: one UI thread that owns curses and readline. It
 * sleeps in poll() on the terminal, the session's event fd and a captured
 * stderr, and wakes on input, on an engine event, or on a timer of at most
 * 10 frames a second; each frame is drawn into a cell grid and sent with one
 * doupdate(). Signal handlers only set flags; KEY_RESIZE is an ordinary
 * event; the terminal is restored on every way out (return, exit(), a
 * crash signal). */
#ifndef TLM_UI_APP_H
#define TLM_UI_APP_H
#include "../engine/core/err.h"
#include "../engine/session/session.h"

typedef struct ui_app_opts {
    const char *run_name; /* shown first in the status line */
    int save_prompt;      /* 1: quitting with unsaved training asks whether to save */
    int threads;          /* compute threads, for the status line */
    const char *history;  /* history file; NULL: $TLM_HISTORY or ~/.tlm_history */
    size_t history_cap;   /* rows of the session's history ring (its opts.history_cap) */
} ui_app_opts;

/* Run the workbench on the terminal (stdin and stdout must be TTYs) until
 * the user quits; by then the session has been sent `quit` (after `save`
 * when the user asked for it) and has stopped. The terminal is restored
 * before this returns, and the answer of a save made on the way out is
 * printed on stdout. Returns 0, or -1 with err when the terminal could not
 * be set up (nothing was drawn then). */
int ui_app_run(tlm_session *s, const ui_app_opts *o, tlm_err *err);

#endif
