/* rnn.h — the charrnn library: a character-level recurrent language model.
 *
 * This is the library's whole public API. The library never prints, never exits and keeps no global state:
 * every function that can fail returns 0 on success or -1 on failure, and writes a one-line, human-readable
 * reason (no trailing newline, no "charrnn:" prefix) into the caller's `rnn_err` buffer.
 *
 * Layout of the code:
 *   rnn_text.c  — UTF-8 decoding and the vocabulary (text to symbols).
 *   rnn.c       — the model: config check, parameter layout and init, forward/backward per cell, loss.
 *   rnn_train.c — the trainer: data streams, optimizers, clipping, budgets, validation.
 *   rnn_gen.c   — generation: the sampler, the batched generator (K samples at once), the scorer (a cloze
 *                 scorer for bidirectional models), and the filler (both sides, or a forward model's left side).
 *   rnn_ckpt.c  — the checkpoint file format (byte by byte: docs/format.md).
 *   rnn_crc.c   — the CRC-32 (rnn_crc32); rnn_rng.h the splitmix64 RNG (private).
 *   rnn_mat.c   — the matrix-multiply kernel and the thread pool (private header rnn_mat.h).
 * Private headers: rnn_impl.h (the model and resume structures), rnn_net.h (the model's internals).
 *
 * Shapes are written as (rows, cols) of row-major float32 buffers; "time-major" buffers are (T, B, X):
 * position t of stream b is row t*B + b.
 */
#ifndef RNN_H
#define RNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {   /* C++ programs link the C library (tests/install.sh builds one) */
#endif

#define RNN_ERRLEN 512
typedef char rnn_err[RNN_ERRLEN];

/* ---------------------------------------------------------------------------------------- limits */
#define RNN_MAX_LAYERS 16
#define RNN_MAX_HIDDEN 8192
#define RNN_MAX_VOCAB  (1 << 21)   /* every code point plus the 128 raw bytes fits */

/* ---------------------------------------------------------------------------------------- vocabulary */
enum { RNN_UNIT_CHAR = 0, RNN_UNIT_BYTE = 1 };

/* A symbol value is a Unicode code point (0..0x10FFFF), or RNN_RAWBYTE + b for a byte b that is not part
 * of a valid UTF-8 sequence. With RNN_UNIT_BYTE every symbol is RNN_RAWBYTE + b, whatever b is. */
#define RNN_RAWBYTE 0x110000u

typedef struct {
    int unit;         /* RNN_UNIT_CHAR or RNN_UNIT_BYTE */
    int size;         /* V, number of symbols, >= 1 */
    uint32_t *sym;    /* (V) symbol values, strictly increasing; owned */
    int utf8;         /* 1: the text it was built from was valid UTF-8 (checkpoint flags bit 2); with
                       * RNN_UNIT_BYTE the generator then keeps its output valid UTF-8 */
} rnn_vocab;

/* Builds the sorted vocabulary of `n` bytes of text. Returns 0, or -1 (out of memory, empty text). */
int  rnn_vocab_build(rnn_vocab *v, const unsigned char *text, size_t n, int unit, rnn_err err);
void rnn_vocab_free(rnn_vocab *v);
/* Decodes `n` bytes into symbol ids, at most n of them, into `ids` (caller-owned, room for n). Returns the
 * number of ids. Symbols not in the vocabulary are skipped and counted in *unknown (may be NULL). */
size_t rnn_encode(const rnn_vocab *v, const unsigned char *text, size_t n, int32_t *ids, size_t *unknown);
/* Decodes `n` bytes into one entry per symbol: ids[k] is symbol k's vocabulary id, or -1 if it is not in the
 * vocabulary; ends (may be NULL) gets the byte offset just past symbol k. Both caller-owned, room for n.
 * Returns the number of symbols. */
