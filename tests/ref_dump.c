/* ref_dump.c - writes what tests/torch_ref.py checks against an independent
 * PyTorch model: the nano model's weights (safetensors), the batches, the
 * logits, loss and every gradient of the first batch, and the losses of ten
 * AdamW steps with clipping and the one-cycle schedule.
 * usage: ref_dump OUTDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/core/rng.h"
#include "engine/io/safetensors.h"
#include "engine/model/model.h"
#include "engine/train/adamw.h"

#define B 2
#define T 16
#define STEPS 10

static void write_ints(FILE *f, const char *key, const int32_t *v, size_t n, int last)
{
    fprintf(f, "\"%s\": [", key);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%d", i ? "," : "", v[i]);
    fprintf(f, "]%s\n", last ? "" : ",");
}

static void write_floats(FILE *f, const char *key, const float *v, size_t n, int last)
{
    fprintf(f, "\"%s\": [", key);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%.9g", i ? "," : "", (double)v[i]);
    fprintf(f, "]%s\n", last ? "" : ",");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ref_dump OUTDIR\n");
        return 2;
    }
    tlm_err err;
    tlm_config c;
    tlm_config_preset(&c, "nano", &err);
    c.label_smoothing = 0.1f;
    c.lr = 1e-3f;
    c.steps = 4 * STEPS; /* schedule length: warm-up 3 steps, then cosine */
    /* every precision is exercised: int8 MLP in block 0, fp32 out_proj in block 1 */
    tlm_config_set_precision(&c, "L0.mlp.*", TLM_PREC_INT8, &err);
    tlm_config_set_precision(&c, "L1.attn.o", TLM_PREC_FP32, &err);
    tlm_model *m;
    if (tlm_model_create(&m, &c, B, T, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    tlm_params_init(&m->p, &c, 11);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);
    if (tlm_safetensors_save(path, &c, m->p.mem, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int32_t xs[STEPS][B * T], ys[STEPS][B * T];
    tlm_rng r;
    tlm_rng_seed(&r, 5);
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < B * T; i++) {
            xs[s][i] = (int32_t)tlm_rng_below(&r, (uint64_t)c.vocab);
            ys[s][i] = (xs[s][i] * 7 + 3) % c.vocab; /* a learnable next-token rule */
        }
    double loss0, nll0;
    tlm_model_forward(m, xs[0], NULL, B, T, NULL, NULL); /* logits */
    snprintf(path, sizeof path, "%s/ref.json", argv[1]);
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "{\n\"B\": %d, \"T\": %d, \"steps\": %d, \"schedule_steps\": %d, \"lr\": %.9g, "
               "\"label_smoothing\": %.9g,\n", B, T, STEPS, c.steps, (double)c.lr,
            (double)c.label_smoothing);
    write_floats(f, "logits", m->logits, (size_t)B * T * (size_t)c.vocab, 0);
    tlm_model_forward(m, xs[0], ys[0], B, T, &loss0, &nll0);
    tlm_model_backward(m);
    fprintf(f, "\"loss\": %.17g, \"nll\": %.17g,\n", loss0, nll0);
    snprintf(path, sizeof path, "%s/grads.safetensors", argv[1]);
    if (tlm_safetensors_save(path, &c, m->g.mem, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    float *mom = calloc(m->p.count, sizeof(float)), *vel = calloc(m->p.count, sizeof(float));
    float losses[STEPS], lrs[STEPS], norms[STEPS];
    for (int s = 0; s < STEPS; s++) {
        double l;
        tlm_model_forward(m, xs[s], ys[s], B, T, &l, NULL);
        tlm_model_backward(m);
        /* as the trainer does: clipping folded into AdamW */
        double norm = tlm_grad_norm(m->g.mem, m->g.count, NULL);
        norms[s] = (float)norm;
        tlm_adamw_hp hp = {tlm_onecycle_lr(c.lr, c.warmup, s, c.steps), c.beta1, c.beta2,
                           c.adam_eps, c.weight_decay};
        tlm_adamw_update(m->p.mem, m->g.mem, mom, vel, m->p.count, s + 1, &hp,
                         tlm_clip_coef(norm, c.clip), NULL);
        losses[s] = (float)l;
        lrs[s] = hp.lr;
    }
    write_floats(f, "step_losses", losses, STEPS, 0);
    write_floats(f, "step_lrs", lrs, STEPS, 0);
    write_floats(f, "step_grad_norms", norms, STEPS, 0);
    write_ints(f, "x", &xs[0][0], (size_t)STEPS * B * T, 0);
    write_ints(f, "y", &ys[0][0], (size_t)STEPS * B * T, 1);
    fprintf(f, "}\n");
    fclose(f);
    free(mom);
    free(vel);
    tlm_model_free(m);
    return 0;
}
