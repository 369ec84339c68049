/* rnn.c — the model: the config check, the parameter layout and its initialisation, the workspace of one chunk,
 * the forward and backward passes of the tanh RNN, LSTM and GRU cells through all layers of one or two directions
 * (bidirectional models: a forward and a backward stack joined at the output layer), the softmax loss, and the
 * loss of one stream with carried state (validation, and later scoring; the cloze loss of a bidirectional model).
 *
 * Owns: rnn_config_*, rnn_cell_name, rnn_model_* and the entry points of rnn_net.h (shared with the trainer in
 * rnn_train.c and the generator in rnn_gen.c).
 * Must not know: where the symbols come from (rnn_text.c), optimizers, data streams and budgets (rnn_train.c),
 * sampling (rnn_gen.c), the file format (rnn_ckpt.c). Every product goes through rnn_mat.h. */
#include "rnn_net.h"
#include "rnn_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================================================ config */
void rnn_config_default(rnn_config *c) {
    *c = (rnn_config){.cell = RNN_CELL_RNN, .layers = 1, .hidden = 256, .batch = 32, .seq = 64,
                      .optim = RNN_OPT_ADAM, .lr = 3e-3f, .lr_decay = 1.0f, .clip = 5.0f, .dropout = 0.0f,
                      .val_frac = 0.1f, .forget_bias = 0.0f, .seed = 1234, .bidir = 0, .precision = RNN_PREC_FP32};
}

int rnn_config_check(const rnn_config *c, rnn_err err) {
#define BAD(...) do { snprintf(err, RNN_ERRLEN, __VA_ARGS__); return -1; } while (0)
    if (c->cell < 0 || c->cell > RNN_CELL_GRU) BAD("unknown cell kind %d", c->cell);
    if (c->layers < 1 || c->layers > RNN_MAX_LAYERS) BAD("layers must be 1..%d", RNN_MAX_LAYERS);
    if (c->hidden < 1 || c->hidden > RNN_MAX_HIDDEN) BAD("hidden size must be 1..%d", RNN_MAX_HIDDEN);
    if (c->batch < 1 || c->batch > 65536) BAD("batch must be 1..65536");
    if (c->seq < 1 || c->seq > 65536) BAD("seq must be 1..65536");
    if ((int64_t)c->batch * c->seq > (1 << 24)) BAD("batch x seq must be at most 16777216");
    if (c->optim < 0 || c->optim > RNN_OPT_SGD) BAD("unknown optimizer %d", c->optim);
    if (!(c->lr > 0 && c->lr <= 100)) BAD("learning rate must be in (0, 100]");
    if (!(c->lr_decay > 0 && c->lr_decay <= 1)) BAD("learning-rate decay must be in (0, 1]");
    if (!(c->clip >= 0 && c->clip <= 1e6f)) BAD("clip must be 0..1e6");
    if (!(c->dropout >= 0 && c->dropout < 1)) BAD("dropout must be in [0, 1)");
    if (!(c->val_frac >= 0 && c->val_frac < 1)) BAD("validation fraction must be in [0, 1)");
    if (!(c->forget_bias >= -100 && c->forget_bias <= 100)) BAD("forget-gate bias must be -100..100");
    if (c->bidir != 0 && c->bidir != 1) BAD("bidir must be 0 or 1");
    if (c->precision != RNN_PREC_FP32 && c->precision != RNN_PREC_BF16) BAD("unknown precision %d", c->precision);
#undef BAD
    return 0;
}

const char *rnn_precision_name(int precision) { return precision == RNN_PREC_BF16 ? "bf16" : "fp32"; }
const char *const *rnn_precision_names(void) {
    static const char *const names[] = {"fp32", "bf16", NULL};
    return names;
}

int rnn_model_set_precision(rnn_model *m, int precision, rnn_err err) {
    if (precision != RNN_PREC_FP32 && precision != RNN_PREC_BF16) {
        snprintf(err, RNN_ERRLEN, "unknown precision %d", precision);
        return -1;
    }
    m->cfg.precision = precision;
    return 0;
}

const char *rnn_cell_name(int cell) {
    return cell == RNN_CELL_LSTM ? "lstm" : cell == RNN_CELL_GRU ? "gru" : "rnn";
}

/* ============================================================================================ parameters */
/* Named views into one flat buffer: parameters, gradients and optimizer moments all share this layout. */

/* Lays out the tensors of config c with vocabulary V on `base` (may be NULL to only count). Returns the count,
 * or 0 if it would not fit in memory arithmetic. */
size_t rnn__param_layout(const rnn_config *c, int V, float *base, param_view *v) {
    size_t H = (size_t)c->hidden, GH = (size_t)rnn_cell_gates(c->cell) * H, off = 0, D = c->bidir ? 2 : 1;
    double total = 0;
    for (int l = 0; l < c->layers; l++) {
        size_t I = l == 0 ? (size_t)V : H;
        total += D * ((double)I * GH + H * GH + GH + (c->cell == RNN_CELL_GRU ? H : 0));
    }
    total += (double)D * H * V + V;
    if (total > (double)(SIZE_MAX / sizeof(float)) / 4 || total > 4e9) return 0;
    param_view tmp;
    if (!v) v = &tmp;
    memset(v, 0, sizeof *v);
#define TAKE(n) (base ? base + (off += (n)) - (n) : (off += (n), NULL))
    for (int l = 0; l < c->layers; l++) {   /* per layer: the forward direction, then (bidirectional) the backward */
        size_t I = l == 0 ? (size_t)V : H;
        for (size_t d = 0; d < D; d++) {
            layer_view *lv = d ? &v->lb[l] : &v->l[l];
            lv->wx = TAKE(I * GH);
            lv->wh = TAKE(H * GH);
            lv->b = TAKE(GH);
            lv->bhn = c->cell == RNN_CELL_GRU ? TAKE(H) : NULL;
        }
    }
    v->wy = TAKE(D * H * (size_t)V);
    v->by = TAKE((size_t)V);
#undef TAKE
    return off;
}

size_t rnn_param_count(const rnn_config *c, int V) { return rnn__param_layout(c, V, NULL, NULL); }