size_t rnn_decode(const rnn_vocab *v, const unsigned char *text, size_t n, int32_t *ids, size_t *ends);
/* Writes the bytes of symbol `id` into out[0..3]; returns how many (1..4). */
int  rnn_symbol_bytes(const rnn_vocab *v, int32_t id, unsigned char out[4]);
/* The sorted union of `a` and `b` (same unit) into *out, which the caller frees with rnn_vocab_free; out->utf8 is
 * set when both a->utf8 and b->utf8 are (a fine-tuned byte model keeps its valid UTF-8). Symbol
 * a->sym[i] is out->sym[map[i]] when `map` (room for a->size; may be NULL) is given. Returns 0, or -1 (units
 * differ, the union exceeds RNN_MAX_VOCAB or 256 bytes, out of memory). */
int  rnn_vocab_merge(rnn_vocab *out, const rnn_vocab *a, const rnn_vocab *b, int32_t *map, rnn_err err);
/* Decodes one symbol of strict UTF-8 at s[0..n), n >= 1, into *sym: a code point, or RNN_RAWBYTE + s[0] for a
 * byte that does not start a valid sequence. Returns the bytes consumed (1..4). */
int  rnn_utf8_next(const unsigned char *s, size_t n, uint32_t *sym);

/* ---------------------------------------------------------------------------------------- model */
enum { RNN_CELL_RNN = 0, RNN_CELL_LSTM = 1, RNN_CELL_GRU = 2 };
enum { RNN_OPT_ADAM = 0, RNN_OPT_ADAGRAD = 1, RNN_OPT_SGD = 2 };
/* The precision of the matrix products (docs/performance.md "Precision: bfloat16 products"): FP32, or
 * bfloat16 inputs with FP32 accumulation. Weights, gradients, optimizer state, the cells, softmax and the
 * loss are FP32 either way. */
enum { RNN_PREC_FP32 = 0, RNN_PREC_BF16 = 1 };

/* Everything that fixes the model's shape and how it was trained. Stored in the checkpoint. */
typedef struct {
    int cell;          /* RNN_CELL_* */
    int layers;        /* 1..RNN_MAX_LAYERS */
    int hidden;        /* H, 1..RNN_MAX_HIDDEN */
    int batch;         /* B, parallel streams */
    int seq;           /* T, truncated-BPTT length */
    int optim;         /* RNN_OPT_* */
    float lr;          /* base learning rate */
    float lr_decay;    /* multiply the learning rate by this at each epoch end (1 = constant) */
    float clip;        /* global gradient-norm clip; 0 = off */
    float dropout;     /* between layers, training only, 0 <= p < 1 */
    float val_frac;    /* tail fraction of the corpus held out for validation, 0 <= f < 1 */
    float forget_bias; /* LSTM: initial forget-gate bias (used when the model is made), -100..100 */
    uint64_t seed;     /* initialisation and dropout */
    int bidir;         /* 0: forward (next-symbol) model; 1: bidirectional (cloze) model (docs/commands.md
                        * "Bidirectional models and fill (the cloze test)") */
    int precision;     /* RNN_PREC_*: the products of training, and of sampling/scoring unless overridden
                        * (checkpoint flags bit 3) */
} rnn_config;

/* Fills `c` with the defaults `charrnn train --help` shows (docs/commands.md "train"). */
void rnn_config_default(rnn_config *c);
/* Checks every field's range; -1 with a message naming the field. */
int  rnn_config_check(const rnn_config *c, rnn_err err);

typedef struct rnn_model rnn_model;   /* config + vocabulary + one flat float32 parameter buffer */

/* Makes a freshly initialised model for `vocab` (copied) and config `c`; NULL + err on failure.
 * The caller owns the result and frees it with rnn_model_free. */
rnn_model *rnn_model_new(const rnn_config *c, const rnn_vocab *vocab, rnn_err err);
void rnn_model_free(rnn_model *m);
const rnn_config *rnn_model_config(const rnn_model *m);
const rnn_vocab  *rnn_model_vocab(const rnn_model *m);
size_t rnn_model_nparams(const rnn_model *m);
/* Parameter count of a model of config c on V symbols; 0 if it would not fit in memory arithmetic. */
size_t rnn_param_count(const rnn_config *c, int V);
float *rnn_model_params(rnn_model *m);   /* (nparams) flat buffer, owned by the model */
/* Changes the precision (RNN_PREC_*) the model's products use from now on: in samplers, scorers, generators and
 * fillers made after the call, and in the checkpoint it is saved to. -1 + err for an unknown value. */
