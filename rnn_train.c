/* rnn_train.c — the trainer: the training and validation splits and the B contiguous data streams, the chunk
 * loop with carried state, the optimizers (Adam, Adagrad, SGD) with clipping by global norm, the budget, the
 * learning-rate schedule fitted to it and the averaged (EMA) weights, the validation, and the resumable state a
 * checkpoint carries (snapshot, and the checks when resuming).
 *
 * With --shards K a step computes its K shards' gradients one at a time and adds them in shard order; over
 * several processes it computes its own shards and combines the rest through the caller's rnn_dist callbacks.
 *
 * Owns: rnn_trainer_*, rnn_train_step, rnn_validate, rnn_resume_free / rnn_resume_lr / rnn_resume_shards,
 * rnn_schedule_*.
 * Must not know: how a cell computes (it calls the entry points of rnn_net.h), the file format (rnn_ckpt.c
 * reads and writes struct rnn_resume), sampling, MPI or any network (the rnn_dist callbacks are the caller's). */
#include "rnn_net.h"
#include "rnn_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================================================ trainer */
struct rnn_trainer {
    rnn_model *m;
    net n;
    mat_pool *pool;
    workspace w;             /* (T, B) training chunk */
    workspace we;            /* (TE, 1) validation */
    float *grad;             /* (nparams) same layout as the parameters */
    float *m1, *m2;          /* (nparams) optimizer moments (Adam: m, v; Adagrad: m2 = sum of squares) */
    double *norm_partial;    /* (nparams / NORM_BLOCK + 1) squared-norm partial sums */
    param_range twin[RNN_MAX_TWINS];   /* tensors that stand for two of PyTorch's (rnn__param_twins): 2x lr, 2x in the norm */
    size_t ntwin;
    float *state;            /* (layers, B, H) carried h, then for LSTM (layers, B, H) carried c */
    size_t nstate;
    int32_t *train, *val;    /* symbol ids of each split (owned) */
    size_t n_train, n_val;
    size_t stream_len;       /* Ls: symbols per stream */
    uint64_t nchunks;        /* chunks per epoch: Ls / T */
    uint64_t chunk, epoch;
    uint64_t rng;
    float lr;                /* the schedule's peak: the base lr after per-epoch decay */
    uint64_t n_ids;
    uint32_t ids_crc;
    rnn_budget budget;
    rnn_schedule sched;
    float *raw;              /* (nparams) with sched.ema > 0: the trained weights (m->params is their average) */
    float *weights;          /* the weights the optimizer updates: raw, or m->params without averaging */
    int fixed;               /* resumed, or stepped: the schedule can no longer be set */
    int shards;              /* K (rnn_trainer_set_shards); K > 1: w is (T, B / K), one shard at a time */
    rnn_dist dist;           /* size 1 without processes */
    float *sg;               /* K > 1: (K / size or 1, nparams) this process's shard gradients */
    double *sloss;           /* K > 1: (K) each shard's loss */
    float *state_next;       /* K > 1: (nstate) the state after the step being taken */
    float *sbuf;             /* several processes: (nstate / size + nstate) the state exchanged */
};

enum { VAL_CHUNK = 256 };
enum { NORM_BLOCK = 1 << 16 };   /* the squared norm is summed per fixed block, then blocks in order */

/* CRC-32 of the ids as little-endian int32: the same corpus gives the same value on any host. */
static uint32_t ids_crc(const int32_t *ids, size_t n) {
    uint32_t crc = 0;
    unsigned char buf[1024];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < sizeof buf && i < n; i++, k += 4)
            for (int b = 0; b < 4; b++) buf[k + b] = (unsigned char)((uint32_t)ids[i] >> (8 * b));
        crc = rnn_crc32(crc, buf, k);
    }
    return crc;
}

float rnn_resume_lr(const rnn_resume *r) { return r->lr; }
void rnn_resume_schedule(const rnn_resume *r, rnn_schedule *out) { *out = r->sched; }
int rnn_resume_shards(const rnn_resume *r) { return r->shards > 1 ? r->shards : 1; }
int rnn_trainer_shards(const rnn_trainer *t) { return t->shards; }

/* The carried state of streams b0 .. b0 + w->B - 1 into slot 0 of the workspace (zeros when `fresh`: the start
 * of an epoch). */
static void state_load(const rnn_trainer *t, workspace *w, int fresh, size_t b0) {
    const rnn_config *c = &t->m->cfg;
    size_t H = (size_t)c->hidden, BH = (size_t)c->batch * H, wBH = (size_t)w->B * H, L = c->layers;
    for (size_t l = 0; l < L; l++) {
        float *dst[2] = {w->h[l], w->c[l]};   /* h, then (LSTM) c: state holds all h, then all c */
        for (size_t k = 0; k < 2 && dst[k]; k++) {
            if (fresh) memset(dst[k], 0, sizeof(float) * wBH);
            else memcpy(dst[k], t->state + (k * L + l) * BH + b0 * H, sizeof(float) * wBH);
        }
    }
}

