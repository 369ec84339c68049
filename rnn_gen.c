/* rnn_gen.c — generation: everything that runs a trained model forward. The sampler runs it one symbol at a
 * time and draws the next symbol (temperature, top-k, top-p; the training preview); the batched generator draws
 * K samples as K rows of the batched forward pass, with stop strings, line limits, forced line starts and valid
 * UTF-8 from byte models (`charrnn sample`); the scorer runs many independent streams at once through the batched
 * path and reports every symbol's surprisal (a bidirectional model's: given both sides, the cloze scorer); the
 * filler runs each direction of a bidirectional model over a text (a long one as windows with margins, the rows
 * of one batch) and fills its blanks from both sides, or a forward model left to right from the left side, taking
 * the likeliest symbol or the sampler's draw.
 *
 * Owns: rnn_sampler_*, rnn_gen_*, rnn_scorer_*, rnn_score_streams, rnn_fill.
 * Must not know: training (gradients, optimizers, streams), the file format. */
#include "rnn_net.h"
#include "rnn_rng.h"

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

/* Generation reads left to right: a bidirectional model cannot do it. 0, or -1 with err. */
static int check_forward(const rnn_model *m, rnn_err err) {
    if (!m->cfg.bidir) return 0;
    snprintf(err, RNN_ERRLEN, "a bidirectional model cannot generate left to right; use fill");
    return -1;
}

rnn_sampler *rnn_sampler_new(const rnn_model *m, uint64_t seed, int threads, rnn_err err) {
    if (check_forward(m, err)) return NULL;
    rnn_sampler *s = calloc(1, sizeof *s);
    int V = m->vocab.size;
    if (!s) goto oom;
    s->m = m;
    s->rng = seed;
    rnn__net_for_model(&s->n, m, threads);   /* one-row products split their columns over its pool */
    s->cand = malloc(sizeof(prob_id) * V);
    if (!s->cand || !s->n.pool || rnn__ws_init(&s->w, &m->cfg, V, 1, 1, 0, s->n.pool)) goto oom;
    rnn__pack_weights(&s->n, &s->w);
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
    rnn__ws_free(&s->w);
    rnn__mat_pool_free(s->n.pool);
    free(s->cand);
    free(s);
}

void rnn_sampler_feed(rnn_sampler *s, int32_t id) {
    workspace *w = &s->w;
    size_t H = (size_t)s->m->cfg.hidden;
    w->x[0] = id;
    rnn__layers_forward(&s->n, w, 1, 0, NULL);
    rnn__carry_state(w, s->m->cfg.layers, H, 1);
}