int rnn_model_set_precision(rnn_model *m, int precision, rnn_err err);

/* What training has done so far; stored in every checkpoint and shown by `charrnn info`. */
typedef struct {
    uint64_t step;         /* optimizer steps taken */
    uint64_t chars;        /* training characters processed (steps * B * T) */
    double   seconds;      /* training-loop seconds so far */
    float    last_val;     /* last validation loss in nats/char, NaN if none */
    float    best_val;     /* best validation loss so far, NaN if none */
} rnn_progress;
rnn_progress *rnn_model_progress(rnn_model *m);   /* owned by the model; charrnn train adds its seconds */

/* Where a fine-tuned model started (rnn_model_extend); stored in its checkpoints (docs/format.md "Origin
 * record"). */
#define RNN_MAX_ORIGIN_NAME 4096
typedef struct {
    char *name;            /* the base checkpoint's file name as given, 1..RNN_MAX_ORIGIN_NAME bytes, no NUL; owned */
    uint64_t step;         /* the base's optimizer steps */
    int vocab_size;        /* the base's vocabulary size */
    float best_val;        /* the base's best validation loss, NaN if none */
} rnn_origin;
/* The model's origin (owned by the model), or NULL for a model trained from scratch. */
const rnn_origin *rnn_model_origin(const rnn_model *m);

/* Fine-tuning: a new model with `base`'s cell, layers, hidden size and weights, on the vocabulary `merged`, which
 * must hold every symbol of base's vocabulary (same unit; e.g. from rnn_vocab_merge), and the training settings of
 * `c` (whose cell, layers and hidden must equal base's). Old symbols keep their rows of layer 0's wx, their
 * columns of wy and their by under their new ids; new symbols get rows and columns initialised as rnn_model_new
 * does with c->seed (by 0). The progress starts at zero (step 0, no validation) and the origin records base_name
 * and base's step count, vocabulary size and best validation loss. NULL + err on failure; the caller frees the
 * result with rnn_model_free. */
rnn_model *rnn_model_extend(const rnn_model *base, const char *base_name, const rnn_config *c,
                            const rnn_vocab *merged, rnn_err err);

/* ---------------------------------------------------------------------------------------- trainer */
typedef struct rnn_trainer rnn_trainer;
typedef struct rnn_resume rnn_resume;   /* training state read from a checkpoint; see rnn_load */
void rnn_resume_free(rnn_resume *r);
float rnn_resume_lr(const rnn_resume *r);   /* the (peak) learning rate the run had reached */

/* Prepares training of `m` (borrowed; must outlive the trainer) on the symbol ids `ids[0..n)` (copied), split
 * into a training head and a validation tail as the config says. `threads` >= 1 sizes the thread pool.
 * `resume` (may be NULL: start fresh) is the training state read from the checkpoint `m` came from; it must
 * belong to the same corpus (length and CRC are checked) or the call fails.
 * Fails (NULL + err) if the training part is shorter than one chunk (err says how short and what to lower).
 * All memory training needs is allocated here: rnn_train_step never allocates. */
rnn_trainer *rnn_trainer_new(rnn_model *m, const int32_t *ids, size_t n, int threads, const rnn_resume *resume,
                             rnn_err err);
void rnn_trainer_free(rnn_trainer *t);
/* For a model that has not been trained yet: sets the output bias to the centred log frequencies of the
 * symbols in the training split (each count + 0.5), so the first prediction is the unigram model instead of
 * the uniform one. The hidden layers then see only the part of the gradient that depends on the context, not
 * the large common "predict frequent symbols" part (docs/quality.md "The unigram start"). charrnn train
 * calls it for fresh LSTM and GRU runs, except an LSTM on a corpus of mostly rare symbols, and never for the
 * tanh RNN (each measured; cmd_train.c unigram_start); the library never does it on its own. */
