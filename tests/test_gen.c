/* tests/test_gen.c — generation (rnn_gen.c): the same validation loss and sampled text on 1 and 3 threads; the
 * scorer against the stream loss, across batches and threads, with unknown symbols; the batched generator's
 * samples independent of K and threads; byte models' constrained output always valid UTF-8; the fill's windows of a
 * long text, bit for bit against each window alone. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"
#include "rnn_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One-row products (sampling, validation) split big weight matrices over the pool: rnn 1x256 and lstm 2x128
 * are past that size, so 1 and 3 threads must give the same validation loss and the same sampled bytes. */
int test_sample_threads(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    len = len > 60000 ? 60000 : len;
    rnn_config cs[2] = {small_config(RNN_CELL_RNN, 1, 256, 4, 16), small_config(RNN_CELL_LSTM, 2, 128, 4, 16)};
    for (int ci = 0; ci < 2; ci++) {
        unsigned char out[2][3000];
        size_t lo[2];
        float val[2];
        for (int k = 0; k < 2; k++) {
            rig r;
            if (rig_make(&r, &cs[ci], text, len, RNN_UNIT_CHAR, k ? 3 : 1)) { free(text); return 1; }
            rnn_train_step(r.t);
            val[k] = (float)rnn_validate(r.t);
            int bad = sample_into(r.m, 7, k ? 3 : 1, 600, "The ", out[k], &lo[k]);
            rig_free(&r);
            if (bad) { free(text); FAILF("sampler: out of memory"); }
        }
        if (val[0] != val[1] || lo[0] != lo[1] || memcmp(out[0], out[1], lo[0])) {
            free(text);
            FAILF("%s: 1 and 3 threads differ: validation %.9g vs %.9g, %zu vs %zu sampled bytes",
                  rnn_cell_name(cs[ci].cell), val[0], val[1], lo[0], lo[1]);
        }
    }
    free(text);
    snprintf(detail, sizeof detail, "rnn 1x256, lstm 2x128: validation loss and 600 sampled symbols identical on 1 and 3 threads");
    return 0;
}

/* ---------------------------------------------------------------------------------------------- scorer */
/* Scores `count` streams of ids (with start offsets) on a fresh scorer; 0, or -1 if it fails. */
static int score_into(const rnn_model *m, int batch, int threads, const int32_t *ids, const size_t *start,
                      size_t count, double *nats) {
    rnn_err err;
    rnn_scorer *s = rnn_scorer_new(m, batch, threads, err);
    if (!s) return -1;
    int r = rnn_score_streams(s, ids, start, count, nats, err);
    rnn_scorer_free(s);
    return r;
}

/* Bit-identical doubles, NaN equal to NaN. */
static int same_bits(const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) && !(isnan(a[i]) && isnan(b[i]))) return 0;
    return 1;
}

/* One model's checks: the stream loss (validation's) agrees with the scorer's; the first symbol is scored from
 * the zero state; 40 streams of lengths 0..~200, some with unknown (-1) symbols, give the same bits alone, in
 * batches of 1, 7 and 64 and on 1, 2 or 3 threads; an unknown symbol is skipped (the others' bits unchanged). */
static int score_checks(const rig *r, char *msg, size_t msglen) {
    enum { N = 3000, S = 40, CAP = 8000 };   /* the streams below hold 4180 symbols, 24 of them unknown */
    static int32_t ids[CAP], plain[CAP];
    static double a[CAP], b[CAP], c[CAP], one[CAP];
    size_t start[S + 1], n = 0;
    if (score_into(r->m, 1, 1, r->ids, (size_t[]){0, N}, 1, a)) FAILF("scorer: out of memory");
    double sum = 0, ref = rnn__debug_stream_loss(r->m, r->ids, N, 3, 1);
    for (size_t i = 1; i < N; i++) sum += a[i];
    if (!(fabs(sum / (N - 1) - ref) < 1e-9 * ref)) FAILF("mean of symbols 2..N %.12f, stream loss %.12f", sum / (N - 1), ref);
    const float *by = rnn_model_params(r->m) + rnn_model_nparams(r->m) - rnn_model_vocab(r->m)->size;
    double z = 0;
    for (int j = 0; j < rnn_model_vocab(r->m)->size; j++) z += exp((double)by[j]);
    if (!(fabs(a[0] - (log(z) - by[r->ids[0]])) < 1e-5)) FAILF("first symbol %.7f, -log softmax(by) %.7f", a[0], log(z) - by[r->ids[0]]);
    /* streams: length (i * 37) % 211, every 5th with unknown symbols at its start, middle and end */
    size_t pos = 0;
    for (int i = 0; i < S; i++) {
        start[i] = n;
        size_t len = (size_t)(i * 37) % 211;
        for (size_t j = 0; j < len; j++) {
            if (i % 5 == 1 && (j == 0 || j == len / 2 || j == len - 1)) ids[n++] = -1;
            plain[pos] = r->ids[pos];
            ids[n++] = r->ids[pos++];
        }
    }
    start[S] = n;
    if (score_into(r->m, 1, 1, ids, start, S, a) || score_into(r->m, 7, 3, ids, start, S, b) ||
        score_into(r->m, 64, 2, ids, start, S, c)) FAILF("scorer: out of memory");
    if (!same_bits(a, b, n) || !same_bits(a, c, n)) FAILF("batch 1 / 7 / 64 on 1 / 3 / 2 threads differ");
    for (int i = 0; i < S; i++) {
        if (score_into(r->m, 5, 1, ids + start[i], (size_t[]){0, start[i + 1] - start[i]}, 1, one)) FAILF("scorer: out of memory");
        if (!same_bits(one, a + start[i], start[i + 1] - start[i])) FAILF("stream %d alone differs from the batch", i);
    }
    /* unknown symbols: NaN, and the known ones score as if the unknown were not there */
    size_t unk = 0, kp = 0;
    for (int i = 0; i < S; i++) {
        size_t ps = kp;
        for (size_t j = start[i]; j < start[i + 1]; j++) if (ids[j] >= 0) kp++;
        if (score_into(r->m, 2, 1, plain + ps, (size_t[]){0, kp - ps}, 1, one)) FAILF("scorer: out of memory");
        for (size_t j = start[i], q = 0; j < start[i + 1]; j++) {
            if (ids[j] < 0) { unk++; if (!isnan(a[j])) FAILF("unknown symbol scored %g", a[j]); continue; }
            if (memcmp(&one[q++], &a[j], sizeof a[j])) FAILF("stream %d: with unknown symbols skipped, symbol %zu differs", i, j - start[i]);
        }
    }
    snprintf(msg + strlen(msg), msglen - strlen(msg), "%s %.5f ", rnn_cell_name(r->m->cfg.cell), ref);
    return unk ? 0 : (snprintf(detail, sizeof detail, "no unknown symbols tested"), 1);
}