/* How many leading gate blocks of a layer's b stand for two of PyTorch's biases (rnn__param_twins): the tanh RNN's one,
 * the GRU's r and z (PyTorch adds b_hn inside r * (...), so n's is bhn apart); none for the LSTM, which keeps one
 * bias per gate (measured: docs/quality.md "2000 steps against PyTorch"). */
static size_t twin_blocks(int cell) { return cell == RNN_CELL_RNN ? 1 : cell == RNN_CELL_GRU ? 2 : 0; }

size_t rnn__param_twins(const rnn_config *c, const param_view *v, const float *base, param_range *out) {
    size_t n = 0, D = c->bidir ? 2 : 1, count = twin_blocks(c->cell) * (size_t)c->hidden;
    if (!count) return 0;
    for (int l = 0; l < c->layers; l++)   /* in layout order (rnn__param_layout): offsets ascend */
        for (size_t d = 0; d < D; d++) {
            const layer_view *lv = d ? &v->lb[l] : &v->l[l];
            out[n].offset = (size_t)(lv->b - base), out[n].count = count, n++;
        }
    return n;
}

rnn_model *rnn__model_alloc(const rnn_config *c, const rnn_vocab *vocab, rnn_err err) {
    if (rnn_config_check(c, err)) return NULL;
    size_t np = rnn_param_count(c, vocab->size);
    if (!np) { snprintf(err, RNN_ERRLEN, "model too large"); return NULL; }
    rnn_model *m = calloc(1, sizeof *m);
    if (!m) goto oom;
    m->cfg = *c;
    m->nparams = np;
    m->params = rnn__big_calloc(sizeof(float) * np);
    m->vocab = *vocab;
    m->vocab.sym = malloc(sizeof(uint32_t) * vocab->size);
    if (!m->params || !m->vocab.sym) { rnn_model_free(m); goto oom; }
    memcpy(m->vocab.sym, vocab->sym, sizeof(uint32_t) * vocab->size);
    m->prog.last_val = m->prog.best_val = NAN;
    return m;
oom:
    snprintf(err, RNN_ERRLEN, "out of memory for a model of %zu parameters", np);
    return NULL;
}

rnn_model *rnn_model_new(const rnn_config *c, const rnn_vocab *vocab, rnn_err err) {
    rnn_model *m = rnn__model_alloc(c, vocab, err);
    if (!m) return NULL;
    /* Weights uniform in +-1/sqrt(H) (as PyTorch's RNN/LSTM/GRU and Linear on H inputs). The tanh RNN and
     * the GRU start their biases as PyTorch's, drawn after all weights layer by layer: each entry uniform in
     * +-1/sqrt(H), an entry that stands for two of PyTorch's (twin_blocks, rnn__param_twins) the sum of two
     * such draws. The LSTM's are 0, the forget gate's at c->forget_bias (default 0: measured, 1 learns far
     * slower here; docs/quality.md "2000 steps against PyTorch"). The tanh RNN's output bias is uniform in
     * +-1/sqrt(D*H), as nn.Linear's; the gated cells' is 0, and charrnn train mostly sets it to the unigram
     * (rnn_trainer_fit_output_bias; cmd_train.c unigram_start says when). */
    uint64_t rng = c->seed;
    param_view v;
    rnn__param_layout(c, m->vocab.size, m->params, &v);
    float k = 1.0f / sqrtf((float)c->hidden);
    size_t H = (size_t)c->hidden, GH = rnn_cell_gates(c->cell) * H, D = c->bidir ? 2 : 1;
    size_t TW = twin_blocks(c->cell) * H;   /* b[0, TW) are twins: each the sum of two draws */
    for (int l = 0; l < c->layers; l++) {
        size_t I = l == 0 ? (size_t)m->vocab.size : H;
        for (size_t d = 0; d < D; d++) {
            layer_view *lv = d ? &v.lb[l] : &v.l[l];
            for (size_t i = 0; i < I * GH; i++) lv->wx[i] = (float)((2 * rng_uniform(&rng) - 1) * k);
            for (size_t i = 0; i < H * GH; i++) lv->wh[i] = (float)((2 * rng_uniform(&rng) - 1) * k);
            for (size_t i = 0; i < GH; i++) lv->b[i] = (c->cell == RNN_CELL_LSTM && i >= H && i < 2 * H) ? c->forget_bias : 0.0f;
            if (lv->bhn) memset(lv->bhn, 0, sizeof(float) * H);
        }
    }
    float ky = 1.0f / sqrtf((float)(D * H));   /* 1/sqrt(fan-in): the output layer reads D*H states */
    for (size_t i = 0; i < D * H * m->vocab.size; i++) v.wy[i] = (float)((2 * rng_uniform(&rng) - 1) * ky);
    memset(v.by, 0, sizeof(float) * m->vocab.size);
    if (c->cell != RNN_CELL_LSTM)
        for (int l = 0; l < c->layers; l++)
            for (size_t d = 0; d < D; d++) {
                layer_view *lv = d ? &v.lb[l] : &v.l[l];
                for (size_t i = 0; i < GH; i++) {
                    double first = (2 * rng_uniform(&rng) - 1) * k;
                    lv->b[i] = (float)(i < TW ? first + (2 * rng_uniform(&rng) - 1) * k : first);
                }
                for (size_t i = 0; lv->bhn && i < H; i++) lv->bhn[i] = (float)((2 * rng_uniform(&rng) - 1) * k);
            }
    if (c->cell == RNN_CELL_RNN)
        for (size_t i = 0; i < (size_t)m->vocab.size; i++) v.by[i] = (float)((2 * rng_uniform(&rng) - 1) * ky);
    return m;
}

