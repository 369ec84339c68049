/* rnn_impl.h — private to the library: the structures that every library file sees (the model, the resumable
 * training state that the trainer and the checkpoint code both handle) and the few private functions one file
 * offers another: symbol decoding (rnn_text.c, for the checkpoint reader), the parameter count and an empty model
 * (rnn.c, for the reader), the trainer's snapshot (rnn_train.c, for the writer) and the test hooks.
 * The model's internals (views, workspace, forward/backward) are in rnn_net.h. Users include rnn.h only.
 * Names: every symbol of libcharrnn.a begins with rnn_ (tests/install.sh checks it). The public ones,
 * declared in rnn.h, are rnn_ + a letter; a function one library file offers another (here, in rnn_net.h or in
 * rnn_mat.h) takes the private prefix rnn__ (two underscores); whatever one file uses alone is static. */
#ifndef RNN_IMPL_H
#define RNN_IMPL_H

#include "rnn.h"

struct rnn_model {
    rnn_config cfg;
    rnn_vocab vocab;       /* owned */
    rnn_progress prog;
    rnn_origin origin;     /* origin.name NULL: trained from scratch */
    size_t nparams;
    float *params;         /* (nparams) one flat buffer; views by rnn__param_layout() in rnn.c */
};

/* The part of a trainer that a checkpoint carries so that training resumes exactly where it stopped.
 * Loaded from a checkpoint, it is handed to rnn_trainer_new, which checks it against the corpus. */
struct rnn_resume {
    uint64_t chunk;        /* next chunk index within the epoch */
    uint64_t epoch;        /* completed epochs */
    uint64_t rng;          /* trainer RNG state (dropout) */
    float lr;              /* current learning rate (after decay) */
    int shards;            /* gradient shards of a step (rnn_trainer_set_shards), 1..65536 */
    uint64_t n_ids;        /* corpus length in symbols ... */
    uint32_t ids_crc;      /* ... and CRC-32 of its symbol ids: resuming on another corpus is refused */
    size_t nparams;        /* parameters of the model the state belongs to */
    int nmoments;          /* optimizer moment buffers in use: Adam 2, Adagrad 1, SGD 0 */
    float *m1, *m2;        /* (nparams) each, NULL when not in use */
    rnn_budget budget;     /* where the run was meant to stop */
    rnn_schedule sched;    /* the lr schedule and averaging (version 1 and 2 files: rnn_schedule_default) */
    float *raw;            /* (nparams) the trained weights when sched.ema > 0 (the model's parameters are then
                            * their average), else NULL */
    size_t nstate;         /* floats in state: layers * B * H * (LSTM ? 2 : 1) */
    float *state;          /* (layers, B, H) hidden state of every stream, then for LSTM (layers, B, H) cells */
};

/* Moment buffers each optimizer keeps. */
static inline int rnn_optim_moments(int optim) {
    return optim == RNN_OPT_ADAM ? 2 : optim == RNN_OPT_ADAGRAD ? 1 : 0;
}
/* Gate blocks per cell: the fused gate width is gates * hidden. */
static inline int rnn_cell_gates(int cell) { return cell == RNN_CELL_LSTM ? 4 : cell == RNN_CELL_GRU ? 3 : 1; }
/* Bidirectional models: symbols the backward direction reads after a window of T scored targets (a context
 * margin, read but not scored; docs/commands.md "Bidirectional models and fill (the cloze test)", "Chunk
 * boundaries"). */
static inline int rnn_bidi_margin(int T) { return (T + 3) / 4; }
/* Bidirectional training reads this fraction of its input symbols as blanks ("no input", as fill reads a blank),
 * the same positions in both directions, so that the model learns to fill runs of blanks (docs/commands.md
 * "Bidirectional models and fill (the cloze test)", "Blanks in training"; measured: docs/quality.md "Cloze
 * accuracy"). */
#define RNN_BIDI_BLANKS 0.15
/* Floats of carried state per layer and stream: h, plus c for LSTM. */
static inline int rnn_state_per_unit(int cell) { return cell == RNN_CELL_LSTM ? 2 : 1; }

/* ---- rnn_text.c */
/* Decodes one symbol of `unit` at s[0..n), n >= 1, into its value; returns the bytes consumed. */
int rnn__next_symbol(int unit, const unsigned char *s, size_t n, uint32_t *sym);
/* The bytes of a symbol value (code point or RNN_RAWBYTE + b) into out; returns how many (1..4). */
int rnn__value_bytes(uint32_t sym, unsigned char out[4]);
/* Strict UTF-8, one byte at a time: `need` continuation bytes are still due, the next in lo..hi. Start (and after
 * a complete character): {0, 0x80, 0xBF}. */
typedef struct { unsigned char need, lo, hi; } rnn_utf8_state;
/* Whether byte b keeps the text valid UTF-8 (a valid prefix) after state st. */
int rnn__utf8_accepts(const rnn_utf8_state *st, unsigned b);
/* The state after byte b; a byte st does not accept starts afresh, as the decoder does. */
void rnn__utf8_feed(rnn_utf8_state *st, unsigned b);

/* ---- rnn.c */
/* Allocates an empty model with room for its parameters (uninitialised) and a copy of `vocab`. */
rnn_model *rnn__model_alloc(const rnn_config *c, const rnn_vocab *vocab, rnn_err err);

/* ---- rnn_train.c */
/* Snapshot of a trainer's resumable state into r (buffers borrowed from the trainer, valid until the next
 * step). */
void rnn__trainer_snapshot(const rnn_trainer *t, struct rnn_resume *r);

/* ---- for tests (tests/): rnn_train.c, rnn.c, rnn_gen.c */
/* The logits (V) sample i of g draws its next symbol from. */
const float *rnn__gen_debug_logits(const rnn_gen *g, int i);
/* Mean loss of the trainer's next chunk at the current parameters, advancing nothing. With grad, *grad_out
 * points at the gradient (parameter layout, owned by the trainer). Dropout masks are drawn from a copy of the
 * trainer's RNG, so repeated calls see the same masks. */
double rnn__trainer_eval_chunk(rnn_trainer *t, int grad, float **grad_out);
/* Loss of ids[1..count) as one stream, computed with B identical streams (B = 1: the validation/sampling
 * path; B > 1: the batched GEMM path) on a pool of `threads`. NaN if memory fails. */
double rnn__debug_stream_loss(const rnn_model *m, const int32_t *ids, size_t count, int B, int threads);
/* Bidirectional models: the cloze loss of ids[1..count) in windows of `window` targets with a backward margin
 * of `margin` <= rnn_bidi_margin(window) symbols (validation uses 256 and rnn_bidi_margin(256)). */
double rnn__debug_cloze_loss(const rnn_model *m, const int32_t *ids, size_t count, int window, int margin,
                            int threads);
/* rnn_fill with its window rule replaced: windows of about `window` >= 1 symbols (W = ceil(n / window) windows,
 * even W = 1), each read from zero `margin` symbols before (forward) and after it (backward), `rows` (1 to 64)
 * windows to a batch; the sums as in every windowed fill (window 0: one stream, as rnn_fill on a short text). */
int rnn__debug_fill(const rnn_model *m, int32_t *ids, const unsigned char *blank, size_t n, const rnn_fill_opts *o,
                    int threads, size_t window, size_t margin, int rows, float *probs, rnn_err err);
/* The named tensors of the flat parameter buffer, in layout order. */
typedef struct { const char *name; int layer; size_t offset, count; } rnn_tensor;
int rnn__param_tensors(const rnn_model *m, rnn_tensor *out, int max);

#endif
