/* safetensors.c - weights in the safetensors format (see safetensors.h).
 *
 * File: u64 little-endian header length N, N bytes of JSON (padded with
 * spaces to a multiple of 8), then the data area: every tensor of the
 * tensor table in table order, F32, contiguous. The loader treats the file as
 * hostile: lengths are capped and checked against the file size, every
 * product of sizes is overflow-checked, the data area must be covered exactly
 * once (no overlaps, no holes, nothing after the last tensor). */
#include "safetensors.h"
#include "fileio.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../model/params.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "safetensors I/O writes host floats as little-endian F32");
_Static_assert(sizeof(float) == 4, "F32 must be 4 bytes");

#define ST_HEADER_MAX 100000000ULL /* 100 MB, the reference implementation's cap */
#define ST_IO_CHUNK ((size_t)4 << 20)

/* ---- small I/O helpers ---- */

/* Read exactly n bytes at off; -1 with errno (0 for end of file) otherwise. */
static int pread_all(int fd, void *p, size_t n, uint64_t off)
{
    unsigned char *q = p;
    while (n) {
        size_t k = n < ST_IO_CHUNK ? n : ST_IO_CHUNK;
        if (off > (uint64_t)INT64_MAX)
            return errno = EOVERFLOW, -1;
        ssize_t r = pread(fd, q, k, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0;
            return -1;
        }
        q += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* ---- save ---- */

static char *precision_list(const tlm_config *cfg)
{
    size_t cap = (size_t)cfg->n_layers * TLM_LIN_PER_BLOCK * 8 + 1, used = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = 0;
    for (int i = 0; i < cfg->n_layers * TLM_LIN_PER_BLOCK; i++)
        used += (size_t)snprintf(s + used, cap - used, "%s%s", i ? "," : "",
                                 tlm_prec_name((tlm_prec)cfg->prec[i]));
    return s;
}

static json_t *tensor_json(const tlm_tensor_info *t)
{
    json_t *o = json_object(), *shape = json_array(), *offs = json_array();
    json_int_t begin = (json_int_t)(t->offset * sizeof(float));
    json_int_t end = begin + (json_int_t)(t->numel * sizeof(float));
    int bad = !o || !shape || !offs;
    bad |= json_array_append_new(shape, json_integer(t->rows));
    if (t->ndim == 2)
        bad |= json_array_append_new(shape, json_integer(t->cols));
    bad |= json_array_append_new(offs, json_integer(begin));
    bad |= json_array_append_new(offs, json_integer(end));
    bad |= json_object_set_new(o, "dtype", json_string("F32"));
    bad |= json_object_set_new(o, "shape", shape);
    shape = NULL;
    bad |= json_object_set_new(o, "data_offsets", offs);
    offs = NULL;
    if (bad) {
        json_decref(o);
        json_decref(shape);
        json_decref(offs);
        return NULL;
    }
    return o;
}

static json_t *metadata_json(const tlm_config *cfg)
{
    size_t need = tlm_config_serialize(cfg, NULL, 0);
    char *text = malloc(need + 1), *prec = precision_list(cfg);
    json_t *m = json_object();
    int bad = !text || !prec || !m;
    if (!bad) {
        tlm_config_serialize(cfg, text, need + 1);
        /* json_stringn is NULL for text that is not UTF-8 (odd paths) */
        bad |= json_object_set_new(m, "tlm.config", json_stringn(text, need));
        bad |= json_object_set_new(m, "tlm.precision", json_string(prec));
        bad |= json_object_set_new(m, "format", json_string("pt"));
    }
    free(text);
    free(prec);
    if (bad) {
        json_decref(m);
        return NULL;
    }
    return m;
}

/* The header JSON padded with spaces to a multiple of 8; *len its length. */
static char *header_text(const tlm_config *cfg, const tlm_tensor_info *t, int n, size_t *len)
{
    json_t *root = json_object();
    char *out = NULL, *padded = NULL;
    if (!root || json_object_set_new(root, "__metadata__", metadata_json(cfg)))
        goto cleanup;
    for (int i = 0; i < n; i++)
        if (json_object_set_new(root, t[i].name, tensor_json(&t[i])))
            goto cleanup;
    out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!out)
        goto cleanup;
    size_t raw = strlen(out), full = (raw + 7) & ~(size_t)7;
    padded = malloc(full + 1);
    if (padded) {
        memcpy(padded, out, raw);
        memset(padded + raw, ' ', full - raw);
        padded[full] = 0;
        *len = full;
    }
cleanup:
    free(out);
    json_decref(root);
    return padded;
}

int tlm_safetensors_save(const char *path, const tlm_config *cfg, const float *params,
                         tlm_err *err)
{
    int rc = -1, fd = -1;
    char *tmp = NULL, *hdr = NULL;
    tlm_tensor_info *t = NULL;
    size_t hlen = 0, bytes;
    if (!params) {
        tlm_errf(err, "safetensors %s: no parameters to save", path);
        goto cleanup;
    }
    if (tlm_config_validate(cfg, err)) {
        tlm_err_prefix(err, "safetensors %s: ", path);
        goto cleanup;
    }
    int n = tlm_tensor_count(cfg);
    if (!(t = tlm_calloc((size_t)n, sizeof *t, err)))
        goto cleanup;
    size_t count = tlm_tensor_table(cfg, t);
    if (tlm_mul_size(count, sizeof(float), &bytes)) {
        tlm_errf(err, "safetensors %s: parameter block too large", path);
        goto cleanup;
    }
    if (!(hdr = header_text(cfg, t, n, &hlen))) {
        tlm_errf(err, "safetensors %s: cannot build the JSON header (out of memory, or a "
                 "config string that is not UTF-8)", path);
        goto cleanup;
    }
    if ((fd = tlm_file_open_temp(path, "safetensors", &tmp, err)) < 0)
        goto cleanup;
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    if (tlm_file_write_all(fd, le, 8) || tlm_file_write_all(fd, hdr, hlen) || tlm_file_write_all(fd, params, bytes) ||
        fsync(fd)) {
        tlm_errf(err, "safetensors %s: write to %s failed: %s", path, tmp, strerror(errno));
        goto cleanup;
    }
    int cr = close(fd);
    fd = -1;
    if (cr || rename(tmp, path)) {
        tlm_errf(err, "safetensors %s: %s failed: %s", path, cr ? "close" : "rename",
                 strerror(errno));
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
    if (tlm_file_fsync_dir(path)) {
        tlm_errf(err, "safetensors %s: fsync of the folder failed: %s", path, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(hdr);
    free(t);
    return rc;
}

/* ---- load ---- */

/* One tensor entry of the header, checked for internal consistency. */
typedef struct st_entry {
    const char *name; /* key in the JSON object (owned by it) */
    int ndim;
    uint64_t dims[2];
    uint64_t begin, end; /* byte offsets in the data area */
} st_entry;

typedef struct st_file {
    const char *path;
    int fd;
    uint64_t size, hlen, data_off, data_len;
    json_t *root, *meta;
    st_entry *e;
    size_t n;
} st_file;

static int get_u64(const json_t *v, uint64_t max, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_shape(st_file *f, const char *key, const json_t *shape, st_entry *e,
                       tlm_err *err)
{
    if (!json_is_array(shape))
        return tlm_errf(err, "safetensors %s: tensor '%.100s': missing or bad 'shape'", f->path, key);
    size_t nd = json_array_size(shape);
    if (nd < 1 || nd > 2)
        return tlm_errf(err, "safetensors %s: tensor '%.100s': shape has %zu dimensions "
                        "(1 or 2 expected)", f->path, key, nd);
    e->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++)
        if (get_u64(json_array_get(shape, i), INT_MAX, &e->dims[i]))
            return tlm_errf(err, "safetensors %s: tensor '%.100s': shape entry %zu is not an "
                            "integer in [0, %d]", f->path, key, i, INT_MAX);
    return 0;
}

static int parse_entry(st_file *f, const char *key, const json_t *v, st_entry *e, tlm_err *err)
{
    e->name = key;
    if (!json_is_object(v))
        return tlm_errf(err, "safetensors %s: tensor '%.100s': entry is not an object", f->path, key);
    const json_t *dt = json_object_get(v, "dtype"), *offs = json_object_get(v, "data_offsets");
    if (!json_is_string(dt))
        return tlm_errf(err, "safetensors %s: tensor '%.100s': missing 'dtype'", f->path, key);
    if (strcmp(json_string_value(dt), "F32") != 0)
        return tlm_errf(err, "safetensors %s: tensor '%.100s': dtype '%.16s' is not supported "
                        "(only F32)", f->path, key, json_string_value(dt));
    if (parse_shape(f, key, json_object_get(v, "shape"), e, err))
        return -1;
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        get_u64(json_array_get(offs, 0), UINT64_MAX, &e->begin) ||
        get_u64(json_array_get(offs, 1), UINT64_MAX, &e->end))
        return tlm_errf(err, "safetensors %s: tensor '%.100s': 'data_offsets' must be two "
                        "non-negative integers", f->path, key);
    if (e->end < e->begin || e->end > f->data_len)
        return tlm_errf(err, "safetensors %s: tensor '%.100s': data_offsets [%llu, %llu] out of "
                        "range (data area is %llu bytes)", f->path, key,
                        (unsigned long long)e->begin, (unsigned long long)e->end,
                        (unsigned long long)f->data_len);
    uint64_t numel = e->dims[0], bytes;
    if ((e->ndim == 2 && __builtin_mul_overflow(numel, e->dims[1], &numel)) ||
        __builtin_mul_overflow(numel, (uint64_t)sizeof(float), &bytes))
        return tlm_errf(err, "safetensors %s: tensor '%.100s': shape size overflows", f->path, key);
    if (e->end - e->begin != bytes)
        return tlm_errf(err, "safetensors %s: tensor '%.100s': data_offsets span %llu bytes but "
                        "the shape needs %llu", f->path, key,
                        (unsigned long long)(e->end - e->begin), (unsigned long long)bytes);
    return 0;
}

static int check_metadata(st_file *f, json_t *meta, tlm_err *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(meta))
        return tlm_errf(err, "safetensors %s: __metadata__ is not an object", f->path);
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v))
            return tlm_errf(err, "safetensors %s: __metadata__ value '%.100s' is not a string",
                            f->path, k);
    }
    f->meta = meta;
    return 0;
}