/* Copies base's tensors into m (same shape but a vocabulary that holds base's: base's symbol i is m's map[i]). */
static void copy_remapped(rnn_model *m, const rnn_model *base, const int32_t *map) {
    param_view to, from;
    const rnn_config *c = &base->cfg;
    size_t V0 = (size_t)base->vocab.size, V1 = (size_t)m->vocab.size, H = (size_t)c->hidden;
    size_t GH = rnn_cell_gates(c->cell) * H, D = c->bidir ? 2 : 1;
    rnn__param_layout(c, (int)V1, m->params, &to);
    rnn__param_layout(c, (int)V0, base->params, &from);
    for (int l = 0; l < c->layers; l++)
        for (size_t d = 0; d < D; d++) {   /* each direction's layers (bidirectional: the backward one too) */
            layer_view *t = d ? &to.lb[l] : &to.l[l];
            const layer_view *f = d ? &from.lb[l] : &from.l[l];
            if (l == 0) {
                for (size_t i = 0; i < V0; i++) memcpy(t->wx + (size_t)map[i] * GH, f->wx + i * GH, sizeof(float) * GH);
            } else {
                memcpy(t->wx, f->wx, sizeof(float) * H * GH);
            }
            memcpy(t->wh, f->wh, sizeof(float) * H * GH);
            memcpy(t->b, f->b, sizeof(float) * GH);
            if (f->bhn) memcpy(t->bhn, f->bhn, sizeof(float) * H);
        }
    for (size_t h = 0; h < D * H; h++)
        for (size_t i = 0; i < V0; i++) to.wy[h * V1 + (size_t)map[i]] = from.wy[h * V0 + i];
    for (size_t i = 0; i < V0; i++) to.by[map[i]] = from.by[i];
}

rnn_model *rnn_model_extend(const rnn_model *base, const char *base_name, const rnn_config *c,
                            const rnn_vocab *merged, rnn_err err) {
    const rnn_config *b = &base->cfg;
    if (c->cell != b->cell || c->layers != b->layers || c->hidden != b->hidden || c->bidir != b->bidir) {
        snprintf(err, RNN_ERRLEN, "the base model is %s%s %d x %d, not %s%s %d x %d", b->bidir ? "bidirectional " : "",
                 rnn_cell_name(b->cell), b->layers, b->hidden, c->bidir ? "bidirectional " : "", rnn_cell_name(c->cell),
                 c->layers, c->hidden);
        return NULL;
    }
    size_t nlen = strlen(base_name);
    if (nlen < 1 || nlen > RNN_MAX_ORIGIN_NAME) {
        snprintf(err, RNN_ERRLEN, "the base model's name must be 1..%d bytes", RNN_MAX_ORIGIN_NAME);
        return NULL;
    }
    int32_t *map = malloc(sizeof(int32_t) * (size_t)base->vocab.size);
    if (!map) { snprintf(err, RNN_ERRLEN, "out of memory"); return NULL; }
    int j = 0, ok = merged->unit == base->vocab.unit;
    for (int i = 0; ok && i < base->vocab.size; i++) {   /* both sorted: one pass finds every old symbol's new id */
        while (j < merged->size && merged->sym[j] < base->vocab.sym[i]) j++;
        ok = j < merged->size && merged->sym[j] == base->vocab.sym[i];
        map[i] = j;
    }
    if (!ok) {
        free(map);
        snprintf(err, RNN_ERRLEN, "the new vocabulary does not hold every symbol of the base model's");
        return NULL;
    }
    rnn_model *m = rnn_model_new(c, merged, err);   /* fresh rows and columns for new symbols, as a new model's */
    if (m) m->origin.name = malloc(nlen + 1);
    if (m && !m->origin.name) { rnn_model_free(m); m = NULL; snprintf(err, RNN_ERRLEN, "out of memory"); }
    if (m) {
        copy_remapped(m, base, map);
        memcpy(m->origin.name, base_name, nlen + 1);
        m->origin.step = base->prog.step;
        m->origin.vocab_size = base->vocab.size;
        m->origin.best_val = base->prog.best_val;
    }
    free(map);
    return m;
}

const rnn_origin *rnn_model_origin(const rnn_model *m) { return m->origin.name ? &m->origin : NULL; }

void rnn_model_free(rnn_model *m) {
    if (!m) return;
    free(m->origin.name);
    free(m->params);
    rnn_vocab_free(&m->vocab);
    free(m);
}

const rnn_config *rnn_model_config(const rnn_model *m) { return &m->cfg; }
const rnn_vocab *rnn_model_vocab(const rnn_model *m) { return &m->vocab; }
size_t rnn_model_nparams(const rnn_model *m) { return m->nparams; }
float *rnn_model_params(rnn_model *m) { return m->params; }
rnn_progress *rnn_model_progress(rnn_model *m) { return &m->prog; }

/* ============================================================================================ workspace */

void rnn__ws_free(workspace *w) {
    if (w->back) {
        rnn__ws_free(w->back);
        free(w->back);
    }
    free(w->block);
    memset(w, 0, sizeof *w);
}

/* Allocates a workspace in one block; pool (non-NULL) sets the packed weights' size. */
int rnn__ws_init(workspace *w, const rnn_config *c, int V, int Tmax, int B, int train, const mat_pool *pool) {
    memset(w, 0, sizeof *w);
    w->Tmax = Tmax;
    w->B = B;
    size_t T = (size_t)Tmax, H = (size_t)c->hidden, GH = rnn_cell_gates(c->cell) * H, TB = T * B, L = c->layers;
    int lstm = c->cell == RNN_CELL_LSTM, gru = c->cell == RNN_CELL_GRU, drop = train && c->dropout > 0;
    /* Two passes: count floats, then hand out pointers. Each buffer is rounded up to 16 floats (64 bytes). */
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
        char *base = w->block;
#define GIVE(ptr, type, n)                                                                                  \
    do {                                                                                                    \
        if (pass) ptr = (type *)(void *)(base + off);                                                       \
        off += ((size_t)(n) * sizeof(type) + 63) & ~(size_t)63;                                             \
    } while (0)
        GIVE(w->x, int32_t, TB);
        GIVE(w->y, int32_t, TB);
        for (size_t l = 0; l < L; l++) {
            if (c->cell != RNN_CELL_RNN) GIVE(w->a[l], float, TB * GH);   /* RNN: a is h's slots 1..T, see below */
            GIVE(w->h[l], float, (T + 1) * B * H);
            if (lstm) { GIVE(w->c[l], float, (T + 1) * B * H); GIVE(w->tc[l], float, TB * H); }
            if (gru) GIVE(w->hn[l], float, TB * H);
            if (drop && l > 0) { GIVE(w->mask[l], float, TB * H); GIVE(w->xd[l], float, TB * H); }
            GIVE(w->whp[l].data, float, rnn__mat_packed_size(pool, c->hidden, (int)GH));
            if (train) GIVE(w->whtp[l].data, float, rnn__mat_packed_size(pool, (int)GH, c->hidden));
            if (!train && l > 0) GIVE(w->wxp[l].data, float, rnn__mat_packed_size(pool, c->hidden, (int)GH));
        }
        for (int d = 0; d < 1 + c->bidir && !train && V > 0; d++)
            GIVE(w->wyp[d].data, float, rnn__mat_packed_size(pool, c->hidden, V));
        GIVE(w->logits, float, TB * V);
        if (c->bidir) GIVE(w->topb, float, TB * H);
        GIVE(w->rowloss, double, TB);
        GIVE(w->rec, float, B * GH);
        if (train) {
            GIVE(w->dh, float, TB * H);
            GIVE(w->dgx, float, TB * GH);
            if (gru) GIVE(w->dgh, float, TB * GH);
            GIVE(w->dhc, float, B * H);
            GIVE(w->dcc, float, B * H);
            GIVE(w->dht, float, B * H);
        }
#undef GIVE
        if (!pass) {
            w->block = rnn__big_calloc(off);
            if (!w->block) return -1;
        }
    }
    if (!gru) w->dgh = w->dgx;   /* RNN and LSTM: the recurrent side sees the same gate gradients */
    if (c->cell == RNN_CELL_RNN)   /* the pre-activation of step t is built in place in h's slot t + 1 */
        for (size_t l = 0; l < L; l++) w->a[l] = w->h[l] + (size_t)B * H;
    if (c->bidir) {   /* the backward stack: the same layers, no logits, room for the margin */
        rnn_config one = *c;
        one.bidir = 0;
        w->margin = rnn_bidi_margin(Tmax);
        if (!(w->back = calloc(1, sizeof *w->back))) return -1;
        if (rnn__ws_init(w->back, &one, 0, Tmax + w->margin - 1, B, train, pool)) return -1;
    }
    return 0;
}