void rnn_trainer_fit_output_bias(rnn_trainer *t);

/* One optimizer step on the next B x T chunk. Returns the chunk's mean loss (nats/char); a non-finite value
 * means the loss or the gradient diverged, in which case the parameters were NOT updated. */
double rnn_train_step(rnn_trainer *t);
/* Mean loss (nats/char) over the whole validation tail, as one stream with carried state. NaN if there is no
 * validation data. Records it in the model's progress (last/best). Does not disturb training state.
 * Bidirectional: the cloze loss (each symbol predicted from both sides) in windows of 256 symbols, each with
 * a backward margin of 64 (docs/commands.md "Bidirectional models and fill (the cloze test)", "Chunk
 * boundaries"; measured: docs/quality.md "Bidirectional models"); not a likelihood of the text. */
double rnn_validate(rnn_trainer *t);

/* When training stops: the first limit reached (0 = no limit of that kind). Totals since the model was made,
 * so a resumed run continues to the same end. Carried in the checkpoint. */
typedef struct {
    uint64_t steps;     /* total optimizer steps */
    double epochs;      /* total passes over the training split */
    double seconds;     /* total training-loop seconds */
} rnn_budget;
rnn_budget *rnn_trainer_budget(rnn_trainer *t);   /* owned by the trainer; set from resume state if any */

/* Data-parallel training (docs/scaling.md). With `shards` K > 1 a step's B streams are cut into K shards of B / K
 * consecutive streams; each shard's gradient is computed on its own (its dropout masks drawn from the step's RNG
 * offset by the shard's index) and the K gradients are added in float in shard order, ((g0 + g1) + g2) + ...,
 * so the result depends on K and never on the threads or on how many processes share the shards. K = 1 (the
 * default) is the step without shards, bit for bit. A run split over processes passes an rnn_dist: process
 * `rank` of `size` computes shards rank * K / size .. (rank + 1) * K / size - 1, and the callbacks (which must
 * be called by every process in the same order; charrnn's dist_mpi.c implements them with MPI) combine the rest.
 * The library itself never talks to a network. */
typedef struct {
    int rank, size;   /* 0 <= rank < size; size divides K */
    void *ctx;        /* passed to both callbacks */
    /* `mine` holds this process's K / size shard gradients of n floats each, in shard order; `sum` (n floats)
     * receives all K shards' gradients added left to right in shard order, the same bits on every process. */
    int (*reduce)(void *ctx, const float *mine, int nmine, size_t n, float *sum);
    /* Every process's `bytes` bytes, in rank order, into all (size * bytes). */
    int (*allgather)(void *ctx, const void *mine, size_t bytes, void *all);
} rnn_dist;
/* Sets the shards K (1..65536, dividing the batch) and, for a run over several processes, the rank's place
 * (dist NULL: one process computes every shard; dist->size must divide K). A step whose callbacks fail returns
 * NaN. 0, or -1 + err: K or the processes do not divide (nothing changed, err names the values), or out of
 * memory (the trainer is left with one shard; free it if even that failed). */
int rnn_trainer_set_shards(rnn_trainer *t, int shards, const rnn_dist *dist, rnn_err err);
int rnn_trainer_shards(const rnn_trainer *t);
/* The shards of the run a checkpoint's training state comes from (1 for files written before shards existed). */
int rnn_resume_shards(const rnn_resume *r);
/* Replaces the current (peak) learning rate (a deliberate change when resuming, e.g. after divergence); the
 * schedule's factor still applies. */
void rnn_trainer_set_lr(rnn_trainer *t, float lr);