/* Parse the JSON header and check every entry on its own. */
static int parse_header(st_file *f, const char *buf, tlm_err *err)
{
    json_error_t je;
    if (buf[0] != '{')
        return tlm_errf(err, "safetensors %s: header does not start with '{' (not JSON)", f->path);
    f->root = json_loadb(buf, (size_t)f->hlen, JSON_REJECT_DUPLICATES, &je);
    if (!f->root)
        return tlm_errf(err, "safetensors %s: header is not valid JSON: %s (at byte %d)", f->path,
                        je.text, je.position);
    if (!json_is_object(f->root))
        return tlm_errf(err, "safetensors %s: header is not a JSON object", f->path);
    size_t n = json_object_size(f->root);
    if (!(f->e = tlm_calloc(n ? n : 1, sizeof *f->e, err)))
        return tlm_err_prefix(err, "safetensors %s: ", f->path);
    const char *k;
    json_t *v;
    json_object_foreach(f->root, k, v) {
        if (!strcmp(k, "__metadata__")) {
            if (check_metadata(f, v, err))
                return -1;
        } else if (parse_entry(f, k, v, &f->e[f->n++], err)) {
            return -1;
        }
    }
    if (!f->n)
        return tlm_errf(err, "safetensors %s: no tensors in the header", f->path);
    return 0;
}

