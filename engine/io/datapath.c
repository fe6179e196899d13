/* datapath.c - data name resolution and cache folder. */
#include "datapath.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TLM_SRCDIR
#define TLM_SRCDIR "."
#endif

static const struct {
    const char *alias, *rel;
} aliases[] = {
    {"tok4096", "tokenizers/llama2c_tinystories/tok4096.bin"},
    {"tok2048", "tokenizers/llama2c_tinystories/tok2048.bin"},
    {"llama2", "tokenizers/llama2/tokenizer.bin"},
    {"bert-base-uncased", "tokenizers/bert-base-uncased/vocab.txt"},
    {"tinystories-train", "tinystories/TinyStories-train.head2MiB.txt,"
                          "tinystories/TinyStoriesV2-GPT4-train.head10000lines.txt"},
    {"tinystories-valid", "tinystories/TinyStories-valid.head.hf-export.txt"},
    {"tinystories-sample", "tinystories/tinystories_sample.cs336.txt"},
    {"tinyshakespeare", "tinyshakespeare/input.txt"},
};

static int readable(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, R_OK) == 0;
}

static int resolve_one(const char *name, char *out, size_t n, tlm_err *err)
{
    if (readable(name)) {
        if (snprintf(out, n, "%s", name) >= (int)n)
            return tlm_errf(err, "path too long: %s", name);
        return 0;
    }
    const char *roots[3];
    int nr = 0;
    const char *env = getenv("TLM_DATA_DIR");
    if (env && *env)
        roots[nr++] = env;
    roots[nr++] = TLM_SRCDIR "/datasets/data";
    roots[nr++] = TLM_SRCDIR "/../shared/datasets";
    for (int i = 0; i < nr; i++) {
        char p[4096];
        if (snprintf(p, sizeof p, "%s/%s", roots[i], name) >= (int)sizeof p)
            continue;
        if (readable(p)) {
            if (snprintf(out, n, "%s", p) >= (int)n)
                return tlm_errf(err, "path too long: %s", p);
            return 0;
        }
    }
    struct stat st;
    if (stat(name, &st) == 0) /* it exists as given, but is no readable file */
        return tlm_errf(err, "data file '%s': %s", name,
                        S_ISDIR(st.st_mode) ? "is a directory, not a file"
                        : !S_ISREG(st.st_mode) ? "not a regular file"
                                               : "not readable");
    return tlm_errf(err, "data file '%s' not found (tried it as a path and under %s%s%s"
                    "%s/datasets/data, %s/../shared/datasets; run datasets/setup.sh)",
                    name, env && *env ? "$TLM_DATA_DIR=" : "", env && *env ? env : "",
                    env && *env ? ", " : "", TLM_SRCDIR, TLM_SRCDIR);
}

int tlm_data_resolve(const char *name, char *out, size_t n, tlm_err *err)
{
    if (!name || !*name)
        return tlm_errf(err, "empty data name");
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0)
            name = aliases[i].rel;
    size_t used = 0;
    out[0] = 0;
    const char *s = name;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char one[4096], path[4096];
        if (len == 0 || len >= sizeof one)
            return tlm_errf(err, "bad data list '%s'", name);
        memcpy(one, s, len);
        one[len] = 0;
        if (resolve_one(one, path, sizeof path, err))
            return -1;
        int w = snprintf(out + used, n - used, "%s%s", used ? "," : "", path);
        if (w < 0 || (size_t)w >= n - used)
            return tlm_errf(err, "data path list too long");
        used += (size_t)w;
        s = comma ? comma + 1 : s + len;
    }
    return 0;
}

int tlm_mkdirs(const char *path, tlm_err *err)
{
    char buf[4096];
    if (!path[0])
        return tlm_errf(err, "cannot create a folder with an empty name");
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return tlm_errf(err, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return tlm_errf(err, "cannot create folder %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return tlm_errf(err, "cannot create folder %s: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) || !S_ISDIR(st.st_mode))
        return tlm_errf(err, "cannot create folder %s: a file of that name exists", buf);
    return 0;
}

int tlm_cache_dir(char *out, size_t n, tlm_err *err)
{
    const char *c = getenv("TLM_CACHE_DIR");
    const char *x = getenv("XDG_CACHE_HOME");
    const char *h = getenv("HOME");
    int w;
    if (c && *c)
        w = snprintf(out, n, "%s", c);
    else if (x && *x)
        w = snprintf(out, n, "%s/tlm", x);
    else if (h && *h)
        w = snprintf(out, n, "%s/.cache/tlm", h);
    else
        w = snprintf(out, n, "/tmp/tlm-cache");
    if (w < 0 || (size_t)w >= n)
        return tlm_errf(err, "cache folder path too long");
    return tlm_mkdirs(out, err);
}
