/* cmd_eval.c - `tlm eval`: validation loss and true perplexity of a model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "engine/core/blas.h"
#include "engine/io/datapath.h"
#include "engine/io/modelfile.h"
#include "engine/train/trainer.h"

typedef struct eval_ctx {
    tlm_pool *pool;
    tlm_model *m;
    tlm_tokenizer *tok;
    tlm_dataset *ds;
    int32_t *x, *y;
} eval_ctx;

static void eval_free(eval_ctx *e)
{
    tlm_model_free(e->m);
    tlm_dataset_close(e->ds);
    tlm_tokenizer_free(e->tok);
    tlm_pool_destroy(e->pool);
    free(e->x);
    free(e->y);
}

/* Open the model, its tokenizer and the evaluation text (data_name, or the
 * model's val_data when NULL). */
static int eval_setup(eval_ctx *e, const tlm_cli *cli, const char *data_name, tlm_err *err)
{
    tlm_config base;
    if (tlm_config_preset(&base, "tiny", err))
        return -1;
    if (cli->threads && tlm_config_set(&base, "threads", cli->threads, err))
        return tlm_err_prefix(err, "--threads: ");
    int threads = base.threads > 0 ? base.threads : tlm_cpu_count();
    tlm_blas_set_threads(1);
    if (tlm_pool_create(&e->pool, threads, err) ||
        /* NULL base: a safetensors file's stored config is taken whole */
        tlm_modelfile_open_model(cli->model, NULL, 8, 0, e->pool, &e->m, err))
        return -1;
    const tlm_config *c = &e->m->cfg;
    char tok[4096], data[8192], cache[4096];
    if (tlm_data_resolve(c->tokenizer, tok, sizeof tok, err) ||
        tlm_tokenizer_load(&e->tok, tok, err))
        return -1;
    if (tlm_tokenizer_vocab_size(e->tok) != c->vocab)
        return tlm_errf(err, "model %s has vocab %d but tokenizer %s has %d", cli->model, c->vocab,
                        tok, tlm_tokenizer_vocab_size(e->tok));
    const char *name = data_name ? data_name : c->val_data;
    if (!name[0])
        return tlm_errf(err, "model %s names no validation text; give --data PATH", cli->model);
    if (tlm_data_resolve(name, data, sizeof data, err) || tlm_cache_dir(cache, sizeof cache, err) ||
        tlm_dataset_open(&e->ds, data, e->tok, cache, err))
        return -1;
    if (tlm_dataset_size(e->ds) <= (size_t)e->m->cap_T)
        return tlm_errf(err, "evaluation data %s: %zu tokens is too few for one window of %d",
                        data, tlm_dataset_size(e->ds), e->m->cap_T);
    size_t n = (size_t)e->m->cap_B * (size_t)e->m->cap_T;
    e->x = tlm_calloc(n, sizeof(int32_t), err);
    e->y = tlm_calloc(n, sizeof(int32_t), err);
    return e->x && e->y ? 0 : -1;
}

int tlm_cmd_eval(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    eval_ctx e = {0};
    if (tlm_cli_parse(&cli, "eval", OPT_MODEL | OPT_DATA | OPT_THREADS, argc, argv, 2, &err))
        return tlm_cli_fail(&err);
    if (!cli.model) {
        tlm_errf(&err, "eval: --model FILE is required");
        return tlm_cli_fail(&err);
    }
    double nll, smoothed;
    size_t windows;
    int rc = 0;
    int ok = eval_setup(&e, &cli, cli.data, &err) == 0;
    if (ok) /* the paper's notebook reports the loss with label smoothing 0.1 */
        e.m->cfg.label_smoothing = 0.1f;
    if (!ok || tlm_model_eval(e.m, e.ds, 0, e.x, e.y, &nll, &smoothed, &windows, &err)) {
        rc = tlm_cli_fail(&err);
    } else if (!isfinite(nll)) {
        tlm_errf(&err, "model %s: the validation loss is not finite (broken weights?)", cli.model);
        rc = tlm_cli_fail(&err);
    } else {
        printf("model: %s\n", cli.model);
        printf("windows: %zu x %d tokens (%zu tokens scored)\n", windows, e.m->cap_T,
               windows * (size_t)e.m->cap_T);
        printf("val_loss: %.6f\n", nll);
        printf("perplexity: %.4f\n", exp(nll));
        /* the loss of the best context-free model of the same tokens */
        printf("unigram_entropy: %.6f\n", tlm_unigram_entropy(e.ds, e.m->cfg.vocab));
        /* what the paper's notebook prints as "Validation Loss / Perplexity": the
         * label-smoothed (0.1) training objective and its exp, not a perplexity */
        printf("notebook_smoothed_loss: %.6f (label smoothing 0.1; not a perplexity: exp = %.4f)\n",
               smoothed, exp(smoothed));
    }
    eval_free(&e);
    return rc;
}