/* The state after T steps of the workspace's streams b0 .. into `dst` (t->state's layout). */
static void state_store(const rnn_trainer *t, const workspace *w, int T, size_t b0, float *dst) {
    const rnn_config *c = &t->m->cfg;
    size_t H = (size_t)c->hidden, BH = (size_t)c->batch * H, wBH = (size_t)w->B * H, L = c->layers;
    for (size_t l = 0; l < L; l++) {
        memcpy(dst + l * BH + b0 * H, w->h[l] + (size_t)T * wBH, sizeof(float) * wBH);
        if (w->c[l]) memcpy(dst + (L + l) * BH + b0 * H, w->c[l] + (size_t)T * wBH, sizeof(float) * wBH);
    }
}

void rnn_resume_free(rnn_resume *r) {
    if (!r) return;
    free(r->m1);
    free(r->m2);
    free(r->state);
    free(r->raw);
    free(r);
}

void rnn_trainer_free(rnn_trainer *t) {
    if (!t) return;
    rnn__mat_pool_free(t->pool);
    rnn__ws_free(&t->w);
    rnn__ws_free(&t->we);
    free(t->grad);
    free(t->m1);
    free(t->m2);
    free(t->norm_partial);
    free(t->state);
    free(t->raw);
    free(t->sg);
    free(t->sloss);
    free(t->state_next);
    free(t->sbuf);
    free(t->train);
    free(t->val);
    free(t);
}

/* The corpus must hold one chunk of every stream after the validation split, and only ids of the vocabulary.
 * Returns the training symbols, or 0 after writing err. */
static size_t check_corpus(const rnn_model *m, const int32_t *ids, size_t n, rnn_err err) {
    const rnn_config *c = &m->cfg;
    size_t n_train = (size_t)((double)n * (1.0 - c->val_frac));
    size_t B = (size_t)c->batch, T = (size_t)c->seq;
    size_t need = B * T + 1 + (c->bidir ? (size_t)rnn_bidi_margin(c->seq) : 0);   /* bidirectional: the margin */
    if (n_train < need) {
        snprintf(err, RNN_ERRLEN,
                 "corpus too short: %zu training symbols, but one chunk of --batch %zu x --seq %zu needs %zu; "
                 "lower --batch or --seq%s",
                 n_train, B, T, need, c->val_frac > 0 ? " (or --val)" : "");
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->vocab.size) {
            snprintf(err, RNN_ERRLEN, "symbol id %ld at position %zu is outside the vocabulary", (long)ids[i], i);
            return 0;
        }
    return n_train;
}

/* Every buffer of a fresh trainer: gradients, moments, state, both splits, both workspaces. -1: out of memory. */
static int trainer_alloc(rnn_trainer *t, const int32_t *ids, size_t n, size_t n_train) {
    rnn_model *m = t->m;
    const rnn_config *c = &m->cfg;
    size_t B = (size_t)c->batch, T = (size_t)c->seq, n_val = n - n_train;
    t->n.c = c;
    t->n.V = m->vocab.size;
    t->n.pool = t->pool;
    rnn__param_layout(c, t->n.V, m->params, &t->n.p);
    t->ntwin = rnn__param_twins(c, &t->n.p, m->params, t->twin);
    t->grad = rnn__big_calloc(m->nparams * sizeof(float));
    if (!t->grad) return -1;
    rnn__param_layout(c, t->n.V, t->grad, &t->n.g);
    int nm = rnn_optim_moments(c->optim);
    if (nm >= 1 && !(t->m2 = rnn__big_calloc(m->nparams * sizeof(float)))) return -1;
    if (nm >= 2 && !(t->m1 = rnn__big_calloc(m->nparams * sizeof(float)))) return -1;
    if (!(t->norm_partial = calloc(m->nparams / NORM_BLOCK + 1, sizeof(double)))) return -1;
    t->nstate = (size_t)c->layers * B * c->hidden * rnn_state_per_unit(c->cell);
    t->state = calloc(t->nstate, sizeof(float));
    t->train = malloc(sizeof(int32_t) * n_train);
    t->val = malloc(sizeof(int32_t) * (n_val ? n_val : 1));
    if (!t->state || !t->train || !t->val) return -1;
    memcpy(t->train, ids, sizeof(int32_t) * n_train);
    memcpy(t->val, ids + n_train, sizeof(int32_t) * n_val);
    t->n_train = n_train;
    t->n_val = n_val;
    /* Bidirectional: the last margin's symbols of the split are only read as the last window's margin. */
    t->stream_len = (n_train - 1 - (c->bidir ? (size_t)rnn_bidi_margin(c->seq) : 0)) / B;
    t->nchunks = t->stream_len / T;
    t->rng = c->seed ^ 0x5DEECE66Dull;
    t->lr = c->lr;
    rnn_schedule_default(&t->sched);
    t->weights = m->params;
    t->n_ids = n;
    t->ids_crc = ids_crc(ids, n);
    t->shards = 1;
    t->dist = (rnn_dist){.rank = 0, .size = 1};
    if (rnn__ws_init(&t->w, c, t->n.V, (int)T, (int)B, 1, t->pool)) return -1;
    if (rnn__ws_init(&t->we, c, t->n.V, VAL_CHUNK, 1, 0, t->pool)) return -1;
    return 0;
}

