/* classify.h - a two-class head on a causal model's final hidden state:
 * pooling, cross-entropy with its gradient, and the metrics of a binary
 * classifier (accuracy, F1 of the positive class). */
#ifndef TLM_CLASSIFY_H
#define TLM_CLASSIFY_H
#include <stddef.h>
#include <stdint.h>

/* How a sequence's hidden states become one vector. The model is causal, so
 * the last real token is the only one that has seen the whole pair (the
 * default); mean averages the real tokens. Either way right-padding after the
 * last real token cannot change the result: no real position attends to it. */
typedef enum tlm_pool_mode { TLM_POOL_LAST = 0, TLM_POOL_MEAN = 1 } tlm_pool_mode;

/* "last" | "mean" -> mode; -1 when unknown. */
int tlm_pool_parse(const char *s);
const char *tlm_pool_name(tlm_pool_mode m);

/* Head parameters: w [2, dim] then b [2], in one array of tlm_cls_size(dim). */
size_t tlm_cls_size(int dim);

/* Pool hidden [B*T, dim] (row b*T + t) over the first len[b] rows of each
 * sequence into pooled [B, dim]. */
void tlm_cls_pool(const float *hidden, int B, int T, int dim, const int32_t *len,
                  tlm_pool_mode mode, float *pooled);

/* Logits [B, 2] = pooled W^T + b. When labels is not NULL returns the mean
 * cross-entropy; then, when dhidden is not NULL, writes d(loss)/d(hidden)
 * [B*T, dim] (zero at rows the pooling did not use) and adds d(loss)/d(head)
 * into dhead (tlm_cls_size floats). Returns 0 without labels. */
double tlm_cls_loss(const float *hidden, int B, int T, int dim, const int32_t *len,
                    tlm_pool_mode mode, const float *head, const int *labels, float *pooled,
                    float *logits, float *dhidden, float *dhead);

/* Confusion counts and scores of a binary classifier, positive class 1. */
typedef struct tlm_cls_metrics {
    long tp, fp, fn, tn;
    double accuracy, precision, recall, f1; /* in [0, 1]; 0 when undefined */
} tlm_cls_metrics;

/* Score predictions against gold labels (both 0/1, n of them). */
void tlm_cls_score(const int *pred, const int *gold, size_t n, tlm_cls_metrics *out);

#endif
