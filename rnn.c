/* rnn.c — vocabulary, parameter layout, forward/backward for the tanh RNN, LSTM and GRU cells, loss,
 * optimizers, the trainer and the sampler. Contracts are in rnn.h; the file format is in rnn_ckpt.c. */
#include "rnn_impl.h"
#include "rnn_mat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================================================ RNG */
/* splitmix64: 64 bits of state, passes BigCrush, trivially saved and restored. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t rng_next(uint64_t *s) { return mix64(*s += 0x9E3779B97F4A7C15ull); }
static double rng_uniform(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }   /* [0, 1) */

/* ============================================================================================ vocabulary */
/* Decodes one symbol at s[0..n), n >= 1: a strictly valid UTF-8 sequence (no overlongs, no surrogates, nothing
 * above U+10FFFF) gives its code point; anything else gives RNN_RAWBYTE + s[0]. Returns bytes consumed. */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *sym) {
    unsigned b0 = s[0];
    int len;
    unsigned lo = 0x80, hi = 0xBF;
    uint32_t cp;
    if (b0 < 0x80) { *sym = b0; return 1; }
    if (b0 >= 0xC2 && b0 <= 0xDF) { len = 2; cp = b0 & 0x1F; }
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3; cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4; cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else { *sym = RNN_RAWBYTE + b0; return 1; }
    if ((size_t)len > n) { *sym = RNN_RAWBYTE + b0; return 1; }
    for (int i = 1; i < len; i++) {
        unsigned b = s[i];
        if (b < lo || b > hi) { *sym = RNN_RAWBYTE + b0; return 1; }
        lo = 0x80, hi = 0xBF;
        cp = (cp << 6) | (b & 0x3F);
    }
    *sym = cp;
    return len;
}

int rnn_next_symbol(int unit, const unsigned char *s, size_t n, uint32_t *sym) {
    if (unit == RNN_UNIT_BYTE) { *sym = RNN_RAWBYTE + s[0]; return 1; }
    return utf8_next(s, n, sym);
}

int rnn_vocab_build(rnn_vocab *v, const unsigned char *text, size_t n, int unit, rnn_err err) {
    memset(v, 0, sizeof *v);
    if (n == 0) { snprintf(err, RNN_ERRLEN, "empty text"); return -1; }
    const uint32_t nsym = RNN_RAWBYTE + 256;
    unsigned char *seen = calloc(nsym / 8 + 1, 1);
    if (!seen) { snprintf(err, RNN_ERRLEN, "out of memory"); return -1; }
    int count = 0;
    for (size_t i = 0; i < n;) {
        uint32_t s;
        i += rnn_next_symbol(unit, text + i, n - i, &s);
        if (!(seen[s >> 3] & (1u << (s & 7)))) { seen[s >> 3] |= (unsigned char)(1u << (s & 7)); count++; }
    }
    v->sym = malloc(sizeof(uint32_t) * count);
    if (!v->sym) { free(seen); snprintf(err, RNN_ERRLEN, "out of memory"); return -1; }
    int k = 0;
    for (uint32_t s = 0; s < nsym; s++)
        if (seen[s >> 3] & (1u << (s & 7))) v->sym[k++] = s;
    free(seen);
    v->unit = unit;
    v->size = count;
    return 0;
}

void rnn_vocab_free(rnn_vocab *v) {
    free(v->sym);
    memset(v, 0, sizeof *v);
}

