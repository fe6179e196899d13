/* status.h - the status line and the function-key bar, as pure functions
 * from a snapshot to cells. */
#ifndef TLM_UI_STATUS_H
#define TLM_UI_STATUS_H
#include "../engine/session/session.h"
#include "grid.h"

typedef struct ui_status_in {
    const tlm_snapshot *snap;
    const char *run;   /* run name (the output folder's last part, or the preset) */
    double elapsed;    /* seconds this session has spent training */
    int threads;       /* compute threads of the engine */
    const char *note;  /* replaces the state word when not NULL ("QUITTING") */
} ui_status_in;

/* The state word: SAVING while a checkpoint is being written, else
 * RUNNING, PAUSED, ERROR or STOPPED. *role gets its colour role. */
const char *ui_state_word(const tlm_snapshot *s, int *role);

/* "42s", "5m12s", "3h07m", "--" for a negative or non-finite time. */
void ui_fmt_duration(double seconds, char *buf, size_t n);

/* Seconds left to the end of the schedule at the snapshot's throughput;
 * NaN when unknown (no throughput yet). */
double ui_eta(const tlm_snapshot *s);

/* Draw the status line into row y (width w) of g: run, state, step/total,
 * loss, tokens, tok/s, lr, elapsed and ETA, threads. Fields that do not fit
 * are left out, least important first (loss, which the chart shows, then
 * threads, tokens, lr, the run's name); the state and the step always
 * show. */
void ui_status_draw(ui_grid *g, int y, int w, const ui_status_in *in);

/* A key and what it does, for the key bar. */
typedef struct ui_key_label {
    const char *key, *label;
} ui_key_label;

/* The function keys of the workbench (F2 says Resume when paused). *n gets
 * their number. */
const ui_key_label *ui_fkeys(int paused, int *n);

/* Draw a key bar into row y (htop style: the key, then its label on the
 * key role); pairs that do not fit are left out. */
void ui_keys_draw(ui_grid *g, int y, int w, const ui_key_label *keys, int n);

#endif
