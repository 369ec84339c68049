/* tests/test_rnn.c — library tests that need the internals: gradient checks, determinism across threads,
 * exact save/load and resume, UTF-8 round trips, learning on real text, the divergence guard, the GEMM kernel.
 *
 * Usage: tests/test_rnn NAME [DATA_DIR]   (run by test.sh; `tests/test_rnn list` prints the names)
 * Prints one line, "ok - NAME: detail" or "not ok - NAME: detail", and exits 0 only if the test passed.
 */
#define _POSIX_C_SOURCE 200809L
#include "rnn_impl.h"
#include "rnn_mat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *data_dir = "data";
static char detail[1024];

#define FAILF(...) do { snprintf(detail, sizeof detail, __VA_ARGS__); return 1; } while (0)

/* ---------------------------------------------------------------------------------------------- helpers */
static unsigned char *slurp(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* A deterministic pseudo-text over a small alphabet with some structure to learn. */
static size_t make_text(unsigned char *buf, size_t n, int alphabet) {
    uint64_t s = 7;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int r = (int)((s >> 33) % 10);
        buf[i] = (unsigned char)('a' + (r < 6 && i ? (buf[i - 1] - 'a' + 1) % alphabet : r % alphabet));
    }
    return n;
}

typedef struct {
    rnn_model *m;
    rnn_trainer *t;
    int32_t *ids;
    size_t n;
} rig;

static void rig_free(rig *r) {
    rnn_trainer_free(r->t);
    rnn_model_free(r->m);
    free(r->ids);
    memset(r, 0, sizeof *r);
}

/* Model + trainer on `text` with config c. Returns 0 or fills detail. */
static int rig_make(rig *r, const rnn_config *c, const unsigned char *text, size_t len, int unit, int threads) {
    rnn_err err;
    rnn_vocab v;
    memset(r, 0, sizeof *r);
    if (rnn_vocab_build(&v, text, len, unit, err)) FAILF("vocab: %s", err);
    r->m = rnn_model_new(c, &v, err);
    rnn_vocab_free(&v);
    if (!r->m) FAILF("model: %s", err);
    r->ids = malloc(sizeof(int32_t) * len);
    r->n = rnn_encode(rnn_model_vocab(r->m), text, len, r->ids, NULL);
    r->t = rnn_trainer_new(r->m, r->ids, r->n, threads, NULL, err);
    if (!r->t) FAILF("trainer: %s", err);
    return 0;
}

static rnn_config small_config(int cell, int layers, int hidden, int batch, int seq) {
    rnn_config c;
    rnn_config_default(&c);
    c.cell = cell;
    c.layers = layers;
    c.hidden = hidden;
    c.batch = batch;
    c.seq = seq;
    return c;
}

/* ---------------------------------------------------------------------------------------------- gradcheck */
/* Every parameter of a tiny model (several layers, batch > 1, seq > 1, non-zero carried state) against a
 * central finite difference of the chunk loss. Float32 forward: eps = 1e-2 balances rounding noise against
 * curvature; an entry passes when |analytic - numeric| <= 2e-4 + 1e-2 * max(|a|, |n|). */
