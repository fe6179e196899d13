/* xopt.c - options of the paper commands that the shared parser does not know. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "paper.h"

/* Index of the option argv names in xo, or -1; *eq gets its "=value" part. */
static int match(const char *a, const tlm_xopt *xo, int n, const char **eq)
{
    if (strncmp(a, "--", 2))
        return -1;
    const char *name = a + 2, *e = strchr(name, '=');
    size_t len = e ? (size_t)(e - name) : strlen(name);
    for (int k = 0; k < n; k++)
        if (strlen(xo[k].name) == len && !strncmp(xo[k].name, name, len)) {
            *eq = e;
            return k;
        }
    return -1;
}

int tlm_xopt_take(int *argc, char **argv, int first, const tlm_xopt *xo, int n, const char *cmd,
                  tlm_err *err)
{
    int out = first;
    for (int i = first; i < *argc; i++) {
        const char *eq = NULL;
        int k = match(argv[i], xo, n, &eq);
        if (k < 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (!xo[k].has_arg) {
            if (eq)
                return tlm_errf(err, "%s: option '--%s' takes no value", cmd, xo[k].name);
            *xo[k].val = "1";
        } else if (eq) {
            *xo[k].val = eq + 1;
        } else if (i + 1 < *argc) {
            *xo[k].val = argv[++i];
        } else {
            return tlm_errf(err, "%s: option '--%s' needs a value", cmd, xo[k].name);
        }
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

int tlm_xopt_int(const char *opt, const char *v, long lo, long hi, long *out, tlm_err *err)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi)
        return tlm_errf(err, "%s: '%s' is not an integer in %ld..%ld", opt, v, lo, hi);
    *out = x;
    return 0;
}

int tlm_xopt_float(const char *opt, const char *v, double lo, double hi, double *out,
                   tlm_err *err)
{
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || !isfinite(x) || !(x > lo) || x > hi)
        return tlm_errf(err, "%s: '%s' is not a number in (%g, %g]", opt, v, lo, hi);
    *out = x;
    return 0;
}