static const st_entry *find_entry(const st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->e[i].name, name))
            return &f->e[i];
    return NULL;
}

/* Layer index of "blocks.N.norm1.weight" (N without leading zeros), or -1. */
static int norm1_layer(const char *name)
{
    if (strncmp(name, "blocks.", 7) != 0)
        return -1;
    const char *p = name + 7;
    int l = 0, digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 4)
        l = l * 10 + (*p++ - '0'), digits++;
    if (!digits || (digits > 1 && name[7] == '0') || strcmp(p, ".norm1.weight") != 0)
        return -1;
    return l;
}

/* Architecture from the tensor shapes (no tlm.config in the metadata). */
static int infer_config(st_file *f, tlm_config *c, tlm_err *err)
{
    const st_entry *emb = find_entry(f, "token_emb.weight");
    const st_entry *gate = find_entry(f, "blocks.0.mlp.gate_proj.weight");
    if (!emb || emb->ndim != 2)
        return tlm_errf(err, "safetensors %s: missing tensor 'token_emb.weight' [vocab, dim] "
                        "(needed to infer the model shape)", f->path);
    if (!gate || gate->ndim != 2)
        return tlm_errf(err, "safetensors %s: missing tensor 'blocks.0.mlp.gate_proj.weight' "
                        "[hidden, dim] (needed to infer the model shape)", f->path);
    int layers = 0;
    for (size_t i = 0; i < f->n; i++)
        if (norm1_layer(f->e[i].name) >= 0)
            layers++;
    if (layers < 1 || layers > TLM_MAX_LAYERS)
        return tlm_errf(err, "safetensors %s: found %d blocks.N.norm1.weight tensors (1 to %d "
                        "expected)", f->path, layers, TLM_MAX_LAYERS);
    if (emb->dims[1] < 1 || emb->dims[1] > 65536 || emb->dims[0] < 2 ||
        emb->dims[0] > (1u << 24) || gate->dims[0] < 1 || gate->dims[0] > (1u << 20))
        return tlm_errf(err, "safetensors %s: inferred sizes out of range (vocab %llu, dim %llu, "
                        "hidden %llu)", f->path, (unsigned long long)emb->dims[0],
                        (unsigned long long)emb->dims[1], (unsigned long long)gate->dims[0]);
    c->preset[0] = 0;
    c->vocab = (int)emb->dims[0];
    c->dim = (int)emb->dims[1];
    c->hidden = (int)gate->dims[0];
    c->n_layers = layers;
    c->n_heads = c->dim / 64 > 0 ? c->dim / 64 : 1;
    c->ctx = 128;
    c->max_ctx = 512;
    memset(c->prec, TLM_PREC_TERNARY, sizeof c->prec);
    return 0;
}