static int gradcheck(int cell, float dropout, int batch) {
    unsigned char text[600];
    make_text(text, sizeof text, 6);
    rnn_config c = small_config(cell, 2, 5, batch, 4);
    c.dropout = dropout;
    rig r;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
    for (int i = 0; i < 3; i++) rnn_train_step(r.t);   /* carried state and moved weights */
    float *g, *p = rnn_model_params(r.m);
    size_t np = rnn_model_nparams(r.m);
    rnn_trainer_eval_chunk(r.t, 1, &g);
    float *ga = malloc(sizeof(float) * np);
    memcpy(ga, g, sizeof(float) * np);
    rnn_tensor ts[64];
    int nt = rnn_param_tensors(r.m, ts, 64);
    const float eps = 1e-2f;
    int bad = 0;
    char worst[256] = "";
    double worst_err = 0;
    for (int k = 0; k < nt; k++) {
        int meaningful = 0;
        for (size_t i = ts[k].offset; i < ts[k].offset + ts[k].count; i++) {
            float keep = p[i];
            p[i] = keep + eps;
            double lp = rnn_trainer_eval_chunk(r.t, 0, NULL);
            p[i] = keep - eps;
            double lm = rnn_trainer_eval_chunk(r.t, 0, NULL);
            p[i] = keep;
            double num = (lp - lm) / (2.0 * eps), a = ga[i], mx = fmax(fabs(a), fabs(num));
            double e = fabs(a - num);
            if (mx > 1e-3) meaningful++;
            if (e > 2e-4 + 1e-2 * mx) {
                bad++;
                if (e > worst_err) {
                    worst_err = e;
                    snprintf(worst, sizeof worst, "%s[%d] #%zu analytic %.6g numeric %.6g", ts[k].name, ts[k].layer,
                             i - ts[k].offset, a, num);
                }
            }
        }
        if (!meaningful) {
            snprintf(detail, sizeof detail, "%s[%d]: no entry has a gradient above 1e-3 (check cannot see it)",
                     ts[k].name, ts[k].layer);
            free(ga);
            rig_free(&r);
            return 1;
        }
    }
    snprintf(detail, sizeof detail, "%s%s B%d: %zu parameters in %d tensors; %d mismatches%s%s", rnn_cell_name(cell),
             dropout > 0 ? "+dropout" : "", batch, np, nt, bad, bad ? ", worst " : "", worst);
    free(ga);
    rig_free(&r);
    return bad != 0;
}

/* ---------------------------------------------------------------------------------------------- threads */
/* Training results are bit-identical for 1, 2, 3 and 7 threads (sizes large enough that the pool is used; 7 is
 * more threads than cores here, so parts get claimed by whichever thread runs first). */
static int threads_identical(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    len = len > 200000 ? 200000 : len;
    int cells[3] = {RNN_CELL_RNN, RNN_CELL_LSTM, RNN_CELL_GRU};
    for (int ci = 0; ci < 3; ci++) {
        float *ref = NULL, ref_val = 0;
        size_t np = 0;
        static const int nth[] = {1, 2, 3, 7};
        for (int ti = 0; ti < 4; ti++) {
            int th = nth[ti];
            rnn_config c = small_config(cells[ci], 2, 96, 24, 16);
            c.dropout = 0.2f;
            rig r;
            if (rig_make(&r, &c, text, len, RNN_UNIT_CHAR, th)) { free(text); free(ref); return 1; }
            for (int i = 0; i < 4; i++) rnn_train_step(r.t);
            rnn_validate(r.t);
            np = rnn_model_nparams(r.m);
            if (!ref) {
                ref = malloc(sizeof(float) * np);
                memcpy(ref, rnn_model_params(r.m), sizeof(float) * np);
                ref_val = rnn_model_progress(r.m)->last_val;
            } else if (memcmp(ref, rnn_model_params(r.m), sizeof(float) * np) ||
                       rnn_model_progress(r.m)->last_val != ref_val) {
                rig_free(&r);
                free(ref);
                free(text);
                FAILF("%s: parameters or validation loss after 4 steps differ between 1 and %d threads", rnn_cell_name(cells[ci]), th);
            }
            rig_free(&r);
        }
        free(ref);
    }
    free(text);
    snprintf(detail, sizeof detail, "rnn, lstm, gru 2x96 B24 T16 with dropout: 1, 2, 3, 7 threads bit-identical");
    return 0;
}

/* ---------------------------------------------------------------------------------------------- round trip */
static int sample_into(const rnn_model *m, uint64_t seed, int threads, int n, const char *prime, unsigned char *out,
                       size_t *len) {
    rnn_err err;
    rnn_sampler *s = rnn_sampler_new(m, seed, threads, err);
    if (!s) return -1;
    if (prime) {
        int32_t ids[256];
        size_t k = rnn_encode(rnn_model_vocab(m), (const unsigned char *)prime, strlen(prime), ids, NULL);
        for (size_t i = 0; i < k; i++) rnn_sampler_feed(s, ids[i]);
    }
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        int32_t id = rnn_sampler_next(s, 0.9f, i % 3 == 1 ? 5 : 0, i % 3 == 2 ? 0.9f : 1.0f);
        o += (size_t)rnn_symbol_bytes(rnn_model_vocab(m), id, out + o);
        rnn_sampler_feed(s, id);
    }
    *len = o;
    rnn_sampler_free(s);
    return 0;
}