void rnn_trainer_fit_output_bias(rnn_trainer *t) {
    int V = t->n.V;
    double *count = calloc((size_t)V, sizeof(double)), mean = 0;
    if (!count) return;   /* the bias stays as it was: a slower start, nothing wrong */
    for (size_t i = 0; i < t->n_train; i++) count[t->train[i]] += 1;
    for (int v = 0; v < V; v++) mean += (count[v] = log(count[v] + 0.5)) / V;
    param_view avg;   /* the model's parameters: with averaging, the average starts at the same bias */
    rnn__param_layout(&t->m->cfg, V, t->m->params, &avg);
    for (int v = 0; v < V; v++) t->n.p.by[v] = avg.by[v] = (float)(count[v] - mean);
    free(count);
}

/* The weights the optimizer updates: with `from` (nparams floats, copied) a buffer of the trainer's own, the
 * model's parameters being their average; with NULL the model's parameters themselves. 0, or -1 (out of memory:
 * nothing changed). */
static int use_weights(rnn_trainer *t, const float *from) {
    rnn_model *m = t->m;
    if (from && !t->raw && !(t->raw = rnn__big_calloc(sizeof(float) * m->nparams))) return -1;
    if (from) {
        memcpy(t->raw, from, sizeof(float) * m->nparams);
    } else {
        free(t->raw);
        t->raw = NULL;
    }
    t->weights = t->raw ? t->raw : m->params;
    rnn__param_layout(&m->cfg, t->n.V, t->weights, &t->n.p);
    return 0;
}

/* Resuming: the state must belong to this corpus and this model; then it replaces the fresh one. */
static int apply_resume(rnn_trainer *t, const rnn_resume *resume, rnn_err err) {
    const rnn_model *m = t->m;
    if (resume->n_ids != t->n_ids || resume->ids_crc != t->ids_crc) {
        snprintf(err, RNN_ERRLEN,
                 "the checkpoint was trained on a different corpus (%llu symbols, CRC %08x; this one: %zu "
                 "symbols, CRC %08x)",
                 (unsigned long long)resume->n_ids, (unsigned)resume->ids_crc, (size_t)t->n_ids, (unsigned)t->ids_crc);
        return -1;
    }
    if (resume->nparams != m->nparams || resume->nmoments != rnn_optim_moments(m->cfg.optim) ||
        resume->nstate != t->nstate || resume->chunk > t->nchunks) {
        snprintf(err, RNN_ERRLEN, "the checkpoint's training state does not fit its model");
        return -1;
    }
    if (t->m1) memcpy(t->m1, resume->m1, sizeof(float) * m->nparams);
    if (t->m2) memcpy(t->m2, resume->m2, sizeof(float) * m->nparams);
    memcpy(t->state, resume->state, sizeof(float) * t->nstate);
    t->chunk = resume->chunk;
    t->epoch = resume->epoch;
    t->rng = resume->rng;
    t->lr = resume->lr;
    t->budget = resume->budget;
    t->sched = resume->sched;
    t->fixed = 1;
    if (t->sched.ema > 0 && (!resume->raw || use_weights(t, resume->raw))) {
        snprintf(err, RNN_ERRLEN, "%s",
                 resume->raw ? "out of memory" : "the checkpoint's training state does not fit its model");
        return -1;
    }
    return 0;
}

rnn_trainer *rnn_trainer_new(rnn_model *m, const int32_t *ids, size_t n, int threads, const rnn_resume *resume,
                             rnn_err err) {
    size_t n_train = check_corpus(m, ids, n, err);
    if (!n_train) return NULL;
    rnn_trainer *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->m = m;
    t->pool = rnn__mat_pool_new(threads);
    if (!t->pool) {
        rnn_trainer_free(t);
        snprintf(err, RNN_ERRLEN, "cannot start %d threads", threads);
        return NULL;
    }
    rnn__mat_pool_set_precision(t->pool, m->cfg.precision == RNN_PREC_BF16 ? MAT_BF16 : MAT_FP32);
    if (trainer_alloc(t, ids, n, n_train)) goto oom;
    if (resume &&
        (apply_resume(t, resume, err) || rnn_trainer_set_shards(t, rnn_resume_shards(resume), NULL, err))) {
        rnn_trainer_free(t);
        return NULL;
    }
    return t;
oom:
    rnn_trainer_free(t);
    snprintf(err, RNN_ERRLEN, "out of memory");
    return NULL;
}