/* Copy the architecture (everything that shapes the weights or reads them)
 * from src; training keys stay as they are in dst. */
static void take_arch(tlm_config *dst, const tlm_config *src)
{
    memcpy(dst->preset, src->preset, sizeof dst->preset);
    dst->dim = src->dim;
    dst->n_layers = src->n_layers;
    dst->n_heads = src->n_heads;
    dst->hidden = src->hidden;
    dst->vocab = src->vocab;
    dst->ctx = src->ctx;
    dst->max_ctx = src->max_ctx;
    memcpy(dst->tokenizer, src->tokenizer, sizeof dst->tokenizer);
    memcpy(dst->prec, src->prec, sizeof dst->prec);
}

static int parse_precision(st_file *f, const char *s, tlm_config *c, tlm_err *err)
{
    int want = c->n_layers * TLM_LIN_PER_BLOCK, i = 0;
    uint8_t prec[TLM_MAX_LINEARS];
    while (1) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char tok[16];
        int p = -1;
        if (len < sizeof tok) {
            memcpy(tok, s, len);
            tok[len] = 0;
            p = tlm_prec_parse(tok);
        }
        if (p < 0)
            return tlm_errf(err, "safetensors %s: metadata tlm.precision: entry %d is not "
                            "ternary, int8 or fp32", f->path, i);
        if (i >= want)
            return tlm_errf(err, "safetensors %s: metadata tlm.precision has more than %d "
                            "entries (%d layers x 7)", f->path, want, c->n_layers);
        prec[i++] = (uint8_t)p;
        if (!comma)
            break;
        s = comma + 1;
    }
    if (i != want)
        return tlm_errf(err, "safetensors %s: metadata tlm.precision has %d entries, %d expected "
                        "(%d layers x 7)", f->path, i, want, c->n_layers);
    memcpy(c->prec, prec, (size_t)want);
    return 0;
}