/* One-row products (sampling, validation) split big weight matrices over the pool: rnn 1x256 and lstm 2x128
 * are past that size, so 1 and 3 threads must give the same validation loss and the same sampled bytes. */
static int sample_threads(void) {
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

static int save_load_sample(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    rnn_config c = small_config(RNN_CELL_LSTM, 2, 32, 8, 16);
    rig r;
    if (rig_make(&r, &c, text, 50000, RNN_UNIT_CHAR, 2)) { free(text); return 1; }
    for (int i = 0; i < 20; i++) rnn_train_step(r.t);
    rnn_validate(r.t);
    char path[] = "/tmp/charrnn-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    rnn_err err;
    rnn_model *m2 = NULL;
    int rc = 1;
    unsigned char a[4096], b[4096], d[4096];
    size_t la = 0, lb = 0, ld = 0;
    if (rnn_save(path, r.m, NULL, err)) { snprintf(detail, sizeof detail, "save: %s", err); goto out; }
    if (rnn_load(path, &m2, NULL, err)) { snprintf(detail, sizeof detail, "load: %s", err); goto out; }
    if (rnn_model_nparams(m2) != rnn_model_nparams(r.m) ||
        memcmp(rnn_model_params(m2), rnn_model_params(r.m), sizeof(float) * rnn_model_nparams(r.m))) {
        snprintf(detail, sizeof detail, "parameters differ after save/load");
        goto out;
    }
    const rnn_vocab *v1 = rnn_model_vocab(r.m), *v2 = rnn_model_vocab(m2);
    if (v1->size != v2->size || memcmp(v1->sym, v2->sym, sizeof(uint32_t) * v1->size)) {
        snprintf(detail, sizeof detail, "vocabulary differs after save/load");
        goto out;
    }
    const rnn_config *c1 = rnn_model_config(r.m), *c2 = rnn_model_config(m2);
    if (c1->cell != c2->cell || c1->layers != c2->layers || c1->hidden != c2->hidden || c1->batch != c2->batch ||
        c1->seq != c2->seq || c1->optim != c2->optim || c1->lr != c2->lr || c1->lr_decay != c2->lr_decay ||
        c1->clip != c2->clip || c1->dropout != c2->dropout || c1->val_frac != c2->val_frac || c1->seed != c2->seed ||
        c1->forget_bias != c2->forget_bias ||
        rnn_model_progress(m2)->step != 20 || rnn_model_progress(m2)->last_val != rnn_model_progress(r.m)->last_val) {
        snprintf(detail, sizeof detail, "config or progress differs after save/load");
        goto out;
    }
    sample_into(r.m, 99, 1, 1000, "The ", a, &la);
    sample_into(m2, 99, 1, 1000, "The ", b, &lb);
    sample_into(m2, 100, 1, 1000, "The ", d, &ld);
    if (la != lb || memcmp(a, b, la)) { snprintf(detail, sizeof detail, "loaded model samples different bytes"); goto out; }
    sample_into(m2, 99, 1, 1000, "The ", d, &ld);
    if (ld != lb || memcmp(d, b, ld)) { snprintf(detail, sizeof detail, "same seed twice gave different bytes"); goto out; }
    sample_into(m2, 100, 1, 1000, "The ", d, &ld);
    if (ld == lb && !memcmp(d, b, ld)) { snprintf(detail, sizeof detail, "different seeds gave the same bytes"); goto out; }
    snprintf(detail, sizeof detail, "params, vocab, config identical; 1000 sampled symbols identical (seed 99)");
    rc = 0;
out:
    unlink(path);
    rnn_model_free(m2);
    rig_free(&r);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- resume */
/* N steps, save (with training state), load, resume for M more == N + M straight, bit for bit; across an
 * epoch boundary with learning-rate decay and dropout. */
static int resume_exact(int cell) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    len = 12000;   /* small: 11 chunks per epoch, so N + M crosses epoch boundaries */
    rnn_config c = small_config(cell, 2, 24, 8, 16);
    c.dropout = 0.25f;
    c.lr_decay = 0.9f;
    c.optim = cell == RNN_CELL_GRU ? RNN_OPT_ADAGRAD : RNN_OPT_ADAM;
    const int N = 17, M = 13;
    rig a, b;
    if (rig_make(&a, &c, text, len, RNN_UNIT_CHAR, 2)) { free(text); return 1; }
    for (int i = 0; i < N + M; i++) rnn_train_step(a.t);
    if (rig_make(&b, &c, text, len, RNN_UNIT_CHAR, 1)) { free(text); rig_free(&a); return 1; }
    for (int i = 0; i < N; i++) rnn_train_step(b.t);
    char path[] = "/tmp/charrnn-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    rnn_err err;
    int rc = 1;
    rnn_model *m = NULL;
    rnn_resume *rs = NULL;
    rnn_trainer *t = NULL;
    if (rnn_save(path, b.m, b.t, err)) { snprintf(detail, sizeof detail, "save: %s", err); goto out; }
    if (rnn_load(path, &m, &rs, err) || !rs) { snprintf(detail, sizeof detail, "load: %s", rs ? err : "no resume state"); goto out; }
    t = rnn_trainer_new(m, b.ids, b.n, 3, rs, err);
    if (!t) { snprintf(detail, sizeof detail, "trainer: %s", err); goto out; }
    for (int i = 0; i < M; i++) rnn_train_step(t);
    size_t np = rnn_model_nparams(m);
    if (memcmp(rnn_model_params(m), rnn_model_params(a.m), sizeof(float) * np)) {
        snprintf(detail, sizeof detail, "%s: resumed weights differ from uninterrupted training", rnn_cell_name(cell));
        goto out;
    }
    /* A different corpus is refused. */
    rnn_trainer *t2 = rnn_trainer_new(m, b.ids + 1, b.n - 1, 1, rs, err);
    if (t2) { rnn_trainer_free(t2); snprintf(detail, sizeof detail, "resume on another corpus was accepted"); goto out; }
    snprintf(detail, sizeof detail, "%s: %d + %d steps (over epoch ends, lr decay, dropout) == %d straight, bit for bit",
             rnn_cell_name(cell), N, M, N + M);
    rc = 0;
out:
    unlink(path);
    rnn_trainer_free(t);
    rnn_model_free(m);
    rnn_resume_free(rs);
    rig_free(&a);
    rig_free(&b);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- UTF-8 */
static int valid_utf8(const unsigned char *s, size_t n) {
    rnn_vocab v;
    rnn_err err;
    if (n == 0) return 1;
    if (rnn_vocab_build(&v, s, n, RNN_UNIT_CHAR, err)) return 0;
    int ok = v.sym[v.size - 1] < RNN_RAWBYTE;   /* no byte fell out as a raw symbol */
    rnn_vocab_free(&v);
    return ok;
}

static int roundtrip(const unsigned char *text, size_t len, int unit, int *vsize) {
    rnn_vocab v;
    rnn_err err;
    if (rnn_vocab_build(&v, text, len, unit, err)) return -1;
    int32_t *ids = malloc(sizeof(int32_t) * len);
    size_t unk, n = rnn_encode(&v, text, len, ids, &unk);
    unsigned char *back = malloc(len + 4);
    size_t o = 0;
    int ok = unk == 0;
    for (size_t i = 0; i < n && ok; i++) {
        unsigned char b[4];
        int k = rnn_symbol_bytes(&v, ids[i], b);
        if (o + (size_t)k > len) ok = 0;
        else { memcpy(back + o, b, (size_t)k); o += (size_t)k; }
    }
    ok = ok && o == len && !memcmp(back, text, len);
    *vsize = v.size;
    free(ids);
    free(back);
    rnn_vocab_free(&v);
    return ok ? 0 : -1;
}

static int utf8(void) {
    size_t len;
    unsigned char *zh = slurp("tang.txt", &len);
    if (!zh) FAILF("cannot read %s/tang.txt", data_dir);
    int vz, vb, vm;
    if (roundtrip(zh, len, RNN_UNIT_CHAR, &vz)) { free(zh); FAILF("Chinese text does not round-trip"); }
    if (roundtrip(zh, len, RNN_UNIT_BYTE, &vb) || vb > 256) { free(zh); FAILF("Chinese text does not round-trip as bytes"); }
    if (!valid_utf8(zh, len)) { free(zh); FAILF("tang.txt itself is not valid UTF-8"); }
    /* Invalid bytes of every kind, CRLF, and a 4-byte character. */
    static const unsigned char junk[] = "a\r\nb\xff\xfe \xc3\x28 \xe2\x82 \xf0\x9f\x98\x80 \xed\xa0\x80 \xc0\xaf "
                                        "\xf4\x90\x80\x80 \xe0\x80\x80 caf\xc3\xa9\r\n\x80\x00z\xe4\xb8";
    if (roundtrip(junk, sizeof junk - 1, RNN_UNIT_CHAR, &vm)) { free(zh); FAILF("invalid bytes + CRLF do not round-trip"); }
    /* A model on Chinese text samples valid UTF-8 (sampling cannot split a character). */
    rnn_config c = small_config(RNN_CELL_GRU, 1, 16, 4, 8);
    rig r;
    if (rig_make(&r, &c, zh, len, RNN_UNIT_CHAR, 1)) { free(zh); return 1; }
    rnn_train_step(r.t);
    unsigned char *out = malloc(4 * 3000);
    size_t lo = 0;
    sample_into(r.m, 5, 1, 3000, "《", out, &lo);
    int ok = valid_utf8(out, lo);
    free(out);
    rig_free(&r);
    free(zh);
    if (!ok) FAILF("sampled output of a UTF-8 model is not valid UTF-8");
    snprintf(detail, sizeof detail, "tang.txt (%d characters, %d bytes as --bytes), junk+CRLF (%d symbols) round-trip; "
             "3000 sampled Chinese characters are valid UTF-8", vz, vb, vm);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- learning */
/* A short run on real text ends with validation loss well below the unigram model's (cross-entropy of the
 * validation split under the training split's add-one-smoothed symbol frequencies). */
static int learns(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    rnn_config c = small_config(RNN_CELL_RNN, 1, 128, 32, 64);
    rig r;
    if (rig_make(&r, &c, text, len, RNN_UNIT_CHAR, 2)) { free(text); return 1; }
    rnn_train_info info;
    rnn_trainer_info(r.t, &info);
    int V = rnn_model_vocab(r.m)->size;
    double *cnt = calloc((size_t)V, sizeof(double)), uni = 0;
    for (size_t i = 0; i < info.n_train; i++) cnt[r.ids[i]] += 1;
    for (size_t i = info.n_train + 1; i < r.n; i++) uni -= log((cnt[r.ids[i]] + 1) / (info.n_train + V));
    uni /= (double)(r.n - info.n_train - 1);
    free(cnt);
    double first = rnn_validate(r.t);
    for (int i = 0; i < 400; i++) rnn_train_step(r.t);
    double v = rnn_validate(r.t);
    rig_free(&r);
    free(text);
    snprintf(detail, sizeof detail, "unigram %.3f nats/char; val %.3f before, %.3f after 400 steps (rnn 1x128)", uni,
             first, v);
    return !(v < uni - 0.6);
}

/* ---------------------------------------------------------------------------------------------- divergence */
/* A step whose loss or gradient is not finite changes nothing: not the weights, not the step count. */
static int divergence(void) {
    unsigned char text[3000];
    make_text(text, sizeof text, 8);
    rnn_config c = small_config(RNN_CELL_RNN, 1, 16, 4, 8);
    c.optim = RNN_OPT_SGD;
    c.clip = 0;
    rig r;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
    rnn_train_step(r.t);
    float *p = rnn_model_params(r.m);
    size_t np = rnn_model_nparams(r.m);
    p[np - 1] = INFINITY;   /* an output bias of +inf: the softmax gives NaN */
    float *before = malloc(sizeof(float) * np);
    memcpy(before, p, sizeof(float) * np);
    uint64_t step = rnn_model_progress(r.m)->step;
    double loss = rnn_train_step(r.t);
    int ok = !isfinite(loss) && !memcmp(before, p, sizeof(float) * np) && rnn_model_progress(r.m)->step == step;
    free(before);
    rig_free(&r);
    snprintf(detail, sizeof detail, "non-finite loss %g returned; weights and step unchanged: %s", loss, ok ? "yes" : "NO");
    return !ok;
}

/* ---------------------------------------------------------------------------------------------- GEMM */
static int gemm(void) {
    int shapes[][3] = {{1, 1, 1}, {1, 700, 600}, {1, 33, 1000}, {7, 5, 3}, {33, 65, 17}, {128, 300, 257},
                       {64, 1024, 300}, {512, 65, 300}, {3, 700, 600}, {200, 9, 520}};
    uint64_t s = 1;
    mat_pool *p1 = mat_pool_new(1), *p3 = mat_pool_new(3);
    int bad = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++) {
                    int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2], lda = ta ? M : K, ldb = tb ? K : N;
                    float *A = malloc(4 * (size_t)M * K), *B = malloc(4 * (size_t)K * N), *C0 = malloc(4 * (size_t)M * N),
                          *C1 = malloc(4 * (size_t)M * N), *C3 = malloc(4 * (size_t)M * N), *C4 = malloc(4 * (size_t)M * N);
                    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
                    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
                    for (size_t i = 0; i < (size_t)M * N; i++) C0[i] = C1[i] = C3[i] = C4[i] = (float)i / (M * N);
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            double a = acc ? C0[(size_t)i * N + j] : 0;
                            for (int k = 0; k < K; k++)
                                a += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                                     (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                            C0[(size_t)i * N + j] = (float)a;
                        }
                    mat_mul(p1, M, N, K, A, lda, ta, B, ldb, tb, C1, N, acc);
                    mat_mul(p3, M, N, K, A, lda, ta, B, ldb, tb, C3, N, acc);
                    mat_packed pk;
                    pk.data = malloc(4 * mat_packed_size(p3, K, N));
                    mat_pack(p3, &pk, K, N, B, ldb, tb);
                    mat_mul_packed(p3, M, A, lda, ta, &pk, C4, N, acc);
                    double e = 0;
                    for (size_t i = 0; i < (size_t)M * N; i++) e = fmax(e, fabs(C1[i] - C0[i]));
                    if (e > 2e-6 * K + 1e-6 || memcmp(C1, C3, 4 * (size_t)M * N) || memcmp(C1, C4, 4 * (size_t)M * N)) {
                        if (!bad++)
                            snprintf(detail, sizeof detail, "M%d N%d K%d ta%d tb%d acc%d: max error %g, threads/packed identical: %d",
                                     M, N, K, ta, tb, acc, e, !memcmp(C1, C3, 4 * (size_t)M * N) && !memcmp(C1, C4, 4 * (size_t)M * N));
                    }
                    free(A); free(B); free(C0); free(C1); free(C3); free(C4); free(pk.data);
                }
    if (!bad) snprintf(detail, sizeof detail, "kernel %s: 160 products match a double reference; 1 thread == 3 threads == packed",
                       mat_kernel_name(p1));
    mat_pool_free(p1);
    mat_pool_free(p3);
    return bad != 0;
}

/* ---------------------------------------------------------------------------------------------- batch paths */
/* Validation and sampling run one stream (matrix-vector products); training runs B streams (packed GEMM).
 * The same stream through both must give the same loss, for every cell. */
static int batch_paths(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    int cells[3] = {RNN_CELL_RNN, RNN_CELL_LSTM, RNN_CELL_GRU};
    char msg[256] = "";
    for (int ci = 0; ci < 3; ci++) {
        rnn_config c = small_config(cells[ci], 2, 40, 8, 16);
        rig r;
        if (rig_make(&r, &c, text, 40000, RNN_UNIT_CHAR, 1)) { free(text); return 1; }
        for (int i = 0; i < 10; i++) rnn_train_step(r.t);
        double l1 = rnn_debug_stream_loss(r.m, r.ids, 3000, 1, 1), l3 = rnn_debug_stream_loss(r.m, r.ids, 3000, 3, 2);
        rig_free(&r);
        if (!(fabs(l1 - l3) < 1e-5)) { free(text); FAILF("%s: one stream %.7f, three streams %.7f", rnn_cell_name(cells[ci]), l1, l3); }
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s %.5f ", rnn_cell_name(cells[ci]), l1);
    }
    free(text);
    snprintf(detail, sizeof detail, "one stream == three streams: %s", msg);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- vector math */
/* The fast exp/tanh/sigmoid against libm in double, over their whole useful range; NaN must stay NaN. */
static int vecmath(void) {
    enum { N = 20001 };
    static float x[N], y[N];
    double e_exp = 0, e_tanh = 0, e_sig = 0;
    for (int i = 0; i < N; i++) x[i] = -87.0f + 175.0f * i / (N - 1);
    memcpy(y, x, sizeof x);
    vec_exp(y, N);
    for (int i = 0; i < N; i++) e_exp = fmax(e_exp, fabs(y[i] - exp((double)x[i])) / exp((double)x[i]));
    for (int i = 0; i < N; i++) x[i] = -20.0f + 40.0f * i / (N - 1);
    memcpy(y, x, sizeof x);
    vec_tanh(y, N);
    for (int i = 0; i < N; i++) e_tanh = fmax(e_tanh, fabs(y[i] - tanh((double)x[i])));
    memcpy(y, x, sizeof x);
    vec_sigmoid(y, N);
    for (int i = 0; i < N; i++) e_sig = fmax(e_sig, fabs(y[i] - 1 / (1 + exp(-(double)x[i]))));
    float nan3[3] = {NAN, NAN, NAN};
    vec_exp(nan3, 1);
    vec_tanh(nan3 + 1, 1);
    vec_sigmoid(nan3 + 2, 1);
    snprintf(detail, sizeof detail, "exp max rel error %.2g, tanh abs %.2g, sigmoid abs %.2g; NaN stays NaN: %s", e_exp,
             e_tanh, e_sig, isnan(nan3[0]) && isnan(nan3[1]) && isnan(nan3[2]) ? "yes" : "NO");
    return !(e_exp < 1e-6 && e_tanh < 1e-6 && e_sig < 1e-6 && isnan(nan3[0]) && isnan(nan3[1]) && isnan(nan3[2]));
}

/* ---------------------------------------------------------------------------------------------- main */
typedef struct { const char *name; int (*fn)(void); } test;
static int gc_rnn(void) { return gradcheck(RNN_CELL_RNN, 0, 3); }
static int gc_lstm(void) { return gradcheck(RNN_CELL_LSTM, 0, 3); }
static int gc_gru(void) { return gradcheck(RNN_CELL_GRU, 0, 3); }
static int gc_lstm_drop(void) { return gradcheck(RNN_CELL_LSTM, 0.3f, 3); }
/* Batch 1 takes other paths (matrix-vector products, a transposed copy of Wh): check them too. */
static int gc_batch1(void) {
    char all[1024] = "";
    for (int cell = RNN_CELL_RNN; cell <= RNN_CELL_GRU; cell++) {
        if (gradcheck(cell, 0, 1)) return 1;
        snprintf(all + strlen(all), sizeof all - strlen(all), "%.300s; ", detail);
    }
    snprintf(detail, sizeof detail, "%s", all);
    return 0;
}
static int rs_rnn(void) { return resume_exact(RNN_CELL_RNN); }
static int rs_lstm(void) { return resume_exact(RNN_CELL_LSTM); }
static int rs_gru(void) { return resume_exact(RNN_CELL_GRU); }

static const test tests[] = {
    {"gemm", gemm}, {"vecmath", vecmath}, {"gradcheck-rnn", gc_rnn}, {"gradcheck-lstm", gc_lstm}, {"gradcheck-gru", gc_gru},
    {"gradcheck-dropout", gc_lstm_drop}, {"gradcheck-batch1", gc_batch1}, {"threads", threads_identical}, {"sample-threads", sample_threads}, {"save-load-sample", save_load_sample},
    {"resume-rnn", rs_rnn}, {"resume-lstm", rs_lstm}, {"resume-gru", rs_gru}, {"utf8", utf8}, {"learns", learns},
    {"divergence", divergence}, {"batch-paths", batch_paths},
};

int main(int argc, char **argv) {
    int n = (int)(sizeof tests / sizeof tests[0]);
    if (argc < 2) {
        fprintf(stderr, "usage: test_rnn NAME|list [DATA_DIR]\n");
        return 2;
    }
    if (argc > 2) data_dir = argv[2];
    if (!strcmp(argv[1], "list")) {
        for (int i = 0; i < n; i++) puts(tests[i].name);
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (!strcmp(argv[1], tests[i].name)) {
            int r = tests[i].fn();
            printf("%s - %s: %s\n", r ? "not ok" : "ok", tests[i].name, detail);
            return r ? 1 : 0;
        }
    fprintf(stderr, "test_rnn: no test named '%s'\n", argv[1]);
    return 2;
}
