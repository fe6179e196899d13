/* app.c - the workbench loop: terminal set-up and restore, input, engine
 * events, snapshots and history, views, panes, the quit question. */
#include "app.h"
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "../engine/console/console.h"
#include "../engine/core/timer.h"
#include "bars.h"
#include "chart.h"
#include "draw.h"
#include "grid.h"
#include "inspect.h"
#include "layout.h"
#include "outbuf.h"
#include "prompt.h"
#include "status.h"

#define FRAME_S 0.1          /* at most 10 frames a second */
#define IDLE_FRAME_S 1.0     /* the timer while the engine waits for commands */
#define INSPECT_EVERY_S 2.0  /* refresh of the inspector's `inspect` answer */
#define OUT_LINES 4000       /* output pane scrollback */
#define LAYER_HIST 240       /* per-layer samples kept for the inspector's sparklines */
#define MAX_PENDING 1024
#define MAX_BAR_ROWS (TLM_SNAP_MAX_LAYERS + TLM_MAX_LAYERS)

/* ---- the terminal: set-up, restore, signals ---- */

static volatile sig_atomic_t sig_int, sig_term;
static struct termios saved_tio;
static int have_tio, curses_on, saved_stderr = -1, stderr_pipe = -1;

static void on_signal(int sig)
{
    if (sig == SIGINT)
        sig_int = 1;
    else
        sig_term = 1;
}

/* A crash: put the terminal back with async-signal-safe calls, then die of
 * the signal as if unhandled. */
static void on_crash(int sig)
{
    static const char reset[] = "\033[?1000l\033[?1002l\033[?1006l\033[0m\033[?1049l\033[?25h\r\n";
    if (have_tio)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
    ssize_t w = write(STDOUT_FILENO, reset, sizeof reset - 1);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Stop capturing stderr and pass on what is still in the pipe. */
static void stderr_restore(void)
{
    if (saved_stderr < 0)
        return;
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    saved_stderr = -1;
    char buf[4096];
    ssize_t n;
    while (stderr_pipe >= 0 && (n = read(stderr_pipe, buf, sizeof buf)) > 0) {
        ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
        (void)w;
    }
    if (stderr_pipe >= 0)
        close(stderr_pipe);
    stderr_pipe = -1;
}

/* Send stderr into a pipe the UI shows in the output pane, so stray
 * messages cannot scribble over the screen. */
static void stderr_capture(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return;
    saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (saved_stderr < 0 || dup2(p[1], STDERR_FILENO) < 0) {
        close(p[0]);
        close(p[1]);
        if (saved_stderr >= 0)
            close(saved_stderr);
        saved_stderr = -1;
        return;
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    stderr_pipe = p[0];
}

static void terminal_restore(void)
{
    if (curses_on) {
        ui_prompt_close();
        endwin();
        curses_on = 0;
        int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], SIG_DFL);
    }
    stderr_restore();
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND;
    int crash[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof crash / sizeof crash[0]; i++)
        sigaction(crash[i], &sa, NULL);
}