int test_score(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    rnn_config cs[3] = {small_config(RNN_CELL_RNN, 1, 40, 8, 16), small_config(RNN_CELL_LSTM, 2, 40, 8, 16),
                        small_config(RNN_CELL_GRU, 2, 40, 8, 16)};
    char msg[256] = "";
    for (int ci = 0; ci < 3; ci++) {
        rig r;
        if (rig_make(&r, &cs[ci], text, 40000, RNN_UNIT_CHAR, 1)) { free(text); return 1; }
        for (int i = 0; i < 10; i++) rnn_train_step(r.t);
        int bad = score_checks(&r, msg, sizeof msg);
        rig_free(&r);
        if (bad) { free(text); return 1; }
    }
    free(text);
    snprintf(detail, sizeof detail, "scorer == stream loss, batches 1/7/64 x threads 1/3/2 == alone, unknown skipped: %s", msg);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- fill */
static const rnn_fill_opts likeliest = {.passes = 4, .temperature = 0, .top_p = 1};

/* The fill tests' model, trained briefly on 30000 symbols of fortunes.txt: bidirectional lstm 2x24 (30 steps), or
 * forward gru 2x32 (40 steps). 0, or 1 with detail. */
static int fill_rig(rig *r, int bidir) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    rnn_config c = bidir ? small_config(RNN_CELL_LSTM, 2, 24, 4, 16) : small_config(RNN_CELL_GRU, 2, 32, 8, 16);
    c.bidir = bidir;
    int bad = rig_make(r, &c, text, 30000, RNN_UNIT_CHAR, 1);
    free(text);
    for (int i = 0; !bad && i < (bidir ? 30 : 40); i++) rnn_train_step(r->t);
    return bad;
}

/* One pass over many blanks in a text of several 256-symbol chunks (blanks on both sides of chunk boundaries, two
 * in one chunk, the first and last symbols): blank k's distribution is that of a fill with blank k alone and the
 * other blanks' positions unknown symbols (read as no input, as pass 1 reads the other blanks), within 1e-6 (the
 * output product of 9 rows and of 1 sums differently); 3 threads (the two directions side by side) give the bits
 * of 1. A state taken from the wrong position is off by far more. */
int test_fill_blanks(void) {
    rig r;
    if (fill_rig(&r, 1)) return 1;
    enum { N = 900, NB = 9 };
    size_t at[NB] = {0, 5, 255, 256, 300, 301, 511, 512, N - 1};
    int V = rnn_model_vocab(r.m)->size, bad = 0;
    int32_t ids[N], one[N];
    unsigned char blank[N], b1[N];
    float *probs = malloc(sizeof(float) * NB * V), *p1 = malloc(sizeof(float) * V);
    rnn_fill_opts o = likeliest;
    o.passes = 1;
    rnn_err err;
    float *probs3 = malloc(sizeof(float) * NB * V);
    double worst = 0;
    memset(blank, 0, sizeof blank);
    for (int k = 0; k < NB; k++) blank[at[k]] = 1;
    memcpy(ids, r.ids, sizeof ids);
    if (rnn_fill(r.m, ids, blank, N, &o, 1, probs, NULL, err)) bad = -1;
    memcpy(ids, r.ids, sizeof ids);
    if (!bad && rnn_fill(r.m, ids, blank, N, &o, 3, probs3, NULL, err)) bad = -1;
    if (!bad && memcmp(probs, probs3, sizeof(float) * NB * V)) bad = -2;
    for (int k = 0; k < NB && !bad; k++) {
        memcpy(one, r.ids, sizeof one);
        memset(b1, 0, sizeof b1);
        for (int j = 0; j < NB; j++) one[at[j]] = -1;
        b1[at[k]] = 1;
        if (rnn_fill(r.m, one, b1, N, &o, 1, p1, NULL, err)) bad = -1;
        for (int v = 0; v < V && !bad; v++) worst = fmax(worst, fabs(p1[v] - probs[(size_t)k * V + v]));
        if (!bad && worst > 1e-6) bad = 1 + k;
    }
    rig_free(&r);
    free(probs);
    free(probs3);
    free(p1);
    if (bad > 0) FAILF("blank %d (position %zu) differs from its fill alone by %g", bad - 1, at[bad - 1], worst);
    if (bad == -2) FAILF("3 threads differ from 1");
    if (bad) FAILF("fill failed");
    snprintf(detail, sizeof detail, "bidirectional lstm 2x24, %d symbols, %d blanks across 4 chunks: each blank's pass-1 "
             "distribution == its fill alone (max difference %.2g), 3 threads == 1", N, NB, worst);
    return 0;
}

