/* err.h - error reporting for libtlm: every fallible call fills a tlm_err. */
#ifndef TLM_ERR_H
#define TLM_ERR_H
#include <stddef.h>

typedef struct tlm_err {
    char msg[1024];
} tlm_err;

/* Format a message into err (may be NULL) and return -1, so callers can write
 * `return tlm_errf(err, "file %s: ...", path);`. */
int tlm_errf(tlm_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the message already in err with more context ("loading x: " ...);
 * returns -1. */
int tlm_err_prefix(tlm_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* a*b into *out; returns 0, or -1 when the product overflows size_t. */
int tlm_mul_size(size_t a, size_t b, size_t *out);

/* a+b into *out; returns 0, or -1 on overflow. */
int tlm_add_size(size_t a, size_t b, size_t *out);

/* calloc of n*size bytes with overflow check; NULL and err set on failure. */
void *tlm_calloc(size_t n, size_t size, tlm_err *err);

/* aligned (64-byte) zeroed allocation of n*size bytes; free with free(). */
void *tlm_calloc_aligned(size_t n, size_t size, tlm_err *err);

#endif