/* Runs the next chunks on the first B streams only (B <= the B of rnn__ws_init): the time-major buffers are then
 * laid out with B rows per step, so slot 0's first B rows (the carried state) stay where they were. */
void rnn__ws_set_batch(workspace *w, const rnn_config *c, int B) {
    w->B = B;
    if (c->cell == RNN_CELL_RNN)
        for (int l = 0; l < c->layers; l++) w->a[l] = w->h[l] + (size_t)B * c->hidden;
}

/* Packs the Wh of the stack `pl` (n->p.l or n->p.lb) into w (a workspace without `back`). */
void rnn__pack_stack(const net *n, const layer_view *pl, workspace *w) {
    int H = n->c->hidden, GH = rnn_cell_gates(n->c->cell) * H;
    for (int l = 0; l < n->c->layers; l++) {
        rnn__mat_pack(n->pool, &w->whp[l], H, GH, pl[l].wh, GH, 0);
        if (w->whtp[l].data) rnn__mat_pack(n->pool, &w->whtp[l], GH, H, pl[l].wh, GH, 1);
        if (w->wxp[l].data) rnn__mat_pack(n->pool, &w->wxp[l], H, GH, pl[l].wx, GH, 0);
    }
}

/* Packs every layer's Wh (and Wh^T for training) once per parameter update (both directions). */
void rnn__pack_weights(const net *n, workspace *w) {
    int H = n->c->hidden, V = n->V;
    rnn__pack_stack(n, n->p.l, w);
    for (int d = 0; d < 2; d++)
        if (w->wyp[d].data) rnn__mat_pack(n->pool, &w->wyp[d], H, V, n->p.wy + (size_t)d * H * V, V, 0);
    if (w->back) rnn__pack_stack(n, n->p.lb, w->back);
}

/* h_t (B, H) from the step's gate pre-activations a_t (B, GH, input part + bias + for RNN/LSTM the recurrent
 * product), the previous state, and for GRU the recurrent product rec (B, GH). Writes the cell's caches. */
RNN_CLONES static void cell_forward(int cell, int B, int H, float *a, const float *hprev, float *h,
                                    const float *cprev, float *cnext, float *tc, const float *rec, const float *bhn,
                                    float *hn) {
    int GH = rnn_cell_gates(cell) * H;
    if (cell == RNN_CELL_RNN) {   /* a and h are the same buffer (see rnn__ws_init) */
        vec_tanh(h, B * H);
        return;
    }
    for (int b = 0; b < B; b++) {
        float *ab = a + (size_t)b * GH, *hb = h + (size_t)b * H;
        const float *hp = hprev + (size_t)b * H;
        if (cell == RNN_CELL_LSTM) {
            float *cb = cnext + (size_t)b * H, *tb = tc + (size_t)b * H;
            const float *cp = cprev + (size_t)b * H;
            vec_sigmoid(ab, 2 * H);            /* i, f */
            vec_tanh(ab + 2 * H, H);           /* g */
            vec_sigmoid(ab + 3 * H, H);        /* o */
            const float *i = ab, *f = ab + H, *g = ab + 2 * H, *o = ab + 3 * H;
            for (int j = 0; j < H; j++) tb[j] = cb[j] = f[j] * cp[j] + i[j] * g[j];
            vec_tanh(tb, H);
            for (int j = 0; j < H; j++) hb[j] = o[j] * tb[j];
        } else {   /* GRU, PyTorch's formulation: n = tanh(x Wx_n + b_n + r * (h Wh_n + bhn)) */
            const float *rb = rec + (size_t)b * GH;
            float *r = ab, *z = ab + H, *nn = ab + 2 * H, *hnb = hn + (size_t)b * H;
            for (int j = 0; j < 2 * H; j++) ab[j] += rb[j];
            vec_sigmoid(ab, 2 * H);            /* r, z */
            for (int j = 0; j < H; j++) {
                hnb[j] = rb[2 * H + j] + bhn[j];
                nn[j] += r[j] * hnb[j];
            }
            vec_tanh(nn, H);
            for (int j = 0; j < H; j++) hb[j] = (1.0f - z[j]) * nn[j] + z[j] * hp[j];
        }
    }
}

/* ---- Parallel pieces. Each splits only per-row or per-column work, so no result depends on the threads. */
/* Rows of one time step for cell_forward / cell_backward; all pointers are to row 0 of the step. */
typedef struct {
    int cell, H;
    float *a, *h, *cnext, *tc, *hn, *dht, *dgx, *dgh, *dhc, *dcc;
    const float *hprev, *cprev, *rec, *bhn, *dho;
} step_rows;

