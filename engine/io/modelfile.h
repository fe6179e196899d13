/* modelfile.h - open weights from a training checkpoint or a safetensors file,
 * whichever the file is (sniffed from its first bytes). */
#ifndef TLM_MODELFILE_H
#define TLM_MODELFILE_H
#include "../core/err.h"
#include "../model/config.h"
#include "../model/model.h"

/* Load the configuration and parameters (tensor-table layout, free()) stored in
 * path. base supplies training keys a safetensors file without metadata lacks.
 * Errors name the file; an unknown format says so. */
int tlm_modelfile_load(const char *path, const tlm_config *base, tlm_config *cfg, float **params,
                       tlm_err *err);

/* Load path and build a model with room for B x T tokens (T clamped to the
 * stored max_ctx when 0 is given: T = ctx). pool is borrowed. */
int tlm_modelfile_open_model(const char *path, const tlm_config *base, int B, int T,
                             tlm_pool *pool, tlm_model **out, tlm_err *err);

#endif
