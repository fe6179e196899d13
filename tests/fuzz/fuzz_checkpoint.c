/* fuzz_checkpoint.c - fuzz target: the training checkpoint loader
 * (engine/io/checkpoint.c). The header and payload checksums are recomputed
 * before loading, so mutations reach the parser behind them (the corruption
 * tests cover the checksums themselves). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "engine/io/checkpoint.h"
#include "fuzz.h"

const char tlm_fuzz_name[] = "checkpoint";

/* Header crc32 at H (u32 at byte 12); payload crc32 in the last 4 bytes. */
static void fix_checksums(uint8_t *b, size_t n)
{
    if (n < 16)
        return;
    uint32_t H = tlm_fuzz_get_u32(b + 12);
    if (H < 16 || (uint64_t)H + 4 > n)
        return;
    tlm_fuzz_put_u32(b + H, (uint32_t)crc32(0, b, H));
    if ((uint64_t)H + 8 <= n)
        tlm_fuzz_put_u32(b + n - 4, (uint32_t)crc32(0, b + H + 4, (uInt)(n - H - 8)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    fix_checksums(b, size);
    char path[64];
    int fd = tlm_fuzz_memfile(b, size, path, sizeof path);
    free(b);
    if (fd < 0)
        return 0;
    tlm_ckpt c;
    memset(&c, 0, sizeof c);
    tlm_err e = {{0}};
    if (tlm_ckpt_load(path, &c, &e) == 0) {
        tlm_fuzz_accepted = 1;
        uint64_t n = 0;
        TLM_FUZZ_ASSERT(tlm_config_param_count(&c.cfg, &n, &e) == 0 && n == c.count);
        TLM_FUZZ_ASSERT(c.params && c.m && c.v && (c.history || c.history_n == 0));
        tlm_ckpt_free(&c);
    } else {
        TLM_FUZZ_ASSERT(e.msg[0] && strstr(e.msg, path));
    }
    close(fd);
    return 0;
}
