/* safetensors.h - weights exchange in the safetensors format with the paper's
 * state-dict names (torch [out, in] layout, F32). The header's __metadata__
 * records the configuration ("tlm.config": tlm_config_serialize text) and each
 * linear's precision ("tlm.precision": "ternary,ternary,...", 7 per layer). */
#ifndef TLM_SAFETENSORS_H
#define TLM_SAFETENSORS_H
#include <stddef.h>
#include "../core/err.h"
#include "../model/config.h"

/* Write all parameters (params: tlm_tensor_table layout, count floats) to path,
 * via a temp file + fsync + rename. */
int tlm_safetensors_save(const char *path, const tlm_config *cfg, const float *params,
                         tlm_err *err);

/* Read path: the config comes from the metadata when present (training keys
 * from `base`), else it is inferred from the tensor shapes (heads = dim / 64).
 * Allocates *params (free()) holding the tensor-table layout. Every tensor of
 * the model must be present exactly once with the right shape and dtype F32;
 * unknown tensors, overlaps, holes, out-of-range offsets and a header over
 * 100 MB are errors naming the file and tensor. */
int tlm_safetensors_load(const char *path, const tlm_config *base, tlm_config *cfg,
                         float **params, tlm_err *err);

/* 1 when the file starts like a safetensors file (8-byte length + '{'). */
int tlm_safetensors_sniff(const char *path);

#endif
