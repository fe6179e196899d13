/* err.c - error messages and checked allocation. */
#include "err.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

int tlm_errf(tlm_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int tlm_err_prefix(tlm_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, "%s", old);
    return -1;
}

int tlm_mul_size(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

int tlm_add_size(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

void *tlm_calloc(size_t n, size_t size, tlm_err *err)
{
    size_t bytes;
    if (tlm_mul_size(n, size, &bytes)) {
        tlm_errf(err, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p)
        tlm_errf(err, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *tlm_calloc_aligned(size_t n, size_t size, tlm_err *err)
{
    size_t bytes;
    if (tlm_mul_size(n, size, &bytes) || bytes > SIZE_MAX - 64) {
        tlm_errf(err, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    bytes = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        tlm_errf(err, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}