/* The blanks of the window tests: every 29th symbol, both sides of the bounds of windows of 300 and of 2000 (the
 * default rule's on 6000 symbols), the first and the last symbol. */
static void window_blanks(unsigned char *blank, size_t n) {
    for (size_t i = 0; i < n; i++)
        blank[i] = i % 29 == 3 || i % 300 < 2 || i % 300 == 299 || i % 2000 < 2 || i % 2000 == 1999 || i == n - 1;
}

/* Fills r's first n ids (blanks: window_blanks) into ids, probs with the rule window/margin/rows of
 * rnn__debug_fill (rows 0: rnn_fill's own rule). The blank count, or 0 if the fill failed. */
static size_t fill_with(const rig *r, size_t n, int passes, int threads, size_t window, size_t margin, int rows,
                        int32_t *ids, unsigned char *blank, float *probs) {
    rnn_fill_opts o = likeliest;
    o.passes = passes;
    rnn_err err;
    size_t nb = 0;
    memcpy(ids, r->ids, sizeof(int32_t) * n);
    window_blanks(blank, n);
    for (size_t i = 0; i < n; i++) nb += blank[i];
    if (!rows) return rnn_fill(r->m, ids, blank, n, &o, threads, probs, NULL, err) ? 0 : nb;
    return rnn__debug_fill(r->m, ids, blank, n, &o, threads, window, margin, rows, probs, err) ? 0 : nb;
}

/* Whether two fills of n symbols with nb blanks gave the same ids and the same bits of every probability. */
static int same_fill(const int32_t *a, const float *pa, const int32_t *b, const float *pb, size_t n, size_t nb,
                     int V) {
    return !memcmp(a, b, sizeof(int32_t) * n) && !memcmp(pa, pb, sizeof(float) * nb * (size_t)V);
}

/* Each of the W windows of a one-pass fill of r's first n ids (fill_with: its fills ids, probs) against a fill of
 * that window and its margins alone, as one window: the window that differs, or -1 if none (-2: a fill failed). */
static long window_alone(const rig *r, size_t n, size_t W, size_t margin, const unsigned char *blank,
                         const int32_t *ids, const float *probs) {
    int V = rnn_model_vocab(r->m)->size;
    rnn_fill_opts o = likeliest;
    o.passes = 1;
    rnn_err err;
    int32_t *sid = malloc(sizeof(int32_t) * n);
    float *sp = malloc(sizeof(float) * n * V);
    long bad = -1;
    for (size_t j = 0, k0 = 0; j < W && bad == -1; j++) {
        size_t a = j * n / W, b = (j + 1) * n / W;
        size_t s = a > margin ? a - margin : 0, e = n - b > margin ? b + margin : n;
        size_t ks = 0, kb = 0;   /* blanks before the substring and in the window; k0: before the window */
        for (size_t i = 0; i < b; i++) ks += blank[i] && i < s, kb += blank[i] && i >= a;
        memcpy(sid, r->ids + s, sizeof(int32_t) * (e - s));
        if (!sp || !sid || rnn__debug_fill(r->m, sid, blank + s, e - s, &o, 1, e - s, 0, 1, sp, err)) bad = -2;
        else if (memcmp(sp + (k0 - ks) * V, probs + k0 * V, sizeof(float) * kb * V)) bad = (long)j;
        for (size_t i = a; i < b && bad == -1; i++)
            if (blank[i] && sid[i - s] != ids[i]) bad = (long)j;
        k0 += kb;
    }
    free(sid);
    free(sp);
    return bad;
}

/* The fill's window rule (rnn.h rnn_fill): a text of up to 2048 symbols is one stream per direction (rnn__debug_fill
 * with window 0, the fill as it always was); a longer one is cut into W = ceil(n / 2048) windows
 * [j n / W, (j + 1) n / W), each read from zero 128 symbols before and after it, run as rows of one batch. Checked
 * bit for bit: 2048 symbols against the one stream; 6000 symbols (3 windows) on 1 and 3 threads, and each window's
 * blanks after one pass against a fill of that window and its margins alone (as one window); the same with
 * windows of 300 and margins of 8, where the blanks at the window bounds are close enough to a margin's start to
 * see a shift by one symbol; windows of 300 batched 64, 5 and 1 to a batch, 4 passes. */
