/* test_ui_echo.c - keystroke echo latency of the workbench while it trains.
 *
 * Runs `tlm ui` on a pseudo-terminal (forkpty, xterm-256color, 100x30),
 * waits until it is training, then types one character at a time at the
 * prompt and times each from write() to the moment the character comes back
 * in the program's output (the echo readline draws into curses). The CPU use
 * of the whole machine over the measurement is read from /proc/stat, to show
 * that training kept the cores busy meanwhile. Reports the median, p90, p99
 * and maximum; fails when the median reaches 50 ms.
 *
 * Environment: TLM_ECHO_PRESET (default nano), TLM_ECHO_KEYS (default 120),
 * TLM_ECHO_THREADS (default: all cores). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "tap.h"

#define WINDOW (1 << 16)

typedef struct term {
    int fd;
    pid_t pid;
    char seen[WINDOW]; /* the most recent output, NUL-terminated */
    size_t n;
} term;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Read what the program wrote within timeout seconds (at least one poll);
 * returns the bytes read, -1 at the end of its output. *hit is set when
 * byte c (>= 0) was among them. */
static long pump(term *t, double timeout, int c, int *hit)
{
    struct pollfd p = {t->fd, POLLIN, 0};
    int r = poll(&p, 1, (int)(timeout * 1000));
    if (r <= 0)
        return 0;
    char buf[8192];
    ssize_t n = read(t->fd, buf, sizeof buf);
    if (n <= 0)
        return -1;
    if (c >= 0 && hit && memchr(buf, c, (size_t)n))
        *hit = 1;
    if (t->n + (size_t)n >= WINDOW) { /* keep the newest bytes (buf is smaller) */
        size_t drop = t->n + (size_t)n - (WINDOW - 1);
        memmove(t->seen, t->seen + drop, t->n - drop);
        t->n -= drop;
    }
    memcpy(t->seen + t->n, buf, (size_t)n);
    t->n += (size_t)n;
    t->seen[t->n] = 0;
    for (size_t i = 0; i < t->n; i++) /* NULs would end the string early */
        if (!t->seen[i])
            t->seen[i] = ' ';
    return n;
}

/* Wait until s appears in the output; 0 when it did, -1 on timeout or end. */
static int wait_text(term *t, const char *s, double timeout)
{
    double end = now() + timeout;
    while (!strstr(t->seen, s)) {
        if (now() > end || pump(t, 0.05, -1, NULL) < 0)
            return -1;
    }
    return 0;
}

/* Keep reading for d seconds (the program must never block on its output). */
static void drain(term *t, double d)
{
    double end = now() + d;
    while (now() < end && pump(t, end - now(), -1, NULL) >= 0) {
    }
}

static int start(term *t, const char *tlm, const char *preset, const char *threads,
                 const char *out)
{
    struct winsize ws = {30, 100, 0, 0};
    memset(t, 0, sizeof *t);
    t->pid = forkpty(&t->fd, NULL, NULL, &ws);
    if (t->pid < 0)
        return -1;
    if (t->pid == 0) {
        setenv("TERM", "xterm-256color", 1);
        setenv("LANG", "C.UTF-8", 1);
        setenv("LC_ALL", "C.UTF-8", 1);
        setenv("TLM_HISTORY", "", 1);
        char *argv[16];
        int n = 0;
        argv[n++] = (char *)tlm;
        argv[n++] = "ui";
        argv[n++] = "--preset";
        argv[n++] = (char *)preset;
        argv[n++] = "--steps";
        argv[n++] = "100000";
        argv[n++] = "--out";
        argv[n++] = (char *)out;
        argv[n++] = "--no-save-prompt";
        if (threads) {
            argv[n++] = "--threads";
            argv[n++] = (char *)threads;
        }
        argv[n] = NULL;
        execv(tlm, argv);
        _exit(127);
    }
    return 0;
}

/* Busy share of all CPUs from two /proc/stat readings. */
static int cpu_read(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int ok_ = f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                          &v[3], &v[4], &v[5], &v[6], &v[7]) == 8;
    if (f)
        fclose(f);
    *total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    *busy = *total - v[3] - v[4];
    return ok_ ? 0 : -1;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Type n keys (every 40th a Ctrl-U that clears the line, not measured);
 * each latency (ms) into lat, the keys typed into *typed. Returns the keys
 * measured. */