static int terminal_open(int *utf8, tlm_err *err)
{
    setlocale(LC_CTYPE, "");
    const char *ascii = getenv("TLM_ASCII");
    *utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8") && !(ascii && *ascii && strcmp(ascii, "0"));
    if (tcgetattr(STDIN_FILENO, &saved_tio) == 0)
        have_tio = 1;
    if (!newterm(NULL, stdout, stdin))
        return tlm_errf(err, "ui: cannot use terminal '%s'", getenv("TERM") ? getenv("TERM") : "");
    curses_on = 1;
    atexit(terminal_restore);
    install_signals();
    stderr_capture();
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    leaveok(stdscr, FALSE);
    set_escdelay(25);
    const char *nc = getenv("NO_COLOR");
    ui_colors_init(nc && *nc);
#ifdef BUTTON5_PRESSED
    mousemask(BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
#endif
    return 0;
}

/* ---- the application state ---- */

enum { FOCUS_PROMPT, FOCUS_CHART, FOCUS_BARS, FOCUS_INSPECT, FOCUS_OUTPUT, FOCUS_COUNT };
enum { QUIT_NONE, QUIT_ASK, QUIT_SAVING, QUIT_STOPPING };
enum { CK_USER, CK_INSPECT, CK_SAVE_QUIT, CK_QUIT };

typedef struct pending {
    uint64_t id;
    int kind;
    int is_save;  /* a `save`: when it succeeds, the state at `step` is on disk */
    int is_gen;
    int64_t step;
    char *prompt; /* a `gen`'s prompt, streamed before its first token (then freed) */
} pending;

typedef struct ui_app {
    tlm_session *s;
    ui_app_opts o;
    int utf8, done;
    ui_view view;
    int focus;
    double now, last_frame, last_tick, train_time;
    int dirty;             /* the next frame must be drawn */
    ui_grid screen;

    /* engine state */
    tlm_snapshot snap;
    uint64_t seq;
    tlm_hist_row *hist, *tmp;
    size_t hist_n, hist_cap;
    double *tx, *ty, *vx, *vy;
    size_t nv;
    double *lh;            /* per snapshot row: LAYER_HIST x (g, zeros, flips) ring */
    size_t lh_n, lh_head;
    int64_t lh_step;

    /* chart */
    int smooth_i, logy, envelope;
    int64_t zoom;          /* last N steps; 0: the whole run */

    /* bars */
    uint64_t expanded;
    int expand_all;        /* -1: when all rows fit, 0: per block, 1: all */
    int bar_sel, bar_scroll;
    int bars_all;          /* the rows drawn last had every block open */
    ui_bar_row rows[MAX_BAR_ROWS];
    int n_rows;

    /* inspector */
    char insp[24];
    uint64_t insp_cmd;
    double insp_at;
    char **insp_lines, **insp_new;
    int insp_n, insp_new_n, insp_scroll;

    /* output */
    ui_outbuf out;
    int out_scroll;

    /* commands */
    pending pend[MAX_PENDING];
    int n_pend;
    int quit_state;
    int forced;            /* quitting on a signal or a lost terminal: nobody to ask */
    uint64_t quit_id;
    int64_t saved_step;
    tlm_console_words *words;
    char farewell[4][TLM_EVENT_TEXT]; /* answers of the save and quit on the way out */
    int n_farewell;
    char errbuf[1024];
    size_t errlen;
} ui_app;

static const double smooth_levels[] = {0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99};
#define N_SMOOTH (int)(sizeof smooth_levels / sizeof smooth_levels[0])

/* ---- pending commands ---- */

static pending *pend_find(ui_app *a, uint64_t id)
{
    for (int i = 0; i < a->n_pend; i++)
        if (a->pend[i].id == id)
            return &a->pend[i];
    return NULL;
}

static void pend_drop(ui_app *a, pending *p)
{
    free(p->prompt);
    *p = a->pend[--a->n_pend];
}

/* Queue a line; its answers are routed by kind. *id gets the command's id
 * even when the table of pending commands is full (then NULL is returned
 * and the answers go to the output pane). */
static pending *submit_p(ui_app *a, const char *line, int kind, int is_save, int is_gen,
                         uint64_t *id)
{
    *id = tlm_session_submit(a->s, line);
    if (a->n_pend == MAX_PENDING)
        return NULL;
    a->pend[a->n_pend] = (pending){*id, kind, is_save, is_gen, a->snap.step, NULL};
    return &a->pend[a->n_pend++];
}

static uint64_t submit(ui_app *a, const char *line, int kind, int is_save, int is_gen)
{
    uint64_t id;
    submit_p(a, line, kind, is_save, is_gen, &id);
    return id;
}

/* ---- output ---- */

static void out_line(ui_app *a, int role, const char *text)
{
    ui_out_add(&a->out, role, text);
    a->dirty = 1;
}

static void out_fmt(ui_app *a, int role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void out_fmt(ui_app *a, int role, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    out_line(a, role, buf);
}

/* ---- quitting ---- */

static int needs_save(const ui_app *a)
{
    return a->snap.state == TLM_SESS_RUNNING || a->snap.step > a->saved_step;
}

static void start_stop(ui_app *a)
{
    a->quit_state = QUIT_STOPPING;
    a->quit_id = submit(a, "quit", CK_QUIT, 0, 0);
    a->dirty = 1;
}

static void start_save_and_stop(ui_app *a)
{
    a->quit_state = QUIT_SAVING;
    out_line(a, UI_R_NOTE, "saving a checkpoint before quitting ...");
    submit(a, "pause", CK_USER, 0, 0); /* no steps between the save and the quit */
    submit(a, "save", CK_SAVE_QUIT, 1, 0);
}

/* F10, `quit`, Ctrl-C, Ctrl-D: ask when there is unsaved training. */
static void request_quit(ui_app *a)
{
    if (a->quit_state == QUIT_ASK) {
        a->quit_state = QUIT_NONE; /* asked again: take it as "no, stay" */
    } else if (a->quit_state == QUIT_NONE) {
        if (a->o.save_prompt && needs_save(a))
            a->quit_state = QUIT_ASK;
        else
            start_stop(a);
    }
    a->dirty = 1;
}

static void answer_quit(ui_app *a, int key)
{
    if (key == 'y' || key == 'Y')
        start_save_and_stop(a);
    else if (key == 'n' || key == 'N')
        start_stop(a);
    else if (key == 27 || key == 'c' || key == 'C')
        a->quit_state = QUIT_NONE;
    a->dirty = 1;
}

/* ---- command lines ---- */

static void set_inspect(ui_app *a, const char *name)
{
    if (strcmp(a->insp, name)) {
        snprintf(a->insp, sizeof a->insp, "%s", name);
        a->insp_at = 0;
        a->insp_scroll = 0;
    }
}

/* A line typed at the prompt (or sent by a key): echo it, then quit goes
 * through the question, inspect also points the inspector at its layer, the
 * rest goes to the session as it is. */
static void run_line(ui_app *a, const char *line, const char *via)
{
    tlm_err err;
    if (via)
        out_fmt(a, UI_R_ECHO, "tlm> %s   (%s)", line, via);
    else
        out_fmt(a, UI_R_ECHO, "tlm> %s", line);
    a->out_scroll = 0;
    if (tlm_console_split(line, a->words, &err) != 0) {
        out_line(a, UI_R_ERROR, err.msg);
        return;
    }
    const tlm_console_words *w = a->words;
    if (!w->n)
        return;
    if (!strcmp(w->w[0], "quit") && w->npos == 0 && w->nopt == 0) {
        request_quit(a);
        return;
    }
    if (!strcmp(w->w[0], "inspect") && w->npos == 1) {
        set_inspect(a, w->pos[0]);
        a->view = UI_VIEW_INSPECT;
    }
    int gen = !strcmp(w->w[0], "gen");
    uint64_t id;
    pending *p = submit_p(a, line, CK_USER, !strcmp(w->w[0], "save"), gen, &id);
    if (p && gen && w->npos >= 1)
        p->prompt = strdup(w->pos[0]);
}

static void on_prompt_line(void *ctx, char *line)
{
    ui_app *a = ctx;
    if (!line) {
        request_quit(a);
        return;
    }
    if (a->quit_state == QUIT_NONE)
        run_line(a, line, NULL);
    free(line);
}

static void on_matches(void *ctx, char **m, int n)
{
    ui_app *a = ctx;
    char buf[1024];
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < n && used + 2 < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? "  " : "", m[i]);
    out_line(a, UI_R_DIM, buf);
}

/* ---- engine events ---- */

static void insp_free(char ***v, int *n)
{
    for (int i = 0; i < *n; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

static void insp_add(ui_app *a, const char *text)
{
    char **v = realloc(a->insp_new, (size_t)(a->insp_new_n + 1) * sizeof *v);
    if (!v)
        return;
    a->insp_new = v;
    v[a->insp_new_n] = strdup(text);
    if (v[a->insp_new_n])
        a->insp_new_n++;
}

static void on_done(ui_app *a, const tlm_event *ev, pending *p)
{
    if (p->is_gen)
        ui_out_close(&a->out);
    if (p->is_save && ev->status == 0 && p->step > a->saved_step)
        a->saved_step = p->step;
    if (p->kind == CK_INSPECT) {
        insp_free(&a->insp_lines, &a->insp_n);
        a->insp_lines = a->insp_new;
        a->insp_n = a->insp_new_n;
        a->insp_new = NULL;
        a->insp_new_n = 0;
        a->insp_cmd = 0;
    } else if (p->kind == CK_SAVE_QUIT) {
        if (ev->status == 0 || a->forced) {
            start_stop(a);
        } else {
            a->quit_state = QUIT_NONE;
            out_line(a, UI_R_ERROR, "the save failed: not quitting (F10 and n quits without it)");
        }
    } else if (p->kind == CK_QUIT) {
        a->done = 1;
    }
    pend_drop(a, p);
}

static void on_event(ui_app *a, const tlm_event *ev)
{
    pending *p = ev->cmd ? pend_find(a, ev->cmd) : NULL;
    a->dirty = 1;
    if (ev->kind == TLM_EV_DONE) {
        if (p)
            on_done(a, ev, p);
        if (ev->cmd && ev->cmd == a->quit_id)
            a->done = 1;
        return;
    }
    if (p && p->kind == CK_INSPECT) {
        insp_add(a, ev->text);
        return;
    }
    if (p && (p->kind == CK_SAVE_QUIT || p->kind == CK_QUIT) && a->n_farewell < 4)
        snprintf(a->farewell[a->n_farewell++], TLM_EVENT_TEXT, "%s", ev->text);
    if (p && ev->kind == TLM_EV_TOKEN && p->prompt) { /* the text generation continues */
        ui_out_close(&a->out);
        ui_out_stream(&a->out, UI_R_TOKEN, p->prompt);
        free(p->prompt);
        p->prompt = NULL;
    }
    switch (ev->kind) {
    case TLM_EV_TOKEN: ui_out_stream(&a->out, UI_R_TOKEN, ev->text); break;
    case TLM_EV_ERROR: ui_out_add(&a->out, UI_R_ERROR, ev->text); break;
    case TLM_EV_NOTE: ui_out_add(&a->out, UI_R_NOTE, ev->text); break;
    default: ui_out_add(&a->out, UI_R_NORMAL, ev->text); break;
    }
}

static void drain_events(ui_app *a)
{
    tlm_event ev;
    for (int i = 0; i < 4096 && tlm_session_poll_event(a->s, &ev); i++)
        on_event(a, &ev);
}

/* Lines written to stderr while the screen is ours. */
static void drain_stderr(ui_app *a)
{
    if (stderr_pipe < 0)
        return;
    ssize_t n;
    while ((n = read(stderr_pipe, a->errbuf + a->errlen, sizeof a->errbuf - 1 - a->errlen)) > 0) {
        a->errlen += (size_t)n;
        a->errbuf[a->errlen] = 0;
        char *nl;
        while ((nl = strchr(a->errbuf, '\n'))) {
            *nl = 0;
            out_line(a, UI_R_ERROR, a->errbuf);
            a->errlen -= (size_t)(nl + 1 - a->errbuf);
            memmove(a->errbuf, nl + 1, a->errlen + 1);
        }
        if (a->errlen == sizeof a->errbuf - 1) {
            out_line(a, UI_R_ERROR, a->errbuf);
            a->errlen = 0;
        }
    }
}

/* ---- snapshots and history ---- */

static int hist_reserve(ui_app *a, size_t n)
{
    if (n <= a->hist_cap)
        return 0;
    size_t cap = a->hist_cap ? a->hist_cap : 1024;
    while (cap < n)
        cap *= 2;
    tlm_hist_row *h = realloc(a->hist, cap * sizeof *h), *t = NULL;
    if (h)
        a->hist = h;
    t = realloc(a->tmp, cap * sizeof *t);
    if (t)
        a->tmp = t;
    double **arr[4] = {&a->tx, &a->ty, &a->vx, &a->vy};
    for (int i = 0; i < 4; i++) {
        double *d = realloc(*arr[i], cap * sizeof *d);
        if (!d)
            return -1;
        *arr[i] = d;
    }
    if (!h || !t)
        return -1;
    a->hist_cap = cap;
    return 0;
}

/* Bring the local copy of the history ring up to date: the new rows only
 * when they continue it, else all of it (after a load). */
static void fetch_history(ui_app *a, size_t ring_cap)
{
    int64_t last = a->hist_n ? a->hist[a->hist_n - 1].step : -1;
    if (a->hist_n && a->snap.step == last)
        return;
    size_t want = last >= 0 && a->snap.step > last ? (size_t)(a->snap.step - last) + 1 : ring_cap;
    if (want > ring_cap)
        want = ring_cap;
    if (hist_reserve(a, a->hist_n + want))
        return;
    size_t got = tlm_session_history(a->s, a->tmp, want);
    if (got && a->hist_n && a->tmp[0].step == last) {
        memcpy(a->hist + a->hist_n, a->tmp + 1, (got - 1) * sizeof *a->tmp);
        a->hist_n += got - 1;
    } else {
        if (want < ring_cap && hist_reserve(a, ring_cap) == 0)
            got = tlm_session_history(a->s, a->tmp, ring_cap);
        memcpy(a->hist, a->tmp, got * sizeof *a->tmp);
        a->hist_n = got;
    }
    /* keep the local copy at the ring's size */
    if (a->hist_n > ring_cap) {
        memmove(a->hist, a->hist + a->hist_n - ring_cap, ring_cap * sizeof *a->hist);
        a->hist_n = ring_cap;
    }
    a->nv = 0;
    for (size_t i = 0; i < a->hist_n; i++) {
        a->tx[i] = (double)a->hist[i].step;
        a->ty[i] = a->hist[i].train_loss;
        if (isfinite(a->hist[i].val_loss)) {
            a->vx[a->nv] = (double)a->hist[i].step;
            a->vy[a->nv++] = a->hist[i].val_loss;
        }
    }
}

/* One sample of every layer's g, share of zeros and flip rate per step. */
static void sample_layers(ui_app *a)
{
    if (!a->lh || a->snap.step == a->lh_step)
        return;
    a->lh_step = a->snap.step;
    for (int r = 0; r < a->snap.n_rows; r++) {
        double *d = a->lh + ((size_t)r * LAYER_HIST + a->lh_head) * 3;
        d[0] = a->snap.layer[r].gamma;
        d[1] = a->snap.layer[r].sparsity;
        d[2] = a->snap.layer[r].flip_rate;
    }
    a->lh_head = (a->lh_head + 1) % LAYER_HIST;
    if (a->lh_n < LAYER_HIST)
        a->lh_n++;
}

static void update_state(ui_app *a, size_t ring_cap)
{
    tlm_session_snapshot(a->s, &a->snap);
    if (a->snap.state == TLM_SESS_RUNNING)
        a->train_time += a->now - a->last_tick;
    a->last_tick = a->now;
    if (a->snap.seq == a->seq)
        return;
    a->seq = a->snap.seq;
    a->dirty = 1;
    fetch_history(a, ring_cap);
    sample_layers(a);
}

/* ---- panes ---- */

static void draw_chart(ui_app *a, const ui_rect *r)
{
    ui_grid *g = &a->screen;
    char title[160], zoom[48], tv[24], vv[24];
    double last = a->hist_n ? a->tx[a->hist_n - 1] : 0;
    ui_chart_opts o = {smooth_levels[a->smooth_i], a->logy, 0, 0, a->envelope, a->utf8};
    if (a->zoom > 0 && a->hist_n) {
        o.x_lo = last - (double)a->zoom;
        o.x_hi = last;
        if (o.x_lo < a->tx[0]) /* the window starts before the data: show it all */
            o.x_lo = o.x_hi = 0;
    }
    ui_series tr = {a->tx, a->ty, a->hist_n}, va = {a->vx, a->vy, a->nv};
    ui_chart_info info;
    ui_chart_draw(g, r->x, r->y + 1, r->w, r->h - 1, &tr, &va, &o, &info);
    ui_fmt_value(info.last_train, tv, sizeof tv);
    ui_fmt_value(info.last_val, vv, sizeof vv);
    if (a->zoom > 0)
        snprintf(zoom, sizeof zoom, "last %lld", (long long)a->zoom);
    else
        snprintf(zoom, sizeof zoom, "all %zu", a->hist_n);
    const char *bad = info.n_nan + info.n_inf ? "  NaN/Inf!" : "";
    snprintf(title, sizeof title, "loss  train %s  val %s  EMA %.2f  %s  %s%s", tv,
             isnan(info.last_val) ? "-" : vv, smooth_levels[a->smooth_i], a->logy ? "log" : "lin",
             zoom, bad);
    if ((int)strlen(title) + 4 > r->w) /* narrow: the short form */
        snprintf(title, sizeof title, "loss %s val %s ema%.2f %s %s%s", tv,
                 isnan(info.last_val) ? "-" : vv, smooth_levels[a->smooth_i],
                 a->logy ? "log" : "lin", a->zoom > 0 ? zoom + 5 : "all", bad);
    ui_title(g, r->x, r->y, r->w, title, a->focus == FOCUS_CHART, a->utf8);
}

/* Whether every row (all blocks open) fits in h - 2 rows. */
static int bars_fit(const ui_app *a, int h)
{
    return a->snap.n_rows + a->snap.n_layers <= h - 2;
}

static void build_rows(ui_app *a, int h)
{
    int all = a->expand_all == 1 || (a->expand_all < 0 && (a->view == UI_VIEW_LAYERS ||
                                                            bars_fit(a, h)));
    a->bars_all = all;
    a->n_rows = ui_bars_rows(&a->snap, a->expanded, all, a->rows, MAX_BAR_ROWS);
    if (a->bar_sel >= a->n_rows)
        a->bar_sel = a->n_rows - 1;
    if (a->bar_sel < 0)
        a->bar_sel = 0;
}

static void draw_legend(ui_grid *g, int x, int y, int w)
{
    static const int precs[3] = {TLM_PREC_TERNARY, TLM_PREC_INT8, TLM_PREC_FP32};
    int need = 17;
    if (w < need + 30)
        return;
    int cx = x + w - need;
    for (int i = 0; i < 3; i++) {
        cx += ui_grid_text(g, cx, y, ui_prec_short(precs[i]), ui_prec_role(precs[i]), 4);
        cx += ui_grid_text(g, cx, y, " ", UI_R_AXIS, 1);
    }
}

static void draw_bars(ui_app *a, const ui_rect *r)
{
    ui_grid *g = &a->screen;
    build_rows(a, r->h);
    int sel = a->focus == FOCUS_BARS ? a->bar_sel : -1;
    ui_bars_draw(g, r->x, r->y + 1, r->w, r->h - 1, a->rows, a->n_rows, sel, &a->bar_scroll,
                 a->utf8);
    char title[64];
    snprintf(title, sizeof title, "layers  %d blocks", a->snap.n_layers);
    ui_title(g, r->x, r->y, r->w, title, a->focus == FOCUS_BARS, a->utf8);
    draw_legend(g, r->x, r->y, r->w);
}

static const tlm_layer_snap *find_layer(const ui_app *a, const char *name, int *row)
{
    for (int i = 0; i < a->snap.n_rows; i++)
        if (!strcmp(a->snap.layer[i].name, name)) {
            if (row)
                *row = i;
            return &a->snap.layer[i];
        }
    return NULL;
}

static void draw_inspect(ui_app *a, const ui_rect *r)
{
    int row = -1;
    const tlm_layer_snap *l = find_layer(a, a->insp, &row);
    double hist[3][LAYER_HIST];
    size_t n = l && a->lh ? a->lh_n : 0;
    for (size_t i = 0; i < n; i++) {
        size_t slot = (a->lh_head + LAYER_HIST - n + i) % LAYER_HIST;
        const double *d = a->lh + ((size_t)row * LAYER_HIST + slot) * 3;
        hist[0][i] = d[0], hist[1][i] = d[1], hist[2][i] = d[2];
    }
    int lines = a->insp_n;
    if (a->insp_scroll > lines - 1)
        a->insp_scroll = lines > 0 ? lines - 1 : 0;
    ui_inspect_in in = {l, a->insp, hist[0], hist[1], hist[2], n,
                        (const char *const *)a->insp_lines, a->insp_n, a->insp_scroll,
                        a->insp_cmd && !a->insp_n ? "(asking the engine ...)" : "(every 2 s)",
                        a->utf8};
    char title[96];
    snprintf(title, sizeof title, "inspector  %s   [ ] other layer", a->insp);
    ui_title(&a->screen, r->x, r->y, r->w, title, a->focus == FOCUS_INSPECT, a->utf8);
    ui_inspect_draw(&a->screen, r->x, r->y + 1, r->w, r->h - 1, &in);
}

static const char *const help_keys[] = {
    "F1 help (again: back)   F2 pause/resume   F3 save   F5 next view   F10 quit",
    "F6 moves the keys between the prompt and the panes; Esc gives them back.",
    "Prompt: Tab completes commands and layer names, Up/Down and Ctrl-R recall",
    "  history, PgUp/PgDn scroll the output, Ctrl-C asks to quit, Ctrl-L redraws.",
    "Chart: + - zoom (or the mouse wheel), a whole run, l log/linear, s S more/less",
    "  smoothing, e min/max envelope.  Layers: Up/Down, Enter opens a block or",
    "  inspects a linear, e expands all, i inspects.  Inspector: Up/Down, [ ].",
    "NO_COLOR=1: monochrome;  TLM_ASCII=1: ASCII instead of braille and blocks.",
    NULL};

static void draw_help(ui_app *a, const ui_rect *r)
{
    ui_grid *g = &a->screen;
    ui_title(g, r->x, r->y, r->w, "help  keys and commands (F1 closes)", 1, a->utf8);
    int y = r->y + 1;
    for (int i = 0; help_keys[i] && y < r->y + r->h; i++)
        ui_grid_text(g, r->x + 1, y++, help_keys[i], UI_R_NORMAL, r->w - 1);
    size_t n;
    const tlm_console_cmd *t = tlm_console_commands(&n);
    if (y < r->y + r->h)
        ui_grid_text(g, r->x + 1, y++, "Commands (help NAME for details):", UI_R_TITLE, r->w - 1);
    int colw = r->w >= 120 ? r->w / 2 : r->w;
    for (size_t i = 0; i < n; i++) {
        int cx = r->x + 1 + (colw < r->w ? (int)(i % 2) * colw : 0);
        int cy = y + (colw < r->w ? (int)(i / 2) : (int)i);
        if (cy >= r->y + r->h)
            break;
        char buf[256];
        snprintf(buf, sizeof buf, "%-10s %s", t[i].name, t[i].help);
        ui_grid_text(g, cx, cy, buf, UI_R_LABEL, colw - 2);
    }
}

/* A display row of the output pane: bytes [from, to) of a line. */
typedef struct drow {
    const ui_line *l;
    size_t from, to;
} drow;

/* Push the rows of line l, last first, into rows[*got .. want). */
static void wrap_rows(const ui_line *l, int w, drow *rows, int *got, int want)
{
    size_t small[64], len = strlen(l->text);
    size_t *starts = small;
    int max = 64, nr = ui_wrap(l->text, w, starts, max);
    if (nr > max && (starts = malloc((size_t)nr * sizeof *starts))) {
        max = nr;
        ui_wrap(l->text, w, starts, max);
    } else if (nr > max) { /* out of memory: the first rows only */
        starts = small;
        nr = max;
    }
    for (int k = nr - 1; k >= 0 && *got < want; k--)
        rows[(*got)++] = (drow){l, starts[k], k + 1 < nr ? starts[k + 1] : len};
    if (starts != small)
        free(starts);
}

/* Display rows of the output pane, newest at the bottom, scrolled. */
static void draw_output(ui_app *a, const ui_rect *r)
{
    int vis = r->h - 1, w = r->w;
    if (vis < 1)
        return;
    if (a->out_scroll > 0) { /* not past the oldest row */
        size_t st[1];
        long total = 0;
        for (size_t i = 0; i < a->out.n && total <= (long)vis + a->out_scroll; i++)
            total += ui_wrap(ui_out_get(&a->out, i)->text, w, st, 1);
        if (a->out_scroll > total - vis)
            a->out_scroll = total > vis ? (int)(total - vis) : 0;
    }
    int want = vis + a->out_scroll, got = 0;
    drow *rows = calloc((size_t)want, sizeof *rows);
    for (size_t i = a->out.n; rows && i-- > 0 && got < want;)
        wrap_rows(ui_out_get(&a->out, i), w, rows, &got, want);
    for (int k = 0; rows && k < vis; k++) {
        int idx = k + a->out_scroll;
        if (idx >= got)
            break;
        const drow *d = &rows[idx];
        ui_draw_text(stdscr, r->y + r->h - 1 - k, r->x, w, d->l->text + d->from, d->to - d->from,
                     d->l->role);
    }
    free(rows);
}

static void output_title(ui_app *a, const ui_rect *r)
{
    char title[96];
    if (a->out_scroll)
        snprintf(title, sizeof title, "output  (scrolled up %d rows: PgDn goes back)",
                 a->out_scroll);
    else
        snprintf(title, sizeof title, "output");
    ui_title(&a->screen, r->x, r->y, r->w, title, a->focus == FOCUS_OUTPUT, a->utf8);
}

/* The key bar: the function keys, or the focused pane's own keys. */
static void draw_keys(ui_app *a, const ui_rect *r)
{
    static const ui_key_label chart[] = {{"+-", "zoom"}, {"a", "all"}, {"l", "log/lin"},
                                         {"sS", "smooth"}, {"e", "envelope"}, {"Esc", "prompt"}};
    static const ui_key_label bars[] = {{"Up/Dn", "select"}, {"Enter", "open"}, {"e", "expand"},
                                        {"i", "inspect"}, {"Esc", "prompt"}};
    static const ui_key_label insp[] = {{"Up/Dn", "scroll"}, {"[ ]", "layer"}, {"Esc", "prompt"}};
    static const ui_key_label out[] = {{"Up/Dn", "scroll"}, {"End", "follow"}, {"Home", "top"},
                                       {"Esc", "prompt"}};
    const ui_key_label *k;
    int n;
    switch (a->focus) {
    case FOCUS_CHART: k = chart, n = 6; break;
    case FOCUS_BARS: k = bars, n = 5; break;
    case FOCUS_INSPECT: k = insp, n = 3; break;
    case FOCUS_OUTPUT: k = out, n = 4; break;
    default: k = ui_fkeys(a->snap.state != TLM_SESS_RUNNING, &n); break;
    }
    ui_keys_draw(&a->screen, r->y, r->w, k, n);
}

static void draw_prompt_row(ui_app *a, const ui_rect *r)
{
    static const char *const says[] = {
        NULL, "Save a checkpoint before quitting?  y: save, then quit   n: quit   Esc: stay",
        "saving a checkpoint, then quitting ...", "stopping the engine ..."};
    if (a->quit_state != QUIT_NONE) {
        wmove(stdscr, r->y, r->x);
        wclrtoeol(stdscr);
        ui_draw_text(stdscr, r->y, r->x, r->w, says[a->quit_state], strlen(says[a->quit_state]),
                     UI_R_ALERT);
        curs_set(0);
        return;
    }
    int cx = 0;
    ui_prompt_draw(stdscr, r->y, r->x, r->w, &cx);
    if (a->focus == FOCUS_PROMPT) {
        wmove(stdscr, r->y, cx < r->w ? cx : r->w - 1);
        curs_set(1);
    } else {
        curs_set(0);
    }
}

static int ensure_screen(ui_app *a, int w, int h)
{
    if (a->screen.w == w && a->screen.h == h) {
        ui_grid_clear(&a->screen);
        return 0;
    }
    ui_grid_free(&a->screen);
    return ui_grid_init(&a->screen, w, h);
}

static void draw_too_small(ui_app *a)
{
    werase(stdscr);
    char buf[160];
    snprintf(buf, sizeof buf, "terminal %dx%d is too small: tlm needs %dx%d (F10 quits)", COLS,
             LINES, UI_MIN_W, UI_MIN_H);
    int y = LINES / 2, x = COLS > (int)strlen(buf) ? (COLS - (int)strlen(buf)) / 2 : 0;
    ui_draw_text(stdscr, y > 0 ? y : 0, x, COLS, buf, strlen(buf), UI_R_ALERT);
    curs_set(0);
}

static void draw_frame(ui_app *a)
{
    ui_layout L;
    ui_layout_compute(&L, COLS, LINES, a->view);
    a->last_frame = a->now;
    a->dirty = 0;
    if (!L.ok || ensure_screen(a, COLS, LINES)) {
        draw_too_small(a);
        wnoutrefresh(stdscr);
        doupdate();
        return;
    }
    ui_grid *g = &a->screen;
    ui_status_in st = {&a->snap, a->o.run_name, a->train_time, a->o.threads,
                       a->quit_state == QUIT_NONE ? NULL : "QUITTING"};
    ui_status_draw(g, 0, COLS, &st);
    if (L.chart.h)
        draw_chart(a, &L.chart);
    if (L.bars.h)
        draw_bars(a, &L.bars);
    if (L.chart.h && L.bars.h)
        for (int y = L.chart.y; y < L.chart.y + L.chart.h; y++)
            ui_grid_put(g, L.chart.x + L.chart.w, y, a->utf8 ? "│" : "|", UI_R_AXIS);
    if (L.inspect.h)
        draw_inspect(a, &L.inspect);
    if (L.help.h)
        draw_help(a, &L.help);
    output_title(a, &L.output);
    draw_keys(a, &L.keys);
    ui_draw_grid(stdscr, g);
    draw_output(a, &L.output);
    draw_prompt_row(a, &L.prompt);
    wnoutrefresh(stdscr);
    doupdate();
}

/* Only the prompt changed (a keystroke): redraw its row at once. */
static void draw_prompt_only(ui_app *a)
{
    ui_layout L;
    ui_layout_compute(&L, COLS, LINES, a->view);
    if (!L.ok)
        return;
    draw_prompt_row(a, &L.prompt);
    wnoutrefresh(stdscr);
    doupdate();
}

/* ---- keys ---- */

static void cycle_focus(ui_app *a)
{
    ui_layout L;
    ui_layout_compute(&L, COLS, LINES, a->view);
    for (int k = 1; k <= FOCUS_COUNT; k++) {
        int f = (a->focus + k) % FOCUS_COUNT;
        if (f == FOCUS_PROMPT || (f == FOCUS_CHART && L.chart.h) || (f == FOCUS_BARS && L.bars.h) ||
            (f == FOCUS_INSPECT && L.inspect.h) || (f == FOCUS_OUTPUT && L.output.h)) {
            a->focus = f;
            return;
        }
    }
}

static void set_view(ui_app *a, ui_view v)
{
    a->view = v;
    a->focus = FOCUS_PROMPT;
    a->bar_scroll = 0;
}

static void zoom(ui_app *a, int in)
{
    int64_t span = a->hist_n ? (int64_t)(a->tx[a->hist_n - 1] - a->tx[0]) : 0;
    if (in) {
        int64_t z = a->zoom ? a->zoom / 2 : span / 2;
        a->zoom = z < 10 ? 10 : z;
    } else if (a->zoom) {
        a->zoom *= 2;
        if (a->zoom >= span)
            a->zoom = 0;
    }
}

static int chart_key(ui_app *a, int key)
{
    switch (key) {
    case '+': case '=': case KEY_UP: zoom(a, 1); return 1;
    case '-': case '_': case KEY_DOWN: zoom(a, 0); return 1;
    case 'a': case 'A': a->zoom = 0; return 1;
    case 'l': case 'L': a->logy = !a->logy; return 1;
    case 's': if (a->smooth_i + 1 < N_SMOOTH) a->smooth_i++; return 1;
    case 'S': if (a->smooth_i > 0) a->smooth_i--; return 1;
    case 'e': case 'E': a->envelope = !a->envelope; return 1;
    default: return 0;
    }
}

static void bars_enter(ui_app *a)
{
    if (a->bar_sel < 0 || a->bar_sel >= a->n_rows)
        return;
    const ui_bar_row *r = &a->rows[a->bar_sel];
    if (r->group && r->layer >= 0 && r->layer < 64) {
        if (a->expand_all != 0) { /* from "all" or "auto" to per-block opening */
            a->expanded = a->bars_all ? ~0ull : 0;
            a->expand_all = 0;
        }
        a->expanded ^= 1ull << r->layer;
        return;
    }
    set_inspect(a, r->name);
    set_view(a, UI_VIEW_INSPECT);
}

static int bars_key(ui_app *a, int key)
{
    switch (key) {
    case KEY_UP: a->bar_sel--; return 1;
    case KEY_DOWN: a->bar_sel++; return 1;
    case KEY_PPAGE: a->bar_sel -= 10; return 1;
    case KEY_NPAGE: a->bar_sel += 10; return 1;
    case '\r': case '\n': case KEY_ENTER: bars_enter(a); return 1;
    case 'e': case 'E':
        a->expand_all = a->expand_all == 1 ? 0 : 1;
        a->expanded = 0;
        return 1;
    case 'i': case 'I':
        if (a->bar_sel >= 0 && a->bar_sel < a->n_rows && !a->rows[a->bar_sel].group) {
            set_inspect(a, a->rows[a->bar_sel].name);
            set_view(a, UI_VIEW_INSPECT);
        }
        return 1;
    default: return 0;
    }
}

/* Point the inspector at the previous / next row of the snapshot. */
static void inspect_step(ui_app *a, int d)
{
    int row = 0;
    if (!find_layer(a, a->insp, &row) || a->snap.n_rows <= 0)
        return;
    row = (row + d + a->snap.n_rows) % a->snap.n_rows;
    set_inspect(a, a->snap.layer[row].name);
}

static int inspect_key(ui_app *a, int key)
{
    switch (key) {
    case KEY_UP: if (a->insp_scroll > 0) a->insp_scroll--; return 1;
    case KEY_DOWN: a->insp_scroll++; return 1;
    case '[': case KEY_LEFT: inspect_step(a, -1); return 1;
    case ']': case KEY_RIGHT: inspect_step(a, 1); return 1;
    default: return 0;
    }
}

static void scroll_output(ui_app *a, int rows)
{
    a->out_scroll += rows;
    if (a->out_scroll < 0)
        a->out_scroll = 0;
}

static int output_key(ui_app *a, int key)
{
    switch (key) {
    case KEY_UP: scroll_output(a, 1); return 1;
    case KEY_DOWN: scroll_output(a, -1); return 1;
    case KEY_END: a->out_scroll = 0; return 1;
    case KEY_HOME: a->out_scroll = 1 << 28; return 1; /* draw_output clamps it */
    default: return 0;
    }
}

static void mouse_key(ui_app *a)
{
#ifdef BUTTON5_PRESSED
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return;
    ui_layout L;
    ui_layout_compute(&L, COLS, LINES, a->view);
    int up = (ev.bstate & BUTTON4_PRESSED) != 0, down = (ev.bstate & BUTTON5_PRESSED) != 0;
    if (!up && !down)
        return;
    if (L.chart.h && ev.y >= L.chart.y && ev.y < L.chart.y + L.chart.h && ev.x >= L.chart.x &&
        ev.x < L.chart.x + L.chart.w)
        zoom(a, up);
    else if (L.output.h && ev.y >= L.output.y && ev.y < L.output.y + L.output.h)
        scroll_output(a, up ? 3 : -3);
#else
    (void)a;
#endif
}

/* Keys that work whatever has the focus; 1 when the key was one. */
static int global_key(ui_app *a, int key)
{
    int vis = LINES > 12 ? LINES / 3 : 4;
    switch (key) {
    case KEY_F(1): set_view(a, a->view == UI_VIEW_HELP ? UI_VIEW_MAIN : UI_VIEW_HELP); return 1;
    case KEY_F(2):
        run_line(a, a->snap.state == TLM_SESS_RUNNING ? "pause" : "resume", "F2");
        return 1;
    case KEY_F(3): run_line(a, "save", "F3"); return 1;
    case KEY_F(5): set_view(a, (ui_view)((a->view + 1) % UI_VIEW_HELP)); return 1;
    case KEY_F(6): cycle_focus(a); return 1;
    case KEY_F(10): request_quit(a); return 1;
    case KEY_PPAGE: scroll_output(a, vis); return 1;
    case KEY_NPAGE: scroll_output(a, -vis); return 1;
    case KEY_RESIZE: return 1;
    case KEY_MOUSE: mouse_key(a); return 1;
    case 12: clearok(curscr, TRUE); return 1; /* Ctrl-L */
    default: return 0;
    }
}

static int pane_key(ui_app *a, int key)
{
    if (key == 27) {
        a->focus = FOCUS_PROMPT;
        return 1;
    }
    switch (a->focus) {
    case FOCUS_CHART: return chart_key(a, key);
    case FOCUS_BARS: return bars_key(a, key);
    case FOCUS_INSPECT: return inspect_key(a, key);
    case FOCUS_OUTPUT: return output_key(a, key);
    default: return 0;
    }
}

/* One key; returns 1 when the whole screen must be drawn again, 0 when at
 * most the prompt changed. */
static int on_key(ui_app *a, int key)
{
    if (a->quit_state == QUIT_ASK) {
        if (key == KEY_F(10))
            request_quit(a);
        else if (key != KEY_RESIZE && key != KEY_MOUSE)
            answer_quit(a, key);
        return 1;
    }
    if (a->quit_state != QUIT_NONE) /* saving or stopping: keys wait */
        return key == KEY_RESIZE;
    if (global_key(a, key) || (a->focus != FOCUS_PROMPT && pane_key(a, key)))
        return 1;
    int full = 0;
    if (a->focus != FOCUS_PROMPT) { /* not a pane key: the prompt takes it */
        a->focus = FOCUS_PROMPT;
        full = 1;
    }
    ui_prompt_key(key);
    return full;
}

/* Read every key waiting: bit 0 when a key was read, bit 1 when the screen
 * must be drawn again. */
static int read_keys(ui_app *a)
{
    int key, r = 0;
    while ((key = wgetch(stdscr)) != ERR)
        r |= 1 | (on_key(a, key) ? 2 : 0);
    return r;
}

/* ---- the loop ---- */

static void on_signals(ui_app *a)
{
    if (sig_int) {
        sig_int = 0;
        request_quit(a);
    }
    if (sig_term) {
        sig_term = 0;
        a->forced = 1;
        if (a->quit_state == QUIT_NONE || a->quit_state == QUIT_ASK) {
            if (a->o.save_prompt && needs_save(a))
                start_save_and_stop(a);
            else
                start_stop(a);
        }
    }
}

/* Until the next frame: 1/10 s while the engine works, 1 s while it waits
 * (then only the clock could change; events and keys wake the loop). */
static int poll_timeout_ms(const ui_app *a)
{
    const tlm_snapshot *s = &a->snap;
    int busy = s->state == TLM_SESS_RUNNING || s->saves_pending || s->gens_pending ||
               a->n_pend || a->view == UI_VIEW_INSPECT;
    double next = a->last_frame + (busy ? FRAME_S : IDLE_FRAME_S) - tlm_now();
    if (next < 0)
        return 0;
    return (int)(next * 1000) + 1;
}

static void loop(ui_app *a, size_t ring_cap)
{
    struct pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0},
                            {tlm_session_event_fd(a->s), POLLIN, 0},
                            {stderr_pipe, POLLIN, 0}};
    int idle_reads = 0;
    while (!a->done) {
        int rc = poll(fds, 3, poll_timeout_ms(a));
        a->now = tlm_now();
        on_signals(a);
        if (rc > 0 && fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
            fds[0].fd = -1; /* the terminal is gone: quit, saving as on SIGHUP */
            sig_term = 1;
        }
        int keys = fds[0].fd >= 0 ? read_keys(a) : 0, got = keys & 1;
        idle_reads = rc > 0 && (fds[0].revents & POLLIN) && !got ? idle_reads + 1 : 0;
        if (idle_reads > 1000) { /* readable but no key, again and again: input is gone */
            fds[0].fd = -1;
            sig_term = 1;
        }
        drain_events(a);
        drain_stderr(a);
        if (a->view == UI_VIEW_INSPECT && !a->insp_cmd && a->now - a->insp_at >= INSPECT_EVERY_S &&
            a->quit_state == QUIT_NONE) {
            char line[64];
            snprintf(line, sizeof line, "inspect %s", a->insp);
            a->insp_cmd = submit(a, line, CK_INSPECT, 0, 0);
            a->insp_at = a->now;
        }
        if (keys & 2 || a->now - a->last_frame >= FRAME_S) {
            update_state(a, ring_cap);
            if (a->dirty || keys & 2)
                draw_frame(a);
            else
                a->last_frame = a->now;
        }
        if (ui_prompt_dirty()) /* a keystroke's echo never waits for a frame */
            draw_prompt_only(a);
    }
}

/* ---- set-up and tear-down ---- */

static int app_init(ui_app *a, tlm_session *s, const ui_app_opts *o, tlm_err *err)
{
    memset(a, 0, sizeof *a);
    a->s = s;
    a->o = *o;
    a->view = UI_VIEW_MAIN;
    a->smooth_i = 2;
    a->envelope = 1;
    a->expand_all = -1;
    a->dirty = 1;
    a->lh_step = -1;
    snprintf(a->insp, sizeof a->insp, "L0.attn.q");
    a->words = malloc(sizeof *a->words);
    a->lh = calloc((size_t)TLM_SNAP_MAX_LAYERS * LAYER_HIST * 3, sizeof *a->lh);
    if (!a->words || !a->lh || ui_out_init(&a->out, OUT_LINES))
        return tlm_errf(err, "ui: out of memory");
    tlm_session_snapshot(s, &a->snap);
    a->saved_step = a->snap.step;
    a->now = a->last_tick = tlm_now();
    return 0;
}

static void app_free(ui_app *a)
{
    free(a->words);
    free(a->lh);
    free(a->hist);
    free(a->tmp);
    free(a->tx);
    free(a->ty);
    free(a->vx);
    free(a->vy);
    insp_free(&a->insp_lines, &a->insp_n);
    insp_free(&a->insp_new, &a->insp_new_n);
    for (int i = 0; i < a->n_pend; i++)
        free(a->pend[i].prompt);
    ui_out_free(&a->out);
    ui_grid_free(&a->screen);
}

static void greet(ui_app *a)
{
    out_fmt(a, UI_R_NOTE, "tlm workbench: %s, %d layers, batch %d x %d. Type 'help' or press F1; "
            "Tab completes; F10 quits.", a->snap.preset[0] ? a->snap.preset : "custom",
            a->snap.n_layers, a->snap.batch, a->snap.ctx);
}

int ui_app_run(tlm_session *s, const ui_app_opts *o, tlm_err *err)
{
    static ui_app app; /* large; one workbench per process */
    ui_app *a = &app;
    if (app_init(a, s, o, err)) {
        app_free(a);
        return -1;
    }
    int utf8;
    if (terminal_open(&utf8, err)) {
        app_free(a);
        return -1;
    }
    a->utf8 = utf8;
    char hist[4096];
    const char *hpath = o->history ? o->history : ui_prompt_history_path(hist, sizeof hist);
    ui_prompt_hooks hooks = {a, on_prompt_line, on_matches};
    if (ui_prompt_open("tlm> ", hpath, tlm_session_n_layers(s), &hooks))
        out_line(a, UI_R_ERROR, "readline could not be set up: the prompt will not work");
    greet(a);
    loop(a, o->history_cap ? o->history_cap : 4096);
    terminal_restore();
    for (int i = 0; i < a->n_farewell; i++)
        printf("tlm ui: %s\n", a->farewell[i]);
    fflush(stdout);
    app_free(a);
    return 0;
}
