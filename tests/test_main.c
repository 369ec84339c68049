/* tests/test_main.c — the library tests' program: the registry of tests (generated from tests/tests.def) and the
 * shared helpers. The list of tests is tests/tests.def (one line each); the tests themselves are in
 * tests/test_<area>.c, one file per library file:
 *   test_mat.c (rnn_mat.c), test_text.c (rnn_text.c), test_model.c (rnn.c), test_train.c (rnn_train.c),
 *   test_gen.c (rnn_gen.c), test_ckpt.c (rnn_ckpt.c, rnn_crc.c).
 *
 * Usage: tests/test_rnn NAME [DATA_DIR]   (run by test.sh; `tests/test_rnn list` prints the names)
 * Prints one line, "ok - NAME: detail" or "not ok - NAME: detail", and exits 0 only if the test passed.
 */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *data_dir = "data";
char detail[1024];

/* ---------------------------------------------------------------------------------------------- helpers */
/* data_dir/name read whole (malloc'd), or NULL. */
unsigned char *slurp(const char *name, size_t *len) {
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
size_t make_text(unsigned char *buf, size_t n, int alphabet) {
    uint64_t s = 7;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int r = (int)((s >> 33) % 10);
        buf[i] = (unsigned char)('a' + (r < 6 && i ? (buf[i - 1] - 'a' + 1) % alphabet : r % alphabet));
    }
    return n;
}

void rig_free(rig *r) {
    rnn_trainer_free(r->t);
    rnn_model_free(r->m);
    free(r->ids);
    memset(r, 0, sizeof *r);
}

/* Model + trainer on `text` with config c. Returns 0 or fills detail. */
int rig_make(rig *r, const rnn_config *c, const unsigned char *text, size_t len, int unit, int threads) {
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

/* The defaults with the given shape, at the learning rate of 2e-3 the tests' thresholds and references
 * (tests/ref/parity-*.ref, tests/torch_ref.py) were made with, whatever the library's default. */
rnn_config small_config(int cell, int layers, int hidden, int batch, int seq) {
    rnn_config c;
    rnn_config_default(&c);
    c.lr = 2e-3f;
    c.cell = cell;
    c.layers = layers;
    c.hidden = hidden;
    c.batch = batch;
    c.seq = seq;
    return c;
}

/* n symbols sampled (after prime) at mixed temperature / top-k / top-p into out; -1 if the sampler fails. */
int sample_into(const rnn_model *m, uint64_t seed, int threads, int n, const char *prime, unsigned char *out,
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

/* ---------------------------------------------------------------------------------------------- main */
typedef struct { const char *name; int (*fn)(void); } test;

/* The registry, generated from tests/tests.def: the name as written there (underscores; see run_name). */
static const test tests[] = {
#define TEST(name) {#name, test_##name},
#include "tests.def"
#undef TEST
};

/* A registered name as it is run and printed: its underscores as hyphens ("gradcheck_rnn" -> "gradcheck-rnn").
 * Returns a static buffer, valid until the next call. */
static const char *run_name(const char *name) {
    static char buf[64];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof buf; i++) buf[i] = name[i] == '_' ? '-' : name[i];
    buf[i] = 0;
    return buf;
}

int main(int argc, char **argv) {
    int n = (int)(sizeof tests / sizeof tests[0]);
    if (argc < 2) {
        fprintf(stderr, "usage: test_rnn NAME|list [DATA_DIR]\n");
        return 2;
    }
    if (argc > 2) data_dir = argv[2];
    if (!strcmp(argv[1], "parity-dump")) return parity_dump() ? (fprintf(stderr, "%s\n", detail), 1) : 0;
    if (!strcmp(argv[1], "list")) {
        for (int i = 0; i < n; i++) puts(run_name(tests[i].name));
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (!strcmp(argv[1], run_name(tests[i].name))) {
            int r = tests[i].fn();
            printf("%s - %s: %s\n", r ? "not ok" : "ok", argv[1], detail);
            return r ? 1 : 0;
        }
    fprintf(stderr, "test_rnn: no test named '%s'\n", argv[1]);
    return 2;
}