static const char *const sched_names[] = {"constant", "cosine", "linear", NULL};
const char *const *rnn_schedule_names(void) { return sched_names; }

void rnn_schedule_default(rnn_schedule *s) { *s = (rnn_schedule){.kind = RNN_SCHED_CONSTANT}; }

int rnn_schedule_check(const rnn_schedule *s, rnn_err err) {
    if (s->kind < RNN_SCHED_CONSTANT || s->kind > RNN_SCHED_LINEAR)
        snprintf(err, RNN_ERRLEN, "unknown lr schedule %d", s->kind);
    else if (s->warmup > (uint64_t)1e15)
        snprintf(err, RNN_ERRLEN, "warmup must be at most 1e15 steps");
    else if (!(s->floor >= 0 && s->floor <= 1))
        snprintf(err, RNN_ERRLEN, "lr floor must be in [0, 1]");
    else if (!(s->ema == 0 || (s->ema > 0 && s->ema < 1)))
        snprintf(err, RNN_ERRLEN, "ema must be 0 (off) or in (0, 1)");
    else
        return 0;
    return -1;
}

double rnn_schedule_factor(const rnn_schedule *s, uint64_t step, double p) {
    double warm = step < s->warmup ? (double)(step + 1) / ((double)s->warmup + 1) : 1, f = s->floor;
    p = p > 0 ? (p < 1 ? p : 1) : 0;   /* NaN: 0 */
    if (s->kind == RNN_SCHED_COSINE)
        return warm * (f + (1 - f) * 0.5 * (1 + cos(3.14159265358979323846 * p)));
    if (s->kind == RNN_SCHED_LINEAR) return warm * (f + (1 - f) * (1 - p));
    return warm;
}

int rnn_trainer_set_schedule(rnn_trainer *t, const rnn_schedule *s, rnn_err err) {
    if (rnn_schedule_check(s, err)) return -1;
    if (t->fixed) {
        snprintf(err, RNN_ERRLEN, "the schedule is fixed once a run has stepped or is resumed");
        return -1;
    }
    if (use_weights(t, s->ema > 0 ? t->m->params : NULL)) {
        snprintf(err, RNN_ERRLEN, "out of memory");
        return -1;
    }
    t->sched = *s;
    return 0;
}

void rnn_trainer_schedule(const rnn_trainer *t, rnn_schedule *out) { *out = t->sched; }

/* How much of the budget is spent before the next step: the largest fraction of any limit, 0..1 (0: none). */
static double budget_progress(const rnn_trainer *t) {
    const rnn_budget *b = &t->budget;
    double p = 0;
    if (b->steps) p = fmax(p, (double)t->m->prog.step / (double)b->steps);
    if (b->epochs > 0) p = fmax(p, ((double)t->epoch + (double)t->chunk / (double)t->nchunks) / b->epochs);
    if (b->seconds > 0) p = fmax(p, t->m->prog.seconds / b->seconds);
    return p < 1 ? p : 1;
}

/* The peak lr of the next step: after an epoch's end, decayed once more. */
static float next_peak(const rnn_trainer *t) {
    return t->chunk >= t->nchunks ? t->lr * t->m->cfg.lr_decay : t->lr;
}

/* The lr the next step takes (rnn.h "rnn_schedule"). */
static float next_lr(const rnn_trainer *t) {
    return (float)(next_peak(t) * rnn_schedule_factor(&t->sched, t->m->prog.step, budget_progress(t)));
}

void rnn__trainer_snapshot(const rnn_trainer *t, struct rnn_resume *r) {
    r->chunk = t->chunk;
    r->epoch = t->epoch;
    r->rng = t->rng;
    r->lr = t->lr;
    r->shards = t->shards;
    r->n_ids = t->n_ids;
    r->ids_crc = t->ids_crc;
    r->nmoments = rnn_optim_moments(t->m->cfg.optim);
    r->nparams = t->m->nparams;
    r->m1 = t->m1;
    r->m2 = t->m2;
    r->nstate = t->nstate;
    r->state = t->state;
    r->budget = t->budget;
    r->sched = t->sched;
    r->raw = t->raw;
}

rnn_budget *rnn_trainer_budget(rnn_trainer *t) { return &t->budget; }
void rnn_trainer_set_lr(rnn_trainer *t, float lr) { t->lr = lr; }