/* Descending probability, ties by ascending id: a total order, so the result never depends on qsort. */
static int by_prob_desc(const void *a, const void *b) {
    const prob_id *x = a, *y = b;
    int xn = isnan(x->p), yn = isnan(y->p);   /* NaN sorts last, so the order stays total */
    if (xn != yn) return xn - yn;
    if (!xn && x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Draws one id from logits z (V) with RNG *rng: temperature 0 = argmax; top_k 0 = off; top_p 1 = off. Only ids
 * with allow[id] != 0 are candidates (allow NULL: all; the caller guarantees at least one is allowed); the
 * distribution is renormalised over them. cand (V) is scratch. One shared draw for both samplers. */
static int32_t draw(const float *z, int V, const unsigned char *allow, prob_id *c, uint64_t *rng, float temperature,
                    int top_k, float top_p) {
    int best = -1;
    for (int j = 0; j < V; j++)
        if ((!allow || allow[j]) && (best < 0 || z[j] > z[best])) best = j;
    if (best < 0) {   /* nothing allowed (cannot happen for a vocabulary of valid UTF-8): draw from all */
        allow = NULL;
        best = 0;
        for (int j = 1; j < V; j++)
            if (z[j] > z[best]) best = j;
    }
    if (temperature <= 0 || V == 1) return best;
    int n = 0;
    for (int j = 0; j < V; j++)
        if (!allow || allow[j]) c[n++] = (prob_id){expf((z[j] - z[best]) / temperature), j};
    if ((top_k > 0 && top_k < n) || top_p < 1) {
        qsort(c, (size_t)n, sizeof *c, by_prob_desc);
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
    double u = rng_uniform(rng) * tot, acc = 0;
    for (int j = 0; j < n; j++) {
        acc += c[j].p;
        if (u < acc) return c[j].id;
    }
    return c[n - 1].id;
}

int32_t rnn_sampler_next(rnn_sampler *s, float temperature, int top_k, float top_p) {
    return draw(s->w.logits, s->m->vocab.size, NULL, s->cand, &s->rng, temperature, top_k, top_p);
}

/* ============================================================================================ scorer */
enum { SCORE_ROWS = 4096 };   /* T x B rows of one chunk: bounds the logits buffer (rows x V floats) */

typedef struct filler filler;
static int cloze_init(rnn_scorer *s, int threads);
static void cloze_free(filler *f);
static int score_cloze(filler *f, const int32_t *x, const size_t *where, size_t n, double *nats);

struct rnn_scorer {
    const rnn_model *m;
    net n;
    workspace w;         /* (Tmax, width) where width = max(batch, 2): never a one-row product */
    int batch, width;    /* streams per group; rows of the workspace */
    double *first;       /* (V) surprisal of each symbol from the zero state, whose logits are the output bias */
    filler *cloze;       /* bidirectional models: the stacks of the cloze scorer (score_cloze) instead of all above */
};

/* The first symbol's surprisals: softmax_rows of rnn.c on a row equal to by (the logits of a zero state), the
 * same operations in the same order, so that it is the value a forward pass from the zero state would give. */
static void zero_state_surprisal(const float *by, int V, float *z, double *out) {
    float mx = by[0];
    for (int j = 1; j < V; j++) mx = by[j] > mx ? by[j] : mx;
    for (int j = 0; j < V; j++) z[j] = by[j] - mx;
    vec_exp(z, V);
    double sum = 0;
    for (int j = 0; j < V; j++) sum += z[j];
    for (int j = 0; j < V; j++) {
        float zy = by[j] - mx;
        out[j] = log(sum) - zy;
    }
}

rnn_scorer *rnn_scorer_new(const rnn_model *m, int batch, int threads, rnn_err err) {
    rnn_scorer *s = calloc(1, sizeof *s);
    int V = m->vocab.size;
    if (!s) goto oom;
    s->m = m;
    if (m->cfg.bidir) {   /* the cloze scorer: one stream at a time, so the batch does not matter */
        if (cloze_init(s, threads)) goto oom;
        return s;
    }
    s->batch = batch < 1 ? 1 : batch > SCORE_ROWS ? SCORE_ROWS : batch;
    s->width = s->batch < 2 ? 2 : s->batch;
    int T = SCORE_ROWS / s->width > 64 ? 64 : SCORE_ROWS / s->width;
    rnn__net_for_model(&s->n, m, threads);
    s->first = malloc(sizeof(double) * V);
    if (!s->first || !s->n.pool || rnn__ws_init(&s->w, &m->cfg, V, T, s->width, 0, s->n.pool)) goto oom;
    rnn__pack_weights(&s->n, &s->w);
    zero_state_surprisal(s->n.p.by, V, s->w.logits, s->first);
    return s;
oom:
    rnn_scorer_free(s);
    snprintf(err, RNN_ERRLEN, "out of memory");
    return NULL;
}

void rnn_scorer_free(rnn_scorer *s) {
    if (!s) return;
    cloze_free(s->cloze);
    rnn__ws_free(&s->w);
    rnn__mat_pool_free(s->n.pool);
    free(s->first);
    free(s);
}

/* A stream of known symbols: its length and where it starts in the compacted ids. */
typedef struct { size_t len, at; } score_stream;

/* Longest first, ties by position: a total order, so the groups never depend on qsort. */
static int by_len_desc(const void *a, const void *b) {
    const score_stream *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

/* Runs the nb (<= batch) streams g[], longest first, side by side from the zero state: row b of each chunk is
 * stream b while it lasts. As the shorter ones end, the rows shrink to the streams still running (a prefix,
 * since they are sorted; at least 2 rows). known[at + t + 1]'s surprisal goes to nats[where[at + t + 1]]. */
static void score_group(rnn_scorer *s, const int32_t *known, const size_t *where, const score_stream *g, int nb,
                        double *nats) {
    workspace *w = &s->w;
    int L = s->m->cfg.layers;
    size_t H = (size_t)s->m->cfg.hidden, steps = g[0].len - 1;
    rnn__zero_state(w, L, (size_t)s->width * H);
    for (size_t pos = 0; pos < steps;) {
        int active = 0;
        while (active < nb && g[active].len - 1 > pos) active++;
        int B = active < 2 ? 2 : active, T = steps - pos < (size_t)w->Tmax ? (int)(steps - pos) : w->Tmax;
        rnn__ws_set_batch(w, &s->m->cfg, B);   /* rows 0..B-1 of the carried state are the running streams' */
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                size_t r = (size_t)t * B + b, k = b < active ? g[b].at + pos + t : 0;
                int live = b < active && pos + t + 1 < g[b].len;
                w->x[r] = live ? known[k] : 0;
                w->y[r] = live ? known[k + 1] : 0;
            }
        rnn__layers_forward(&s->n, w, T, 0, NULL);
        rnn__softmax_loss(&s->n, w, T * B, 0, 0);
        for (int t = 0; t < T; t++)
            for (int b = 0; b < active; b++)
                if (pos + t + 1 < g[b].len) nats[where[g[b].at + pos + t + 1]] = w->rowloss[(size_t)t * B + b];
        rnn__carry_state(w, L, (size_t)B * H, T);
        pos += (size_t)T;
    }
    rnn__ws_set_batch(w, &s->m->cfg, s->width);
}

int rnn_score_streams(rnn_scorer *s, const int32_t *ids, const size_t *start, size_t count, double *nats,
                      rnn_err err) {
    size_t lo = start[0], total = start[count] - lo, k = 0, ns = 0;
    int32_t *known = malloc(sizeof(int32_t) * (total ? total : 1));
    size_t *where = malloc(sizeof(size_t) * (total ? total : 1));
    score_stream *st = malloc(sizeof(score_stream) * (count ? count : 1));
    int rc = known && where && st ? 0 : -1;
    /* Compact each stream's known symbols (an unknown one is not fed); score each first one from the zero state
     * (a bidirectional model: the whole stream, with the cloze scorer). */
    for (size_t i = 0; i < count && !rc; i++) {
        size_t at = k;
        for (size_t j = start[i]; j < start[i + 1]; j++) {
            if (ids[j] < 0) { nats[j] = NAN; continue; }
            known[k] = ids[j];
            where[k++] = j;
        }
        if (s->cloze) rc = score_cloze(s->cloze, known + at, where + at, k - at, nats);
        else if (k > at) nats[where[at]] = s->first[known[at]];
        if (!s->cloze && k - at >= 2) st[ns++] = (score_stream){k - at, at};
    }
    if (!rc) qsort(st, ns, sizeof *st, by_len_desc);
    for (size_t g = 0; g < ns && !rc; g += (size_t)s->batch)
        score_group(s, known, where, st + g, ns - g < (size_t)s->batch ? (int)(ns - g) : s->batch, nats);
    free(known); free(where); free(st);
    if (rc) snprintf(err, RNN_ERRLEN, "out of memory");
    return rc;
}

/* ============================================================================================ generator */
/* One sample: its RNG, where its text stands, and whether it has ended. */
typedef struct {
    uint64_t rng;
    rnn_utf8_state u8;       /* of prime + output so far */
    uint64_t n, nl;          /* symbols and newlines generated */
    size_t force, force_end; /* forced ids ls_ids[force..force_end) still to write (a line start) */
    int status, stop;
    int32_t last;            /* the id it feeds next */
    unsigned char *tail;     /* (maxstop) the last bytes generated, for the stop strings */
    size_t ntail;
} gen_row;

struct rnn_gen {
    const rnn_model *m;
    rnn_gen_opts o;
    int K, B, constrain;     /* B = K rows, on a pool whose one-row products sum as the GEMM (same bits for any K) */
    int started;             /* a prime or the lead-in has been fed */
    net n;
    workspace w;             /* (1, B) */
    gen_row *row;            /* (K) */
    prob_id *cand;           /* (V) */
    unsigned char *allow;    /* (V) the ids the UTF-8 constraint allows this step */
    int32_t *ls_ids;         /* forced line-start ids; line i is ls_ids[ls_off[i]..ls_off[i+1]) */
    size_t *ls_off, nls, maxstop;
    unsigned char *tails;    /* (K, maxstop) */
};

uint64_t rnn_gen_seed(uint64_t seed, int i) { return seed ^ mix64((uint64_t)i * 0x9E3779B97F4A7C15ull); }

/* The ids of one character ch[0..len) in v (one for characters, one per byte for byte models) into ids[]; the
 * count, or 0 if some part is not in the vocabulary. */
static size_t char_ids(const rnn_vocab *v, const unsigned char *ch, size_t len, int32_t *ids) {
    size_t unknown, k = rnn_encode(v, ch, len, ids, &unknown);
    return unknown || k == 0 ? 0 : k;
}

/* Walks the characters of o->line_starts; with g, stores their ids (g->ls_ids/ls_off sized by the caller). */
static int line_starts_walk(const rnn_vocab *v, const char *text, rnn_gen *g, rnn_err err) {
    const unsigned char *t = (const unsigned char *)text;
    size_t n = strlen(text), lines = 0, off = 0;
    for (size_t i = 0; i < n;) {
        uint32_t sym;
        size_t len = (size_t)rnn_utf8_next(t + i, n - i, &sym);
        int32_t ids[4];
        size_t k = char_ids(v, t + i, len, ids);
        if (!k) {
            if (sym >= RNN_RAWBYTE) snprintf(err, RNN_ERRLEN, "'\\x%02X' is not in the model's vocabulary", t[i]);
            else snprintf(err, RNN_ERRLEN, "'%.*s' is not in the model's vocabulary", (int)len, (const char *)t + i);
            return -1;
        }
        if (g) {
            g->ls_off[lines] = off;
            memcpy(g->ls_ids + off, ids, sizeof(int32_t) * k);
        }
        off += k;
        lines++;
        i += len;
    }
    if (g) { g->ls_off[lines] = off; g->nls = lines; }
    return 0;
}

int rnn_gen_check(const rnn_model *m, const rnn_gen_opts *o, rnn_err err) {
    return o->line_starts ? line_starts_walk(&m->vocab, o->line_starts, NULL, err) : 0;
}

/* Allocates everything a generator of K samples needs; the rows start at the zero state. */
static int gen_alloc(rnn_gen *g, int threads) {
    const rnn_model *m = g->m;
    int V = m->vocab.size;
    size_t nls = g->o.line_starts ? strlen(g->o.line_starts) : 0;   /* bytes: at least the characters */
    for (int i = 0; i < g->o.nstops; i++)
        if (strlen(g->o.stops[i]) > g->maxstop) g->maxstop = strlen(g->o.stops[i]);
    g->row = calloc((size_t)g->K, sizeof *g->row);
    g->cand = malloc(sizeof(prob_id) * V);
    g->allow = malloc((size_t)V);
    g->ls_ids = malloc(sizeof(int32_t) * (nls + 1));
    g->ls_off = malloc(sizeof(size_t) * (nls + 2));
    g->tails = malloc((size_t)g->K * g->maxstop + 1);
    rnn__net_for_model(&g->n, m, threads);
    if (g->n.pool) rnn__mat_pool_set_gemm_rows(g->n.pool, 1);   /* sample i: the same bits for any number of samples */
    if (!g->row || !g->cand || !g->allow || !g->ls_ids || !g->ls_off || !g->tails || !g->n.pool ||
        rnn__ws_init(&g->w, &m->cfg, V, 1, g->B, 0, g->n.pool))
        return -1;
    rnn__pack_weights(&g->n, &g->w);
    for (int r = 0; r < g->B; r++)   /* zero state: the distribution is softmax(by) */
        memcpy(g->w.logits + (size_t)r * V, g->n.p.by, sizeof(float) * V);
    return 0;
}

rnn_gen *rnn_gen_new(const rnn_model *m, int K, uint64_t seed, int threads, const rnn_gen_opts *o, rnn_err err) {
    if (K < 1) { snprintf(err, RNN_ERRLEN, "need at least one sample"); return NULL; }
    if (check_forward(m, err) || rnn_gen_check(m, o, err)) return NULL;
    rnn_gen *g = calloc(1, sizeof *g);
    if (!g) { snprintf(err, RNN_ERRLEN, "out of memory"); return NULL; }
    g->m = m;
    g->o = *o;
    g->K = K;
    g->B = K;
    g->constrain = m->vocab.unit == RNN_UNIT_BYTE && m->vocab.utf8 && !o->raw;
    if (gen_alloc(g, threads) || (o->line_starts && line_starts_walk(&m->vocab, o->line_starts, g, err))) {
        rnn_gen_free(g);
        snprintf(err, RNN_ERRLEN, "out of memory");
        return NULL;
    }
    g->o.line_starts = NULL;   /* borrowed only until here: parsed into ls_ids */
    for (int i = 0; i < K; i++) {
        gen_row *r = &g->row[i];
        r->rng = rnn_gen_seed(seed, i);
        r->u8 = (rnn_utf8_state){0, 0x80, 0xBF};
        r->tail = g->tails + (size_t)i * g->maxstop;
        if (g->nls) r->force_end = g->ls_off[1];
    }
    return g;
}

void rnn_gen_free(rnn_gen *g) {
    if (!g) return;
    rnn__ws_free(&g->w);
    rnn__mat_pool_free(g->n.pool);
    free(g->row);
    free(g->cand);
    free(g->allow);
    free(g->ls_ids);
    free(g->ls_off);
    free(g->tails);
    free(g);
}

/* One forward step of every row on w->x; the state moves on. */
static void gen_forward(rnn_gen *g) {
    rnn__layers_forward(&g->n, &g->w, 1, 0, NULL);
    rnn__carry_state(&g->w, g->m->cfg.layers, (size_t)g->m->cfg.hidden * g->B, 1);
}

/* Feeds id to every row. */
static void feed_all(rnn_gen *g, int32_t id) {
    for (int r = 0; r < g->B; r++) g->w.x[r] = id;
    gen_forward(g);
}

int rnn_gen_prime(rnn_gen *g, const unsigned char *text, size_t n, size_t *unknown, rnn_err err) {
    if (unknown) *unknown = 0;
    if (n == 0) return 0;
    int32_t *ids = malloc(sizeof(int32_t) * n);
    if (!ids) { snprintf(err, RNN_ERRLEN, "out of memory"); return -1; }
    size_t k = rnn_encode(&g->m->vocab, text, n, ids, unknown);
    for (size_t i = 0; i < k; i++) feed_all(g, ids[i]);
    g->started |= k > 0;
    free(ids);
    for (int i = 0; i < g->K; i++)
        for (size_t j = 0; j < n; j++) rnn__utf8_feed(&g->row[i].u8, text[j]);
    return 0;
}

/* Whether sample r has reached its length bound (constrained to UTF-8: and is not inside a character). */
static int at_length(const rnn_gen *g, const gen_row *r) {
    return r->n >= g->o.length && !(g->constrain && r->u8.need);
}

/* The next id of sample i: its forced line start, or a draw from its row of logits (constrained: over the bytes
 * that keep its text a valid UTF-8 prefix). */
static int32_t gen_draw(rnn_gen *g, int i);
static int32_t gen_pick(rnn_gen *g, int i) {
    gen_row *r = &g->row[i];
    if (r->force < r->force_end) return g->ls_ids[r->force++];
    return gen_draw(g, i);
}

/* A draw from sample i's row of logits with its RNG and the sampling options (constrained: over the bytes that keep
 * its text a valid UTF-8 prefix). */
static int32_t gen_draw(rnn_gen *g, int i) {
    gen_row *r = &g->row[i];
    const rnn_vocab *v = &g->m->vocab;
    int V = v->size;
    const unsigned char *allow = NULL;
    if (g->constrain) {
        for (int j = 0; j < V; j++) g->allow[j] = (unsigned char)rnn__utf8_accepts(&r->u8, v->sym[j] - RNN_RAWBYTE);
        allow = g->allow;
    }
    return draw(g->w.logits + (size_t)i * V, V, allow, g->cand, &r->rng, g->o.temperature, g->o.top_k, g->o.top_p);
}

/* Copies row b's carried state (slot 0 of every layer's h, and c for LSTM) of a workspace into st (save) or
 * back from it: L x rnn_state_per_unit x H floats. */
static void state_copy(workspace *w, const rnn_config *c, int b, float *st, int save) {
    size_t H = (size_t)c->hidden, o = (size_t)b * H;
    for (int l = 0; l < c->layers; l++, st += H) {
        memcpy(save ? st : w->h[l] + o, save ? w->h[l] + o : st, sizeof(float) * H);
        if (w->c[l]) {
            st += H;
            memcpy(save ? st : w->c[l] + o, save ? w->c[l] + o : st, sizeof(float) * H);
        }
    }
}

/* Copies row b's carried state (state_copy: at most L x 2 x H floats) and its logits (V) into st (save) or back
 * from it. */
static void row_state(rnn_gen *g, int b, float *st, int save) {
    size_t V = (size_t)g->m->vocab.size;
    state_copy(&g->w, &g->m->cfg, b, st, save);
    st += (size_t)g->m->cfg.layers * 2 * (size_t)g->m->cfg.hidden;
    memcpy(save ? st : g->w.logits + b * V, save ? g->w.logits + b * V : st, sizeof(float) * V);
}

/* The hidden lead-in of an unprimed generator, so that the first symbol is drawn where the corpus's lines start,
 * not from the zero state (seen in training only at an epoch's start): every sample is fed the newline, then
 * draws hidden symbols with its own RNG and options (no forced line start) until it draws a newline, at most
 * LEAD_MAX; its state after that newline is where it starts. An unprimed sample is thus what the sample primed
 * with a newline writes after its first line. Rows that are done keep their state (saved, restored at the end)
 * and draw no more, so sample i does not depend on K. Without a newline in the vocabulary: no lead-in. */
enum { LEAD_MAX = 1024 };
static void lead_in(rnn_gen *g) {
    int32_t nl;
    g->started = 1;
    if (char_ids(&g->m->vocab, (const unsigned char *)"\n", 1, &nl) != 1) return;
    feed_all(g, nl);
    size_t per = (size_t)g->m->cfg.layers * 2 * (size_t)g->m->cfg.hidden + (size_t)g->m->vocab.size;
    float *saved = malloc(sizeof(float) * per * (size_t)g->K);
    unsigned char *done = calloc((size_t)g->K, 1);
    rnn_utf8_state *u0 = malloc(sizeof *u0 * (size_t)g->K);   /* each row's UTF-8 state before the lead-in */
    int pending = saved && done && u0 ? g->K : 0;   /* out of memory: the newline alone */
    for (int i = 0; i < pending; i++) u0[i] = g->row[i].u8;
    for (int step = 0; pending && step < LEAD_MAX; step++) {
        for (int i = 0; i < g->K; i++) {
            gen_row *r = &g->row[i];
            int32_t id = done[i] ? nl : gen_draw(g, i);
            unsigned char bytes[8];
            int nb = rnn_symbol_bytes(&g->m->vocab, id, bytes);
            for (int k = 0; k < nb && !done[i]; k++) rnn__utf8_feed(&r->u8, bytes[k]);
            if (!done[i] && id == nl) r->u8 = u0[i], done[i] = 2, pending--;   /* the text starts after it */
            g->w.x[i] = id;
        }
        for (int b = g->K; b < g->B; b++) g->w.x[b] = nl;
        gen_forward(g);
        for (int i = 0; i < g->K; i++)
            if (done[i] == 2) row_state(g, i, saved + per * (size_t)i, 1), done[i] = 1;
    }
    for (int i = 0; i < g->K && saved && done && u0; i++) {
        if (done[i]) row_state(g, i, saved + per * (size_t)i, 0);
        else g->row[i].u8 = u0[i];   /* LEAD_MAX symbols without a newline: it starts where the lead-in ended */
    }
    free(saved);
    free(done);
    free(u0);
}

/* Appends id to sample i (its bytes into out), then checks, in this order: the stop strings, the line limit and
 * the line starts (arming the next line's forced start), the length. */
static void gen_record(rnn_gen *g, int i, int32_t id, rnn_gen_out *out) {
    gen_row *r = &g->row[i];
    size_t ms = g->maxstop;
    int newline = 0;
    out->nbytes = rnn_symbol_bytes(&g->m->vocab, id, out->bytes);
    r->last = id;
    r->n++;
    for (int b = 0; b < out->nbytes; b++) {
        unsigned char c = out->bytes[b];
        rnn__utf8_feed(&r->u8, c);
        if (ms) {
            if (r->ntail == ms) memmove(r->tail, r->tail + 1, --r->ntail);
            r->tail[r->ntail++] = c;
        }
        if (c == '\n') { r->nl++; newline = 1; }
    }
    for (int k = 0; k < g->o.nstops; k++) {
        size_t len = strlen(g->o.stops[k]);
        if (len && r->ntail >= len && !memcmp(r->tail + r->ntail - len, g->o.stops[k], len)) {
            r->status = RNN_GEN_STOP;
            r->stop = k;
            return;
        }
    }
    if (newline && ((g->o.lines && r->nl >= g->o.lines) || (g->nls && r->nl >= g->nls))) {
        r->status = RNN_GEN_LINES;
        return;
    }
    if (newline && g->nls) {
        r->force = g->ls_off[r->nl];
        r->force_end = g->ls_off[r->nl + 1];
    }
    if (at_length(g, r)) r->status = RNN_GEN_LENGTH;
}

int rnn_gen_step(rnn_gen *g, rnn_gen_out *out) {
    int running = 0;
    if (!g->started) lead_in(g);
    for (int i = 0; i < g->K; i++) {
        gen_row *r = &g->row[i];
        out[i] = (rnn_gen_out){.nbytes = 0};
        if (!r->status && at_length(g, r)) r->status = RNN_GEN_LENGTH;   /* -n 0, or a prime ending a character */
        if (!r->status) {
            gen_record(g, i, gen_pick(g, i), &out[i]);
            running += !r->status;
        }
        out[i].status = r->status;
        out[i].stop = r->stop;
    }
    if (running) {   /* ended samples keep feeding their last symbol: their rows are ignored */
        for (int b = 0; b < g->B; b++) g->w.x[b] = b < g->K ? g->row[b].last : 0;
        gen_forward(g);
    }
    return running;
}

const float *rnn__gen_debug_logits(const rnn_gen *g, int i) { return g->w.logits + (size_t)i * g->m->vocab.size; }

/* ============================================================================================ filler */
/* The directions of a model run over a text for the fill and the cloze scorer: the state from zero, carried
 * through chunks of the workspace, with the top layer's state recorded where wanted. A short text (or a forward
 * model, or the cloze scorer) is one stream per direction; a long one is cut into windows that run as the rows of
 * one batch (fill_rows). */
struct filler {
    net n;
    net dir[2];          /* bidirectional on 2+ threads: each direction's view on its own one-thread pool (no
                          * worker threads), so that fill runs the two directions side by side; pools NULL else */
    workspace w[2];      /* (FILL_CHUNK, 1), windowed (steps, rows): stacks without `back`: [0] forward, [1]
                          * backward (bidirectional only) */
    int32_t *in;         /* (n) the inputs of this pass: the text, blanks at their current fill (or -1) */
    size_t *pos;         /* (nb) blank positions, ascending */
    float *hs[2];        /* (nb, H) each blank's forward / backward top state (bidirectional only) */
    float *logits;       /* (nb, V) */
    prob_id *cand;       /* (V) draw's scratch */
    uint64_t rng;        /* the draws' RNG */
    /* windows (fill_windows): win = 0 is one stream per direction over the whole text */
    size_t win, margin;  /* the window length asked for and the margin */
    size_t nwin;         /* W windows: window j is [j n / W, (j + 1) n / W) */
    size_t *wk;          /* (W + 1) window j's blanks are k in [wk[j], wk[j + 1]) */
    int rows;            /* windows per batch */
};

/* The fill's window rule (rnn.h rnn_fill): texts longer than FILL_WINDOW symbols are cut into
 * W = ceil(n / FILL_WINDOW) windows of about equal length, each read from FILL_MARGIN symbols before it (forward)
 * and after it (backward), FILL_ROWS windows to a batch of FILL_STEPS / FILL_ROWS steps per chunk. */
enum { FILL_CHUNK = 256, FILL_WINDOW = 2048, FILL_MARGIN = 128, FILL_ROWS = 64, FILL_STEPS = 1024 };

/* Feeds in[0..T) (T <= FILL_CHUNK) to the one-stream stack pl on w: slot t of the top layer holds the state after
 * in[0..t), and slot T becomes the carried state after the call only if carry is set. */
static void stack_run(const net *nt, const layer_view *pl, workspace *w, const int32_t *in, int T, int carry) {
    if (T <= 0) return;
    memcpy(w->x, in, sizeof(int32_t) * (size_t)T);
    rnn__stack_forward(nt, pl, w, T, 0, NULL);
    if (carry) rnn__carry_state(w, nt->c->layers, (size_t)nt->c->hidden, T);
}

/* logits z (rows, V) = [hf ; hb] Wy + by from the top states hf (rows, H) and, bidirectional, hb (rows, H). */
static void output_logits(const net *nt, int rows, const float *hf, const float *hb, float *z) {
    int H = nt->c->hidden, V = nt->V;
    rnn__mat_mul(nt->pool, rows, V, H, hf, H, 0, nt->p.wy, V, 0, z, V, 0);
    if (hb) rnn__mat_mul(nt->pool, rows, V, H, hb, H, 0, nt->p.wy + (size_t)H * V, V, 0, z, V, 1);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < V; j++) z[(size_t)r * V + j] += nt->p.by[j];
}

/* Picks a blank's symbol from its logits z (V) as o says (draw: the sampler's own), then turns z into the model's
 * probabilities (softmax at temperature 1). Returns the id. */
static int32_t fill_pick(filler *f, float *z, const rnn_fill_opts *o) {
    int V = f->n.V;
    int32_t id = draw(z, V, NULL, f->cand, &f->rng, o->temperature, o->top_k, o->top_p);
    float top = z[0];
    for (int j = 1; j < V; j++) top = z[j] > top ? z[j] : top;
    double sum = 0;
    for (int j = 0; j < V; j++) sum += (z[j] = expf(z[j] - top));
    for (int j = 0; j < V; j++) z[j] = (float)(z[j] / sum);
    return id;
}

/* Where window j of the text begins (j = W: n). */
static size_t win_bound(const filler *f, size_t n, size_t j) {
    return (size_t)((unsigned long long)j * n / f->nwin);
}

/* Direction d of the windows ws[0..B) (each with blanks) as B rows of one batch: row b reads window ws[b] from
 * the zero state, starting f->margin symbols before it (d = 0; at most from the text's start) or after it
 * (d = 1, reading right to left; at most from the text's end), and stores each of the window's blanks' top states
 * as fill_direction does. A row that has met its last blank reads "no input" until the longest row ends. Every
 * row sums exactly as it would alone (the pool sums one-row products as the GEMM). */
static void fill_rows(filler *f, int d, size_t n, const size_t *ws, int B) {
    const net *nt = f->dir[d].pool ? &f->dir[d] : &f->n;
    workspace *w = &f->w[d];
    int L = nt->c->layers, H = nt->c->hidden;
    size_t start[FILL_ROWS], len[FILL_ROWS], cur[FILL_ROWS], steps = 0;   /* row b's first input, inputs needed
                                                                           * and next blank */
    for (int b = 0; b < B; b++) {
        size_t a = win_bound(f, n, ws[b]), e = win_bound(f, n, ws[b] + 1);
        size_t k0 = f->wk[ws[b]], k1 = f->wk[ws[b] + 1] - 1;
        start[b] = d ? (n - e > f->margin ? e + f->margin : n) : (a > f->margin ? a - f->margin : 0);
        len[b] = d ? start[b] - f->pos[k0] : f->pos[k1] - start[b] + 1;
        cur[b] = d ? k1 : k0;
        steps = len[b] > steps ? len[b] : steps;
    }
    rnn__ws_set_batch(w, nt->c, B);
    rnn__zero_state(w, L, (size_t)B * H);
    for (size_t at = 0; at < steps;) {
        int T = (int)(steps - at < (size_t)w->Tmax ? steps - at : (size_t)w->Tmax);
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                size_t s = at + (size_t)t;
                w->x[(size_t)t * B + b] = s >= len[b] ? -1 : f->in[d ? start[b] - 1 - s : start[b] + s];
            }
        rnn__stack_forward(nt, d ? nt->p.lb : nt->p.l, w, T, 0, NULL);
        for (int b = 0; b < B; b++)   /* the states this chunk holds in slots 0..T-1 */
            for (size_t k; (k = cur[b]) >= f->wk[ws[b]] && k < f->wk[ws[b] + 1];) {
                size_t s = d ? start[b] - 1 - f->pos[k] : f->pos[k] - start[b];
                if (s >= at + (size_t)T) break;
                memcpy(f->hs[d] + k * H, w->h[L - 1] + ((s - at) * B + b) * H, sizeof(float) * H);
                cur[b] = d ? k - 1 : k + 1;   /* k = 0 going down wraps to SIZE_MAX: past the window */
            }
        rnn__carry_state(w, L, (size_t)B * H, T);
        at += (size_t)T;
    }
}

/* Direction d over the windows, the windows with blanks f->rows to a batch. */
static void fill_windows(filler *f, int d, size_t n) {
    size_t ws[FILL_ROWS];
    int B = 0;
    for (size_t j = 0; j < f->nwin; j++) {
        if (f->wk[j + 1] > f->wk[j]) ws[B++] = j;
        if (B == f->rows || (B && j + 1 == f->nwin)) {
            fill_rows(f, d, n, ws, B);
            B = 0;
        }
    }
}

/* Runs direction d over the text (d = 1: right to left) and stores in f->hs[d] row k the top state after the
 * symbols before (d = 0) or after (d = 1) blank k: after s = pos[k] (or n - 1 - pos[k]) symbols read. The blanks
 * are met in reading order (ascending k forward, descending backward), so each chunk looks only at its own: linear
 * in the text and the blanks. */
static void fill_direction(filler *f, int d, size_t n, size_t nb) {
    if (f->win) {
        fill_windows(f, d, n);
        return;
    }
    const net *nt = f->dir[d].pool ? &f->dir[d] : &f->n;
    workspace *w = &f->w[d];
    int L = nt->c->layers, H = nt->c->hidden;
    rnn__zero_state(w, L, (size_t)H);
    size_t upto = (d ? n - 1 - f->pos[0] : f->pos[nb - 1]) + 1;   /* inputs needed to reach the last state */
    size_t met = 0;   /* blanks whose state is stored: k = met (forward) or nb - 1 - met (backward) is next */
    int32_t chunk[FILL_CHUNK];
    for (size_t at = 0; at < upto;) {
        int T = (int)(upto - at < FILL_CHUNK ? upto - at : FILL_CHUNK);
        for (int t = 0; t < T; t++) chunk[t] = f->in[d ? n - 1 - (at + t) : at + t];
        stack_run(nt, d ? nt->p.lb : nt->p.l, w, chunk, T, 0);
        for (; met < nb; met++) {   /* the states this chunk holds in slots 0..T-1 */
            size_t k = d ? nb - 1 - met : met, s = d ? n - 1 - f->pos[k] : f->pos[k];
            if (s >= at + (size_t)T) break;
            memcpy(f->hs[d] + k * H, w->h[L - 1] + (s - at) * H, sizeof(float) * H);
        }
        rnn__carry_state(w, L, (size_t)H, T);
        at += (size_t)T;
    }
}

typedef struct { filler *f; size_t n, nb; } fill_call;

static void fill_both(void *arg, int i, int n) {   /* parts 0 and 1: the directions; the others have nothing */
    const fill_call *c = arg;
    (void)n;
    if (i < 2) fill_direction(c->f, i, c->n, c->nb);
}

/* A bidirectional pass: every blank's distribution given the current inputs, into probs (nb, V); each blank takes
 * its pick. Returns how many picks differ from the inputs at the blanks. */
static size_t fill_pass(filler *f, size_t n, size_t nb, float *probs, const rnn_fill_opts *o) {
    int V = f->n.V;
    if (f->dir[0].pool) {   /* both directions at once, one per thread: each sums as it would alone */
        fill_call c = {f, n, nb};
        rnn__mat_pool_run(f->n.pool, fill_both, &c);
    } else {
        fill_direction(f, 0, n, nb);
        fill_direction(f, 1, n, nb);
    }
    output_logits(&f->n, (int)nb, f->hs[0], f->hs[1], probs);
    size_t changed = 0;
    for (size_t k = 0; k < nb; k++) {
        int32_t id = fill_pick(f, probs + k * V, o);
        changed += f->in[f->pos[k]] != id;
        f->in[f->pos[k]] = id;
    }
    return changed;
}

/* A forward model: one pass left to right, each blank picked from the state after everything before it (the
 * blanks before it already filled, and fed on as input), its distribution into probs row k. */
static void fill_forward(filler *f, size_t nb, float *probs, const rnn_fill_opts *o) {
    const net *nt = &f->n;
    workspace *w = &f->w[0];
    int L = nt->c->layers, H = nt->c->hidden, V = nt->V;
    rnn__zero_state(w, L, (size_t)H);
    size_t at = 0;   /* inputs fed so far */
    for (size_t k = 0; k < nb; k++) {
        size_t i = f->pos[k];
        for (int T; at < i; at += (size_t)T) {
            T = (int)(i - at < FILL_CHUNK ? i - at : FILL_CHUNK);
            stack_run(nt, nt->p.l, w, f->in + at, T, 1);
        }
        output_logits(nt, 1, w->h[L - 1], NULL, probs + k * V);   /* slot 0: the state after in[0..i) */
        f->in[i] = fill_pick(f, probs + k * V, o);
    }
}

static void filler_free(filler *f) {
    rnn__mat_pool_free(f->dir[0].pool);
    rnn__mat_pool_free(f->dir[1].pool);
    rnn__ws_free(&f->w[0]);
    rnn__ws_free(&f->w[1]);
    rnn__mat_pool_free(f->n.pool);
    free(f->in);
    free(f->pos);
    free(f->hs[0]);
    free(f->hs[1]);
    free(f->logits);
    free(f->cand);
    free(f->wk);
}

/* The stacks of m (both directions if bidirectional), packed, on a pool of `threads`, in workspaces of T steps x B
 * rows; the forward one's with logits for V_out symbols (0: none). 0, or -1 when out of memory. */
static int stacks_init(filler *f, const rnn_model *m, int V_out, int threads, int T, int B) {
    rnn_config one = m->cfg;
    one.bidir = 0;   /* each direction's workspace is a plain stack's */
    rnn__net_for_model(&f->n, m, threads);
    if (!f->n.pool || !(f->cand = malloc(sizeof(prob_id) * (size_t)f->n.V))) return -1;
    for (int d = 0; d < 1 + m->cfg.bidir; d++) {
        if (rnn__ws_init(&f->w[d], &one, d ? 0 : V_out, T, B, 0, f->n.pool)) return -1;
        if (d) rnn__pack_stack(&f->n, f->n.p.lb, &f->w[1]);
        else rnn__pack_weights(&f->n, &f->w[0]);   /* with logits: Wy's forward rows too */
    }
    return 0;
}

/* The filler's buffers for a text of n symbols with nb blanks, in windows as f->win, f->rows say (f->nwin set
 * here). 0, or -1 when out of memory. */
static int filler_init(filler *f, const rnn_model *m, size_t n, size_t nb, int threads) {
    size_t H = (size_t)m->cfg.hidden, D = m->cfg.bidir ? nb * H : 1;
    f->nwin = f->win ? (n + f->win - 1) / f->win : 1;
    int B = f->win ? (f->nwin < (size_t)f->rows ? (int)f->nwin : f->rows) : 1;
    int T = f->win ? (FILL_STEPS / B < FILL_CHUNK ? FILL_STEPS / B : FILL_CHUNK) : FILL_CHUNK;
    f->in = malloc(sizeof(int32_t) * n);
    f->pos = malloc(sizeof(size_t) * nb);
    f->hs[0] = malloc(sizeof(float) * D);
    f->hs[1] = malloc(sizeof(float) * D);
    f->logits = malloc(sizeof(float) * nb * (size_t)m->vocab.size);
    f->wk = malloc(sizeof(size_t) * (f->nwin + 1));
    if (!f->in || !f->pos || !f->hs[0] || !f->hs[1] || !f->logits || !f->wk ||
        stacks_init(f, m, 0, threads, T, B)) return -1;
    for (int d = 0; d < 2 && m->cfg.bidir && threads >= 2; d++) {   /* the directions side by side (fill_pass) */
        rnn__net_for_model(&f->dir[d], m, 1);
        if (!f->dir[d].pool) return -1;
        rnn__mat_pool_set_gemm_rows(f->dir[d].pool, f->win != 0);
    }
    rnn__mat_pool_set_gemm_rows(f->n.pool, f->win != 0);   /* a row alone sums as in a batch */
    return 0;
}

/* Window j's blanks (f->wk) from the blank positions f->pos[0..nb). */
static void window_blanks(filler *f, size_t n, size_t nb) {
    size_t k = 0;
    for (size_t j = 0; j <= f->nwin; j++) {
        size_t a = j < f->nwin ? win_bound(f, n, j) : n;
        while (k < nb && f->pos[k] < a) k++;
        f->wk[j] = k;
    }
}

/* rnn_fill with windows of about `win` symbols (0: one stream per direction, the whole text) read with `margin`
 * symbols on their outer side, `rows` (1..FILL_ROWS) windows to a batch. */
static int fill_run(const rnn_model *m, int32_t *ids, const unsigned char *blank, size_t n, const rnn_fill_opts *o,
                    int threads, size_t win, size_t margin, int rows, float *probs, int *passes_done, rnn_err err) {
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) nb += blank[i] != 0;
    if (passes_done) *passes_done = 0;
    if (!nb) return 0;
    filler f;
    memset(&f, 0, sizeof f);
    f.win = m->cfg.bidir ? win : 0;   /* a forward model reads its fills on: one stream */
    f.margin = margin;
    f.rows = rows < 1 ? 1 : rows > FILL_ROWS ? FILL_ROWS : rows;
    if (filler_init(&f, m, n, nb, threads)) {
        filler_free(&f);
        snprintf(err, RNN_ERRLEN, "out of memory");
        return -1;
    }
    f.rng = o->seed;
    for (size_t i = 0, k = 0; i < n; i++) {
        f.in[i] = blank[i] ? -1 : ids[i];   /* pass 1: the other blanks are "no input" */
        if (blank[i]) f.pos[k++] = i;
    }
    window_blanks(&f, n, nb);
    float *out = probs ? probs : f.logits;
    int p = 0, drawing = o->temperature > 0;
    if (!m->cfg.bidir) {
        fill_forward(&f, nb, out, o);
        p = 1;
    }
    while (m->cfg.bidir && p < o->passes) {
        p++;
        size_t changed = fill_pass(&f, n, nb, out, o);
        if (nb == 1 || (!drawing && p > 1 && !changed)) break;   /* one blank: the first pass is exact */
    }
    for (size_t k = 0; k < nb; k++) ids[f.pos[k]] = f.in[f.pos[k]];
    if (passes_done) *passes_done = p;
    filler_free(&f);
    return 0;
}

