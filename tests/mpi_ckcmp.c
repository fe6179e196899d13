/* mpi_ckcmp.c - helper for tests/mpi.sh: compare two training checkpoints.
 * usage: mpi_ckcmp A.tlmc B.tlmc TOL
 * Prints "step A B, max |dw| X (relative Y), max |dm| ..., max |dv| ..." and
 * exits 0 when both are at the same step and every weight agrees to TOL
 * (absolute: weights are ~N(0, 0.02)); 1 otherwise, 2 on a load error. The
 * relative figure is |a-b| / max(|a|, |b|, 1e-3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "engine/io/checkpoint.h"

/* Largest absolute and relative difference of n floats. */
static void maxdiff(const float *a, const float *b, size_t n, double *abs_, double *rel)
{
    *abs_ = *rel = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double m = fmax(fmax(fabs((double)a[i]), fabs((double)b[i])), 1e-3);
        if (d > *abs_)
            *abs_ = d;
        if (d / m > *rel)
            *rel = d / m;
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mpi_ckcmp A.tlmc B.tlmc TOL\n");
        return 2;
    }
    tlm_ckpt a, b;
    tlm_err err;
    if (tlm_ckpt_load(argv[1], &a, &err) || tlm_ckpt_load(argv[2], &b, &err)) {
        fprintf(stderr, "mpi_ckcmp: %s\n", err.msg);
        return 2;
    }
    if (a.count != b.count) {
        printf("parameter counts differ: %zu vs %zu\n", a.count, b.count);
        return 1;
    }
    double wa, wr, ma, mr, va, vr;
    maxdiff(a.params, b.params, a.count, &wa, &wr);
    maxdiff(a.m, b.m, a.count, &ma, &mr);
    maxdiff(a.v, b.v, a.count, &va, &vr);
    printf("step %lld %lld, max |dw| %.3g (relative %.3g), max |dm| %.3g, max |dv| %.3g\n",
           (long long)a.step, (long long)b.step, wa, wr, ma, va);
    int same = a.step == b.step && wa <= atof(argv[3]);
    tlm_ckpt_free(&a);
    tlm_ckpt_free(&b);
    return same ? 0 : 1;
}