void rnn_trainer_info(const rnn_trainer *t, rnn_train_info *out) {
    out->steps_per_epoch = t->nchunks;
    out->epoch = (double)t->epoch + (double)t->chunk / (double)t->nchunks;
    out->lr = next_lr(t);
    out->peak = next_peak(t);
    out->progress = budget_progress(t);
    out->n_train = t->n_train;
    out->n_val = t->n_val;
}

/* The optimizer over a range of parameters; gs scales the gradient (clipping). */
typedef struct { rnn_trainer *t; float gs, lr, bc1, bc2s; double *partial; } opt_args;


RNN_CLONES static void sumsq_blocks(void *arg, size_t lo, size_t hi) {
    const opt_args *s = arg;
    size_t np = s->t->m->nparams;
    const float *g = s->t->grad;
    for (size_t k = lo; k < hi; k++) {
        /* 16 float lanes over each 256 values (vectorisable), each sub-block's lanes pairwise, the sub-blocks
         * summed in double: a fixed order, so the same result for any threads. */
        double ss = 0;
        size_t i = k * NORM_BLOCK, end = (k + 1) * NORM_BLOCK < np ? (k + 1) * NORM_BLOCK : np;
        while (i < end) {
            size_t sub = end - i < 256 ? end - i : 256, j = 0;
            float lane[16] = {0};
            for (; j + 16 <= sub; j += 16)
                for (int l = 0; l < 16; l++) lane[l] += g[i + j + l] * g[i + j + l];
            for (int l = 0; j < sub; j++, l++) lane[l] += g[i + j] * g[i + j];
            for (int w = 8; w > 0; w /= 2)
                for (int l = 0; l < w; l++) lane[l] += lane[l + w];
            ss += lane[0];
            i += sub;
        }
        s->partial[k] = ss;
    }
}

/* The optimizer on parameters [lo, hi), each standing for `twins` of PyTorch's (rnn__param_twins): twice the step. */
static inline void update_range(const opt_args *s, size_t lo, size_t hi, float twins) {
    rnn_trainer *t = s->t;
    float *p = t->weights, *g = t->grad, gs = s->gs, lr = s->lr * twins;
    if (t->m->cfg.optim == RNN_OPT_ADAM) {
        const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, step = lr / s->bc1;
        float *m1 = t->m1, *m2 = t->m2;
        for (size_t i = lo; i < hi; i++) {
            float gi = g[i] * gs;
            m1[i] = b1 * m1[i] + (1 - b1) * gi;
            m2[i] = b2 * m2[i] + (1 - b2) * gi * gi;
            p[i] -= step * m1[i] / (sqrtf(m2[i]) / s->bc2s + eps);
        }
    } else if (t->m->cfg.optim == RNN_OPT_ADAGRAD) {   /* min-char-rnn's: mem += g^2; p -= lr g / sqrt(mem + 1e-8) */
        float *m2 = t->m2;
        for (size_t i = lo; i < hi; i++) {
            float gi = g[i] * gs;
            m2[i] += gi * gi;
            p[i] -= lr * gi / sqrtf(m2[i] + 1e-8f);
        }
    } else {
        for (size_t i = lo; i < hi; i++) p[i] -= lr * g[i] * gs;
    }
}

/* One worker's share [lo, hi) of the optimizer step, cut where twin tensors begin and end. */
RNN_CLONES static void update_part(void *arg, size_t lo, size_t hi) {
    const opt_args *s = arg;
    const rnn_trainer *t = s->t;
    size_t i = lo;
    for (size_t k = 0; k < t->ntwin && i < hi; k++) {
        size_t a = t->twin[k].offset, b = a + t->twin[k].count;
        if (b <= i) continue;
        if (a >= hi) break;
        if (a > i) update_range(s, i, a, 1.0f);
        i = a > i ? a : i;
        update_range(s, i, b < hi ? b : hi, 2.0f);
        i = b < hi ? b : hi;
    }
    if (i < hi) update_range(s, i, hi, 1.0f);
}

/* Clips by global norm and applies the optimizer. Returns the gradient norm (non-finite: nothing applied). */
static double optimizer_step(rnn_trainer *t, float lr) {
    const rnn_config *c = &t->m->cfg;
    size_t np = t->m->nparams, nblocks = (np + NORM_BLOCK - 1) / NORM_BLOCK;
    opt_args s = {t, 1.0f, lr, 1.0f, 1.0f, t->norm_partial};
    rnn__mat_pool_for(t->pool, nblocks, 1, sumsq_blocks, &s);
    double ss = 0;
    for (size_t k = 0; k < nblocks; k++) ss += t->norm_partial[k];
    for (size_t k = 0; k < t->ntwin; k++)   /* a twin tensor's gradient counts once more (rnn__param_twins) */
        for (size_t i = t->twin[k].offset; i < t->twin[k].offset + t->twin[k].count; i++)
            ss += (double)t->grad[i] * t->grad[i];
    double norm = sqrt(ss);
    if (!isfinite(norm)) return norm;
    s.gs = (c->clip > 0 && norm > c->clip) ? (float)(c->clip / (norm + 1e-6)) : 1.0f;
    double step = (double)t->m->prog.step + 1;
    s.bc1 = (float)(1.0 - pow(0.9, step));
    s.bc2s = (float)sqrt(1.0 - pow(0.999, step));
    rnn__mat_pool_for(t->pool, np, 1 << 15, update_part, &s);
    return norm;
}

