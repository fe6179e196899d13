/* datapath.h - where tlm finds its data and keeps its caches. */
#ifndef TLM_DATAPATH_H
#define TLM_DATAPATH_H
#include <stddef.h>
#include "../core/err.h"

/* Resolve a data name to a readable file path. `name` is an existing path, an
 * alias (tokenizers: "tok4096", "tok2048", "bert-base-uncased"; text:
 * "tinystories-train", "tinystories-valid", "tinyshakespeare") or a path relative
 * to a data root. Roots, in order: $TLM_DATA_DIR, <srcdir>/datasets/data (made
 * by datasets/setup.sh), <srcdir>/../shared/datasets. A comma-separated list
 * resolves each element and joins them with ','. Errors say what was tried. */
int tlm_data_resolve(const char *name, char *out, size_t n, tlm_err *err);

/* The cache folder: $TLM_CACHE_DIR, else $XDG_CACHE_HOME/tlm, else
 * $HOME/.cache/tlm (created when missing). */
int tlm_cache_dir(char *out, size_t n, tlm_err *err);

/* mkdir -p; 0 or -1 with err naming the path. */
int tlm_mkdirs(const char *path, tlm_err *err);

#endif