static size_t row_grain(int width) { return (size_t)(width >= 16384 ? 1 : 16384 / width); }
#define OFF(p, k) ((p) ? (p) + (k) : NULL)

static void cell_forward_rows(void *arg, size_t lo, size_t hi) {
    const step_rows *s = arg;
    size_t H = (size_t)s->H, GH = rnn_cell_gates(s->cell) * H;
    cell_forward(s->cell, (int)(hi - lo), s->H, s->a + lo * GH, s->hprev + lo * H, s->h + lo * H,
                 OFF(s->cprev, lo * H), OFF(s->cnext, lo * H), OFF(s->tc, lo * H), OFF(s->rec, lo * GH), s->bhn,
                 OFF(s->hn, lo * H));
}

/* out (rows, cols) = [out +] src rows gathered by ids (or src itself when ids is NULL) + bias. */
typedef struct { float *out; const float *src; const int32_t *ids; const float *bias; int cols; } row_bias;

RNN_CLONES static void add_bias_rows(void *arg, size_t lo, size_t hi) {
    const row_bias *s = arg;
    size_t C = (size_t)s->cols;
    for (size_t r = lo; r < hi; r++) {
        float *dst = s->out + r * C;
        if (s->ids && s->ids[r] < 0) {   /* "no input" (a blank, an unknown symbol): the bias alone */
            memcpy(dst, s->bias, sizeof(float) * C);
            continue;
        }
        const float *src = s->ids ? s->src + (size_t)s->ids[r] * C : dst;
        for (size_t j = 0; j < C; j++) dst[j] = src[j] + s->bias[j];
    }
}

/* Dropout: mask[i] = 1/(1-p) or 0 from a hash of (per-step seed, i), so any split draws the same masks. */
typedef struct { float *mask, *xd; const float *in; uint64_t seed; float keep; } drop_args;

static void dropout_part(void *arg, size_t lo, size_t hi) {
    const drop_args *s = arg;
    float scale = 1.0f / s->keep;
    for (size_t i = lo; i < hi; i++) {
        uint64_t z = mix64(s->seed + i * 0x9E3779B97F4A7C15ull);
        s->mask[i] = (double)(z >> 11) * 0x1.0p-53 < s->keep ? scale : 0.0f;
        s->xd[i] = s->in[i] * s->mask[i];
    }
}

typedef struct { float *x; const float *m; } mul_args;
RNN_CLONES static void mul_part(void *arg, size_t lo, size_t hi) {
    const mul_args *s = arg;
    for (size_t i = lo; i < hi; i++) s->x[i] *= s->m[i];
}

/* Runs the layers of one direction's stack `pl` over T steps of w->x (slot 0 of h[l] and c[l]: the state carried
 * in), no output projection. With train and dropout, draws the masks from *rng. */
void rnn__stack_forward(const net *n, const layer_view *pl, workspace *w, int T, int train, uint64_t *rng) {
    const rnn_config *c = n->c;
    int B = w->B, H = c->hidden, GH = rnn_cell_gates(c->cell) * H, TB = T * B;
    for (int l = 0; l < c->layers; l++) {
        const layer_view *p = &pl[l];
        float *a = w->a[l];
        /* Input side of every step at once: a = x Wx + b (layer 0: one-hot x, so a row of Wx). */
        row_bias rb = {a, p->wx, NULL, p->b, GH};
        if (l == 0) {
            rb.ids = w->x;
        } else {
            const float *in = w->h[l - 1] + (size_t)B * H;
            if (train && w->mask[l]) {
                drop_args d = {w->mask[l], w->xd[l], in, rng_next(rng), 1.0f - c->dropout};
                rnn__mat_pool_for(n->pool, (size_t)TB * H, 16384, dropout_part, &d);
                in = w->xd[l];
            }
            if (w->wxp[l].data) rnn__mat_mul_packed(n->pool, TB, in, H, 0, &w->wxp[l], a, GH, 0);
            else rnn__mat_mul(n->pool, TB, GH, H, in, H, 0, p->wx, GH, 0, a, GH, 0);
        }
        rnn__mat_pool_for(n->pool, (size_t)TB, row_grain(GH), add_bias_rows, &rb);
        /* The recurrence, one step at a time over the batch. */
        for (int t = 0; t < T; t++) {
            size_t sB = (size_t)t * B;
            float *at = a + sB * GH;
            const float *hp = w->h[l] + sB * H;
            if (c->cell == RNN_CELL_GRU) rnn__mat_mul_packed(n->pool, B, hp, H, 0, &w->whp[l], w->rec, GH, 0);
            else rnn__mat_mul_packed(n->pool, B, hp, H, 0, &w->whp[l], at, GH, 1);
            step_rows s = {.cell = c->cell, .H = H, .a = at, .h = w->h[l] + sB * H + (size_t)B * H,
                           .cnext = OFF(w->c[l], sB * H + (size_t)B * H), .tc = OFF(w->tc[l], sB * H),
                           .hn = OFF(w->hn[l], sB * H), .hprev = hp, .cprev = OFF(w->c[l], sB * H), .rec = w->rec,
                           .bhn = p->bhn};
            rnn__mat_pool_for(n->pool, (size_t)B, row_grain(GH * 8), cell_forward_rows, &s);
        }
    }
}

/* Bidirectional: fills w->back's inputs for the targets src[b*stride + base + 1 + t], t < T, of each stream b:
 * the backward direction reads src[b*stride + base + T + M] down to src[b*stride + base + 2]. */
void rnn__bidir_inputs(workspace *w, const int32_t *src, size_t stride, size_t base, int T, int M) {
    int B = w->B;
    w->back->Tb = T + M - 1;
    for (int r = 0; r < w->back->Tb; r++)
        for (int b = 0; b < B; b++) w->back->x[r * B + b] = src[(size_t)b * stride + base + (size_t)(T + M - r)];
}

/* The backward stack from a zero state over its Tb steps; then back's top slot Tb - t (the state after the
 * symbols after target t) copied to row block t of w->topb, t < T. */
static void backward_direction(const net *n, workspace *w, int T, int train, uint64_t *rng) {
    workspace *k = w->back;
    size_t BH = (size_t)w->B * n->c->hidden;
    rnn__zero_state(k, n->c->layers, BH);
    if (k->Tb > 0) rnn__stack_forward(n, n->p.lb, k, k->Tb, train, rng);
    const float *top = k->h[n->c->layers - 1];
    for (int t = 0; t < T; t++) memcpy(w->topb + t * BH, top + (size_t)(k->Tb - t) * BH, sizeof(float) * BH);
}