/* Bidirectional training: whether training position `pos` (stream b's symbol i is at b * stream_len + i) is read as a
 * blank at this step: RNN_BIDI_BLANKS of them, from a hash of (seed, step, pos), so both directions, any thread
 * count and a resumed run agree. */
static int blanked(const rnn_trainer *t, size_t pos) {
    uint64_t s = t->m->prog.step * 0xD1B54A32D192ED03ull ^ t->m->cfg.seed;
    return (double)(mix64(s + pos * 0x9E3779B97F4A7C15ull) >> 11) * 0x1.0p-53 < RNN_BIDI_BLANKS;
}

/* The loaded chunk's inputs at blanked positions become -1 ("no input") in both directions; the targets stay. */
static void blank_inputs(rnn_trainer *t, size_t base, int T, int M, size_t b0) {
    workspace *w = &t->w;
    int B = w->B;
    for (int tt = 0; tt < T; tt++)
        for (int b = 0; b < B; b++)
            if (blanked(t, (b0 + (size_t)b) * t->stream_len + base + tt)) w->x[tt * B + b] = -1;
    for (int r = 0; r < w->back->Tb; r++)   /* back step r reads position base + T + M - r (rnn__bidir_inputs) */
        for (int b = 0; b < B; b++)
            if (blanked(t, (b0 + (size_t)b) * t->stream_len + base + (size_t)(T + M - r))) w->back->x[r * B + b] = -1;
}

/* Fills the workspace with chunk `chunk` of streams b0 .. b0 + w->B - 1 and their carried state (zero when
 * `fresh`). Everything depends on the stream's global index, never on which process or shard loads it. */
static void load_chunk(rnn_trainer *t, uint64_t chunk, int fresh, size_t b0) {
    workspace *w = &t->w;
    int B = w->B, T = t->m->cfg.seq;
    size_t base = (size_t)chunk * T;
    const int32_t *src = t->train + b0 * t->stream_len;
    for (int tt = 0; tt < T; tt++)
        for (int b = 0; b < B; b++) {
            size_t pos = (size_t)b * t->stream_len + base + tt;
            w->x[tt * B + b] = src[pos];
            w->y[tt * B + b] = src[pos + 1];
        }
    if (w->back) {
        rnn__bidir_inputs(w, src, t->stream_len, base, T, rnn_bidi_margin(T));
        blank_inputs(t, base, T, rnn_bidi_margin(T), b0);
    }
    state_load(t, w, fresh, b0);
}

/* Mean loss of the loaded chunk; with grad, its gradient in t->grad. Dropout masks come from *rng. */
static double chunk_loss_grad(rnn_trainer *t, int grad, uint64_t *rng) {
    workspace *w = &t->w;
    int TB = t->m->cfg.batch * t->m->cfg.seq;
    rnn__pack_weights(&t->n, w);
    rnn__layers_forward(&t->n, w, t->m->cfg.seq, 1, rng);
    double loss = rnn__softmax_loss(&t->n, w, TB, grad, 1.0f / (float)TB) / TB;
    if (grad && isfinite(loss)) {
        memset(t->grad, 0, sizeof(float) * t->m->nparams);
        rnn__layers_backward(&t->n, w, t->m->cfg.seq);
    }
    return loss;
}

/* ============================================================================================ shards */
static const uint64_t SHARD_RNG = 0xD1342543DE82EF95ull;   /* shard k's dropout RNG: the step's + k * SHARD_RNG */

/* K shards of the batch over the processes of d: -1 after writing err unless both divide. */
static int check_shards(const rnn_config *c, int shards, const rnn_dist *d, rnn_err err) {
    if (shards < 1 || shards > 65536 || c->batch % shards)
        snprintf(err, RNN_ERRLEN, "--batch %d is not divisible by --shards %d (shards must be 1..65536 and divide "
                 "the batch)", c->batch, shards);
    else if (d->size < 1 || d->rank < 0 || d->rank >= d->size || shards % d->size ||
             (d->size > 1 && (!d->reduce || !d->allgather)))
        snprintf(err, RNN_ERRLEN, "--shards %d is not divisible by the %d processes (each must own whole shards)",
                 shards, d->size);
    else
        return 0;
    return -1;
}