int test_fill_windows(void) {
    rig r;
    if (fill_rig(&r, 1)) return 1;
    enum { N = 6000 };
    int V = rnn_model_vocab(r.m)->size, bad = 0;
    int32_t *ids[2] = {malloc(sizeof(int32_t) * N), malloc(sizeof(int32_t) * N)};
    unsigned char *blank = malloc(N);
    float *probs[2] = {malloc(sizeof(float) * N * V), malloc(sizeof(float) * N * V)};
    long win = -1;
    size_t nb1 = fill_with(&r, 2048, 4, 1, 0, 0, 0, ids[0], blank, probs[0]), nb = 0;
    if (!nb1 || !fill_with(&r, 2048, 4, 1, 0, 0, 1, ids[1], blank, probs[1])) bad = -1;
    else if (!same_fill(ids[0], probs[0], ids[1], probs[1], 2048, nb1, V)) bad = 1;
    for (int k = 0; k < 2 && !bad; k++)
        if (!(nb = fill_with(&r, N, 4, k ? 3 : 1, 0, 0, 0, ids[k], blank, probs[k]))) bad = -1;
    if (!bad && !same_fill(ids[0], probs[0], ids[1], probs[1], N, nb, V)) bad = 2;
    if (!bad && !fill_with(&r, N, 1, 1, 0, 0, 0, ids[0], blank, probs[0])) bad = -1;
    if (!bad && (win = window_alone(&r, N, 3, 128, blank, ids[0], probs[0])) != -1) bad = win == -2 ? -1 : 3;
    if (!bad && !fill_with(&r, N, 1, 1, 300, 8, 64, ids[0], blank, probs[0])) bad = -1;
    if (!bad && (win = window_alone(&r, N, 20, 8, blank, ids[0], probs[0])) != -1) bad = win == -2 ? -1 : 4;
    for (int k = 0; k < 3 && !bad; k++) {
        int rows[3] = {64, 5, 1};
        if (!fill_with(&r, N, 4, 1, 300, 40, rows[k], ids[k > 0], blank, probs[k > 0])) bad = -1;
        else if (k && !same_fill(ids[0], probs[0], ids[1], probs[1], N, nb, V)) bad = 4 + k;
    }
    rig_free(&r);
    free(ids[0]); free(ids[1]); free(blank); free(probs[0]); free(probs[1]);
    if (bad == -1) FAILF("fill failed");
    if (bad == 1) FAILF("2048 symbols: rnn_fill differs from the one-stream fill");
    if (bad == 2) FAILF("6000 symbols: 3 threads differ from 1");
    if (bad == 3 || bad == 4)
        FAILF("windows of %d: window %ld's blanks differ from a fill of the window and its margins alone",
              bad == 3 ? 2000 : 300, win);
    if (bad > 4) FAILF("windows of 300: %d to a batch differ from 64", bad == 5 ? 5 : 1);
    snprintf(detail, sizeof detail, "bidirectional lstm 2x24: 2048 symbols (%zu blanks) == one stream; 6000 symbols "
             "(%zu blanks): 3 windows, 1 == 3 threads; each window == itself alone with its margins (3 windows, "
             "margin 128; 20, margin 8); 20 windows batched 64 == 5 == 1", nb1, nb);
    return 0;
}

/* The cloze loss of the training/validation path (one window over the whole text, no margin needed) equals the
 * mean of -log p(symbol) that rnn_fill gives each position blanked alone: two independent constructions of
 * "the forward state after the symbols before, the backward state after the symbols after" agree, so neither
 * is shifted by one (a shift either leaks the symbol itself or loses its neighbour). Fill is also the same for
 * 1 and 3 threads, taking the likeliest and drawing (which runs exactly its passes). */
int test_fill_consistent(void) {
    rig r;
    if (fill_rig(&r, 1)) return 1;
    enum { N = 120 };
    int V = rnn_model_vocab(r.m)->size;
    double window = rnn__debug_cloze_loss(r.m, r.ids, N, 256, 0, 1), sum = 0;
    int32_t ids[N];
    unsigned char blank[N];
    float *probs = malloc(sizeof(float) * V);
    rnn_err err;
    int bad = 0;
    for (int q = 1; q < N && !bad; q++) {
        memcpy(ids, r.ids, sizeof ids);
        memset(blank, 0, sizeof blank);
        blank[q] = 1;
        ids[q] = 0;   /* ignored */
        if (rnn_fill(r.m, ids, blank, N, &likeliest, 1, probs, NULL, err)) { bad = 1; break; }
        sum -= log(probs[r.ids[q]]);
    }
    /* Several blanks (a run of three and two single ones) on 1 and 3 threads: the same fills and probabilities,
     * taking the likeliest (at most 4 passes) and drawing (exactly 3). */
    int32_t ids3[N];
    float *many = malloc(sizeof(float) * 5 * V), *many3 = malloc(sizeof(float) * 5 * V);
    rnn_fill_opts drawn = {.passes = 3, .temperature = 0.9f, .top_k = 20, .top_p = 0.95f, .seed = 5};
    int done[2] = {0, 0};
    for (int k = 0; k < 2 && !bad; k++) {
        memcpy(ids, r.ids, sizeof ids);
        memset(blank, 0, sizeof blank);
        blank[10] = blank[11] = blank[12] = blank[40] = blank[N - 1] = 1;
        memcpy(ids3, ids, sizeof ids);
        const rnn_fill_opts *o = k ? &drawn : &likeliest;
        if (rnn_fill(r.m, ids, blank, N, o, 1, many, &done[k], err) || rnn_fill(r.m, ids3, blank, N, o, 3, many3, NULL, err))
            bad = 1;
        else if (memcmp(ids, ids3, sizeof ids) || memcmp(many, many3, sizeof(float) * 5 * V)) bad = 2;
    }
    if (!bad && (done[0] < 1 || done[0] > 4 || done[1] != 3)) bad = 3;
    free(many);
    free(many3);
    free(probs);
    rig_free(&r);
    double fill = sum / (N - 1);
    if (bad == 1) FAILF("rnn_fill: %s", err);
    if (bad == 2) FAILF("fill on 1 and 3 threads gave different fills or probabilities");
    if (bad == 3) FAILF("passes: %d taking the likeliest (1..4 expected), %d drawing (3 expected)", done[0], done[1]);
    snprintf(detail, sizeof detail, "cloze loss of %d symbols: windowed path %.6f, fill one blank at a time %.6f; "
             "1 == 3 threads, likeliest (%d passes) and drawn (3 passes)", N - 1, window, fill, done[0]);
    return !(fabs(window - fill) < 1e-4);
}

