/* fuzz_safetensors.c - fuzz target: the safetensors loader
 * (engine/io/safetensors.c), with and without a base config. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine/io/safetensors.h"
#include "engine/model/params.h"
#include "fuzz.h"

const char tlm_fuzz_name[] = "safetensors";

static void load_once(const char *path, const tlm_config *base)
{
    tlm_config cfg;
    float *params = NULL;
    tlm_err e = {{0}};
    if (tlm_safetensors_load(path, base, &cfg, &params, &e) == 0) {
        tlm_fuzz_accepted = 1;
        uint64_t n = 0;
        TLM_FUZZ_ASSERT(params && tlm_config_param_count(&cfg, &n, &e) == 0);
        volatile float sum = 0; /* every float must be readable */
        for (uint64_t i = 0; i < n; i++)
            sum += params[i];
        free(params);
    } else {
        TLM_FUZZ_ASSERT(e.msg[0] && !params);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = tlm_fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    tlm_config base;
    tlm_err e;
    load_once(path, NULL);
    int acc = tlm_fuzz_accepted;
    if (tlm_config_preset(&base, "nano", &e) == 0)
        load_once(path, &base);
    tlm_fuzz_accepted |= acc;
    close(fd);
    return 0;
}