int rnn_trainer_set_shards(rnn_trainer *t, int shards, const rnn_dist *dist, rnn_err err) {
    const rnn_config *c = &t->m->cfg;
    rnn_dist d = dist ? *dist : (rnn_dist){.rank = 0, .size = 1};
    if (check_shards(c, shards, &d, err)) return -1;
    size_t np = t->m->nparams, nmine = d.size > 1 ? (size_t)(shards / d.size) : 1;
    free(t->sg), free(t->sloss), free(t->state_next), free(t->sbuf);
    t->sg = NULL, t->sloss = NULL, t->state_next = NULL, t->sbuf = NULL;
    rnn__ws_free(&t->w);
    t->shards = 1;
    t->dist = (rnn_dist){.rank = 0, .size = 1};
    int B = c->batch / shards, bad = rnn__ws_init(&t->w, c, t->n.V, c->seq, B, 1, t->pool);
    if (!bad && shards > 1) {
        bad = !(t->sg = rnn__big_calloc(nmine * np * sizeof(float))) ||
              !(t->sloss = calloc((size_t)shards, sizeof(double))) ||
              !(t->state_next = calloc(t->nstate, sizeof(float))) ||
              !(t->sbuf = calloc(t->nstate / (size_t)d.size + t->nstate + 1, sizeof(float)));
    }
    if (bad) {   /* back to one shard; w may be gone, so rebuild it for the whole batch */
        rnn__ws_free(&t->w);
        rnn__ws_init(&t->w, c, t->n.V, c->seq, c->batch, 1, t->pool);
        snprintf(err, RNN_ERRLEN, "out of memory");
        return -1;
    }
    t->shards = shards;
    t->dist = d;
    return 0;
}

/* Loss of shard k of the chunk (its streams loaded as load_chunk does), scaled as a part of the whole batch's mean;
 * with grad (and a finite loss) its gradient in g (nparams floats). Its final state goes to state_next. */
static double shard_pass(rnn_trainer *t, int k, uint64_t chunk, int fresh, int grad, float *g, uint64_t *rng) {
    const rnn_config *c = &t->m->cfg;
    workspace *w = &t->w;
    size_t b0 = (size_t)k * (size_t)w->B, TB = (size_t)c->batch * (size_t)c->seq;
    net n = t->n;
    rnn__param_layout(c, n.V, g, &n.g);
    load_chunk(t, chunk, fresh, b0);
    rnn__layers_forward(&n, w, c->seq, 1, rng);
    double loss = rnn__softmax_loss(&n, w, w->B * c->seq, grad, 1.0f / (float)TB) / (double)TB;
    if (grad && isfinite(loss)) {
        memset(g, 0, sizeof(float) * t->m->nparams);
        rnn__layers_backward(&n, w, c->seq);
    }
    state_store(t, w, c->seq, b0, t->state_next);
    return loss;
}

typedef struct { float *acc; const float *add; } add_args;
static void add_part(void *arg, size_t lo, size_t hi) {
    const add_args *a = arg;
    for (size_t i = lo; i < hi; i++) a->acc[i] += a->add[i];
}

/* Every process's streams' state_next into all of state_next: each packs its block of every (layer, h/c) slab,
 * the blocks are exchanged, each rank's unpacked in place. -1: the exchange failed. */
static int share_state(rnn_trainer *t) {
    const rnn_config *c = &t->m->cfg;
    size_t P = (size_t)t->dist.size, H = (size_t)c->hidden, BH = (size_t)c->batch * H, blk = BH / P;
    size_t nslab = t->nstate / BH, per = nslab * blk;
    float *mine = t->sbuf, *all = t->sbuf + per;
    for (size_t s = 0; s < nslab; s++)
        memcpy(mine + s * blk, t->state_next + s * BH + (size_t)t->dist.rank * blk, 4 * blk);
    if (t->dist.allgather(t->dist.ctx, mine, sizeof(float) * per, all)) return -1;
    for (size_t q = 0; q < P; q++)
        for (size_t s = 0; s < nslab; s++) memcpy(t->state_next + s * BH + q * blk, all + q * per + s * blk, 4 * blk);
    return 0;
}

/* The chunk's loss over all K shards and, with grad, their gradient summed in shard order into t->grad (only
 * when the loss is finite); *rng advances as one shard's draws do. Several processes: each computes its shards,
 * the losses are gathered, then the gradients reduced. NaN: an exchange failed. */