/* The learning-rate schedule and the averaged weights of a run (docs/commands.md "train", "The learning-rate
 * schedule and averaged weights"). Step s (0-based, counted since the model was made) runs at
 *     lr(s) = peak * warm(s) * shape(p)
 * where peak is the learning rate (rnn_config.lr, times lr_decay after each epoch, or as rnn_trainer_set_lr set
 * it), warm(s) = (s + 1) / (warmup + 1) for s < warmup and 1 after, and p in [0, 1] is how much of the budget is
 * spent before the step: the largest of step / steps, epochs done / epochs and seconds / seconds over the
 * budget's limits (0 with no limit). shape(p) is 1 (constant), floor + (1 - floor)(1 + cos(pi p)) / 2 (cosine)
 * or floor + (1 - floor)(1 - p) (linear). With ema > 0 the model's parameters (rnn_model_params: what is
 * validated, saved, sampled) are the bias-corrected exponential moving average of the trained weights,
 * updated after every step: avg_s = d avg_(s-1) + (1 - d) w_s, d = ema (1 - ema^(s-1)) / (1 - ema^s), which is
 * Adam's bias correction of an average started at zero; the trained weights themselves live in the trainer
 * (and in a checkpoint's training state). */
enum { RNN_SCHED_CONSTANT = 0, RNN_SCHED_COSINE = 1, RNN_SCHED_LINEAR = 2 };
typedef struct {
    int kind;          /* RNN_SCHED_* */
    uint64_t warmup;   /* steps of linear warm-up, 0..1e15 */
    float floor;       /* cosine, linear: lr at the end of the budget as a fraction of the peak, 0..1 */
    float ema;         /* decay of the averaged weights: 0 = off, else 0 < ema < 1 */
} rnn_schedule;
/* {"constant", "cosine", "linear", NULL}: index = RNN_SCHED_*. */
const char *const *rnn_schedule_names(void);
/* The library's default: constant, no warm-up, floor 0, no averaging (training as before schedules). */
void rnn_schedule_default(rnn_schedule *s);
/* Checks every field's range; -1 with a message naming the field. */
int rnn_schedule_check(const rnn_schedule *s, rnn_err err);
/* warm(step) * shape(progress) of the formula above (progress clamped to [0, 1]). */
double rnn_schedule_factor(const rnn_schedule *s, uint64_t step, double progress);
/* Sets the schedule of a trainer made without resume state, before its first step (a resumed trainer keeps its
 * checkpoint's). Turning ema on starts the trained weights from the model's parameters. 0, or -1 + err (a bad
 * schedule, a trainer that is resumed or has stepped, out of memory). */
int rnn_trainer_set_schedule(rnn_trainer *t, const rnn_schedule *s, rnn_err err);
void rnn_trainer_schedule(const rnn_trainer *t, rnn_schedule *out);
/* The schedule a checkpoint's training state holds (a version 1 or 2 file: rnn_schedule_default's). */
void rnn_resume_schedule(const rnn_resume *r, rnn_schedule *out);

typedef struct {
    uint64_t steps_per_epoch;  /* chunks in one pass over the training streams */
    double   epoch;            /* fractional epochs completed */
    float    lr;               /* the learning rate the next step takes (the schedule's) */
    float    peak;             /* the schedule's peak: the base lr after per-epoch decay (or set_lr) */
    double   progress;         /* p of the next step, 0..1 */
    size_t   n_train, n_val;   /* symbols in each split */
} rnn_train_info;
void rnn_trainer_info(const rnn_trainer *t, rnn_train_info *out);

/* ---------------------------------------------------------------------------------------- sampler */
typedef struct rnn_sampler rnn_sampler;

/* A sampler on `m` (borrowed) with its own hidden state (zero), RNG seeded by `seed` and `threads` >= 1
 * workers (used only by models too big for one core's cache; the text never depends on it). Fails for a
 * bidirectional model (it cannot generate left to right). */