/* A forward model fills left to right from the left context only: each blank is the sampler's likeliest next
 * symbol after the text before it (earlier blanks filled), and its probability is the scorer's for the filled
 * text, -log p = the surprisal at that position. Drawing (-t > 0): the same seed gives the same fills on 1 and 3
 * threads, another seed other fills, and the draws are not all the likeliest. */
int test_fill_forward(void) {
    rig r;
    if (fill_rig(&r, 0)) return 1;
    enum { N = 400, NB = 40 };
    int V = rnn_model_vocab(r.m)->size, bad = 0;
    static int32_t ids[N], d1[N], d3[N], d6[N];
    static unsigned char blank[N];
    static double nats[N];
    float *probs = malloc(sizeof(float) * NB * V);
    rnn_err err;
    memcpy(ids, r.ids, sizeof ids);
    for (int k = 0; k < NB; k++) blank[k < 2 ? k : k * 9 + 3] = 1;   /* positions 0, 1 (a run at the start), 21, 30, ... */
    rnn_fill_opts drawn = {.passes = 4, .temperature = 1, .top_p = 1, .seed = 5};
    memcpy(d1, ids, sizeof ids);
    memcpy(d3, ids, sizeof ids);
    memcpy(d6, ids, sizeof ids);
    int passes = 0;
    if (rnn_fill(r.m, ids, blank, N, &likeliest, 1, probs, &passes, err) || rnn_fill(r.m, d1, blank, N, &drawn, 1, NULL, NULL, err) ||
        rnn_fill(r.m, d3, blank, N, &drawn, 3, NULL, NULL, err)) bad = 1;
    drawn.seed = 6;
    if (!bad && rnn_fill(r.m, d6, blank, N, &drawn, 2, NULL, NULL, err)) bad = 1;
    rnn_scorer *sc = bad ? NULL : rnn_scorer_new(r.m, 1, 1, err);
    if (!bad && (!sc || rnn_score_streams(sc, ids, (size_t[]){0, N}, 1, nats, err))) bad = 1;
    rnn_scorer_free(sc);
    rnn_sampler *sm = bad ? NULL : rnn_sampler_new(r.m, 1, 1, err);
    if (!bad && !sm) bad = 1;
    double worst = 0;
    int same1 = 0, diff6 = 0, notbest = 0;
    for (int i = 0, k = 0; i < N && !bad; i++) {
        if (blank[i]) {
            int32_t want = rnn_sampler_next(sm, 0, 0, 1);
            if (want != ids[i]) { bad = 2; snprintf(err, RNN_ERRLEN, "blank at %d: filled %d, the sampler's likeliest %d", i, ids[i], want); }
            double e = fabs(-log(probs[(size_t)k * V + ids[i]]) - nats[i]);
            worst = e > worst ? e : worst;
            same1 += d1[i] == d3[i];
            diff6 += d1[i] != d6[i];
            notbest += d1[i] != ids[i];
            k++;
        }
        rnn_sampler_feed(sm, ids[i]);
    }
    rnn_sampler_free(sm);
    free(probs);
    rig_free(&r);
    if (bad == 1) FAILF("fill, scorer or sampler: %s", err);
    if (bad == 2) FAILF("%s", err);
    if (passes != 1) FAILF("a forward fill ran %d passes, not 1", passes);
    if (!(worst < 1e-4)) FAILF("-log p of a fill and the scorer's surprisal differ by %g", worst);
    if (same1 != NB) FAILF("drawn fills differ on 1 and 3 threads (%d of %d the same)", same1, NB);
    if (!diff6 || !notbest) FAILF("seeds 5 and 6 differ at %d blanks; %d draws are not the likeliest", diff6, notbest);
    snprintf(detail, sizeof detail, "gru 2x32, %d blanks: fills == the sampler's likeliest, -log p == scorer's surprisal "
             "(max diff %.2g); drawn: 1 == 3 threads, seeds 5/6 differ at %d, %d not the likeliest", NB, worst, diff6, notbest);
    return 0;
}

/* The cloze scorer of a bidirectional model (streams longer than its blocks of 256): the mean surprisal of symbols
 * 2..N equals the validation path's cloze loss over one window with no margin; the first symbol's equals rnn_fill's
 * -log p with it blanked; the same bits in one stream or among others, with batch 1 or 64, 1 or 3 threads; an
 * unknown symbol is skipped (the others' bits as if it were not there). */
