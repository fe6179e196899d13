/* classify.c - pooling, the two-class head and its metrics. */
#include "classify.h"
#include <math.h>
#include <string.h>

int tlm_pool_parse(const char *s)
{
    if (!strcmp(s, "last"))
        return TLM_POOL_LAST;
    if (!strcmp(s, "mean"))
        return TLM_POOL_MEAN;
    return -1;
}

const char *tlm_pool_name(tlm_pool_mode m)
{
    return m == TLM_POOL_MEAN ? "mean" : "last";
}

size_t tlm_cls_size(int dim)
{
    return 2 * (size_t)dim + 2;
}

void tlm_cls_pool(const float *hidden, int B, int T, int dim, const int32_t *len,
                  tlm_pool_mode mode, float *pooled)
{
    for (int b = 0; b < B; b++) {
        float *o = pooled + (size_t)b * (size_t)dim;
        const float *h = hidden + (size_t)b * (size_t)T * (size_t)dim;
        if (mode == TLM_POOL_LAST) {
            memcpy(o, h + (size_t)(len[b] - 1) * (size_t)dim, sizeof(float) * (size_t)dim);
            continue;
        }
        for (int d = 0; d < dim; d++) {
            double s = 0;
            for (int t = 0; t < len[b]; t++)
                s += h[(size_t)t * (size_t)dim + (size_t)d];
            o[d] = (float)(s / len[b]);
        }
    }
}

/* d(loss)/d(pooled row) = g0 w0 + g1 w1, spread back to the hidden rows the
 * pooling read (sequence b only). */
static void pool_backward(float *dhidden, int b, int T, int dim, int len, tlm_pool_mode mode,
                          const float *w, const float g[2])
{
    size_t D = (size_t)dim;
    float *h = dhidden + (size_t)b * (size_t)T * D, *last = h + (size_t)(len - 1) * D;
    memset(h, 0, sizeof(float) * (size_t)T * D);
    for (size_t d = 0; d < D; d++)
        last[d] = g[0] * w[d] + g[1] * w[D + d];
    if (mode == TLM_POOL_LAST)
        return;
    for (size_t d = 0; d < D; d++)
        last[d] /= (float)len;
    for (int t = 0; t < len - 1; t++)
        memcpy(h + (size_t)t * D, last, sizeof(float) * D);
}

double tlm_cls_loss(const float *hidden, int B, int T, int dim, const int32_t *len,
                    tlm_pool_mode mode, const float *head, const int *labels, float *pooled,
                    float *logits, float *dhidden, float *dhead)
{
    const float *w = head, *bias = head + 2 * (size_t)dim;
    tlm_cls_pool(hidden, B, T, dim, len, mode, pooled);
    double loss = 0;
    for (int b = 0; b < B; b++) {
        const float *p = pooled + (size_t)b * (size_t)dim;
        for (int k = 0; k < 2; k++) {
            double s = bias[k];
            for (int d = 0; d < dim; d++)
                s += (double)w[(size_t)k * (size_t)dim + (size_t)d] * p[d];
            logits[2 * b + k] = (float)s;
        }
        if (!labels)
            continue;
        double z0 = logits[2 * b], z1 = logits[2 * b + 1], mx = z0 > z1 ? z0 : z1;
        double lse = mx + log(exp(z0 - mx) + exp(z1 - mx));
        loss -= (labels[b] ? z1 : z0) - lse;
        if (!dhidden)
            continue;
        /* d(mean loss)/d(logit k) = (softmax_k - [k == label]) / B */
        float g[2] = {(float)((exp(z0 - lse) - (labels[b] == 0)) / B),
                      (float)((exp(z1 - lse) - (labels[b] == 1)) / B)};
        for (int k = 0; k < 2; k++) {
            for (int d = 0; d < dim; d++)
                dhead[(size_t)k * (size_t)dim + (size_t)d] += g[k] * p[d];
            dhead[2 * (size_t)dim + (size_t)k] += g[k];
        }
        pool_backward(dhidden, b, T, dim, len[b], mode, w, g);
    }
    return labels ? loss / B : 0;
}

void tlm_cls_score(const int *pred, const int *gold, size_t n, tlm_cls_metrics *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (pred[i] && gold[i])
            out->tp++;
        else if (pred[i])
            out->fp++;
        else if (gold[i])
            out->fn++;
        else
            out->tn++;
    }
    if (n)
        out->accuracy = (double)(out->tp + out->tn) / (double)n;
    if (out->tp + out->fp)
        out->precision = (double)out->tp / (double)(out->tp + out->fp);
    if (out->tp + out->fn)
        out->recall = (double)out->tp / (double)(out->tp + out->fn);
    if (out->tp) /* 2PR / (P + R) = 2tp / (2tp + fp + fn) */
        out->f1 = 2.0 * (double)out->tp / (double)(2 * out->tp + out->fp + out->fn);
}