rnn_sampler *rnn_sampler_new(const rnn_model *m, uint64_t seed, int threads, rnn_err err);
void rnn_sampler_free(rnn_sampler *s);
/* Advances the state by one input symbol (priming or feeding back the last sample). */
void rnn_sampler_feed(rnn_sampler *s, int32_t id);
/* Draws the next symbol from the current distribution: temperature 0 = argmax; top_k 0 = off;
 * top_p 1 = off. Does not feed it back. */
int32_t rnn_sampler_next(rnn_sampler *s, float temperature, int top_k, float top_p);

/* ---------------------------------------------------------------------------------------- scorer */
typedef struct rnn_scorer rnn_scorer;

/* A scorer on `m` (borrowed) that runs up to `batch` >= 1 independent streams at once through the batched
 * (GEMM) forward path, on `threads` >= 1 workers. Every stream goes through the batched path, a lone one with an
 * idle companion, so a stream's scores are the same bits whatever the batch, its companions and the threads.
 * A bidirectional model's scores are cloze surprisals instead (not a likelihood of the text): each symbol's given
 * both sides of it within its own stream, the forward state after the symbols before it and the backward state
 * after the symbols after it, each from zero at the stream's end (so the first symbol sees only its right side,
 * the last only its left); its streams run one at a time, so the batch does not matter either.
 * NULL + err when out of memory. The caller frees it with rnn_scorer_free. */
rnn_scorer *rnn_scorer_new(const rnn_model *m, int batch, int threads, rnn_err err);
void rnn_scorer_free(rnn_scorer *s);
/* Scores `count` independent streams: stream i is ids[start[i] .. start[i+1]) (start has count + 1
 * nondecreasing entries, caller-owned). Each stream starts from the zero state: its first known symbol is scored
 * against the distribution before any input (as rnn_sampler starts), every later one after feeding the known
 * symbols before it (a bidirectional model: each known symbol given the known ones on both sides, see above). An id of -1 (a symbol not in the vocabulary) is not scored and not fed: the state carries
 * on from the last known symbol. Writes each symbol's surprisal in nats (-ln p), NaN for -1, into
 * nats[start[0] .. start[count]) (caller-owned). Streams are run longest first, `batch` at a time, so streams of
 * similar length share a batch. 0, or -1 + err when out of memory. */
int rnn_score_streams(rnn_scorer *s, const int32_t *ids, const size_t *start, size_t count, double *nats,
                      rnn_err err);
/* ---------------------------------------------------------------------------------------- generator */
/* K samples at once: the K streams are the rows of the batched (GEMM) forward pass, as in training. Each row
 * has its own RNG, seeded rnn_gen_seed(seed, i), and is drawn on its own, so sample i is the same bytes whatever
 * K and the thread count are. A sample ends at the first of: a stop string, the line limit, the last forced line
 * start's line, or `length` symbols. With a byte model built from valid UTF-8 (vocab.utf8) and raw = 0, every
 * draw is restricted to the bytes that keep prime + output a valid UTF-8 prefix (the distribution renormalised
 * over them), and `length` never ends a sample inside a character: it finishes it (at most 3 more bytes). */
typedef struct rnn_gen rnn_gen;

typedef struct {
    float temperature;        /* 0 = argmax */
    int top_k;                /* 0 = off */
    float top_p;              /* 1 = off */
    int raw;                  /* 1: byte models may write invalid UTF-8 */
    uint64_t length;          /* at most this many symbols per sample (plus a character's end, see above) */
    const char *const *stops; /* (nstops) non-empty byte strings, borrowed: stop right after generating one */
    int nstops;
    uint64_t lines;           /* stop after this many generated newlines; 0 = off */
    const char *line_starts;  /* NULL = off; UTF-8 text, borrowed only during rnn_gen_new: generated line i starts
                               * with its i-th character (the first right after the prime), and the sample ends
                               * with the newline of the last such line */
} rnn_gen_opts;

/* Why a sample ended. */
enum { RNN_GEN_RUNNING = 0, RNN_GEN_LENGTH = 1, RNN_GEN_STOP = 2, RNN_GEN_LINES = 3 };