int test_score_bidir(void) {
    rig r;
    if (fill_rig(&r, 1)) return 1;
    enum { N = 700 };
    static int32_t ids[N + 3];
    static double a[N], b[N + 3], one[N];
    int V = rnn_model_vocab(r.m)->size;
    float *probs = malloc(sizeof(float) * V);
    unsigned char *blank = calloc(N, 1);
    rnn_err err;
    int bad = score_into(r.m, 1, 1, r.ids, (size_t[]){0, N}, 1, a);
    /* two streams [0, 300) and [300, N) with an unknown symbol in each, together on 3 threads, batch 64 */
    memcpy(ids, r.ids, sizeof(int32_t) * 150);
    ids[150] = -1;
    memcpy(ids + 151, r.ids + 150, sizeof(int32_t) * 150);
    memcpy(ids + 301, r.ids + 300, sizeof(int32_t) * (N - 300));
    ids[N + 1] = -1;
    ids[N + 2] = r.ids[0];
    bad = bad || score_into(r.m, 64, 3, ids, (size_t[]){0, 301, N + 3}, 2, b);
    bad = bad || score_into(r.m, 1, 1, r.ids, (size_t[]){0, 300}, 1, one);
    int32_t first = r.ids[0];
    memcpy(ids, r.ids, sizeof(int32_t) * N);
    blank[0] = 1;
    bad = bad || rnn_fill(r.m, ids, blank, N, &likeliest, 1, probs, NULL, err);
    double cloze = rnn__debug_cloze_loss(r.m, r.ids, N, 1024, 0, 1), sum = 0, p0 = bad ? 0 : -log(probs[first]);
    free(probs);
    free(blank);
    rig_free(&r);
    if (bad) FAILF("scorer or fill failed");
    for (int i = 1; i < N; i++) sum += a[i];
    if (!(fabs(sum / (N - 1) - cloze) < 1e-4)) FAILF("mean cloze surprisal %.6f, validation path's cloze loss %.6f", sum / (N - 1), cloze);
    if (!(fabs(a[0] - p0) < 1e-4)) FAILF("first symbol %.6f, fill's -log p %.6f", a[0], p0);
    if (!same_bits(one, b, 150) || !same_bits(one + 150, b + 151, 150) || !isnan(b[150]) || !isnan(b[N + 1]))
        FAILF("stream 1 with an unknown symbol, among others, batch 64, 3 threads differs from it alone");
    snprintf(detail, sizeof detail, "lstm 2x24, %d symbols: mean cloze surprisal %.6f == validation path %.6f; first "
             "symbol == fill's; unknown skipped; batch/threads/companions do not matter", N, sum / (N - 1), cloze);
    return 0;
}

/* Runs K samples of n symbols (prime "Th", or `prime`, none if NULL; temperature 0.9, top-k 20) and copies sample i's bytes into
 * out[i] (room for 4n+4), lengths into len[i]; with hash, hash[i] folds the bits of every logit sample i drew from.
 * -1 if the generator fails. */
static int gen_run_primed(const rnn_model *m, int K, int threads, int n, const rnn_gen_opts *base,
                          unsigned char (*out)[2048], size_t *len, uint64_t *hash, const char *prime) {
    rnn_err err;
    rnn_gen_opts o = *base;
    o.length = (uint64_t)n;
    rnn_gen *g = rnn_gen_new(m, K, 11, threads, &o, err);
    rnn_gen_out *st = calloc((size_t)K, sizeof *st);
    if (!g || !st || (prime && rnn_gen_prime(g, (const unsigned char *)prime, strlen(prime), NULL, err))) {
        rnn_gen_free(g);
        free(st);
        return -1;
    }
    int V = rnn_model_vocab(m)->size;
    for (int i = 0; i < K; i++) {
        len[i] = 0;
        if (hash) hash[i] = 1469598103934665603ull;
    }
    for (int more = 1; more;) {
        for (int i = 0; hash && i < K; i++) {   /* the logits of the coming draw */
            const float *z = rnn__gen_debug_logits(g, i);
            for (int j = 0; j < V && !st[i].status; j++) {
                uint32_t u;
                memcpy(&u, z + j, 4);
                hash[i] = (hash[i] ^ u) * 1099511628211ull;
            }
        }
        if (!(more = rnn_gen_step(g, st))) break;
        for (int i = 0; i < K; i++)
            if (len[i] + 4 <= 2048) { memcpy(out[i] + len[i], st[i].bytes, (size_t)st[i].nbytes); len[i] += (size_t)st[i].nbytes; }
    }
    for (int i = 0; i < K; i++)   /* the last step's bytes */
        if (len[i] + 4 <= 2048) { memcpy(out[i] + len[i], st[i].bytes, (size_t)st[i].nbytes); len[i] += (size_t)st[i].nbytes; }
    rnn_gen_free(g);
    free(st);
    return 0;
}

static int gen_run(const rnn_model *m, int K, int threads, int n, const rnn_gen_opts *base, unsigned char (*out)[2048],
                   size_t *len, uint64_t *hash) {
    return gen_run_primed(m, K, threads, n, base, out, len, hash, "Th");
}

/* The lead-in of an unprimed generator: each unprimed sample (40 symbols at temperature 0.9, top-k 20) is what the
 * sample primed with "\n" writes after its first line (drawn with the same RNG and options), and the one primed
 * with text of no known symbol ("\x01"); sample i the same for K = 1 and 3. Without the lead-in the first logits
 * would be the zero state's, and with the newline alone they would be those after the prime: both fail. */