/* Runs all layers over T steps of w->x (h[l] block 0 and c[l] block 0 hold the state carried in), then the
 * output projection into w->logits (see rnn_net.h for the bidirectional case). */
void rnn__layers_forward(const net *n, workspace *w, int T, int train, uint64_t *rng) {
    const rnn_config *c = n->c;
    int B = w->B, H = c->hidden, TB = T * B, V = n->V;
    rnn__stack_forward(n, n->p.l, w, T, train, rng);
    if (w->back) backward_direction(n, w, T, train, rng);
    /* Output projection of every position at once: [forward top ; backward top] Wy + by. */
    const float *top = w->h[c->layers - 1] + (size_t)B * H;
    if (w->wyp[0].data) rnn__mat_mul_packed(n->pool, TB, top, H, 0, &w->wyp[0], w->logits, V, 0);
    else rnn__mat_mul(n->pool, TB, V, H, top, H, 0, n->p.wy, V, 0, w->logits, V, 0);
    if (w->back && w->wyp[1].data) rnn__mat_mul_packed(n->pool, TB, w->topb, H, 0, &w->wyp[1], w->logits, V, 1);
    else if (w->back) rnn__mat_mul(n->pool, TB, V, H, w->topb, H, 0, n->p.wy + (size_t)H * V, V, 0, w->logits, V, 1);
    row_bias ob = {w->logits, NULL, NULL, n->p.by, V};
    rnn__mat_pool_for(n->pool, (size_t)TB, row_grain(V), add_bias_rows, &ob);
}

/* Softmax cross-entropy of logits rows against targets; per-row losses to rowloss. With grad, replaces the
 * logits by d(mean loss)/d(logits) = (p - onehot(y)) * scale. */
typedef struct { float *logits; const int32_t *y; double *rowloss; int V, grad; float scale; } softmax_args;

RNN_CLONES static void softmax_rows(void *arg, size_t lo, size_t hi) {
    const softmax_args *s = arg;
    int V = s->V;
    for (size_t r = lo; r < hi; r++) {
        float *z = s->logits + r * V, mx = z[0];
        for (int j = 1; j < V; j++) mx = z[j] > mx ? z[j] : mx;
        float zy = z[s->y[r]] - mx;
        for (int j = 0; j < V; j++) z[j] -= mx;
        vec_exp(z, V);
        double sum = 0;
        for (int j = 0; j < V; j++) sum += z[j];
        s->rowloss[r] = log(sum) - zy;
        if (s->grad) {
            float inv = (float)(1.0 / sum) * s->scale;
            for (int j = 0; j < V; j++) z[j] *= inv;
            z[s->y[r]] -= s->scale;
        }
    }
}

/* Summed loss (nats) of the first `rows` rows of w->logits against w->y; see softmax_rows. */
double rnn__softmax_loss(const net *n, workspace *w, int rows, int grad, float scale) {
    softmax_args s = {w->logits, w->y, w->rowloss, n->V, grad, scale};
    rnn__mat_pool_for(n->pool, (size_t)rows, row_grain(n->V * 4), softmax_rows, &s);
    double total = 0;
    for (int r = 0; r < rows; r++) total += w->rowloss[r];   /* in row order: the same sum for any threads */
    return total;
}

/* ============================================================================================ backward */
/* d loss / d (gate pre-activations) of one step, from dh (B, H) = total gradient on h_t. Writes dgx (and for
 * GRU dgh) rows of this step, d c_{t-1} into dcc (LSTM), and the direct part of d h_{t-1} into dhc (GRU; the
 * recurrent product is added by the caller). */
RNN_CLONES static void cell_backward(int cell, int B, int H, const float *a, const float *h, const float *hprev,
                                     const float *cprev, const float *tc, const float *hn, const float *dh,
                                     float *dcc, float *dgx, float *dgh, float *dhc) {
    int GH = rnn_cell_gates(cell) * H;
    for (int b = 0; b < B; b++) {
        const float *ab = a + (size_t)b * GH, *dhb = dh + (size_t)b * H;
        float *gx = dgx + (size_t)b * GH;
        if (cell == RNN_CELL_RNN) {
            const float *hb = h + (size_t)b * H;
            for (int j = 0; j < H; j++) gx[j] = dhb[j] * (1.0f - hb[j] * hb[j]);
        } else if (cell == RNN_CELL_LSTM) {
            const float *i = ab, *f = ab + H, *g = ab + 2 * H, *o = ab + 3 * H;
            const float *cp = cprev + (size_t)b * H, *tb = tc + (size_t)b * H;
            float *dc = dcc + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                float dcj = dc[j] + dhb[j] * o[j] * (1.0f - tb[j] * tb[j]);
                gx[j] = dcj * g[j] * i[j] * (1.0f - i[j]);                 /* d i */
                gx[H + j] = dcj * cp[j] * f[j] * (1.0f - f[j]);            /* d f */
                gx[2 * H + j] = dcj * i[j] * (1.0f - g[j] * g[j]);         /* d g */
                gx[3 * H + j] = dhb[j] * tb[j] * o[j] * (1.0f - o[j]);     /* d o */
                dc[j] = dcj * f[j];                                        /* d c_{t-1} */
            }
        } else {
            const float *r = ab, *z = ab + H, *nn = ab + 2 * H, *hnb = hn + (size_t)b * H;
            const float *hp = hprev + (size_t)b * H;
            float *gh = dgh + (size_t)b * GH, *dhp = dhc + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                float dn = dhb[j] * (1.0f - z[j]) * (1.0f - nn[j] * nn[j]);   /* d n pre-activation */
                float dz = dhb[j] * (hp[j] - nn[j]) * z[j] * (1.0f - z[j]);
                float dr = dn * hnb[j] * r[j] * (1.0f - r[j]);
                gx[j] = gh[j] = dr;
                gx[H + j] = gh[H + j] = dz;
                gx[2 * H + j] = dn;
                gh[2 * H + j] = dn * r[j];                                 /* d (h Wh_n + bhn) */
                dhp[j] = dhb[j] * z[j];
            }
        }
    }
}