static int measure(term *t, double *lat, int n, int *typed)
{
    static const char keys[] = "~`";
    int got = 0;
    *typed = 0;
    for (int i = 0; i < n; i++) {
        if (i % 40 == 39) { /* clear the line now and then: Ctrl-U */
            if (write(t->fd, "\025", 1) != 1)
                break;
            drain(t, 0.15);
            continue;
        }
        char c = keys[i % 2];
        int hit = 0;
        double t0 = now();
        if (write(t->fd, &c, 1) != 1)
            break;
        (*typed)++;
        while (!hit && now() - t0 < 2.0)
            if (pump(t, 2.0 - (now() - t0), c, &hit) < 0)
                return got;
        if (hit)
            lat[got++] = (now() - t0) * 1000;
        drain(t, 0.02 + 0.001 * (rand() % 60)); /* typing pace: 20-80 ms apart */
    }
    return got;
}

static int stop(term *t)
{
    if (write(t->fd, "\033[21~", 5) != 5) /* F10: quits (no question asked) */
        kill(t->pid, SIGTERM);
    double end = now() + 20;
    int status = -1;
    while (now() < end) {
        pid_t r = waitpid(t->pid, &status, WNOHANG);
        if (r == t->pid)
            break;
        pump(t, 0.05, -1, NULL);
    }
    if (now() >= end) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, &status, 0);
    }
    close(t->fd);
    return status;
}

int main(void)
{
    const char *bdir = tap_getenv_or("TLM_BUILDDIR", ".");
    const char *preset = tap_getenv_or("TLM_ECHO_PRESET", "nano");
    const char *threads = getenv("TLM_ECHO_THREADS");
    int nkeys = atoi(tap_getenv_or("TLM_ECHO_KEYS", "120"));
    char tlm[4096], out[4096];
    snprintf(tlm, sizeof tlm, "%s/tlm", bdir);
    snprintf(out, sizeof out, "%s/tests/tmp/ui_echo-%s/metrics.csv", bdir, preset);
    unlink(out); /* a fresh metrics file: the preset's columns */
    snprintf(out, sizeof out, "%s/tests/tmp/ui_echo-%s", bdir, preset);
    if (access(tlm, X_OK) != 0) {
        printf("1..0 # SKIP %s not built\n", tlm);
        return 0;
    }
    static term t;
    if (!ok(start(&t, tlm, preset, threads, out) == 0, "tlm ui starts on a pseudo-terminal"))
        return tap_done();
    int up = wait_text(&t, "RUNNING", 120) == 0;
    ok(up, "it is training (status RUNNING)");
    if (!up) {
        printf("# output: %.400s\n", t.seen);
        stop(&t);
        return tap_done();
    }
    drain(&t, 1.5); /* let training settle */
    unsigned long long b0, t0, b1, t1;
    cpu_read(&b0, &t0);
    double *lat = calloc((size_t)(nkeys > 0 ? nkeys : 1), sizeof *lat);
    int typed = 0;
    int n = lat ? measure(&t, lat, nkeys, &typed) : 0;
    cpu_read(&b1, &t1);
    double busy = t1 > t0 ? 100.0 * (double)(b1 - b0) / (double)(t1 - t0) : 0;
    ok(n > 0 && n == typed, "every typed key came back (%d of %d)", n, typed);
    if (n > 0) {
        qsort(lat, (size_t)n, sizeof *lat, cmp_d);
        double med = lat[n / 2], p90 = lat[n * 9 / 10], p99 = lat[n * 99 / 100], mx = lat[n - 1];
        printf("# keystroke echo, %d keys, preset %s, threads %s, %ld cpus busy %.0f%%: "
               "median %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", n, preset,
               threads ? threads : "all", sysconf(_SC_NPROCESSORS_ONLN), busy, med, p90, p99, mx);
        ok(med < 50, "median keystroke echo under 50 ms (%.2f ms)", med);
    }
    int st = stop(&t);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "F10 quits with status 0");
    free(lat);
    return tap_done();
}
