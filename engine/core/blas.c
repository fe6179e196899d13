/* blas.c - OpenBLAS core check, re-exec and threads. */
#include "blas.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

static const char *fast_cores[] = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"};

static int core_is_fast(const char *name)
{
    for (size_t i = 0; i < sizeof fast_cores / sizeof fast_cores[0]; i++)
        if (name && strcasecmp(name, fast_cores[i]) == 0)
            return 1;
    return 0;
}

static const char *wanted_core(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
    return NULL;
}

void tlm_blas_ensure_fast_core(char **argv)
{
    const char *keep = getenv("TLM_BLAS_KEEP_CORE");
    if ((keep && *keep == '1') || getenv("TLM_BLAS_REEXEC"))
        return;
    const char *core = openblas_get_corename();
    const char *want = wanted_core();
    if (!want || core_is_fast(core))
        return;
    char note[64];
    snprintf(note, sizeof note, "%s", core ? core : "unknown");
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("TLM_BLAS_REEXEC", note, 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the slow core; describe() says so */
    unsetenv("TLM_BLAS_REEXEC");
}

const char *tlm_blas_core(void)
{
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
}

void tlm_blas_describe(char *buf, size_t n)
{
    const char *from = getenv("TLM_BLAS_REEXEC");
    const char *want = wanted_core();
    const char *core = tlm_blas_core();
    if (from)
        snprintf(buf, n, "OpenBLAS core %s (corrected from %s), %d threads", core, from,
                 openblas_get_num_threads());
    else if (want && !core_is_fast(core))
        snprintf(buf, n, "OpenBLAS core %s (SLOW: CPU supports %s; set OPENBLAS_CORETYPE=%s), %d threads",
                 core, want, want, openblas_get_num_threads());
    else
        snprintf(buf, n, "OpenBLAS core %s, %d threads", core, openblas_get_num_threads());
}

void tlm_blas_set_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int tlm_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