/* dht = dho + dhc (gradient from above plus the one carried back), then cell_backward, for rows lo..hi. */
RNN_CLONES static void cell_backward_rows(void *arg, size_t lo, size_t hi) {
    const step_rows *s = arg;
    size_t H = (size_t)s->H, GH = rnn_cell_gates(s->cell) * H;
    for (size_t i = lo * H; i < hi * H; i++) s->dht[i] = s->dho[i] + s->dhc[i];
    cell_backward(s->cell, (int)(hi - lo), s->H, s->a + lo * GH, s->h + lo * H, s->hprev + lo * H,
                  OFF(s->cprev, lo * H), OFF(s->tc, lo * H), OFF(s->hn, lo * H), s->dht + lo * H,
                  s->dcc + lo * H, s->dgx + lo * GH, s->dgh + lo * GH, s->dhc + lo * H);
}

/* dst[j] += sum over rows of src[r*ld + j] (rows in order), or, with ids, dst[ids[r]*ld + j] += src[r*ld + j]
 * for the rows whose id is not negative:
 * split by columns, so every column is summed whole, in row order, whatever the threads. */
typedef struct { float *dst; const float *src; const int32_t *ids; int rows, ld; } colsum_args;

RNN_CLONES static void colsum_cols(void *arg, size_t lo, size_t hi) {
    const colsum_args *s = arg;
    for (int r = 0; r < s->rows; r++) {
        const float *src = s->src + (size_t)r * s->ld;
        if (s->ids && s->ids[r] < 0) continue;   /* "no input" (a blank): no row of Wx took part */
        float *dst = s->ids ? s->dst + (size_t)s->ids[r] * s->ld : s->dst;
        for (size_t j = lo; j < hi; j++) dst[j] += src[j];
    }
}

static void add_colsum(const net *n, float *dst, const float *src, const int32_t *ids, int rows, int cols, int ld) {
    colsum_args s = {dst, src, ids, rows, ld};
    rnn__mat_pool_for(n->pool, (size_t)cols, rows >= 64 ? 16 : 4096, colsum_cols, &s);
}

/* Backpropagates d loss / d (top outputs) in w->dh through the stack `pl` (gradients into `gl`) over T steps.
 * The gradient stops at the first step (truncated BPTT). */
static void stack_backward(const net *n, const layer_view *pl, const layer_view *gl, workspace *w, int T) {
    const rnn_config *c = n->c;
    int B = w->B, H = c->hidden, GH = rnn_cell_gates(c->cell) * H, TB = T * B, L = c->layers;
    for (int l = L - 1; l >= 0; l--) {
        const layer_view *p = &pl[l];
        const layer_view *g = &gl[l];
        memset(w->dhc, 0, sizeof(float) * B * H);
        memset(w->dcc, 0, sizeof(float) * B * H);
        for (int t = T - 1; t >= 0; t--) {
            size_t sB = (size_t)t * B;
            step_rows s = {.cell = c->cell, .H = H, .a = w->a[l] + sB * GH, .h = w->h[l] + (sB + B) * H,
                           .tc = OFF(w->tc[l], sB * H), .hn = OFF(w->hn[l], sB * H), .dht = w->dht,
                           .dgx = w->dgx + sB * GH, .dgh = w->dgh + sB * GH, .dhc = w->dhc, .dcc = w->dcc,
                           .hprev = w->h[l] + sB * H, .cprev = OFF(w->c[l], sB * H), .dho = w->dh + sB * H};
            rnn__mat_pool_for(n->pool, (size_t)B, row_grain(GH * 8), cell_backward_rows, &s);
            if (t > 0)   /* d h_{t-1} (at t = 0 it would cross the chunk boundary: truncated) */
                rnn__mat_mul_packed(n->pool, B, w->dgh + sB * GH, GH, 0, &w->whtp[l], w->dhc, H,
                               c->cell == RNN_CELL_GRU);
        }
        /* Weight gradients of all steps at once. */
        rnn__mat_mul(n->pool, H, GH, TB, w->h[l], H, 1, w->dgh, GH, 0, g->wh, GH, 1);
        add_colsum(n, g->b, w->dgx, NULL, TB, GH, GH);
        if (g->bhn) add_colsum(n, g->bhn, w->dgh + 2 * H, NULL, TB, H, GH);
        if (l == 0) {
            add_colsum(n, g->wx, w->dgx, w->x, TB, GH, GH);   /* one-hot input: scatter rows into Wx */
        } else {
            const float *in = w->mask[l] ? w->xd[l] : w->h[l - 1] + (size_t)B * H;
            rnn__mat_mul(n->pool, H, GH, TB, in, H, 1, w->dgx, GH, 0, g->wx, GH, 1);
            /* d input = dgx Wx^T, through the dropout mask, becomes d h of the layer below. */
            rnn__mat_mul(n->pool, TB, H, GH, w->dgx, GH, 0, p->wx, GH, 1, w->dh, H, 0);
            if (w->mask[l]) {
                mul_args m = {w->dh, w->mask[l]};
                rnn__mat_pool_for(n->pool, (size_t)TB * H, 16384, mul_part, &m);
            }
        }
    }
}

/* Backpropagates the loss gradient in w->logits through the chunk, accumulating into n->g. The gradient stops
 * at the chunk's first step (truncated BPTT; bidirectional: also at the backward direction's zero start). */
void rnn__layers_backward(const net *n, workspace *w, int T) {
    const rnn_config *c = n->c;
    int B = w->B, H = c->hidden, TB = T * B, V = n->V, L = c->layers;
    size_t BH = (size_t)B * H;
    /* Output projection: dWy += top^T dlogits, dby += colsum, d top = dlogits Wy^T. */
    const float *top = w->h[L - 1] + BH;
    rnn__mat_mul(n->pool, H, V, TB, top, H, 1, w->logits, V, 0, n->g.wy, V, 1);
    add_colsum(n, n->g.by, w->logits, NULL, TB, V, V);
    rnn__mat_mul(n->pool, TB, H, V, w->logits, V, 0, n->p.wy, V, 1, w->dh, H, 0);
    if (w->back) {   /* the backward half: dWy_b += topb^T dlogits; d topb = dlogits Wy_b^T, back in step order */
        workspace *k = w->back;
        rnn__mat_mul(n->pool, H, V, TB, w->topb, H, 1, w->logits, V, 0, n->g.wy + (size_t)H * V, V, 1);
        rnn__mat_mul(n->pool, TB, H, V, w->logits, V, 0, n->p.wy + (size_t)H * V, V, 1, w->topb, H, 0);
        /* Target t read back's slot Tb - t = the output of its step Tb - 1 - t; margin steps get no gradient. */
        for (int r = 0; r < k->Tb; r++) {
            int t = k->Tb - 1 - r;
            if (t < T) memcpy(k->dh + r * BH, w->topb + t * BH, sizeof(float) * BH);
            else memset(k->dh + r * BH, 0, sizeof(float) * BH);
        }
        if (k->Tb > 0) stack_backward(n, n->p.lb, n->g.lb, k, k->Tb);
    }
    stack_backward(n, n->p.l, n->g.l, w, T);
}

