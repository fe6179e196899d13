/* cmd_repl.c - `tlm repl`: a session driven by console command lines from a
 * script, stdin, or (on a terminal) readline with history. Scripts are
 * deterministic: each line's answer is awaited before the next line is read.
 * The exit status is 1 when any command (or the engine) reported an error. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <readline/history.h>
#include <readline/readline.h>
#include "cli.h"
#include "mpi.h"
#include "engine/console/console.h"
#include "engine/session/session.h"

typedef struct repl {
    tlm_session *s;
    const char *src;      /* script name for messages ("stdin") */
    long lineno;
    int errors;           /* error events seen */
    int mid_line;         /* generated text printed without its newline */
    int interactive;
    uint64_t quit_id;     /* id of the submitted quit, 0 when none */
    int quit_done;
} repl;

/* ---- events ---- */

static void end_partial_line(repl *r)
{
    if (r->mid_line) {
        fputc('\n', stdout);
        r->mid_line = 0;
    }
}

static void print_event(repl *r, const tlm_event *ev)
{
    switch (ev->kind) {
    case TLM_EV_TOKEN:
        fputs(ev->text, stdout);
        fflush(stdout);
        r->mid_line = 1;
        return;
    case TLM_EV_LINE:
    case TLM_EV_NOTE:
        end_partial_line(r);
        printf("%s\n", ev->text);
        return;
    case TLM_EV_ERROR:
        end_partial_line(r);
        fflush(stdout);
        r->errors++;
        if (!r->interactive && ev->cmd)
            fprintf(stderr, "tlm: %s:%ld: %s\n", r->src, r->lineno, ev->text);
        else
            fprintf(stderr, "tlm: %s\n", ev->text);
        return;
    case TLM_EV_DONE:
        end_partial_line(r);
        if (r->quit_id && ev->cmd == r->quit_id)
            r->quit_done = 1;
        return;
    }
}

/* Print events until command id is done (id 0: until none is pending). */
static void drain_until(repl *r, uint64_t id)
{
    tlm_event ev;
    for (;;) {
        int got = id ? tlm_session_wait_event(r->s, &ev, -1) : tlm_session_poll_event(r->s, &ev);
        if (!got)
            break;
        print_event(r, &ev);
        if (id && ev.kind == TLM_EV_DONE && ev.cmd == id)
            break;
    }
    fflush(stdout);
}

/* 1 when the line is the quit command. */
static int is_quit(const char *line)
{
    tlm_console_words *a = malloc(sizeof *a);
    int q = a && tlm_console_split(line, a, NULL) == 0 && a->n && !strcmp(a->w[0], "quit");
    free(a);
    return q;
}

static uint64_t submit(repl *r, const char *line)
{
    uint64_t id = tlm_session_submit(r->s, line);
    if (is_quit(line) && !r->quit_id)
        r->quit_id = id;
    return id;
}

/* ---- scripts and pipes ---- */

static int blank_or_comment(const char *line)
{
    while (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\n')
        line++;
    return !*line || *line == '#';
}

static void run_script(repl *r, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (!r->quit_done && (len = getline(&line, &cap, in)) >= 0) {
        r->lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[len - 1] = 0;
        if (blank_or_comment(line))
            continue;
        drain_until(r, submit(r, line));
    }
    free(line);
}

/* ---- terminal: readline's callback interface, polled with the events ---- */

static repl *g_repl;
static volatile sig_atomic_t g_interrupt;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupt = 1;
}

static void on_line(char *line)
{
    repl *r = g_repl;
    if (!line) { /* Ctrl-D */
        printf("\n");
        if (!r->quit_id)
            submit(r, "quit");
        rl_callback_handler_remove();
        return;
    }
    if (!blank_or_comment(line)) {
        add_history(line);
        r->lineno++;
        submit(r, line);
    }
    free(line);
}

/* Print pending events above the prompt, keeping what is being typed. */
static void show_events(repl *r)
{
    tlm_event ev;
    if (!tlm_session_poll_event(r->s, &ev))
        return;
    if (r->quit_id) { /* readline is done: plain printing */
        do
            print_event(r, &ev);
        while (tlm_session_poll_event(r->s, &ev));
        fflush(stdout);
        return;
    }
    int point = rl_point;
    char *typed = rl_copy_text(0, rl_end);
    rl_save_prompt();
    rl_replace_line("", 0);
    rl_redisplay();
    do /* a burst (a table, streamed tokens) is printed before the prompt returns */
        print_event(r, &ev);
    while (tlm_session_wait_event(r->s, &ev, 0.03));
    end_partial_line(r);
    fflush(stdout);
    rl_restore_prompt();
    rl_replace_line(typed ? typed : "", 0);
    rl_point = point;
    free(typed);
    rl_redisplay();
}

/* Tab completion from the console's table: commands, layer names, keys. */
static char *complete_next(const char *text, int state)
{
    static tlm_strlist l;
    static size_t next;
    (void)text;
    if (state == 0) {
        size_t start;
        tlm_strlist_free(&l);
        next = 0;
        if (tlm_console_complete(rl_line_buffer, (size_t)rl_point,
                                 tlm_session_n_layers(g_repl->s), &l, &start) < 0)
            return NULL;
    }
    if (next >= l.n)
        return NULL;
    const char *c = l.v[next++];
    if (c[0] && c[strlen(c) - 1] == '=')
        rl_completion_append_character = '\0'; /* an option: its value follows */
    return strdup(c);
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* no file names unless offered */
    return rl_completion_matches(text, complete_next);
}