int test_gen_lead_in(void) {
    size_t tl;
    unsigned char *text = slurp("fortunes.txt", &tl);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    static unsigned char a[3][2048], b[3][2048];
    size_t la[3], lb[3];
    rnn_gen_opts o = {.temperature = 0.9f, .top_k = 20, .top_p = 1.0f};
    rnn_config c = small_config(RNN_CELL_LSTM, 1, 32, 4, 16);
    rig r;
    if (rig_make(&r, &c, text, 20000, RNN_UNIT_CHAR, 1)) { free(text); return 1; }
    free(text);
    for (int s = 0; s < 60; s++) rnn_train_step(r.t);
    const char *primes[3] = {"\x01", NULL, "\n"};
    int bad = gen_run_primed(r.m, 3, 1, 40, &o, a, la, NULL, NULL), which = -1, lines = 0;
    for (int k = 0; !bad && k < 3; k++) {
        int K = k == 1 ? 1 : 3;
        bad = gen_run_primed(r.m, K, 1, k == 2 ? 1500 : 40, &o, b, lb, NULL, primes[k]);
        for (int i = 0; !bad && i < K; i++) {
            const unsigned char *nl = k == 2 ? memchr(b[i], '\n', lb[i]) : NULL, *from = nl ? nl + 1 : b[i];
            lines += nl != NULL;
            if ((size_t)(b[i] + lb[i] - from) < la[i] || memcmp(a[i], from, la[i])) bad = 1, which = k;
        }
    }
    rig_free(&r);
    if (bad) FAILF("unprimed samples differ from those %s", which == 0 ? "primed with an unknown symbol" :
                   which == 1 ? "unprimed with K = 1" : which == 2 ? "primed with \"\\n\" after their first line" :
                   "(generator failed)");
    if (lines != 3) FAILF("only %d of 3 samples primed with \"\\n\" drew a newline: the test needs a model that does", lines);
    snprintf(detail, sizeof detail, "lstm 1x32: 3 unprimed samples == primed with \"\\n\" after their first line "
             "== primed with an unknown symbol; K = 1 == K = 3");
    return 0;
}

/* The batched generator: sample i is the same bytes for K = 1, 3, 5 and 64 streams and on 1 and 3 threads, for
 * every cell (the rows of the batched forward do not depend on how many there are: one row and a few take the
 * small-M path with the GEMM's sums, more the GEMM); different samples differ. */
int test_gen_batch(void) {
    size_t tl;
    unsigned char *text = slurp("fortunes.txt", &tl);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    int cells[3] = {RNN_CELL_RNN, RNN_CELL_LSTM, RNN_CELL_GRU};
    static unsigned char a[64][2048], b[64][2048];
    size_t la[64], lb[64];
    uint64_t ha[64], hb[64];
    rnn_gen_opts o = {.temperature = 0.9f, .top_k = 20, .top_p = 1.0f};
    for (int ci = 0; ci < 3; ci++) {
        rnn_config c = small_config(cells[ci], 2, 300, 4, 16);   /* two KC blocks, an input product above layer 0 */
        rig r;
        if (rig_make(&r, &c, text, 40000, RNN_UNIT_CHAR, 1)) { free(text); return 1; }
        for (int s = 0; s < 3; s++) rnn_train_step(r.t);
        int bad = gen_run(r.m, 64, 1, 200, &o, a, la, ha);
        for (int k = 0; !bad && k < 4; k++) {   /* K = 1 and 3 (the small-M path, one row), 5 (the GEMM) */
            int K = k == 0 ? 1 : k == 3 ? 5 : 3, th = k == 2 ? 3 : 1;
            bad = gen_run(r.m, K, th, 200, &o, b, lb, hb) ? -1 : 0;
            for (int i = 0; !bad && i < K; i++)
                if (la[i] != lb[i] || memcmp(a[i], b[i], la[i]) || ha[i] != hb[i]) bad = 1 + i;
            if (bad > 0) { rig_free(&r); free(text); FAILF("%s: sample %d (bytes or logits) differs with K=64 and K=%d, %d threads", rnn_cell_name(cells[ci]), bad - 1, K, th); }
        }
        if (!bad && la[0] == la[1] && !memcmp(a[0], a[1], la[0])) bad = 2;
        rig_free(&r);
        if (bad) { free(text); FAILF("%s: %s", rnn_cell_name(cells[ci]), bad < 0 ? "generator failed" : "samples 0 and 1 are the same"); }
    }
    free(text);
    snprintf(detail, sizeof detail, "rnn, lstm, gru 2x300: samples 0..2 of 200 symbols and every logit they drew from identical for K=64, 5, 3, 1 and 1/3 threads");
    return 0;
}

/* Whether s[0..n) is strictly valid UTF-8 (no raw-byte symbol when decoded). */
static int is_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += (size_t)rnn_utf8_next(s + i, n - i, &cp);
        if (cp >= RNN_RAWBYTE) return 0;
    }
    return 1;
}

/* Property: a --bytes model trained briefly on tang.txt (valid UTF-8) writes valid UTF-8 for every one of 256
 * seeds (64 samples x 4 runs, 150 bytes each, hot temperature, the length ending mid-character finishes it);
 * with raw = 1 (the constraint off) most samples are not valid, so the check can fail. */