/* ============================================================================================ streams */
/* After T steps, the state at slot T becomes slot 0 for the next chunk (BH floats per layer). */
void rnn__carry_state(workspace *w, int L, size_t BH, int T) {
    for (int l = 0; l < L; l++) {
        memcpy(w->h[l], w->h[l] + (size_t)T * BH, sizeof(float) * BH);
        if (w->c[l]) memcpy(w->c[l], w->c[l] + (size_t)T * BH, sizeof(float) * BH);
    }
}

void rnn__zero_state(workspace *w, int L, size_t BH) {
    for (int l = 0; l < L; l++) {
        memset(w->h[l], 0, sizeof(float) * BH);
        if (w->c[l]) memset(w->c[l], 0, sizeof(float) * BH);
    }
}

/* Loss of ids[1..n) given ids[0..n-1) as one stream with carried state, in chunks of the workspace size. With
 * a workspace of B > 1 streams, every stream reads the same symbols (a test that the batched path agrees).
 * Bidirectional: the cloze loss of the same targets (rnn_net.h). */
double rnn__stream_loss(const net *n, workspace *w, const int32_t *ids, size_t count) {
    int L = n->c->layers, B = w->B;
    size_t BH = (size_t)n->c->hidden * B;
    rnn__zero_state(w, L, BH);
    rnn__pack_weights(n, w);
    double total = 0;
    for (size_t pos = 0; pos + 1 < count;) {
        int T = (int)(count - 1 - pos < (size_t)w->Tmax ? count - 1 - pos : (size_t)w->Tmax);
        for (int tt = 0; tt < T; tt++)
            for (int b = 0; b < B; b++) {
                w->x[tt * B + b] = ids[pos + tt];
                w->y[tt * B + b] = ids[pos + tt + 1];
            }
        if (w->back) {   /* the margin: up to w->margin symbols after the window, as many as there are */
            size_t after = count - 1 - pos - (size_t)T;
            rnn__bidir_inputs(w, ids, 0, pos, T, after < (size_t)w->margin ? (int)after : w->margin);
        }
        rnn__layers_forward(n, w, T, 0, NULL);
        total += rnn__softmax_loss(n, w, T * B, 0, 0) / B;
        rnn__carry_state(w, L, BH, T);
        pos += (size_t)T;
    }
    return total / (double)(count - 1);
}

void rnn__net_for_model(net *n, const rnn_model *m, int threads) {
    memset(n, 0, sizeof *n);
    n->c = &m->cfg;
    n->V = m->vocab.size;
    rnn__param_layout(&m->cfg, n->V, m->params, &n->p);
    n->pool = rnn__mat_pool_new(threads < 1 ? 1 : threads);
    if (n->pool) rnn__mat_pool_set_precision(n->pool, m->cfg.precision == RNN_PREC_BF16 ? MAT_BF16 : MAT_FP32);
}

/* rnn__stream_loss on windows of Tmax, B identical streams, a margin of at most `margin` (-1: the default). */
static double debug_loss(const rnn_model *m, const int32_t *ids, size_t count, int Tmax, int B, int margin,
                         int threads) {
    net n;
    rnn__net_for_model(&n, m, threads);
    workspace w;
    double loss = NAN;
    if (n.pool && !rnn__ws_init(&w, &m->cfg, n.V, Tmax, B, 0, n.pool)) {
        if (margin >= 0 && margin < w.margin) w.margin = margin;
        loss = rnn__stream_loss(&n, &w, ids, count);
        rnn__ws_free(&w);
    }
    rnn__mat_pool_free(n.pool);
    return loss;
}

double rnn__debug_stream_loss(const rnn_model *m, const int32_t *ids, size_t count, int B, int threads) {
    return debug_loss(m, ids, count, 100, B, -1, threads);
}

double rnn__debug_cloze_loss(const rnn_model *m, const int32_t *ids, size_t count, int window, int margin,
                            int threads) {
    return debug_loss(m, ids, count, window, 1, margin, threads);
}

/* ============================================================================================ for tests */
int rnn__param_tensors(const rnn_model *m, rnn_tensor *out, int max) {
    param_view v;
    rnn__param_layout(&m->cfg, m->vocab.size, m->params, &v);
    size_t H = (size_t)m->cfg.hidden, GH = rnn_cell_gates(m->cfg.cell) * H;
    int n = 0;
#define ADD(nm, l, ptr, cnt) do { if (ptr && n < max) out[n++] = (rnn_tensor){nm, l, (size_t)((ptr) - m->params), cnt}; } while (0)
    for (int l = 0; l < m->cfg.layers; l++) {
        ADD("wx", l, v.l[l].wx, (l == 0 ? (size_t)m->vocab.size : H) * GH);
        ADD("wh", l, v.l[l].wh, H * GH);
        ADD("b", l, v.l[l].b, GH);
        ADD("bhn", l, v.l[l].bhn, H);
        ADD("bwd.wx", l, v.lb[l].wx, (l == 0 ? (size_t)m->vocab.size : H) * GH);
        ADD("bwd.wh", l, v.lb[l].wh, H * GH);
        ADD("bwd.b", l, v.lb[l].b, GH);
        ADD("bwd.bhn", l, v.lb[l].bhn, H);
    }
    ADD("wy", -1, v.wy, (m->cfg.bidir ? 2 : 1) * H * m->vocab.size);
    ADD("by", -1, v.by, (size_t)m->vocab.size);
#undef ADD
    return n;
}

