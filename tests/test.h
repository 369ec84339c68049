/* tests/test.h — what the library tests share: the result line's detail, the data directory, the helpers (a model
 * and trainer on a text, a small config, sampling into a buffer) and the prototypes of the tests listed in tests/tests.def. The
 * tests include the private headers: they reach the internals on purpose (gradients, parameter tensors). */
#ifndef TEST_H
#define TEST_H

#include "rnn_impl.h"
#include "rnn_mat.h"

#include <stddef.h>
#include <stdint.h>

extern const char *data_dir;
extern char detail[1024];

#define FAILF(...) do { snprintf(detail, sizeof detail, __VA_ARGS__); return 1; } while (0)

/* data_dir/name read whole (malloc'd), or NULL. */
unsigned char *slurp(const char *name, size_t *len);
/* A deterministic pseudo-text over a small alphabet with some structure to learn. */
size_t make_text(unsigned char *buf, size_t n, int alphabet);

typedef struct {
    rnn_model *m;
    rnn_trainer *t;
    int32_t *ids;
    size_t n;
} rig;
void rig_free(rig *r);
/* Model + trainer on `text` with config c. Returns 0 or fills detail. */
int rig_make(rig *r, const rnn_config *c, const unsigned char *text, size_t len, int unit, int threads);
rnn_config small_config(int cell, int layers, int hidden, int batch, int seq);
/* n symbols sampled (after prime) at mixed temperature / top-k / top-p into out; -1 if the sampler fails. */
int sample_into(const rnn_model *m, uint64_t seed, int threads, int n, const char *prime, unsigned char *out,
                size_t *len);

/* The registered tests (tests/tests.def): int test_NAME(void) each, 0 if the test passed, one line in detail. */
#define TEST(name) int test_##name(void);
#include "tests.def"
#undef TEST
/* Not a test: `test_rnn parity-dump` writes the inputs of tests/torch_ref.py (test_model.c). */
int parity_dump(void);

#endif
