/* fuzz_packfile.c - fuzz target: the packed inference model loader
 * (tlm_pack_bind in engine/infer/packfile.c: the checks behind
 * tlm_infer_open, on an in-memory image). The header checksum is recomputed
 * first so mutations reach the structure checks; tensor checksums are left
 * alone (a bind without verification covers the views). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "engine/infer/infer_impl.h"
#include "fuzz.h"

const char tlm_fuzz_name[] = "packfile";

/* Bind img; on success expand every weight (reads through all the views). */
static int bind_once(const uint8_t *img, size_t size, int verify)
{
    tlm_err e = {{0}};
    tlm_infer *inf = calloc(1, sizeof *inf);
    if (!inf)
        return 0;
    int ok = tlm_pack_bind(inf, img, size, verify, "fuzz", &e) == 0;
    if (ok) {
        float *params = NULL;
        TLM_FUZZ_ASSERT(tlm_pack_unpack(inf, &params, &e) == 0 && params);
        free(params);
    } else {
        TLM_FUZZ_ASSERT(e.msg[0]);
    }
    tlm_infer_free(inf);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *img = NULL;
    if (posix_memalign((void **)&img, TLM_PACK_ALIGN, size ? size : 1))
        return 0;
    memcpy(img, data, size);
    if (size >= 16) {
        uint32_t H = tlm_fuzz_get_u32(img + 12);
        if (H >= 16 && (uint64_t)H + 4 <= size)
            tlm_fuzz_put_u32(img + H, (uint32_t)crc32(0, img, H));
    }
    if (bind_once(img, size, 0))
        tlm_fuzz_accepted = bind_once(img, size, 1);
    free(img);
    return 0;
}
