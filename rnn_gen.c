/* rnn_gen.c — generation: running a trained model forward one symbol at a time and drawing the next symbol
 * (temperature, top-k, top-p). Later also scoring and filling.
 *
 * Owns: rnn_sampler_*.
 * Must not know: training (gradients, optimizers, streams), the file format. */
#include "rnn_net.h"
#include "rnn_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================================================ sampler */
typedef struct { float p; int32_t id; } prob_id;

struct rnn_sampler {
    const rnn_model *m;
    net n;
    workspace w;         /* (1, 1) */
    uint64_t rng;
    prob_id *cand;       /* (V) candidates: probability and id, sorted for top-k / top-p */
};

rnn_sampler *rnn_sampler_new(const rnn_model *m, uint64_t seed, int threads, rnn_err err) {
    rnn_sampler *s = calloc(1, sizeof *s);
    int V = m->vocab.size;
    if (!s) goto oom;
    s->m = m;
    s->rng = seed;
    s->n.c = &m->cfg;
    s->n.V = V;
    param_layout(&m->cfg, V, m->params, &s->n.p);
    s->cand = malloc(sizeof(prob_id) * V);
    s->n.pool = mat_pool_new(threads < 1 ? 1 : threads);   /* one-row products split their columns over it */
    if (!s->cand || !s->n.pool || ws_init(&s->w, &m->cfg, V, 1, 1, 0, s->n.pool)) goto oom;
    pack_weights(&s->n, &s->w);
    /* Before any input, the state is zero and the distribution is softmax(by). */
    memcpy(s->w.logits, s->n.p.by, sizeof(float) * V);
    return s;
oom:
    rnn_sampler_free(s);
    snprintf(err, RNN_ERRLEN, "out of memory");
    return NULL;
}

void rnn_sampler_free(rnn_sampler *s) {
    if (!s) return;
    ws_free(&s->w);
    mat_pool_free(s->n.pool);
    free(s->cand);
    free(s);
}

void rnn_sampler_feed(rnn_sampler *s, int32_t id) {
    workspace *w = &s->w;
    size_t H = (size_t)s->m->cfg.hidden;
    w->x[0] = id;
    layers_forward(&s->n, w, 1, 0, NULL);
    carry_state(w, s->m->cfg.layers, H, 1);
}

/* Descending probability, ties by ascending id: a total order, so the result never depends on qsort. */
static int by_prob_desc(const void *a, const void *b) {
    const prob_id *x = a, *y = b;
    int xn = isnan(x->p), yn = isnan(y->p);   /* NaN sorts last, so the order stays total */
    if (xn != yn) return xn - yn;
    if (!xn && x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int32_t rnn_sampler_next(rnn_sampler *s, float temperature, int top_k, float top_p) {
    int V = s->m->vocab.size;
    const float *z = s->w.logits;
    int best = 0;
    for (int j = 1; j < V; j++)
        if (z[j] > z[best]) best = j;
    if (temperature <= 0 || V == 1) return best;
    prob_id *c = s->cand;
    for (int j = 0; j < V; j++) c[j] = (prob_id){expf((z[j] - z[best]) / temperature), j};
    int n = V;
    if ((top_k > 0 && top_k < V) || top_p < 1) {
        qsort(c, V, sizeof *c, by_prob_desc);
        if (top_k > 0 && top_k < n) n = top_k;
        if (top_p < 1) {   /* the smallest head whose mass reaches top_p of what is left */
            double tot = 0, acc = 0;
            for (int j = 0; j < n; j++) tot += c[j].p;
            int k = 0;
            while (k < n) {
                acc += c[k++].p;
                if (acc >= top_p * tot) break;
            }
            n = k;
        }
    }
    double tot = 0;
    for (int j = 0; j < n; j++) tot += c[j].p;
    double u = rng_uniform(&s->rng) * tot, acc = 0;
    for (int j = 0; j < n; j++) {
        acc += c[j].p;
        if (u < acc) return c[j].id;
    }
    return c[n - 1].id;
}
