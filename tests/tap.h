/* tap.h - a tiny TAP producer for the test programs (automake tap-driver). */
#ifndef TLM_TAP_H
#define TLM_TAP_H
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int tap_n, tap_failed;

/* Report one case; returns cond. */
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static inline int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    tap_n++;
    if (!pass) {
        tap_failed++;
        printf("# failed at %s:%d\n", file, line);
    }
    printf("%s %d - ", pass ? "ok" : "not ok", tap_n);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return pass;
}

/* Relative difference |a-b| / max(|a|, |b|, floor). */
static inline double tap_rel(double a, double b, double floor_)
{
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    if (m < floor_)
        m = floor_;
    return fabs(a - b) / m;
}

/* Print the plan (at the end) and return the exit status. */
static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

/* Directory of the shared datasets for tests: $TLM_DATA_DIR or the built-in one. */
static inline const char *tap_getenv_or(const char *k, const char *dflt)
{
    const char *v = getenv(k);
    return v && *v ? v : dflt;
}

/* A fresh folder $TLM_BUILDDIR/tests/tmp/PREFIX.XXXXXX (or /tmp/PREFIX.XXXXXX)
 * for one test program's files, into dir; bails out of the test on failure. */
static inline void tap_make_tmpdir(char *dir, size_t n, const char *prefix)
{
    const char *b = getenv("TLM_BUILDDIR");
    char base[3000];
    if (b && *b) {
        snprintf(base, sizeof base, "%s/tests", b);
        mkdir(base, 0777);
        snprintf(base, sizeof base, "%s/tests/tmp", b);
        mkdir(base, 0777);
    } else {
        snprintf(base, sizeof base, "/tmp");
    }
    snprintf(dir, n, "%s/%s.XXXXXX", base, prefix);
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp %s: %s\n", dir, strerror(errno));
        exit(1);
    }
}

#endif
