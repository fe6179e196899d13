/* cmd_finetune.c - `tlm finetune mrpc`: fine-tune a pretrained model on MRPC
 * and print dev accuracy and F1 per epoch beside the majority baseline. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "engine/io/datapath.h"
#include "engine/task/finetune.h"
#include "paper.h"

int tlm_mrpc_paths(const char *dir, char *train, char *dev, size_t n, tlm_err *err)
{
    if (!dir)
        return tlm_data_resolve("mrpc/train.tsv", train, n, err) ||
                       tlm_data_resolve("mrpc/dev.tsv", dev, n, err)
                   ? tlm_err_prefix(err, "MRPC data (give --data DIR): ")
                   : 0;
    snprintf(train, n, "%s/train.tsv", dir);
    snprintf(dev, n, "%s/dev.tsv", dir);
    if (access(train, R_OK) || access(dev, R_OK))
        return tlm_errf(err, "--data %s: need train.tsv and dev.tsv there (%s)", dir,
                        strerror(errno));
    return 0;
}

typedef struct show {
    FILE *csv;
    int tty, failed;
} show;

static void on_start(void *ctx, const tlm_finetune_info *i)
{
    (void)ctx;
    printf("pairs: %zu train, %zu dev; encoded as %s; max length %d, mean %.1f tokens, %zu pairs "
           "truncated\n", i->n_train, i->n_dev, i->separators, i->max_len, i->mean_len,
           i->truncated);
    printf("majority baseline (always %d, the commoner training label): dev accuracy %.2f%%, "
           "F1 %.2f%%\n", i->majority_label, 100 * i->majority.accuracy, 100 * i->majority.f1);
    printf("%-6s %10s %9s %8s %8s %6s %6s %6s %6s %8s\n", "epoch", "train_loss", "dev_acc",
           "dev_f1", "prec", "tp", "fp", "fn", "tn", "seconds");
    fflush(stdout);
}

static void on_step(void *ctx, long step, long total, double loss)
{
    show *s = ctx;
    if (s->tty && (step % 10 == 0 || step == total)) {
        fprintf(stderr, "\r\033[Kstep %ld/%ld loss %.4f", step, total, loss);
        if (step == total)
            fprintf(stderr, "\r\033[K");
    }
}

static void on_epoch(void *ctx, const tlm_finetune_epoch *e)
{
    show *s = ctx;
    const tlm_cls_metrics *m = &e->dev;
    if (s->tty)
        fprintf(stderr, "\r\033[K");
    printf("%-6d %10.4f %8.2f%% %7.2f%% %7.2f%% %6ld %6ld %6ld %6ld %8.1f\n", e->epoch,
           e->train_loss, 100 * m->accuracy, 100 * m->f1, 100 * m->precision, m->tp, m->fp, m->fn,
           m->tn, e->seconds);
    fflush(stdout);
    if (s->csv && fprintf(s->csv, "%d,%.6f,%.6f,%.6f,%.6f,%.6f,%ld,%ld,%ld,%ld,%.3f\n", e->epoch,
                          e->train_loss, m->accuracy, m->f1, m->precision, m->recall, m->tp,
                          m->fp, m->fn, m->tn, e->seconds) < 0)
        s->failed = 1;
}

/* Integer option value into *out when given. */
static int int_opt(const char *opt, const char *v, long lo, long hi, int *out, tlm_err *err)
{
    long x;
    if (!v)
        return 0;
    if (tlm_xopt_int(opt, v, lo, hi, &x, err))
        return -1;
    *out = (int)x;
    return 0;
}

/* Options -> o (x: --epochs, --lr, --max-len, --pool, --limit); the engine
 * checks the numbers again. */
static int options(tlm_finetune_opts *o, const tlm_cli *cli, const char *const x[5], tlm_err *err)
{
    tlm_finetune_defaults(o);
    o->model = cli->model;
    int limit = 0;
    if (int_opt("--epochs", x[0], 1, 1000, &o->epochs, err) ||
        int_opt("--max-len", x[2], 5, 1 << 16, &o->max_len, err) ||
        int_opt("--limit", x[4], 1, 1 << 30, &limit, err) ||
        int_opt("--batch", cli->batch, 1, 4096, &o->batch, err) ||
        int_opt("--seed", cli->seed, 0, 1 << 30, &o->seed, err) ||
        int_opt("--threads", cli->threads, 1, 1024, &o->threads, err))
        return -1;
    o->limit_train = o->limit_dev = (size_t)limit;
    if (x[1]) {
        double lr;
        if (tlm_xopt_float("--lr", x[1], 0, 1, &lr, err))
            return -1;
        o->lr = (float)lr;
    }
    if (x[3] && (int)(o->pool = (tlm_pool_mode)tlm_pool_parse(x[3])) < 0)
        return tlm_errf(err, "--pool: '%s' is not last or mean", x[3]);
    return 0;
}

int tlm_cmd_finetune(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    if (argc < 3 || strcmp(argv[2], "mrpc")) {
        tlm_errf(&err, "finetune: the task is missing or unknown ('%s'): use 'tlm finetune mrpc "
                 "--model FILE'", argc >= 3 ? argv[2] : "");
        return tlm_cli_fail(&err);
    }
    const char *x[5] = {0};
    tlm_xopt xo[] = {{"epochs", 1, &x[0]}, {"lr", 1, &x[1]}, {"max-len", 1, &x[2]},
                     {"pool", 1, &x[3]},   {"limit", 1, &x[4]}};
    tlm_finetune_opts o;
    if (tlm_xopt_take(&argc, argv, 3, xo, 5, "finetune", &err) ||
        tlm_cli_parse(&cli, "finetune", OPT_MODEL | OPT_DATA | OPT_BATCH | OPT_SEED | OPT_THREADS |
                      OPT_OUT, argc, argv, 3, &err) ||
        options(&o, &cli, x, &err))
        return tlm_cli_fail(&err);
    if (!cli.model) {
        tlm_errf(&err, "finetune: --model FILE is required");
        return tlm_cli_fail(&err);
    }
    char train[4096], dev[4096];
    if (tlm_mrpc_paths(cli.data, train, dev, sizeof train, &err))
        return tlm_cli_fail(&err);
    o.train_path = train;
    o.dev_path = dev;
    show s = {.tty = isatty(STDERR_FILENO)};
    if (cli.out && (!(s.csv = fopen(cli.out, "w")) ||
                    fputs("epoch,train_loss,dev_acc,dev_f1,dev_precision,dev_recall,tp,fp,fn,tn,"
                          "seconds\n", s.csv) == EOF)) {
        tlm_errf(&err, "finetune: cannot write %s: %s", cli.out, strerror(errno));
        return tlm_cli_fail(&err);
    }
    printf("finetune mrpc: model %s; %s, %s; %d epochs, batch %d, lr %g (warm-up 10%%, linear "
           "decay), pooling: %s token\n", cli.model, train, dev, o.epochs, o.batch, (double)o.lr, o.pool == TLM_POOL_LAST ? "last real" : "mean over real");
    tlm_finetune_cb cb = {&s, on_start, on_step, on_epoch};
    int rc = tlm_finetune_mrpc(&o, &cb, NULL, &err);
    if (s.csv && fclose(s.csv) && !rc)
        rc = tlm_errf(&err, "finetune: cannot write %s: %s", cli.out, strerror(errno));
    if (!rc && s.failed)
        rc = tlm_errf(&err, "finetune: cannot write %s", cli.out);
    return rc ? tlm_cli_fail(&err) : 0;
}
