/* params.c - the parameter table: names, shapes and offsets in one block. */
#include "params.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/rng.h"

static const char *paper_lin[TLM_LIN_PER_BLOCK] = {
    "attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj",
    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};

int tlm_tensor_count(const tlm_config *cfg)
{
    return cfg->n_layers * 9 + 4;
}

static size_t add(tlm_tensor_info *t, size_t off, const char *name, const char *sname,
                  tlm_tensor_kind kind, int layer, int lin, int rows, int cols)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->short_name, sizeof t->short_name, "%s", sname);
    t->kind = kind;
    t->layer = layer;
    t->lin = lin;
    t->offset = off;
    t->ndim = cols ? 2 : 1;
    t->rows = rows;
    t->cols = cols;
    t->numel = (size_t)rows * (size_t)(cols ? cols : 1);
    return off + t->numel;
}

size_t tlm_tensor_table(const tlm_config *c, tlm_tensor_info *info)
{
    size_t off = 0;
    int k = 0, d = c->dim, h = c->hidden;
    char name[64], sname[24];
    off = add(&info[k++], off, "token_emb.weight", "emb", TLM_T_EMB, -1, -1, c->vocab, d);
    for (int l = 0; l < c->n_layers; l++) {
        snprintf(name, sizeof name, "blocks.%d.norm1.weight", l);
        snprintf(sname, sizeof sname, "L%d.norm1", l);
        off = add(&info[k++], off, name, sname, TLM_T_NORM, l, -1, d, 0);
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++) {
            if (j == TLM_LIN_GATE) {
                snprintf(name, sizeof name, "blocks.%d.norm2.weight", l);
                snprintf(sname, sizeof sname, "L%d.norm2", l);
                off = add(&info[k++], off, name, sname, TLM_T_NORM, l, -1, d, 0);
            }
            int rows = j >= TLM_LIN_GATE && j != TLM_LIN_DOWN ? h : d;
            int cols = j == TLM_LIN_DOWN ? h : d;
            snprintf(name, sizeof name, "blocks.%d.%s.weight", l, paper_lin[j]);
            tlm_linear_name(l, j, sname, sizeof sname);
            off = add(&info[k++], off, name, sname, TLM_T_LINEAR, l, j, rows, cols);
        }
    }
    off = add(&info[k++], off, "norm.weight", "norm", TLM_T_NORM, -1, -1, d, 0);
    off = add(&info[k++], off, "head.weight", "head", TLM_T_HEAD_W, -1, -1, c->vocab, d);
    off = add(&info[k++], off, "head.bias", "head.bias", TLM_T_HEAD_B, -1, -1, c->vocab, 0);
    return off;
}

void tlm_params_bind(tlm_params *p, const tlm_config *cfg, float *mem)
{
    int n = tlm_tensor_count(cfg);
    tlm_tensor_info *t = malloc(sizeof *t * (size_t)n);
    if (!t)
        abort(); /* a few KB; not input-dependent */
    p->count = tlm_tensor_table(cfg, t);
    p->mem = mem;
    for (int i = 0; i < n; i++) {
        float *q = mem + t[i].offset;
        if (t[i].kind == TLM_T_EMB)
            p->emb = q;
        else if (t[i].kind == TLM_T_HEAD_W)
            p->head_w = q;
        else if (t[i].kind == TLM_T_HEAD_B)
            p->head_b = q;
        else if (t[i].kind == TLM_T_LINEAR)
            p->blk[t[i].layer].lin[t[i].lin] = q;
        else if (t[i].layer < 0)
            p->norm = q;
        else if (strstr(t[i].name, "norm1"))
            p->blk[t[i].layer].norm1 = q;
        else
            p->blk[t[i].layer].norm2 = q;
    }
    free(t);
}

int tlm_params_alloc(tlm_params *p, const tlm_config *cfg, tlm_err *err)
{
    uint64_t n;
    memset(p, 0, sizeof *p);
    if (tlm_config_param_count(cfg, &n, err))
        return -1;
    float *mem = tlm_calloc_aligned((size_t)n, sizeof(float), err);
    if (!mem)
        return -1;
    tlm_params_bind(p, cfg, mem);
    return 0;
}

void tlm_params_free(tlm_params *p)
{
    free(p->mem);
    memset(p, 0, sizeof *p);
}

void tlm_params_init(tlm_params *p, const tlm_config *cfg, uint64_t seed)
{
    int n = tlm_tensor_count(cfg);
    tlm_tensor_info *t = malloc(sizeof *t * (size_t)n);
    if (!t)
        abort();
    tlm_tensor_table(cfg, t);
    tlm_rng rng;
    tlm_rng_seed(&rng, seed ^ 0x7e57a11ULL);
    for (int i = 0; i < n; i++) {
        float *q = p->mem + t[i].offset;
        for (size_t j = 0; j < t[i].numel; j++) {
            if (t[i].kind == TLM_T_NORM)
                q[j] = 1.0f;
            else if (t[i].kind == TLM_T_HEAD_B)
                q[j] = 0.0f;
            else
                q[j] = cfg->init_std * tlm_rng_normal(&rng);
        }
    }
    free(t);
}

int tlm_tensor_find(const tlm_config *cfg, const tlm_tensor_info *info, const char *name)
{
    int n = tlm_tensor_count(cfg);
    for (int i = 0; i < n; i++)
        if (!strcmp(info[i].name, name) || !strcmp(info[i].short_name, name))
            return i;
    return -1;
}