int rnn_fill(const rnn_model *m, int32_t *ids, const unsigned char *blank, size_t n, const rnn_fill_opts *o,
             int threads, float *probs, int *passes_done, rnn_err err) {
    return fill_run(m, ids, blank, n, o, threads, n > FILL_WINDOW ? FILL_WINDOW : 0, FILL_MARGIN, FILL_ROWS, probs,
                    passes_done, err);
}

int rnn__debug_fill(const rnn_model *m, int32_t *ids, const unsigned char *blank, size_t n, const rnn_fill_opts *o,
                    int threads, size_t window, size_t margin, int rows, float *probs, rnn_err err) {
    return fill_run(m, ids, blank, n, o, threads, window, margin, rows, probs, NULL, err);
}

/* ============================================================================================ cloze scorer */
/* A bidirectional model's scores (rnn_scorer_new): the cloze surprisal of every symbol of x[0..n) (known ids) into
 * nats[where[t]]. F_t, the forward state after x[0..t), and B_t, the backward one after x(t..n), both from zero,
 * meet at the output layer. Blocks of FILL_CHUNK positions run from the right, carrying the backward state; the
 * forward state at each block's start comes from a first forward pass that kept it (all layers) in ck. 0, or -1
 * when out of memory. */
static int score_cloze(filler *f, const int32_t *x, const size_t *where, size_t n, double *nats) {
    const net *nt = &f->n;
    workspace *wf = &f->w[0], *wb = &f->w[1];
    int L = nt->c->layers, H = nt->c->hidden;
    size_t nblk = (n + FILL_CHUNK - 1) / FILL_CHUNK, per = (size_t)L * rnn_state_per_unit(nt->c->cell) * H;
    float *ck = malloc(sizeof(float) * (nblk ? nblk : 1) * per);
    if (!ck) return -1;
    rnn__zero_state(wf, L, (size_t)H);
    for (size_t k = 0; k < nblk; k++) {   /* the forward state at each block's start */
        state_copy(wf, nt->c, 0, ck + k * per, 1);
        if (k + 1 < nblk) stack_run(nt, nt->p.l, wf, x + k * FILL_CHUNK, FILL_CHUNK, 1);
    }
    rnn__zero_state(wb, L, (size_t)H);
    int32_t rev[FILL_CHUNK];
    for (size_t k = nblk; k-- > 0;) {
        size_t a = k * FILL_CHUNK;
        int T = (int)(n - a < FILL_CHUNK ? n - a : FILL_CHUNK);
        state_copy(wf, nt->c, 0, ck + k * per, 0);
        stack_run(nt, nt->p.l, wf, x + a, T, 0);        /* slot t: F_{a+t} */
        for (int t = 0; t < T; t++) rev[t] = x[a + (size_t)(T - 1 - t)];
        stack_run(nt, nt->p.lb, wb, rev, T, 0);         /* slot t: B_{a+T-1-t} */
        float *hb = f->hs[0];
        for (int t = 0; t < T; t++) memcpy(hb + (size_t)t * H, wb->h[L - 1] + (size_t)(T - 1 - t) * H, sizeof(float) * H);
        rnn__carry_state(wb, L, (size_t)H, T);               /* B_{a-1}: the next block's last */
        output_logits(nt, T, wf->h[L - 1], hb, wf->logits);
        memcpy(wf->y, x + a, sizeof(int32_t) * (size_t)T);
        rnn__softmax_loss(nt, wf, T, 0, 0);
        for (int t = 0; t < T; t++) nats[where[a + (size_t)t]] = wf->rowloss[t];
    }
    free(ck);
    return 0;
}

/* The cloze scorer's stacks (the forward one with logits) and its (FILL_CHUNK, H) block of backward states. */
static int cloze_init(rnn_scorer *s, int threads) {
    filler *f = s->cloze = calloc(1, sizeof *f);
    if (!f || !(f->hs[0] = malloc(sizeof(float) * FILL_CHUNK * (size_t)s->m->cfg.hidden))) return -1;
    return stacks_init(f, s->m, s->m->vocab.size, threads, FILL_CHUNK, 1);
}

static void cloze_free(filler *f) {
    if (!f) return;
    filler_free(f);
    free(f);
}
