/* fuzz_config.c - fuzz target: the config parsers (engine/model/config.c):
 * the stored form (tlm_config_deserialize, as in checkpoints and packed
 * models) and config files (tlm_config_load_file). An accepted config that
 * validates must serialize and parse back to the same text. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine/model/config.h"
#include "fuzz.h"

const char tlm_fuzz_name[] = "config";

static void round_trip(const tlm_config *c)
{
    tlm_err e = {{0}};
    size_t n = tlm_config_serialize(c, NULL, 0);
    char *a = malloc(n + 1), *b = malloc(n + 1);
    TLM_FUZZ_ASSERT(a && b);
    TLM_FUZZ_ASSERT(tlm_config_serialize(c, a, n + 1) == n);
    tlm_config d;
    if (tlm_config_deserialize(&d, a, n, &e))
        tlm_fuzz_fail(e.msg, __FILE__, __LINE__);
    TLM_FUZZ_ASSERT(tlm_config_serialize(&d, b, n + 1) == n && !memcmp(a, b, n));
    uint64_t count;
    TLM_FUZZ_ASSERT(tlm_config_param_count(&d, &count, &e) == 0);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tlm_config c;
    tlm_err e = {{0}};
    if (tlm_config_deserialize(&c, (const char *)data, size, &e) == 0) {
        tlm_fuzz_accepted = 1;
        round_trip(&c);
    }
    char path[64];
    int fd = tlm_fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    if (tlm_config_preset(&c, "nano", &e) == 0 && tlm_config_load_file(&c, path, &e) == 0) {
        tlm_fuzz_accepted = 1;
        if (tlm_config_validate(&c, &e) == 0) /* the file reader leaves that to its caller */
            round_trip(&c);
    }
    close(fd);
    return 0;
}
