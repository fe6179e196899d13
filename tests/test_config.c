/* test_config.c - presets, parameter counts, settings, config files, patterns,
 * serialization, and rejection of bad configurations. */
#include <stdio.h>
#include <string.h>
#include "engine/model/config.h"
#include "engine/model/params.h"
#include "tap.h"

static int rejects(const char *kv, const char *needle)
{
    tlm_config c;
    tlm_err err = {{0}};
    tlm_config_preset(&c, "tiny", &err);
    int rc = tlm_config_set_kv(&c, kv, &err);
    if (rc == 0)
        rc = tlm_config_validate(&c, &err);
    if (rc == 0)
        return 0;
    return strstr(err.msg, needle) != NULL;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

int main(void)
{
    tlm_config c;
    tlm_err err;
    uint64_t n = 0;
    int rc = tlm_config_preset(&c, "paper", &err) || tlm_config_param_count(&c, &n, &err);
    ok(rc == 0 && n == 131921466ULL, "paper preset has 131,921,466 parameters (%llu)",
       (unsigned long long)n);
    ok(c.dim == 768 && c.n_layers == 12 && c.n_heads == 12 && c.hidden == 2050 && c.vocab == 30522 &&
           c.ctx == 128 && c.max_ctx == 512, "paper preset architecture");
    int nt = tlm_tensor_count(&c);
    tlm_tensor_info info[12 * 9 + 4];
    size_t total = tlm_tensor_table(&c, info);
    uint64_t tern = 0;
    for (int i = 0; i < nt; i++)
        if (info[i].kind == TLM_T_LINEAR)
            tern += info[i].numel;
    ok(total == n && tern == 84989952ULL, "tensor table covers all parameters; 84,989,952 ternary");
    ok(!strcmp(info[0].name, "token_emb.weight") && !strcmp(info[2].name, "blocks.0.attn.q_proj.weight") &&
           !strcmp(info[nt - 1].name, "head.bias") && info[2].rows == 768 &&
           !strcmp(info[9].short_name, "L0.mlp.down") && info[9].rows == 768 && info[9].cols == 2050,
       "paper state-dict names and torch [out, in] shapes");
    ok(tlm_config_preset(&c, "tiny", &err) == 0 && c.dim == 256 && c.n_layers == 6 && c.n_heads == 4 &&
           c.hidden == 683 && c.vocab == 4096 && c.ctx == 128, "tiny preset");
    ok(tlm_config_preset(&c, "huge", &err) == -1 && strstr(err.msg, "huge"), "unknown preset named");

    ok(rejects("layers=0", "layers"), "layers=0 rejected naming the key");
    ok(rejects("dim=250", "dim"), "dim not a multiple of heads rejected");
    ok(rejects("vocab=0", "vocab"), "vocab 0 rejected");
    ok(rejects("colour=blue", "colour"), "unknown key named");
    ok(rejects("lr=fast", "lr"), "non-numeric lr rejected");
    ok(rejects("lr=nan", "lr"), "NaN lr rejected");
    ok(rejects("batch=-3", "batch"), "negative batch rejected");
    ok(rejects("steps=99999999999999999999", "steps"), "overflowing integer rejected");
    ok(rejects("dim=65536", "absurd") || rejects("dim=65536", "heads"), "absurd sizes rejected");
    tlm_config_preset(&c, "tiny", &err);
    c.dim = 65536, c.n_heads = 1024, c.hidden = 1 << 20, c.vocab = 1 << 24, c.n_layers = 64;
    rc = tlm_config_validate(&c, &err);
    ok(rc == -1 && strstr(err.msg, "absurd"), "products beyond any machine are rejected: %s", err.msg);
    c.dim = 1 << 16, c.n_layers = 1, c.hidden = 64, c.vocab = 1 << 24;
    ok(tlm_config_param_count(&c, &n, &err) == 0 && n > (1ULL << 32),
       "parameter counts beyond 32 bits are computed exactly (%llu)", (unsigned long long)n);

    tlm_config_preset(&c, "tiny", &err);
    ok(tlm_config_set_precision(&c, "L0-2.attn.*", TLM_PREC_FP32, &err) == 12 &&
           c.prec[0] == TLM_PREC_FP32 && c.prec[2 * 7 + 3] == TLM_PREC_FP32 &&
           c.prec[3 * 7] == TLM_PREC_TERNARY && c.prec[4] == TLM_PREC_TERNARY,
       "pattern L0-2.attn.* matches 12 linears");
    ok(tlm_config_set_precision(&c, "*.mlp.down", TLM_PREC_INT8, &err) == 6 &&
           c.prec[5 * 7 + 6] == TLM_PREC_INT8, "pattern *.mlp.down matches 6");
    ok(tlm_config_set_precision(&c, "L3.attn.q", TLM_PREC_INT8, &err) == 1, "single layer name");
    ok(tlm_config_set_precision(&c, "L9.*", TLM_PREC_INT8, &err) == -1 && strstr(err.msg, "L9"),
       "pattern matching nothing is an error");
    ok(tlm_config_set_precision(&c, "X.attn", TLM_PREC_INT8, &err) == -1, "bad pattern is an error");
    ok(tlm_config_set_kv(&c, "precision.L5.mlp.*=fp32", &err) == 0 && c.prec[5 * 7 + 4] == TLM_PREC_FP32,
       "precision.PATTERN=fp32 setting");

    char buf[8192];
    size_t len = tlm_config_serialize(&c, buf, sizeof buf);
    tlm_config d;
    ok(len < sizeof buf && tlm_config_deserialize(&d, buf, len, &err) == 0 &&
           memcmp(d.prec, c.prec, sizeof c.prec) == 0 && d.dim == c.dim && d.lr == c.lr &&
           !strcmp(d.preset, "tiny"), "serialize/deserialize round trip");
    char buf2[8192];
    ok(tlm_config_serialize(&d, buf2, sizeof buf2) == len && !memcmp(buf, buf2, len),
       "serialization is stable byte for byte");

    const char *dir = tap_getenv_or("TLM_BUILDDIR", "/tmp");
    char path[4096];
    snprintf(path, sizeof path, "%s/test_config.cfg", dir);
    write_file(path, "# a config\npreset = nano\nlr = 1e-3   # peak\n\nbatch=3\nprecision.L1.*=int8\n");
    ok(tlm_config_load_file(&c, path, &err) == 0 && !strcmp(c.preset, "nano") && c.lr == 1e-3f &&
           c.batch == 3 && c.prec[7] == TLM_PREC_INT8 && c.prec[0] == TLM_PREC_TERNARY,
       "config file with comments, preset and precision");
    write_file(path, "preset = nano\nwidth = 3\n");
    ok(tlm_config_load_file(&c, path, &err) == -1 && strstr(err.msg, ":2:") && strstr(err.msg, "width"),
       "unknown key in a file names file, line and key: %s", err.msg);
    FILE *bf = fopen(path, "w");
    fwrite("lr=1\0\1\2\n", 1, 8, bf);
    fclose(bf);
    ok(tlm_config_load_file(&c, path, &err) == -1 && strstr(err.msg, "binary"),
       "binary config file rejected: %s", err.msg);
    write_file(path, "# only a comment\n\n");
    ok(tlm_config_load_file(&c, path, &err) == -1 && strstr(err.msg, "no settings"),
       "empty config file rejected: %s", err.msg);
    ok(tlm_config_load_file(&c, "/nonexistent/x.cfg", &err) == -1 && strstr(err.msg, "/nonexistent/x.cfg"),
       "missing config file named");
    remove(path);
    return tap_done();
}