/* What one step did to one sample. */
typedef struct {
    unsigned char bytes[4];   /* the symbol it appended */
    int nbytes;               /* 0 when it appended nothing (the sample had ended) */
    int status;               /* RNN_GEN_* after this step */
    int stop;                 /* with RNN_GEN_STOP: the index of the stop string that ended it */
} rnn_gen_out;

/* Checks `o` against model m: each character of line_starts must be in the vocabulary (for a byte model each of
 * its bytes). -1 with err "'X' is not in the model's vocabulary" (X the character, \xNN for an invalid byte). */
int rnn_gen_check(const rnn_model *m, const rnn_gen_opts *o, rnn_err err);
/* The RNG seed of sample i: seed itself for i = 0, so one sample is seeded exactly by seed. */
uint64_t rnn_gen_seed(uint64_t seed, int i);
/* A generator of K >= 1 samples on m (borrowed; must outlive it) with options o (copied; the stop strings stay
 * borrowed), `threads` >= 1 workers. NULL + err if m is bidirectional, o fails rnn_gen_check, or memory runs out.
 * Caller frees. */
rnn_gen *rnn_gen_new(const rnn_model *m, int K, uint64_t seed, int threads, const rnn_gen_opts *o, rnn_err err);
void rnn_gen_free(rnn_gen *g);
/* Feeds text[0..n) to every sample before the first step (symbols not in the vocabulary are skipped and counted
 * in *unknown, may be NULL). The text counts as output already written for the UTF-8 constraint, but stop
 * strings and lines are counted in generated text only. 0, or -1 (out of memory). Without a prime (none, or
 * none of its symbols in the vocabulary) the first step starts with a hidden lead-in, if the vocabulary has a
 * newline: every sample is fed the newline and then draws, with its own RNG and options, a hidden line up to and
 * including the next newline (at most 1024 symbols; not written, not counted in `length`, forced line starts not
 * applied), so that its first symbol is drawn as at the start of one of the corpus's lines. An unprimed sample is
 * thus what the sample primed with a newline writes after its first line, whatever K. */
int rnn_gen_prime(rnn_gen *g, const unsigned char *text, size_t n, size_t *unknown, rnn_err err);
/* Advances every running sample by one symbol: out[i] (K entries, caller's) says what sample i got. Returns how
 * many samples are still running; 0 means all have ended (and further calls append nothing). */
int rnn_gen_step(rnn_gen *g, rnn_gen_out *out);

/* ---------------------------------------------------------------------------------------- filler */
/* How rnn_fill picks each blank's symbol: temperature 0 takes the likeliest (ties: the lowest id); above 0 it draws
 * from the distribution as the sampler does (rnn_sampler_next: temperature, then top_k, top_p), from one RNG
 * seeded by `seed`, blank after blank in text order and pass after pass. */
typedef struct {
    int passes;          /* >= 1: a bidirectional model with several blanks runs at most this many passes (the
                          * likeliest) or exactly this many (drawing); otherwise one pass is all there is */
    float temperature;   /* 0 = the likeliest symbol */
    int top_k;           /* 0 = off */
    float top_p;         /* 1 = off */
    uint64_t seed;       /* the draws' RNG (unused at temperature 0) */
} rnn_fill_opts;

/* The cloze test. ids[0..n) is a text as symbol ids; blank[i] != 0 marks position i as a blank (its id is ignored on
 * entry); a non-blank ids[i] < 0 is a symbol the vocabulary lacks, read as "no input" (the first layer sees only its
 * bias there). A bidirectional model fills each blank given both sides of it: the forward state after the symbols
 * before it and the backward state after the symbols after it, each from zero. A text of n <= 2048 symbols is one
 * stream per direction: blank i sees the states after ids[0..i) and after ids(i..n). A longer one is cut into
 * W = ceil(n / 2048) windows [j n / W, (j + 1) n / W) that run as the rows of one batch: a blank i in window
 * [a, b) sees the states after ids[max(0, a - 128)..i) and after ids(i..min(n, b + 128)), a margin of 128 symbols
 * on the window's outer sides (the rule depends on n alone; docs/commands.md "Bidirectional models and fill (the
 * cloze test)"). Several blanks: pass 1 reads the other blanks as "no input"; every further pass re-fills all blanks
 * given the others' current fills; taking the likeliest, it stops after a pass that changed nothing. A forward
 * model fills from the left context only, in one pass left to right: each blank from the state after ids[0..i),
 * the blanks before it already filled. On success the blanks' ids hold the fills, *passes_done (may be NULL) the
 * passes run, and probs (NULL, or caller-owned room for nblanks x V floats) each blank's distribution (the
 * model's, at temperature 1) in the last pass, blanks in text order. `threads` >= 1; the result does not depend on
 * it. Returns 0, or -1 (out of memory) with err. */
