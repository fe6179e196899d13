/* sampler.c - repetition penalty, temperature, top-k, top-p, seeded draws. */
#include "sampler.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../core/rng.h"

typedef struct cand {
    float v; /* logit / temperature, then probability */
    int id;
} cand;

struct tlm_sampler {
    int vocab;
    tlm_sample_opts o;
    tlm_rng rng;
    uint8_t *seen;  /* [vocab] */
    int32_t *seen_ids;
    size_t n_seen;
    cand *c;        /* [vocab] */
};

void tlm_sample_opts_default(tlm_sample_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_tokens = 128;
    o->temperature = 0.8f;
    o->top_k = 40;
    o->top_p = 0.95f;
    o->rep_penalty = 1.0f;
    o->seed = 0;
    o->stop = NULL;
}

int tlm_sample_opts_check(const tlm_sample_opts *o, tlm_err *err)
{
    if (o->max_tokens < 1)
        return tlm_errf(err, "sampling: max tokens %d must be at least 1", o->max_tokens);
    if (!isfinite(o->temperature) || o->temperature < 0.0f || o->temperature > 100.0f)
        return tlm_errf(err, "sampling: temperature %g is not in [0, 100]", (double)o->temperature);
    if (o->top_k < 0)
        return tlm_errf(err, "sampling: top-k %d must be 0 (off) or positive", o->top_k);
    if (!isfinite(o->top_p) || o->top_p <= 0.0f || o->top_p > 1.0f)
        return tlm_errf(err, "sampling: top-p %g is not in (0, 1]", (double)o->top_p);
    if (!isfinite(o->rep_penalty) || o->rep_penalty <= 0.0f || o->rep_penalty > 100.0f)
        return tlm_errf(err, "sampling: repetition penalty %g is not in (0, 100]",
                        (double)o->rep_penalty);
    if (o->stop && !*o->stop)
        return tlm_errf(err, "sampling: the stop string is empty");
    return 0;
}

int tlm_sampler_create(tlm_sampler **out, int vocab, const tlm_sample_opts *o, tlm_err *err)
{
    if (tlm_sample_opts_check(o, err))
        return -1;
    if (vocab < 1)
        return tlm_errf(err, "sampling: vocabulary of %d tokens", vocab);
    tlm_sampler *s = tlm_calloc(1, sizeof *s, err);
    if (!s)
        return -1;
    s->vocab = vocab;
    s->o = *o;
    s->o.stop = NULL;
    tlm_rng_seed(&s->rng, o->seed);
    s->seen = tlm_calloc((size_t)vocab, 1, err);
    s->seen_ids = s->seen ? tlm_calloc((size_t)vocab, sizeof(int32_t), err) : NULL;
    s->c = s->seen_ids ? tlm_calloc((size_t)vocab, sizeof(cand), err) : NULL;
    if (!s->c) {
        tlm_sampler_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void tlm_sampler_free(tlm_sampler *s)
{
    if (!s)
        return;
    free(s->seen);
    free(s->seen_ids);
    free(s->c);
    free(s);
}

void tlm_sampler_observe(tlm_sampler *s, int id)
{
    if (id < 0 || id >= s->vocab || s->seen[id])
        return;
    s->seen[id] = 1;
    s->seen_ids[s->n_seen++] = id;
}

static inline float penalize(float l, float p)
{
    return l > 0.0f ? l / p : l * p;
}

void tlm_rep_penalty(float *logits, int vocab, const int32_t *ids, size_t n, float penalty)
{
    uint8_t *seen = calloc((size_t)(vocab > 0 ? vocab : 1), 1);
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= vocab)
            continue;
        int dup = 0;
        if (seen)
            dup = seen[id]++ != 0;
        else
            for (size_t j = 0; j < i && !dup; j++)
                dup = ids[j] == id;
        if (!dup)
            logits[id] = penalize(logits[id], penalty);
    }
    free(seen);
}

/* a before b: larger value first, then lower id. */
static int better(const cand *a, const cand *b)
{
    return a->v > b->v || (a->v == b->v && a->id < b->id);
}

static int cand_cmp(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

static int argmax(const float *l, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[best])
            best = i;
    return best;
}

/* Min-heap (worst on top) sift-down over h[0..n). */
static void heap_down(cand *h, int n, int i)
{
    for (;;) {
        int w = i, a = 2 * i + 1, b = a + 1;
        if (a < n && better(&h[w], &h[a]))
            w = a;
        if (b < n && better(&h[w], &h[b]))
            w = b;
        if (w == i)
            return;
        cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* The k best of l[0..n) scaled by inv_t into c, sorted best first. */
static int top_k(cand *c, const float *l, int n, int k, float inv_t)
{
    for (int i = 0; i < k; i++)
        c[i] = (cand){l[i] * inv_t, i};
    for (int i = k / 2 - 1; i >= 0; i--)
        heap_down(c, k, i);
    for (int i = k; i < n; i++) {
        cand x = {l[i] * inv_t, i};
        if (better(&x, &c[0])) {
            c[0] = x;
            heap_down(c, k, 0);
        }
    }
    qsort(c, (size_t)k, sizeof *c, cand_cmp);
    return k;
}

/* Softmax over c[0..n) in place (values become probabilities). */
static void softmax(cand *c, int n)
{
    float mx = c[0].v;
    for (int i = 1; i < n; i++)
        mx = c[i].v > mx ? c[i].v : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        c[i].v = expf(c[i].v - mx);
        sum += c[i].v;
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        c[i].v *= inv;
}

/* Keep the smallest best-first prefix of c whose mass reaches p. When c is
 * not sorted yet, first drop what cannot be in the nucleus (probability below
 * (1 - p) / (n - 1)) and sort the rest. Returns the new count. */
static int top_p(cand *c, int n, float p, int sorted)
{
    if (!sorted) {
        float cut = n > 1 ? (1.0f - p) / (float)(n - 1) : 0.0f;
        int m = 0;
        for (int i = 0; i < n; i++)
            if (c[i].v >= cut)
                c[m++] = c[i];
        n = m > 0 ? m : n;
        qsort(c, (size_t)n, sizeof *c, cand_cmp);
    }
    double cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += c[i].v;
        if (cum >= p)
            return i + 1;
    }
    return n;
}

int tlm_sampler_next(tlm_sampler *s, float *logits)
{
    int V = s->vocab;
    if (s->o.rep_penalty != 1.0f)
        for (size_t i = 0; i < s->n_seen; i++)
            logits[s->seen_ids[i]] = penalize(logits[s->seen_ids[i]], s->o.rep_penalty);
    if (s->o.temperature == 0.0f)
        return argmax(logits, V);
    float inv_t = 1.0f / s->o.temperature;
    int n, sorted = 0;
    if (s->o.top_k > 0 && s->o.top_k < V) {
        n = top_k(s->c, logits, V, s->o.top_k, inv_t);
        sorted = 1;
    } else {
        n = V;
        for (int i = 0; i < V; i++)
            s->c[i] = (cand){logits[i] * inv_t, i};
    }
    softmax(s->c, n);
    if (s->o.top_p < 1.0f)
        n = top_p(s->c, n, s->o.top_p, sorted);
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += s->c[i].v;
    double r = (double)tlm_rng_float(&s->rng) * total, cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += s->c[i].v;
        if (r < cum)
            return s->c[i].id;
    }
    return s->c[n - 1].id;
}