static int make_config(st_file *f, const tlm_config *base, tlm_config *c, tlm_err *err)
{
    const json_t *jc = f->meta ? json_object_get(f->meta, "tlm.config") : NULL;
    const json_t *jp = f->meta ? json_object_get(f->meta, "tlm.precision") : NULL;
    if (jc) {
        tlm_config stored;
        if (tlm_config_deserialize(&stored, json_string_value(jc), json_string_length(jc), err))
            return tlm_err_prefix(err, "safetensors %s: metadata tlm.config: ", f->path);
        *c = base ? *base : stored;
        take_arch(c, &stored);
    } else {
        if (base)
            *c = *base;
        else if (tlm_config_preset(c, "nano", err))
            return -1;
        if (infer_config(f, c, err))
            return -1;
    }
    if (jp && parse_precision(f, json_string_value(jp), c, err))
        return -1;
    if (tlm_config_validate(c, err))
        return tlm_err_prefix(err, "safetensors %s: model config: ", f->path);
    return 0;
}

static void format_shape(char *buf, size_t n, int ndim, uint64_t d0, uint64_t d1)
{
    if (ndim == 2)
        snprintf(buf, n, "[%llu, %llu]", (unsigned long long)d0, (unsigned long long)d1);
    else
        snprintf(buf, n, "[%llu]", (unsigned long long)d0);
}

