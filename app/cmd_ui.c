/* cmd_ui.c - `tlm ui`: the workbench (ui/app.c) on a training session that
 * starts running at once. Takes the session options of `tlm repl` and
 * --no-save-prompt (quit without asking whether to save, and without
 * saving). `tlm` with no arguments on a terminal comes here too. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "mpi.h"
#include "engine/core/blas.h"
#include "engine/io/checkpoint.h"
#include "engine/session/session.h"
#include "ui/app.h"

/* Move --no-save-prompt out of argv (into *no_prompt); the rest goes to the
 * common parser. */
static void take_flags(int argc, char **argv, char **rest, int *n_rest, int *no_prompt)
{
    *n_rest = 0;
    *no_prompt = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--no-save-prompt"))
            *no_prompt = 1;
        else
            rest[(*n_rest)++] = argv[i];
    }
    rest[*n_rest] = NULL;
}

/* Output folder: --out, else the resumed checkpoint's folder, else
 * runs/PRESET (as `tlm repl`). */
static void out_dir(const tlm_cli *cli, const tlm_config *cfg, char *buf, size_t n)
{
    if (cli->out) {
        snprintf(buf, n, "%s", cli->out);
    } else if (cli->resume) {
        const char *slash = strrchr(cli->resume, '/');
        if (slash && slash > cli->resume)
            snprintf(buf, n, "%.*s", (int)(slash - cli->resume), cli->resume);
        else
            snprintf(buf, n, slash ? "/" : ".");
    } else {
        snprintf(buf, n, "runs/%s", cfg->preset[0] ? cfg->preset : "custom");
    }
}

/* The run's name for the status line: the output folder's last part. */
static const char *run_name(const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    const char *p = dir + len;
    while (p > dir && p[-1] != '/')
        p--;
    return p;
}

static int start_session(tlm_session **s, const tlm_cli *cli, tlm_config *cfg, char *dir,
                         size_t dir_n, size_t *hist_cap, tlm_err *err)
{
    tlm_ckpt ck;
    int have_ck = 0, rc = -1;
    if (cli->resume && (cli->preset || cli->config))
        return tlm_errf(err, "ui: give --resume or --preset/--config, not both");
    if (cli->resume) {
        if (tlm_ckpt_load(cli->resume, &ck, err))
            return -1;
        have_ck = 1;
        *cfg = ck.cfg;
        if (tlm_cli_overrides(cli, cfg, err))
            goto done;
    } else if (tlm_cli_config(cli, cfg, err)) {
        return -1;
    }
    if (tlm_app_mpi_rank() > 0) { /* MPI: the workbench runs on rank 0; this rank follows */
        rc = tlm_app_mpi_follow(cfg, have_ck ? &ck : NULL, err);
        goto done;
    }
    out_dir(cli, cfg, dir, dir_n);
    *hist_cap = (size_t)cfg->steps + 64;
    if (*hist_cap < 4096)
        *hist_cap = 4096;
    if (*hist_cap > 262144)
        *hist_cap = 262144;
    tlm_session_opts o = {dir, *hist_cap, 1};
    rc = tlm_session_create_par(s, cfg, have_ck ? &ck : NULL, &o, tlm_app_mpi_session_par(),
                                err);
done:
    if (have_ck)
        tlm_ckpt_free(&ck);
    return rc;
}

/* MPI: mpirun hands rank 0 a pipe for stdin, no terminal; TLM_TTY names the
 * terminal to take instead (mpirun --stdin none -x TLM_TTY=$(tty) ...). */
static void take_tty(void)
{
    const char *tty = getenv("TLM_TTY");
    if (tlm_app_mpi_size() < 2 || tlm_app_mpi_rank() != 0 || !tty || !*tty)
        return;
    int fd = open(tty, O_RDWR | O_NOCTTY);
    if (fd < 0)
        return; /* the terminal check below says what is missing */
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    if (fd > STDOUT_FILENO)
        close(fd);
}

int tlm_cmd_ui(int argc, char **argv)
{
    tlm_err err;
    tlm_cli cli;
    int n_rest, no_prompt;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return 1;
    take_flags(argc, argv, rest, &n_rest, &no_prompt);
    int first = n_rest >= 2 && !strcmp(rest[1], "ui") ? 2 : 1;
    int bad = tlm_cli_parse(&cli, "ui", OPT_PRESET | OPT_CONFIG | OPT_SET | OPT_DATA | OPT_STEPS |
                            OPT_BATCH | OPT_SEED | OPT_THREADS | OPT_FP32 | OPT_OUT | OPT_RESUME,
                            n_rest, rest, first, &err);
    int follower = tlm_app_mpi_rank() > 0;
    take_tty();
    if (!bad && !follower && !(isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)))
        bad = tlm_errf(&err, "ui: needs a terminal on stdin and stdout (use 'tlm repl' or "
                       "'tlm train' otherwise%s)", tlm_app_mpi_size() > 1 ? "; under mpirun: "
                       "mpirun --stdin none -x TLM_TTY=$(tty) ..." : "");
    tlm_session *s = NULL;
    tlm_config cfg;
    char dir[1024];
    size_t hist_cap = 0;
    if (!bad && start_session(&s, &cli, &cfg, dir, sizeof dir, &hist_cap, &err))
        bad = -1;
    if (!bad && !follower) {
        ui_app_opts o = {run_name(dir), !no_prompt,
                         cfg.threads > 0 ? cfg.threads : tlm_cpu_count(), NULL, hist_cap};
        bad = ui_app_run(s, &o, &err);
    }
    tlm_session_free(s);
    free(rest);
    return bad ? tlm_app_mpi_fail(&err) : 0;
}
