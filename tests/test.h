/* tests/test.h — what the library tests share: the result line's detail, the data directory, the helpers (a model
 * and trainer on a text, a small config, sampling into a buffer) and the registry of tests by library area. The
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

/* Each returns 0 if the test passed and leaves one line of detail. */
/* test_mat.c */
int gemm(void);
int vecmath(void);
int bf16_round(void);
int gemm_bf16(void);
int gemm_rows(void);
int gemm_blocking(void);
/* test_text.c */
int utf8(void);
int vocab_merge(void);
/* test_model.c */
int gc_rnn(void);
int gc_lstm(void);
int gc_gru(void);
int gc_lstm_drop(void);
int gc_batch1(void);
int gc_bi_rnn(void);
int gc_bi_lstm(void);
int gc_bi_gru(void);
int batch_paths(void);
int parity_dump(void);
int torch_parity_rnn(void);
int torch_parity_lstm(void);
int torch_parity_gru(void);
int model_extend(void);
/* test_train.c */
int threads_identical(void);
int learns(void);
int divergence(void);
int twin_step(void);
int bidir_learns(void);
int bf16_train(void);
/* test_gen.c */
int sample_threads(void);
int score_streams(void);
int gen_batch(void);
int gen_utf8(void);
int fill_consistent(void);
int fill_blanks(void);
int fill_forward(void);
int score_bidir(void);
int bf16_paths(void);
/* test_ckpt.c */
int save_load_sample(void);
int ckpt_utf8_flag(void);
int rs_rnn(void);
int rs_lstm(void);
int rs_gru(void);
int origin_record(void);
int rs_bidir(void);
int ckpt_versions(void);
int ckpt_bf16_flag(void);

#endif
