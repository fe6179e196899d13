/* modelfile.c - checkpoint or safetensors, by content. */
#include "modelfile.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "checkpoint.h"
#include "safetensors.h"

int tlm_modelfile_load(const char *path, const tlm_config *base, tlm_config *cfg, float **params,
                       tlm_err *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return tlm_errf(err, "model %s: %s", path,
                        S_ISDIR(st.st_mode) ? "is a directory, not a model file"
                                            : "not a regular file");
    FILE *f = fopen(path, "rb");
    if (!f)
        return tlm_errf(err, "model %s: %s", path, strerror(errno));
    fclose(f);
    if (tlm_ckpt_sniff(path)) {
        tlm_ckpt ck;
        if (tlm_ckpt_load(path, &ck, err))
            return -1;
        *cfg = ck.cfg;
        *params = ck.params;
        ck.params = NULL;
        tlm_ckpt_free(&ck);
        return 0;
    }
    if (tlm_safetensors_sniff(path))
        return tlm_safetensors_load(path, base, cfg, params, err);
    return tlm_errf(err, "model %s: neither a tlm checkpoint nor a safetensors file", path);
}

int tlm_modelfile_open_model(const char *path, const tlm_config *base, int B, int T,
                             tlm_pool *pool, tlm_model **out, tlm_err *err)
{
    tlm_config cfg;
    float *params = NULL;
    if (tlm_modelfile_load(path, base, &cfg, &params, err))
        return -1;
    if (T == 0)
        T = cfg.ctx;
    tlm_model *m;
    if (tlm_model_create(&m, &cfg, B, T, pool, err)) {
        free(params);
        return tlm_err_prefix(err, "model %s: ", path);
    }
    memcpy(m->p.mem, params, m->p.count * sizeof(float));
    free(params);
    *out = m;
    return 0;
}