static void history_path(char *buf, size_t n)
{
    const char *home = getenv("HOME");
    snprintf(buf, n, "%s/.tlm_history", home && *home ? home : ".");
}

static void run_terminal(repl *r)
{
    char hist[4096];
    history_path(hist, sizeof hist);
    read_history(hist);
    g_repl = r;
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    printf("tlm repl: the session is paused; 'help' lists the commands, Ctrl-C pauses, "
           "Ctrl-D quits\n");
    rl_completer_word_break_characters = " \t\n";
    rl_attempted_completion_function = complete;
    rl_callback_handler_install("tlm> ", on_line);
    struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {tlm_session_event_fd(r->s), POLLIN, 0}};
    while (!r->quit_done) {
        if (g_interrupt) {
            g_interrupt = 0;
            submit(r, "pause");
        }
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[0].revents & (POLLIN | POLLHUP) && !r->quit_id)
            rl_callback_read_char();
        else if (fds[0].revents & (POLLIN | POLLHUP))
            fds[0].fd = -1; /* quitting: stop reading input */
        show_events(r);
    }
    rl_callback_handler_remove();
    write_history(hist);
}

/* ---- setup ---- */

/* Move --script FILE (or --script=FILE) out of argv; the rest goes to the
 * common parser. */
static int take_script(int argc, char **argv, char **rest, int *n_rest, const char **script,
                       tlm_err *err)
{
    *n_rest = 0;
    *script = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--script")) {
            if (i + 1 >= argc)
                return tlm_errf(err, "repl: option '--script' needs a value");
            *script = argv[++i];
        } else if (!strncmp(argv[i], "--script=", 9)) {
            *script = argv[i] + 9;
        } else {
            rest[(*n_rest)++] = argv[i];
        }
    }
    rest[*n_rest] = NULL;
    return 0;
}

/* Folder for checkpoints and metrics: --out, else the resumed checkpoint's
 * folder, else runs/PRESET. */
static void out_dir(const tlm_cli *cli, const tlm_config *cfg, char *buf, size_t n)
{
    if (cli->out) {
        snprintf(buf, n, "%s", cli->out);
    } else if (cli->resume) {
        const char *slash = strrchr(cli->resume, '/');
        if (slash)
            snprintf(buf, n, "%.*s", (int)(slash - cli->resume), cli->resume);
        else
            snprintf(buf, n, ".");
        if (!buf[0])
            snprintf(buf, n, "/");
    } else {
        snprintf(buf, n, "runs/%s", cfg->preset[0] ? cfg->preset : "custom");
    }
}

static int start_session(repl *r, const tlm_cli *cli, tlm_err *err)
{
    tlm_config cfg;
    tlm_ckpt ck;
    int have_ck = 0, rc = -1;
    if (cli->resume && (cli->preset || cli->config))
        return tlm_errf(err, "repl: give --resume or --preset/--config, not both");
    if (cli->resume) {
        if (tlm_ckpt_load(cli->resume, &ck, err))
            return -1;
        have_ck = 1;
        cfg = ck.cfg;
        if (tlm_cli_overrides(cli, &cfg, err))
            goto done;
    } else if (tlm_cli_config(cli, &cfg, err)) {
        return -1;
    }
    if (tlm_app_mpi_rank() > 0) { /* MPI: the session runs on rank 0; this rank follows */
        rc = tlm_app_mpi_follow(&cfg, have_ck ? &ck : NULL, err);
        goto done;
    }
    char dir[1024];
    out_dir(cli, &cfg, dir, sizeof dir);
    tlm_session_opts o = {dir, 0, 0};
    rc = tlm_session_create_par(&r->s, &cfg, have_ck ? &ck : NULL, &o, tlm_app_mpi_session_par(),
                                err);
done:
    if (have_ck)
        tlm_ckpt_free(&ck);
    return rc;
}

int tlm_cmd_repl(int argc, char **argv)
{
    tlm_err err;
    tlm_cli cli;
    const char *script;
    int n_rest;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return 1;
    if (take_script(argc, argv, rest, &n_rest, &script, &err) ||
        tlm_cli_parse(&cli, "repl", OPT_PRESET | OPT_CONFIG | OPT_SET | OPT_DATA | OPT_STEPS |
                      OPT_BATCH | OPT_SEED | OPT_THREADS | OPT_FP32 | OPT_OUT | OPT_RESUME,
                      n_rest, rest, 2, &err)) {
        free(rest);
        return tlm_cli_fail(&err);
    }
    int follower = tlm_app_mpi_rank() > 0; /* MPI: only rank 0 reads commands */
    FILE *in = script && !follower ? fopen(script, "r") : stdin;
    if (!in) {
        tlm_errf(&err, "repl: script %s: %s", script, strerror(errno));
        free(rest);
        return tlm_cli_fail(&err);
    }
    repl r = {.src = script ? script : "stdin", .interactive = !script && isatty(STDIN_FILENO)};
    int status = 0;
    if (start_session(&r, &cli, &err)) {
        status = tlm_app_mpi_fail(&err);
    } else if (!follower) {
        if (r.interactive)
            run_terminal(&r);
        else
            run_script(&r, in);
        if (!r.quit_id)
            submit(&r, "quit");
        if (!r.quit_done)
            drain_until(&r, r.quit_id);
        tlm_session_free(r.s);
        status = r.errors ? 1 : 0;
    }
    if (script && !follower)
        fclose(in);
    free(rest);
    return status;
}
