/* fuzz.h - shared pieces of the fuzz targets (tests/fuzz/fuzz_*.c).
 * Each target defines LLVMFuzzerTestOneInput and tlm_fuzz_name; built with
 * clang -fsanitize=fuzzer (./configure --enable-fuzz) it is a libFuzzer
 * binary, linked with replay.c it replays a corpus folder in `make check`. */
#ifndef TLM_FUZZ_H
#define TLM_FUZZ_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The target's name: its corpus is tests/fuzz/corpus/<name>/. */
extern const char tlm_fuzz_name[];

/* Set by a target to 1 when the last input was accepted by the loader (the
 * replay checks that the corpus files named valid-* are). */
extern int tlm_fuzz_accepted;

/* Put data[0..size) into an anonymous in-memory file (memfd) and its
 * /proc/self/fd path into path[n], for loaders that take a path; returns
 * the fd (close it after the load) or -1 (then the input is skipped). */
int tlm_fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t n);

/* Write a little-endian u32 / read one. */
void tlm_fuzz_put_u32(uint8_t *p, uint32_t x);
uint32_t tlm_fuzz_get_u32(const uint8_t *p);

/* Abort (a finding) when cond is false: for properties a target checks on
 * accepted input. */
#define TLM_FUZZ_ASSERT(cond) ((cond) ? (void)0 : tlm_fuzz_fail(#cond, __FILE__, __LINE__))
void tlm_fuzz_fail(const char *what, const char *file, int line) __attribute__((noreturn));

#endif