static int32_t vocab_find(const rnn_vocab *v, uint32_t s) {
    int lo = 0, hi = v->size - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (v->sym[mid] == s) return mid;
        if (v->sym[mid] < s) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

size_t rnn_encode(const rnn_vocab *v, const unsigned char *text, size_t n, int32_t *ids, size_t *unknown) {
    size_t k = 0, unk = 0;
    for (size_t i = 0; i < n;) {
        uint32_t s;
        i += rnn_next_symbol(v->unit, text + i, n - i, &s);
        int32_t id = vocab_find(v, s);
        if (id < 0) unk++; else ids[k++] = id;
    }
    if (unknown) *unknown = unk;
    return k;
}

int rnn_symbol_bytes(const rnn_vocab *v, int32_t id, unsigned char out[4]) { return rnn_value_bytes(v->sym[id], out); }

int rnn_value_bytes(uint32_t c, unsigned char out[4]) {
    if (c >= RNN_RAWBYTE) { out[0] = (unsigned char)(c - RNN_RAWBYTE); return 1; }
    if (c < 0x80) { out[0] = (unsigned char)c; return 1; }
    if (c < 0x800) { out[0] = (unsigned char)(0xC0 | c >> 6); out[1] = (unsigned char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        out[0] = (unsigned char)(0xE0 | c >> 12);
        out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | c >> 18);
    out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* ============================================================================================ config */
void rnn_config_default(rnn_config *c) {
    *c = (rnn_config){.cell = RNN_CELL_RNN, .layers = 1, .hidden = 256, .batch = 32, .seq = 64,
                      .optim = RNN_OPT_ADAM, .lr = 2e-3f, .lr_decay = 1.0f, .clip = 5.0f, .dropout = 0.0f,
                      .val_frac = 0.1f, .forget_bias = 0.0f, .seed = 1234};
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
#undef BAD
    return 0;
}

const char *rnn_cell_name(int cell) {
    return cell == RNN_CELL_LSTM ? "lstm" : cell == RNN_CELL_GRU ? "gru" : "rnn";
}

/* ============================================================================================ parameters */
/* Named views into one flat buffer: parameters, gradients and optimizer moments all share this layout. */
typedef struct {
    float *wx;    /* (I, G*H) input weights, I = V for layer 0 (one-hot rows), H above */
    float *wh;    /* (H, G*H) recurrent weights */
    float *b;     /* (G*H)   bias; LSTM gate blocks i,f,g,o; GRU blocks r,z,n */
    float *bhn;   /* (H)     GRU only: bias inside r * (h Wh_n + bhn); NULL otherwise */
} layer_view;

typedef struct {
    layer_view l[RNN_MAX_LAYERS];
    float *wy;    /* (H, V) output projection */
    float *by;    /* (V) */
} param_view;

/* Lays out the tensors of config c with vocabulary V on `base` (may be NULL to only count). Returns the count,
 * or 0 if it would not fit in memory arithmetic. */
static size_t param_layout(const rnn_config *c, int V, float *base, param_view *v) {
    size_t H = (size_t)c->hidden, GH = (size_t)rnn_cell_gates(c->cell) * H, off = 0;
    double total = 0;
    for (int l = 0; l < c->layers; l++) {
        size_t I = l == 0 ? (size_t)V : H;
        total += (double)I * GH + H * GH + GH + (c->cell == RNN_CELL_GRU ? H : 0);
    }
    total += (double)H * V + V;
    if (total > (double)(SIZE_MAX / sizeof(float)) / 4 || total > 4e9) return 0;
    param_view tmp;
    if (!v) v = &tmp;
    memset(v, 0, sizeof *v);
#define TAKE(n) (base ? base + (off += (n)) - (n) : (off += (n), NULL))
    for (int l = 0; l < c->layers; l++) {
        size_t I = l == 0 ? (size_t)V : H;
        v->l[l].wx = TAKE(I * GH);
        v->l[l].wh = TAKE(H * GH);
        v->l[l].b = TAKE(GH);
        v->l[l].bhn = c->cell == RNN_CELL_GRU ? TAKE(H) : NULL;
    }
    v->wy = TAKE(H * (size_t)V);
    v->by = TAKE((size_t)V);
#undef TAKE
    return off;
}

size_t rnn_param_count(const rnn_config *c, int V) { return param_layout(c, V, NULL, NULL); }

rnn_model *rnn_model_alloc(const rnn_config *c, const rnn_vocab *vocab, rnn_err err) {
    if (rnn_config_check(c, err)) return NULL;
    size_t np = rnn_param_count(c, vocab->size);
    if (!np) { snprintf(err, RNN_ERRLEN, "model too large"); return NULL; }
    rnn_model *m = calloc(1, sizeof *m);
    if (!m) goto oom;
    m->cfg = *c;
    m->nparams = np;
    m->params = malloc(sizeof(float) * np);
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
    rnn_model *m = rnn_model_alloc(c, vocab, err);
    if (!m) return NULL;
    /* Weights uniform in +-1/sqrt(H) (as PyTorch's RNN/LSTM/GRU and Linear on H inputs); biases 0, and the LSTM
     * forget gate's at c->forget_bias (default 0: measured, 1 learns far slower here; README "Speed and quality"). */
    uint64_t rng = c->seed;
    param_view v;
    param_layout(c, m->vocab.size, m->params, &v);
    float k = 1.0f / sqrtf((float)c->hidden);
    size_t H = (size_t)c->hidden, GH = rnn_cell_gates(c->cell) * H;
    for (int l = 0; l < c->layers; l++) {
        size_t I = l == 0 ? (size_t)m->vocab.size : H;
        for (size_t i = 0; i < I * GH; i++) v.l[l].wx[i] = (float)((2 * rng_uniform(&rng) - 1) * k);
        for (size_t i = 0; i < H * GH; i++) v.l[l].wh[i] = (float)((2 * rng_uniform(&rng) - 1) * k);
        for (size_t i = 0; i < GH; i++) v.l[l].b[i] = (c->cell == RNN_CELL_LSTM && i >= H && i < 2 * H) ? c->forget_bias : 0.0f;
        if (v.l[l].bhn) memset(v.l[l].bhn, 0, sizeof(float) * H);
    }
    for (size_t i = 0; i < H * m->vocab.size; i++) v.wy[i] = (float)((2 * rng_uniform(&rng) - 1) * k);
    memset(v.by, 0, sizeof(float) * m->vocab.size);
    return m;
}

void rnn_model_free(rnn_model *m) {
    if (!m) return;
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
/* Activations and gradients of one (T, B) chunk. Every buffer is time-major; sizes are for Tmax. */
typedef struct {
    int Tmax, B;
    int32_t *x, *y;          /* (T, B) input and target ids */
    float *a[RNN_MAX_LAYERS];    /* (T, B, GH) gate pre-activations, then activations (LSTM i,f,g,o; GRU r,z,n);
                                  * RNN: the pre-activations are built in h[l]'s slots 1..T and tanh'd in place */
    float *h[RNN_MAX_LAYERS];    /* (T+1, B, H) hidden outputs; block 0 is the state carried in */
    float *c[RNN_MAX_LAYERS];    /* LSTM (T+1, B, H) cells; block 0 carried in */
    float *tc[RNN_MAX_LAYERS];   /* LSTM (T, B, H) tanh(c) */
    float *hn[RNN_MAX_LAYERS];   /* GRU (T, B, H) h Wh_n + bhn */
    float *mask[RNN_MAX_LAYERS]; /* dropout (T, B, H) on layer l's input (l >= 1): 0 or 1/(1-p) */
    float *xd[RNN_MAX_LAYERS];   /* dropout (T, B, H) layer l's dropped-out input */
    float *logits;           /* (T*B, V) logits, then probabilities, then d loss / d logits */
    double *rowloss;         /* (T*B) loss of each position */
    float *rec;              /* (B, GH) recurrent product of one step (GRU) */
    /* backward only */
    float *dh;               /* (T, B, H) gradient wrt a layer's outputs (then the layer below's) */
    float *dgx, *dgh;        /* (T, B, GH) gradient wrt gate pre-activations (input side / recurrent side) */
    float *dhc, *dcc, *dht;  /* (B, H) carried d h, carried d c, and this step's total d h */
    mat_packed whp[RNN_MAX_LAYERS];   /* Wh packed (H, GH) for the forward recurrence */
    mat_packed whtp[RNN_MAX_LAYERS];  /* Wh^T packed (GH, H) for the backward recurrence */
    void *block;             /* the single allocation all of the above live in */
} workspace;

static void ws_free(workspace *w) {
    free(w->block);
    memset(w, 0, sizeof *w);
}

/* Allocates a workspace in one block; pool (non-NULL) sets the packed weights' size. */
static int ws_init(workspace *w, const rnn_config *c, int V, int Tmax, int B, int train, const mat_pool *pool) {
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
            GIVE(w->whp[l].data, float, mat_packed_size(pool, c->hidden, (int)GH));
            if (train) GIVE(w->whtp[l].data, float, mat_packed_size(pool, (int)GH, c->hidden));
        }
        GIVE(w->logits, float, TB * V);
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
            w->block = calloc(1, off);
            if (!w->block) return -1;
        }
    }
    if (!gru) w->dgh = w->dgx;   /* RNN and LSTM: the recurrent side sees the same gate gradients */
    if (c->cell == RNN_CELL_RNN)   /* the pre-activation of step t is built in place in h's slot t + 1 */
        for (size_t l = 0; l < L; l++) w->a[l] = w->h[l] + (size_t)B * H;
    return 0;
}

/* ============================================================================================ forward */
typedef struct {
    const rnn_config *c;
    int V;
    param_view p;        /* parameters */
    param_view g;        /* gradients (training only) */
    mat_pool *pool;
} net;

/* Packs every layer's Wh (and Wh^T for training) once per parameter update. */
static void pack_weights(const net *n, workspace *w) {
    int H = n->c->hidden, GH = rnn_cell_gates(n->c->cell) * H;
    for (int l = 0; l < n->c->layers; l++) {
        mat_pack(n->pool, &w->whp[l], H, GH, n->p.l[l].wh, GH, 0);
        if (w->whtp[l].data) mat_pack(n->pool, &w->whtp[l], GH, H, n->p.l[l].wh, GH, 1);
    }
}

/* h_t (B, H) from the step's gate pre-activations a_t (B, GH, input part + bias + for RNN/LSTM the recurrent
 * product), the previous state, and for GRU the recurrent product rec (B, GH). Writes the cell's caches. */
RNN_CLONES static void cell_forward(int cell, int B, int H, float *a, const float *hprev, float *h,
                                    const float *cprev, float *cnext, float *tc, const float *rec, const float *bhn,
                                    float *hn) {
    int GH = rnn_cell_gates(cell) * H;
    if (cell == RNN_CELL_RNN) {   /* a and h are the same buffer (see ws_init) */
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

/* Runs all layers over T steps of w->x (h[l] block 0 and c[l] block 0 hold the state carried in), then the
 * output projection into w->logits. With train and dropout, draws the masks from *rng. */
static void layers_forward(const net *n, workspace *w, int T, int train, uint64_t *rng) {
    const rnn_config *c = n->c;
    int B = w->B, H = c->hidden, GH = rnn_cell_gates(c->cell) * H, TB = T * B, V = n->V;
    for (int l = 0; l < c->layers; l++) {
        const layer_view *p = &n->p.l[l];
        float *a = w->a[l];
        /* Input side of every step at once: a = x Wx + b (layer 0: one-hot x, so a row of Wx). */
        row_bias rb = {a, p->wx, NULL, p->b, GH};
        if (l == 0) {
            rb.ids = w->x;
        } else {
            const float *in = w->h[l - 1] + (size_t)B * H;
            if (train && w->mask[l]) {
                drop_args d = {w->mask[l], w->xd[l], in, rng_next(rng), 1.0f - c->dropout};
                mat_pool_for(n->pool, (size_t)TB * H, 16384, dropout_part, &d);
                in = w->xd[l];
            }
            mat_mul(n->pool, TB, GH, H, in, H, 0, p->wx, GH, 0, a, GH, 0);
        }
        mat_pool_for(n->pool, (size_t)TB, row_grain(GH), add_bias_rows, &rb);
        /* The recurrence, one step at a time over the batch. */
        for (int t = 0; t < T; t++) {
            size_t sB = (size_t)t * B;
            float *at = a + sB * GH;
            const float *hp = w->h[l] + sB * H;
            if (c->cell == RNN_CELL_GRU) mat_mul_packed(n->pool, B, hp, H, 0, &w->whp[l], w->rec, GH, 0);
            else mat_mul_packed(n->pool, B, hp, H, 0, &w->whp[l], at, GH, 1);
            step_rows s = {.cell = c->cell, .H = H, .a = at, .h = w->h[l] + sB * H + (size_t)B * H,
                           .cnext = OFF(w->c[l], sB * H + (size_t)B * H), .tc = OFF(w->tc[l], sB * H),
                           .hn = OFF(w->hn[l], sB * H), .hprev = hp, .cprev = OFF(w->c[l], sB * H), .rec = w->rec,
                           .bhn = p->bhn};
            mat_pool_for(n->pool, (size_t)B, row_grain(GH * 8), cell_forward_rows, &s);
        }
    }
    /* Output projection of every position at once. */
    const float *top = w->h[c->layers - 1] + (size_t)B * H;
    mat_mul(n->pool, TB, V, H, top, H, 0, n->p.wy, V, 0, w->logits, V, 0);
    row_bias ob = {w->logits, NULL, NULL, n->p.by, V};
    mat_pool_for(n->pool, (size_t)TB, row_grain(V), add_bias_rows, &ob);
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
static double softmax_loss(const net *n, workspace *w, int rows, int grad, float scale) {
    softmax_args s = {w->logits, w->y, w->rowloss, n->V, grad, scale};
    mat_pool_for(n->pool, (size_t)rows, row_grain(n->V * 4), softmax_rows, &s);
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

/* dst[j] += sum over rows of src[r*ld + j] (rows in order), or, with ids, dst[ids[r]*ld + j] += src[r*ld + j]:
 * split by columns, so every column is summed whole, in row order, whatever the threads. */
typedef struct { float *dst; const float *src; const int32_t *ids; int rows, ld; } colsum_args;

RNN_CLONES static void colsum_cols(void *arg, size_t lo, size_t hi) {
    const colsum_args *s = arg;
    for (int r = 0; r < s->rows; r++) {
        const float *src = s->src + (size_t)r * s->ld;
        float *dst = s->ids ? s->dst + (size_t)s->ids[r] * s->ld : s->dst;
        for (size_t j = lo; j < hi; j++) dst[j] += src[j];
    }
}

static void add_colsum(const net *n, float *dst, const float *src, const int32_t *ids, int rows, int cols, int ld) {
    colsum_args s = {dst, src, ids, rows, ld};
    mat_pool_for(n->pool, (size_t)cols, rows >= 64 ? 16 : 4096, colsum_cols, &s);
}

/* Backpropagates the loss gradient in w->logits through the chunk, accumulating into n->g. The gradient stops
 * at the chunk's first step (truncated BPTT). */
static void layers_backward(const net *n, workspace *w, int T) {
    const rnn_config *c = n->c;
    int B = w->B, H = c->hidden, GH = rnn_cell_gates(c->cell) * H, TB = T * B, V = n->V, L = c->layers;
    /* Output projection: dWy += top^T dlogits, dby += colsum, d top = dlogits Wy^T. */
    const float *top = w->h[L - 1] + (size_t)B * H;
    mat_mul(n->pool, H, V, TB, top, H, 1, w->logits, V, 0, n->g.wy, V, 1);
    add_colsum(n, n->g.by, w->logits, NULL, TB, V, V);
    mat_mul(n->pool, TB, H, V, w->logits, V, 0, n->p.wy, V, 1, w->dh, H, 0);
    for (int l = L - 1; l >= 0; l--) {
        const layer_view *p = &n->p.l[l];
        const layer_view *g = &n->g.l[l];
        memset(w->dhc, 0, sizeof(float) * B * H);
        memset(w->dcc, 0, sizeof(float) * B * H);
        for (int t = T - 1; t >= 0; t--) {
            size_t sB = (size_t)t * B;
            step_rows s = {.cell = c->cell, .H = H, .a = w->a[l] + sB * GH, .h = w->h[l] + (sB + B) * H,
                           .tc = OFF(w->tc[l], sB * H), .hn = OFF(w->hn[l], sB * H), .dht = w->dht,
                           .dgx = w->dgx + sB * GH, .dgh = w->dgh + sB * GH, .dhc = w->dhc, .dcc = w->dcc,
                           .hprev = w->h[l] + sB * H, .cprev = OFF(w->c[l], sB * H), .dho = w->dh + sB * H};
            mat_pool_for(n->pool, (size_t)B, row_grain(GH * 8), cell_backward_rows, &s);
            if (t > 0)   /* d h_{t-1} (at t = 0 it would cross the chunk boundary: truncated) */
                mat_mul_packed(n->pool, B, w->dgh + sB * GH, GH, 0, &w->whtp[l], w->dhc, H,
                               c->cell == RNN_CELL_GRU);
        }
        /* Weight gradients of all steps at once. */
        mat_mul(n->pool, H, GH, TB, w->h[l], H, 1, w->dgh, GH, 0, g->wh, GH, 1);
        add_colsum(n, g->b, w->dgx, NULL, TB, GH, GH);
        if (g->bhn) add_colsum(n, g->bhn, w->dgh + 2 * H, NULL, TB, H, GH);
        if (l == 0) {
            add_colsum(n, g->wx, w->dgx, w->x, TB, GH, GH);   /* one-hot input: scatter rows into Wx */
        } else {
            const float *in = w->mask[l] ? w->xd[l] : w->h[l - 1] + (size_t)B * H;
            mat_mul(n->pool, H, GH, TB, in, H, 1, w->dgx, GH, 0, g->wx, GH, 1);
            /* d input = dgx Wx^T, through the dropout mask, becomes d h of the layer below. */
            mat_mul(n->pool, TB, H, GH, w->dgx, GH, 0, p->wx, GH, 1, w->dh, H, 0);
            if (w->mask[l]) {
                mul_args m = {w->dh, w->mask[l]};
                mat_pool_for(n->pool, (size_t)TB * H, 16384, mul_part, &m);
            }
        }
    }
}

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
    float *state;            /* (layers, B, H) carried h, then for LSTM (layers, B, H) carried c */
    size_t nstate;
    int32_t *train, *val;    /* symbol ids of each split (owned) */
    size_t n_train, n_val;
    size_t stream_len;       /* Ls: symbols per stream */
    uint64_t nchunks;        /* chunks per epoch: Ls / T */
    uint64_t chunk, epoch;
    uint64_t rng;
    float lr;
    uint64_t n_ids;
    uint32_t ids_crc;
    rnn_budget budget;
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

/* The carried state into slot 0 of the workspace (zeros when `fresh`: the start of an epoch). */
static void state_load(const rnn_trainer *t, workspace *w, int fresh) {
    const rnn_config *c = &t->m->cfg;
    size_t BH = (size_t)c->batch * c->hidden, L = c->layers;
    for (size_t l = 0; l < L; l++) {
        float *dst[2] = {w->h[l], w->c[l]};   /* h, then (LSTM) c: state holds all h, then all c */
        for (size_t k = 0; k < 2 && dst[k]; k++) {
            if (fresh) memset(dst[k], 0, sizeof(float) * BH);
            else memcpy(dst[k], t->state + (k * L + l) * BH, sizeof(float) * BH);
        }
    }
}

static void state_store(rnn_trainer *t, const workspace *w, int T) {
    const rnn_config *c = &t->m->cfg;
    size_t BH = (size_t)c->batch * c->hidden, L = c->layers;
    for (size_t l = 0; l < L; l++) {
        memcpy(t->state + l * BH, w->h[l] + (size_t)T * BH, sizeof(float) * BH);
        if (w->c[l]) memcpy(t->state + (L + l) * BH, w->c[l] + (size_t)T * BH, sizeof(float) * BH);
    }
}

void rnn_resume_free(rnn_resume *r) {
    if (!r) return;
    free(r->m1);
    free(r->m2);
    free(r->state);
    free(r);
}

void rnn_trainer_free(rnn_trainer *t) {
    if (!t) return;
    mat_pool_free(t->pool);
    ws_free(&t->w);
    ws_free(&t->we);
    free(t->grad);
    free(t->m1);
    free(t->m2);
    free(t->norm_partial);
    free(t->state);
    free(t->train);
    free(t->val);
    free(t);
}

rnn_trainer *rnn_trainer_new(rnn_model *m, const int32_t *ids, size_t n, int threads, const rnn_resume *resume,
                             rnn_err err) {
    const rnn_config *c = &m->cfg;
    size_t n_train = (size_t)((double)n * (1.0 - c->val_frac)), n_val = n - n_train;
    size_t B = (size_t)c->batch, T = (size_t)c->seq;
    size_t need = B * T + 1;
    if (n_train < need) {
        snprintf(err, RNN_ERRLEN,
                 "corpus too short: %zu training symbols, but one chunk of --batch %zu x --seq %zu needs %zu; "
                 "lower --batch or --seq%s",
                 n_train, B, T, need, c->val_frac > 0 ? " (or --val)" : "");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->vocab.size) {
            snprintf(err, RNN_ERRLEN, "symbol id %ld at position %zu is outside the vocabulary", (long)ids[i], i);
            return NULL;
        }
    rnn_trainer *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->m = m;
    t->pool = mat_pool_new(threads);
    if (!t->pool) {
        rnn_trainer_free(t);
        snprintf(err, RNN_ERRLEN, "cannot start %d threads", threads);
        return NULL;
    }
    t->n.c = c;
    t->n.V = m->vocab.size;
    t->n.pool = t->pool;
    param_layout(c, t->n.V, m->params, &t->n.p);
    t->grad = calloc(m->nparams, sizeof(float));
    if (!t->grad) goto oom;
    param_layout(c, t->n.V, t->grad, &t->n.g);
    int nm = rnn_optim_moments(c->optim);
    if (nm >= 1 && !(t->m2 = calloc(m->nparams, sizeof(float)))) goto oom;
    if (nm >= 2 && !(t->m1 = calloc(m->nparams, sizeof(float)))) goto oom;
    if (!(t->norm_partial = calloc(m->nparams / NORM_BLOCK + 1, sizeof(double)))) goto oom;
    t->nstate = (size_t)c->layers * B * c->hidden * rnn_state_per_unit(c->cell);
    t->state = calloc(t->nstate, sizeof(float));
    t->train = malloc(sizeof(int32_t) * n_train);
    t->val = malloc(sizeof(int32_t) * (n_val ? n_val : 1));
    if (!t->state || !t->train || !t->val) goto oom;
    memcpy(t->train, ids, sizeof(int32_t) * n_train);
    memcpy(t->val, ids + n_train, sizeof(int32_t) * n_val);
    t->n_train = n_train;
    t->n_val = n_val;
    t->stream_len = (n_train - 1) / B;
    t->nchunks = t->stream_len / T;
    t->rng = c->seed ^ 0x5DEECE66Dull;
    t->lr = c->lr;
    t->n_ids = n;
    t->ids_crc = ids_crc(ids, n);
    if (ws_init(&t->w, c, t->n.V, (int)T, (int)B, 1, t->pool)) goto oom;
    if (ws_init(&t->we, c, t->n.V, VAL_CHUNK, 1, 0, t->pool)) goto oom;
    if (resume) {
        if (resume->n_ids != n || resume->ids_crc != t->ids_crc) {
            snprintf(err, RNN_ERRLEN,
                     "the checkpoint was trained on a different corpus (%llu symbols, CRC %08x; this one: %zu "
                     "symbols, CRC %08x)",
                     (unsigned long long)resume->n_ids, (unsigned)resume->ids_crc, n, (unsigned)t->ids_crc);
            rnn_trainer_free(t);
            return NULL;
        }
        if (resume->nparams != m->nparams || resume->nmoments != nm || resume->nstate != t->nstate ||
            resume->chunk > t->nchunks) {
            snprintf(err, RNN_ERRLEN, "the checkpoint's training state does not fit its model");
            rnn_trainer_free(t);
            return NULL;
        }
        if (t->m1) memcpy(t->m1, resume->m1, sizeof(float) * m->nparams);
        if (t->m2) memcpy(t->m2, resume->m2, sizeof(float) * m->nparams);
        memcpy(t->state, resume->state, sizeof(float) * t->nstate);
        t->chunk = resume->chunk;
        t->epoch = resume->epoch;
        t->rng = resume->rng;
        t->lr = resume->lr;
        t->budget = resume->budget;
    }
    return t;
oom:
    rnn_trainer_free(t);
    snprintf(err, RNN_ERRLEN, "out of memory");
    return NULL;
}

void rnn_trainer_snapshot(const rnn_trainer *t, struct rnn_resume *r) {
    r->chunk = t->chunk;
    r->epoch = t->epoch;
    r->rng = t->rng;
    r->lr = t->lr;
    r->n_ids = t->n_ids;
    r->ids_crc = t->ids_crc;
    r->nmoments = rnn_optim_moments(t->m->cfg.optim);
    r->nparams = t->m->nparams;
    r->m1 = t->m1;
    r->m2 = t->m2;
    r->nstate = t->nstate;
    r->state = t->state;
    r->budget = t->budget;
}

rnn_budget *rnn_trainer_budget(rnn_trainer *t) { return &t->budget; }
void rnn_trainer_set_lr(rnn_trainer *t, float lr) { t->lr = lr; }

void rnn_trainer_info(const rnn_trainer *t, rnn_train_info *out) {
    out->steps_per_epoch = t->nchunks;
    out->epoch = (double)t->epoch + (double)t->chunk / (double)t->nchunks;
    out->lr = t->lr;
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

RNN_CLONES static void update_part(void *arg, size_t lo, size_t hi) {
    const opt_args *s = arg;
    rnn_trainer *t = s->t;
    float *p = t->m->params, *g = t->grad, gs = s->gs, lr = s->lr;
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

/* Clips by global norm and applies the optimizer. Returns the gradient norm (non-finite: nothing applied). */
static double optimizer_step(rnn_trainer *t, float lr) {
    const rnn_config *c = &t->m->cfg;
    size_t np = t->m->nparams, nblocks = (np + NORM_BLOCK - 1) / NORM_BLOCK;
    opt_args s = {t, 1.0f, lr, 1.0f, 1.0f, t->norm_partial};
    mat_pool_for(t->pool, nblocks, 1, sumsq_blocks, &s);
    double ss = 0;
    for (size_t k = 0; k < nblocks; k++) ss += t->norm_partial[k];
    double norm = sqrt(ss);
    if (!isfinite(norm)) return norm;
    s.gs = (c->clip > 0 && norm > c->clip) ? (float)(c->clip / (norm + 1e-6)) : 1.0f;
    double step = (double)t->m->prog.step + 1;
    s.bc1 = (float)(1.0 - pow(0.9, step));
    s.bc2s = (float)sqrt(1.0 - pow(0.999, step));
    mat_pool_for(t->pool, np, 1 << 15, update_part, &s);
    return norm;
}

/* Fills the workspace with chunk `chunk` of every stream and the carried state (zero when `fresh`). */
static void load_chunk(rnn_trainer *t, uint64_t chunk, int fresh) {
    workspace *w = &t->w;
    int B = t->m->cfg.batch, T = t->m->cfg.seq;
    size_t base = (size_t)chunk * T;
    for (int tt = 0; tt < T; tt++)
        for (int b = 0; b < B; b++) {
            size_t pos = (size_t)b * t->stream_len + base + tt;
            w->x[tt * B + b] = t->train[pos];
            w->y[tt * B + b] = t->train[pos + 1];
        }
    state_load(t, w, fresh);
}

/* Mean loss of the loaded chunk; with grad, its gradient in t->grad. Dropout masks come from *rng. */
static double chunk_loss_grad(rnn_trainer *t, int grad, uint64_t *rng) {
    workspace *w = &t->w;
    int TB = t->m->cfg.batch * t->m->cfg.seq;
    pack_weights(&t->n, w);
    layers_forward(&t->n, w, t->m->cfg.seq, 1, rng);
    double loss = softmax_loss(&t->n, w, TB, grad, 1.0f / (float)TB) / TB;
    if (grad && isfinite(loss)) {
        memset(t->grad, 0, sizeof(float) * t->m->nparams);
        layers_backward(&t->n, w, t->m->cfg.seq);
    }
    return loss;
}

double rnn_train_step(rnn_trainer *t) {
    const rnn_config *c = &t->m->cfg;
    uint64_t chunk = t->chunk;
    float lr = t->lr;
    int wrap = chunk >= t->nchunks;   /* epoch end: streams restart from their beginnings with a zero state */
    if (wrap) {
        chunk = 0;
        lr *= c->lr_decay;
    }
    load_chunk(t, chunk, wrap);
    uint64_t rng = t->rng;
    double loss = chunk_loss_grad(t, 1, &rng);
    if (!isfinite(loss)) return loss;
    double norm = optimizer_step(t, lr);
    if (!isfinite(norm)) return norm;
    /* Commit: only a finite step advances the epoch, the data position, the lr, the RNG and the state. */
    if (wrap) t->epoch++;
    t->chunk = chunk;
    t->lr = lr;
    t->rng = rng;
    state_store(t, &t->w, c->seq);
    t->chunk++;
    t->m->prog.step++;
    t->m->prog.chars += (uint64_t)c->batch * c->seq;
    return loss;
}

double rnn_trainer_eval_chunk(rnn_trainer *t, int grad, float **grad_out) {
    uint64_t rng = t->rng;
    int wrap = t->chunk >= t->nchunks;   /* the next step would start a new epoch */
    load_chunk(t, wrap ? 0 : t->chunk, wrap);
    double loss = chunk_loss_grad(t, grad, &rng);
    if (grad_out) *grad_out = t->grad;
    return loss;
}

int rnn_param_tensors(const rnn_model *m, rnn_tensor *out, int max) {
    param_view v;
    param_layout(&m->cfg, m->vocab.size, m->params, &v);
    size_t H = (size_t)m->cfg.hidden, GH = rnn_cell_gates(m->cfg.cell) * H;
    int n = 0;
#define ADD(nm, l, ptr, cnt) do { if (ptr && n < max) out[n++] = (rnn_tensor){nm, l, (size_t)((ptr) - m->params), cnt}; } while (0)
    for (int l = 0; l < m->cfg.layers; l++) {
        ADD("wx", l, v.l[l].wx, (l == 0 ? (size_t)m->vocab.size : H) * GH);
        ADD("wh", l, v.l[l].wh, H * GH);
        ADD("b", l, v.l[l].b, GH);
        ADD("bhn", l, v.l[l].bhn, H);
    }
    ADD("wy", -1, v.wy, H * m->vocab.size);
    ADD("by", -1, v.by, (size_t)m->vocab.size);
#undef ADD
    return n;
}

/* After T steps, the state at slot T becomes slot 0 for the next chunk (BH floats per layer). */
static void carry_state(workspace *w, int L, size_t BH, int T) {
    for (int l = 0; l < L; l++) {
        memcpy(w->h[l], w->h[l] + (size_t)T * BH, sizeof(float) * BH);
        if (w->c[l]) memcpy(w->c[l], w->c[l] + (size_t)T * BH, sizeof(float) * BH);
    }
}

/* Loss of ids[1..n) given ids[0..n-1) as one stream with carried state, in chunks of the workspace size. With
 * a workspace of B > 1 streams, every stream reads the same symbols (a test that the batched path agrees). */
static double stream_loss(const net *n, workspace *w, const int32_t *ids, size_t count) {
    int L = n->c->layers, B = w->B;
    size_t BH = (size_t)n->c->hidden * B;
    for (int l = 0; l < L; l++) {
        memset(w->h[l], 0, sizeof(float) * BH);
        if (w->c[l]) memset(w->c[l], 0, sizeof(float) * BH);
    }
    pack_weights(n, w);
    double total = 0;
    for (size_t pos = 0; pos + 1 < count;) {
        int T = (int)(count - 1 - pos < (size_t)w->Tmax ? count - 1 - pos : (size_t)w->Tmax);
        for (int tt = 0; tt < T; tt++)
            for (int b = 0; b < B; b++) {
                w->x[tt * B + b] = ids[pos + tt];
                w->y[tt * B + b] = ids[pos + tt + 1];
            }
        layers_forward(n, w, T, 0, NULL);
        total += softmax_loss(n, w, T * B, 0, 0) / B;
        carry_state(w, L, BH, T);
        pos += (size_t)T;
    }
    return total / (double)(count - 1);
}

double rnn_debug_stream_loss(const rnn_model *m, const int32_t *ids, size_t count, int B, int threads) {
    net n;
    memset(&n, 0, sizeof n);
    n.c = &m->cfg;
    n.V = m->vocab.size;
    n.pool = mat_pool_new(threads);
    workspace w;
    double loss = NAN;
    if (n.pool && !ws_init(&w, &m->cfg, n.V, 100, B, 0, n.pool)) {
        param_layout(&m->cfg, n.V, m->params, &n.p);
        loss = stream_loss(&n, &w, ids, count);
        ws_free(&w);
    }
    mat_pool_free(n.pool);
    return loss;
}

double rnn_validate(rnn_trainer *t) {
    if (t->n_val < 2) return NAN;
    double v = stream_loss(&t->n, &t->we, t->val, t->n_val);
    rnn_progress *p = &t->m->prog;
    p->last_val = (float)v;
    if (isnan(p->best_val) || v < p->best_val) p->best_val = (float)v;
    return v;
}

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