int test_gen_utf8(void) {
    size_t tl;
    unsigned char *text = slurp("tang.txt", &tl);
    if (!text) FAILF("cannot read %s/tang.txt", data_dir);
    rnn_config c = small_config(RNN_CELL_RNN, 1, 32, 8, 16);
    rig r;
    size_t n = tl > 200000 ? 200000 : tl;
    while (n < tl && (text[n] & 0xC0) == 0x80) n--;   /* whole characters: the cut text stays valid UTF-8 */
    if (rig_make(&r, &c, text, n, RNN_UNIT_BYTE, 1)) { free(text); return 1; }
    free(text);
    for (int s = 0; s < 20; s++) rnn_train_step(r.t);
    if (!rnn_model_vocab(r.m)->utf8) { rig_free(&r); FAILF("vocabulary of tang.txt not marked valid UTF-8"); }
    static unsigned char out[64][2048];
    size_t len[64];
    int invalid[2] = {0, 0};
    for (int raw = 0; raw < 2; raw++)
        for (int run = 0; run < 4; run++) {
            rnn_gen_opts o = {.temperature = 1.5f + 0.25f * run, .top_p = 1.0f, .raw = raw, .length = 150};
            rnn_err err;
            rnn_gen *g = rnn_gen_new(r.m, 64, 1000 + (uint64_t)run, 1, &o, err);
            rnn_gen_out st[64];
            if (!g) { rig_free(&r); FAILF("generator: %s", err); }
            for (int i = 0; i < 64; i++) len[i] = 0;
            int running;
            do {
                running = rnn_gen_step(g, st);
                for (int i = 0; i < 64; i++) { memcpy(out[i] + len[i], st[i].bytes, (size_t)st[i].nbytes); len[i] += (size_t)st[i].nbytes; }
            } while (running);
            rnn_gen_free(g);
            for (int i = 0; i < 64; i++) {
                invalid[raw] += !is_utf8(out[i], len[i]);
                if (!raw && (len[i] < 150 || len[i] > 153)) { rig_free(&r); FAILF("sample of %zu bytes, not 150..153", len[i]); }
            }
        }
    rig_free(&r);
    if (invalid[0]) FAILF("%d of 256 constrained samples are not valid UTF-8", invalid[0]);
    if (invalid[1] < 128) FAILF("only %d of 256 raw samples are invalid: the property test is too weak", invalid[1]);
    snprintf(detail, sizeof detail, "256 constrained samples valid UTF-8; %d of 256 raw ones are not", invalid[1]);
    return 0;
}

/* --precision bf16: the one-row products (M == 1: the sampler, one symbol of one stream at a time) give the bits
 * the batched GEMM gives (the scorer's and training's path: here 2 identical streams x 16 steps), for every logit
 * of 96 positions, in all three cells with 2 layers (so wx, wh and wy products all take both paths). FP32 makes no
 * such promise (the GEMM sums K in blocks, fused); the detail reports how many of its logits differ. With the
 * pool's GEMM rows on (the generator's), FP32's one-row logits are the batched ones too. */
static int paths_differ(const rnn_model *m, const int32_t *ids, int n, int gemm_rows, size_t *ndiff) {
    net a, b;
    workspace wa, wb;
    rnn__net_for_model(&a, m, 1);
    rnn__net_for_model(&b, m, 3);
    if (a.pool) rnn__mat_pool_set_gemm_rows(a.pool, gemm_rows);
    int V = m->vocab.size, L = m->cfg.layers, H = m->cfg.hidden, T = 16, rc = -1;
    if (!a.pool || !b.pool || rnn__ws_init(&wa, &m->cfg, V, 1, 1, 0, a.pool)) goto out;
    if (rnn__ws_init(&wb, &m->cfg, V, T, 2, 0, b.pool)) { rnn__ws_free(&wa); goto out; }
    rnn__pack_weights(&a, &wa);
    rnn__pack_weights(&b, &wb);
    *ndiff = 0;
    for (int t0 = 0; t0 + T <= n; t0 += T) {
        for (int t = 0; t < T; t++) wb.x[2 * t] = wb.x[2 * t + 1] = ids[t0 + t];
        rnn__layers_forward(&b, &wb, T, 0, NULL);
        rnn__carry_state(&wb, L, (size_t)2 * H, T);
        for (int t = 0; t < T; t++) {
            wa.x[0] = ids[t0 + t];
            rnn__layers_forward(&a, &wa, 1, 0, NULL);
            rnn__carry_state(&wa, L, (size_t)H, 1);
            for (int r = 0; r < 2; r++)
                for (int v = 0; v < V; v++) *ndiff += wa.logits[v] != wb.logits[(size_t)(2 * t + r) * V + v];
        }
    }
    rc = 0;
    rnn__ws_free(&wa);
    rnn__ws_free(&wb);
out:
    rnn__mat_pool_free(a.pool);
    rnn__mat_pool_free(b.pool);
    return rc;
}

int test_bf16_paths(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    int cells[3] = {RNN_CELL_RNN, RNN_CELL_LSTM, RNN_CELL_GRU};
    char msg[256] = "";
    for (int ci = 0; ci < 3; ci++) {
        rnn_config c = small_config(cells[ci], 2, 300, 8, 16);   /* H = 300: two K blocks in every product */
        c.precision = RNN_PREC_BF16;
        rig r;
        if (rig_make(&r, &c, text, 30000, RNN_UNIT_CHAR, 2)) { free(text); return 1; }
        rnn_train_step(r.t);
        size_t d16 = 0, d32 = 0, dg = 0;
        rnn_err err;
        int bad = paths_differ(r.m, r.ids, 96, 0, &d16) || rnn_model_set_precision(r.m, RNN_PREC_FP32, err) ||
                  paths_differ(r.m, r.ids, 96, 0, &d32) || paths_differ(r.m, r.ids, 96, 1, &dg);
        rig_free(&r);
        if (bad) { free(text); FAILF("out of memory"); }
        if (d16) { free(text); FAILF("%s bf16: %zu logits differ between the one-row and the batched path", rnn_cell_name(cells[ci]), d16); }
        if (dg) { free(text); FAILF("%s fp32, GEMM rows: %zu logits differ between the one-row and the batched path", rnn_cell_name(cells[ci]), dg); }
        if (!d32) { free(text); FAILF("%s fp32: the plain one-row path equals the batched one: the check cannot fail", rnn_cell_name(cells[ci])); }
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s%s %zu", ci ? ", " : "", rnn_cell_name(cells[ci]), d32);
    }
    free(text);
    snprintf(detail, sizeof detail, "rnn, lstm, gru 2x300 bf16 and fp32 with GEMM rows: one-row == batched for 96 positions x 2 rows x V logits (plain fp32 differs in %s)", msg);
    return 0;
}