static double sharded_loss_grad(rnn_trainer *t, uint64_t chunk, int fresh, int grad, uint64_t *rng) {
    int K = t->shards, P = t->dist.size, nmine = K / P, k0 = t->dist.rank * nmine;
    size_t np = t->m->nparams;
    uint64_t delta = 0;
    rnn__pack_weights(&t->n, &t->w);
    for (int j = 0; j < nmine; j++) {
        int k = k0 + j;
        float *g = P > 1 ? t->sg + (size_t)j * np : j == 0 ? t->grad : t->sg;
        uint64_t r0 = *rng + (uint64_t)k * SHARD_RNG, r = r0;
        t->sloss[k] = shard_pass(t, k, chunk, fresh, grad, g, &r);
        delta = r - r0;
        if (P == 1 && j > 0 && grad && isfinite(t->sloss[k])) {   /* ((g0 + g1) + g2) + ... */
            add_args a = {t->grad, g};
            rnn__mat_pool_for(t->pool, np, 1 << 15, add_part, &a);
        }
    }
    *rng += delta;
    if (P > 1 && t->dist.allgather(t->dist.ctx, t->sloss + k0, sizeof(double) * (size_t)nmine, t->sloss)) return NAN;
    double loss = 0;
    for (int k = 0; k < K; k++) loss += t->sloss[k];
    if (!grad || !isfinite(loss) || P == 1) return loss;
    if (t->dist.reduce(t->dist.ctx, t->sg, nmine, np, t->grad)) return NAN;
    return loss;
}

/* The chunk's loss and, with grad, gradient in t->grad, with or without shards. */
static double step_loss_grad(rnn_trainer *t, uint64_t chunk, int fresh, int grad, uint64_t *rng) {
    if (t->shards > 1) return sharded_loss_grad(t, chunk, fresh, grad, rng);
    load_chunk(t, chunk, fresh, 0);
    return chunk_loss_grad(t, grad, rng);
}

/* The averaged weights after step `step` (>= 1) of the trained ones (rnn.h "rnn_schedule"). */
typedef struct { const float *w; float *avg; float d, e; } avg_args;
static void average_part(void *arg, size_t lo, size_t hi) {
    const avg_args *a = arg;
    for (size_t i = lo; i < hi; i++) a->avg[i] = a->d * a->avg[i] + a->e * a->w[i];
}
static void average_step(rnn_trainer *t, uint64_t step) {
    double D = t->sched.ema, d = D * (1 - pow(D, (double)(step - 1))) / (1 - pow(D, (double)step));
    avg_args a = {t->raw, t->m->params, (float)d, (float)(1 - d)};
    rnn__mat_pool_for(t->pool, t->m->nparams, 1 << 15, average_part, &a);
}

double rnn_train_step(rnn_trainer *t) {
    const rnn_config *c = &t->m->cfg;
    uint64_t chunk = t->chunk;
    float lr = next_peak(t), lr_step = next_lr(t);
    int wrap = chunk >= t->nchunks;   /* epoch end: streams restart from their beginnings with a zero state */
    if (wrap) chunk = 0;
    uint64_t rng = t->rng;
    double loss = step_loss_grad(t, chunk, wrap, 1, &rng);
    if (!isfinite(loss)) return loss;
    if (t->dist.size > 1 && share_state(t)) return NAN;
    double norm = optimizer_step(t, lr_step);
    if (!isfinite(norm)) return norm;
    /* Commit: only a finite step advances the epoch, the data position, the lr, the RNG and the state. */
    if (wrap) t->epoch++;
    t->chunk = chunk;
    t->lr = lr;
    t->rng = rng;
    if (t->shards > 1) {
        float *s = t->state;
        t->state = t->state_next, t->state_next = s;
    } else {
        state_store(t, &t->w, c->seq, 0, t->state);
    }
    t->chunk++;
    t->m->prog.step++;
    t->m->prog.chars += (uint64_t)c->batch * c->seq;
    t->fixed = 1;
    if (t->raw) average_step(t, t->m->prog.step);
    return loss;
}

double rnn__trainer_eval_chunk(rnn_trainer *t, int grad, float **grad_out) {
    uint64_t rng = t->rng;
    int wrap = t->chunk >= t->nchunks;   /* the next step would start a new epoch */
    double loss = step_loss_grad(t, wrap ? 0 : t->chunk, wrap, grad, &rng);
    if (grad_out) *grad_out = t->grad;
    return loss;
}


double rnn_validate(rnn_trainer *t) {
    if (t->n_val < 2) return NAN;
    net nv = t->n;   /* the model's parameters: with averaging, the average, not the trained weights */
    rnn__param_layout(&t->m->cfg, nv.V, t->m->params, &nv.p);
    double v = rnn__stream_loss(&nv, &t->we, t->val, t->n_val);
    rnn_progress *p = &t->m->prog;
    p->last_val = (float)v;
    if (isnan(p->best_val) || v < p->best_val) p->best_val = (float)v;
    return v;
}