/* Match the entries against the model's tensor table: names, shapes. */
static int match_tensors(st_file *f, const tlm_tensor_info *t, int nt, int *slot, tlm_err *err)
{
    for (int i = 0; i < nt; i++)
        slot[i] = -1;
    for (size_t j = 0; j < f->n; j++) {
        const st_entry *e = &f->e[j];
        int i = 0;
        while (i < nt && strcmp(t[i].name, e->name))
            i++;
        if (i == nt)
            return tlm_errf(err, "safetensors %s: unknown tensor '%.100s' (not part of this "
                            "model)", f->path, e->name);
        if (slot[i] >= 0)
            return tlm_errf(err, "safetensors %s: tensor '%s' appears twice", f->path, t[i].name);
        uint64_t want1 = t[i].ndim == 2 ? (uint64_t)t[i].cols : 0;
        if (e->ndim != t[i].ndim || e->dims[0] != (uint64_t)t[i].rows ||
            (e->ndim == 2 && e->dims[1] != want1)) {
            char got[48], want[48];
            format_shape(got, sizeof got, e->ndim, e->dims[0], e->dims[1]);
            format_shape(want, sizeof want, t[i].ndim, (uint64_t)t[i].rows, want1);
            return tlm_errf(err, "safetensors %s: tensor '%s': shape %s does not match the "
                            "model's %s", f->path, e->name, got, want);
        }
        slot[i] = (int)j;
    }
    for (int i = 0; i < nt; i++)
        if (slot[i] < 0)
            return tlm_errf(err, "safetensors %s: missing tensor '%s'", f->path, t[i].name);
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

/* The data area must be covered exactly once, from 0 to its end (= EOF). */
static int check_layout(st_file *f, tlm_err *err)
{
    st_entry *s = malloc(f->n * sizeof *s);
    if (!s)
        return tlm_errf(err, "safetensors %s: out of memory", f->path);
    memcpy(s, f->e, f->n * sizeof *s);
    qsort(s, f->n, sizeof *s, cmp_begin);
    int rc = 0;
    uint64_t pos = 0;
    for (size_t i = 0; i < f->n && !rc; i++) {
        if (s[i].begin < pos)
            rc = tlm_errf(err, "safetensors %s: tensors '%s' and '%s' overlap in the data area",
                          f->path, s[i - 1].name, s[i].name);
        else if (s[i].begin > pos)
            rc = tlm_errf(err, "safetensors %s: hole in the data area: bytes %llu to %llu before "
                          "tensor '%s' belong to no tensor", f->path, (unsigned long long)pos,
                          (unsigned long long)s[i].begin, s[i].name);
        pos = s[i].end;
    }
    if (!rc && pos != f->data_len)
        rc = tlm_errf(err, "safetensors %s: %llu bytes after the last tensor (the data area must "
                      "end at the end of the file)", f->path,
                      (unsigned long long)(f->data_len - pos));
    free(s);
    return rc;
}

/* Read the file's size and header into f. */
static int read_header(st_file *f, char **buf, tlm_err *err)
{
    struct stat st;
    unsigned char le[8];
    if (fstat(f->fd, &st) || !S_ISREG(st.st_mode))
        return tlm_errf(err, "safetensors %s: not a regular file", f->path);
    f->size = (uint64_t)st.st_size;
    if (f->size < 8 || pread_all(f->fd, le, 8, 0))
        return tlm_errf(err, "safetensors %s: file too short (%llu bytes) for the 8-byte header "
                        "length", f->path, (unsigned long long)f->size);
    f->hlen = 0;
    for (int i = 7; i >= 0; i--)
        f->hlen = f->hlen << 8 | le[i];
    if (f->hlen > ST_HEADER_MAX)
        return tlm_errf(err, "safetensors %s: header length %llu is over the 100 MB limit",
                        f->path, (unsigned long long)f->hlen);
    if (f->hlen > f->size - 8)
        return tlm_errf(err, "safetensors %s: header length %llu is larger than the file (%llu "
                        "bytes; truncated?)", f->path, (unsigned long long)f->hlen,
                        (unsigned long long)f->size);
    if (f->hlen < 2)
        return tlm_errf(err, "safetensors %s: header length %llu is too small", f->path,
                        (unsigned long long)f->hlen);
    f->data_off = 8 + f->hlen;
    f->data_len = f->size - f->data_off;
    if (!(*buf = malloc((size_t)f->hlen)))
        return tlm_errf(err, "safetensors %s: out of memory for the header", f->path);
    if (pread_all(f->fd, *buf, (size_t)f->hlen, 8))
        return tlm_errf(err, "safetensors %s: reading the header: %s", f->path,
                        errno ? strerror(errno) : "unexpected end of file");
    return 0;
}

static int read_tensors(st_file *f, const tlm_tensor_info *t, int nt, const int *slot,
                        float *mem, tlm_err *err)
{
    for (int i = 0; i < nt; i++) {
        const st_entry *e = &f->e[slot[i]];
        if (pread_all(f->fd, mem + t[i].offset, (size_t)(e->end - e->begin), f->data_off + e->begin))
            return tlm_errf(err, "safetensors %s: reading tensor '%s': %s", f->path, t[i].name,
                            errno ? strerror(errno) : "unexpected end of file");
    }
    return 0;
}

int tlm_safetensors_load(const char *path, const tlm_config *base, tlm_config *cfg,
                         float **params, tlm_err *err)
{
    st_file f = {.path = path, .fd = -1};
    char *hbuf = NULL;
    tlm_tensor_info *t = NULL;
    int *slot = NULL, rc = -1;
    float *mem = NULL;
    tlm_config c;
    if ((f.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        tlm_errf(err, "safetensors %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (read_header(&f, &hbuf, err) || parse_header(&f, hbuf, err) ||
        make_config(&f, base, &c, err))
        goto cleanup;
    int nt = tlm_tensor_count(&c);
    if (!(t = tlm_calloc((size_t)nt, sizeof *t, err)) ||
        !(slot = tlm_calloc((size_t)nt, sizeof *slot, err))) {
        tlm_err_prefix(err, "safetensors %s: ", path);
        goto cleanup;
    }
    size_t count = tlm_tensor_table(&c, t);
    if (match_tensors(&f, t, nt, slot, err) || check_layout(&f, err))
        goto cleanup;
    if (!(mem = tlm_calloc_aligned(count, sizeof(float), err))) {
        tlm_err_prefix(err, "safetensors %s: ", path);
        goto cleanup;
    }
    if (read_tensors(&f, t, nt, slot, mem, err))
        goto cleanup;
    *cfg = c;
    *params = mem;
    mem = NULL;
    rc = 0;
cleanup:
    if (f.fd >= 0)
        close(f.fd);
    json_decref(f.root);
    free(f.e);
    free(hbuf);
    free(t);
    free(slot);
    free(mem);
    return rc;
}

int tlm_safetensors_sniff(const char *path)
{
    unsigned char b[9];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int got = pread_all(fd, b, sizeof b, 0) == 0;
    close(fd);
    if (!got || b[8] != '{')
        return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    return n >= 2 && n <= ST_HEADER_MAX;
}
