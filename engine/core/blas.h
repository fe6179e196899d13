/* blas.h - the dense fp32 BLAS (OpenBLAS through CBLAS): core-type check and
 * thread control. Debian's OpenBLAS 0.3.21 takes some CPUs for a Prescott and
 * then runs sgemm 4-10x slower; the core type is read only when the library
 * loads, so the fix is to re-exec the program with OPENBLAS_CORETYPE set. */
#ifndef TLM_BLAS_H
#define TLM_BLAS_H
#include <cblas.h>

/* If OpenBLAS picked a slow core on a CPU with AVX2/AVX-512, set
 * OPENBLAS_CORETYPE (SkylakeX or Haswell) and re-exec /proc/self/exe with argv.
 * Returns only when no re-exec is needed (or it failed, which is reported by
 * tlm_blas_describe). Set TLM_BLAS_KEEP_CORE=1 to opt out. */
void tlm_blas_ensure_fast_core(char **argv);

/* OpenBLAS's core name ("SkylakeX", "Prescott", ...). */
const char *tlm_blas_core(void);

/* One line describing the BLAS: library, core, threads, and whether the core
 * was corrected at start. */
void tlm_blas_describe(char *buf, size_t n);

/* Threads the BLAS may use for one call. */
void tlm_blas_set_threads(int n);

/* Number of online CPUs (at least 1). */
int tlm_cpu_count(void);

#endif