int rnn_fill(const rnn_model *m, int32_t *ids, const unsigned char *blank, size_t n, const rnn_fill_opts *o,
             int threads, float *probs, int *passes_done, rnn_err err);

/* ---------------------------------------------------------------------------------------- checkpoint */
/* Writes `m` (and, if `t` is not NULL, everything needed to resume training exactly) to `path` atomically:
 * a temporary file PATH.tmp.XXXXXX in the same directory (write-locked while it is written), flushed and synced,
 * then renamed over `path`. `path` must be absent, a regular file, or a symlink whose final target is a regular
 * file: the target is then replaced (its temporary next to it) and the link kept. Anything else (a directory,
 * FIFO, device, socket, a dangling symlink or one to a non-regular file) is refused: nothing is created. On
 * failure `path` is untouched. */
int rnn_save(const char *path, const rnn_model *m, const rnn_trainer *t, rnn_err err);
/* Whether rnn_save would accept `path` (the rule above): 0, or -1 with the reason in err. Nothing is written. */
int rnn_save_check(const char *path, rnn_err err);
/* rnn_save_check, then whether rnn_save could create its temporary beside the file (made and removed at once):
 * catches what no stat can, a missing parent, an unwritable directory, a read-only file system, a file used as a
 * directory. 0, or -1 with "cannot write 'path': reason" in err. */
int rnn_save_probe(const char *path, rnn_err err);
/* Removes the temporaries that interrupted saves of `path` left: the files of exactly rnn_save's pattern for it
 * (the target's name + ".tmp." + six letters or digits, in its directory) that are regular files and that no
 * running save holds locked. Nothing else is touched. Returns how many were removed. */
int rnn_save_clean(const char *path);
/* Reads a checkpoint. The caller owns *out, and *resume when resume is not NULL (set to NULL if the file
 * holds no training state; pass resume = NULL to skip the training state). Refuses, with a message naming the
 * failed check, a missing, truncated, corrupt, foreign or future-version file. */
int rnn_load(const char *path, rnn_model **out, rnn_resume **resume, rnn_err err);
/* rnn_load on the bytes data[0..len) (borrowed, only read during the call) instead of a file: the same checks in
 * the same order, `name` standing for the file in the messages. Ownership of *out and *resume as rnn_load. */
int rnn_load_mem(const void *data, size_t len, const char *name, rnn_model **out, rnn_resume **resume, rnn_err err);

/* ---------------------------------------------------------------------------------------- helpers */
uint32_t rnn_crc32(uint32_t crc, const void *buf, size_t n);   /* IEEE 802.3 CRC-32, start with crc = 0 */
const char *rnn_cell_name(int cell);                           /* "rnn", "lstm", "gru" */
const char *rnn_precision_name(int precision);                 /* "fp32", "bf16" */
const char *const *rnn_precision_names(void);                  /* {"fp32", "bf16", NULL}: index = RNN_PREC_* */
/* The matrix micro-kernels the environment variable CHARRNN_KERNEL may name, best first, NULL-terminated:
 * "avx512" (allows all), "avx2", "generic". Any other value acts as "generic". */
const char *const *rnn_kernel_names(void);

#ifdef __cplusplus
}
#endif

#endif
