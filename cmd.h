/* cmd.h — what the command files (cmd_*.c) share: their entry points, which main.c's subcommand table lists,
 * the names of cells and optimizers, and the draw options of sample and fill (one set of table rows for
 * both).
 * Must not know: the library's internals. */
#ifndef CMD_H
#define CMD_H

#include "cli.h"

#include <stdint.h>

/* Each command's entry point: argv after the subcommand name. Returns the exit code (0, 1 error, 2 usage
 * error; train also 130/143 when a signal stopped it after saving). */
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_fill(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_plot(int argc, char **argv);

/* argv[0] as invoked (main sets it), for train's resume hint. */
extern const char *cmd_argv0;

/* The names of --cell and --optim, in the library's order (RNN_CELL_*, RNN_OPT_*); NULL-terminated. */
extern const char *const cell_names[];
extern const char *const optim_names[];

/* ============================================================================================ draws */
/* How sample and fill draw a symbol (the library's draw: temperature, then top-k, top-p; the seed of its
 * RNG): one set of values, parsed and checked by the same table rows, DRAW_ROWS and SEED_ROW, in both
 * commands. */
typedef struct {
    double temp, top_p;
    int top_k;
    uint64_t seed;
} draw_args;

/* The rows of -t/--temperature, --top-k and --top-p on d (their defaults: d's values when parsing starts). */
#define DRAW_ROWS(d) \
    OPT_FLOAT("temperature", 't', &(d)->temp, 0, 100, "X", \
              "sharpen (<1) or flatten (>1) the distribution; 0 = always the likeliest " \
              "(default {default})"), \
    OPT_INT("top-k", 0, &(d)->top_k, 0, RNN_MAX_VOCAB, "K", \
            "draw only from the K likeliest symbols; 0 = all (default {default})"), \
    OPT_FLOAT_ABOVE("top-p", 0, &(d)->top_p, 0, 1, "P", \
                    "draw only from the likeliest symbols holding P of the mass (default {default})")
/* The row of --seed on d; `what` names what the same seed gives again. */
#define SEED_ROW(d, what) \
    OPT_SEED("seed", &(d)->seed, "random seed: the same seed gives the same " what " (default: {default})", \
             .computed = "from the clock")

/* The last rows of every command that runs a trained checkpoint (sample, fill, score): --precision on p (its
 * default: the checkpoint's) and --threads on t (one per online CPU); `what` says what does not depend on the
 * thread count ("the text does"). */
#define RUN_ROWS(p, t, what) \
    OPT_CHOICE("precision", 0, p, rnn_precision_names(), "P", "{choices} products (default: {default})", \
               .computed = "the checkpoint's"), \
    OPT_INT("threads", 0, t, 1, 256, "N", "worker threads (default: {default}); " what " not depend on it", \
            .computed = "online CPUs")

/* After parsing c, a table with SEED_ROW on d: a --seed not given comes from the clock and the process id. */
void draw_seed(draw_args *d, const command *c);

/* The checkpoint sample, info, score and fill read when -m is not given. */
#define DEFAULT_MODEL "charrnn.ckpt"
/* Before loading `path`: if it is DEFAULT_MODEL and does not exist, reports that with the ways out (train one,
 * or -m) and returns 1; else returns 0 (rnn_load then reports any other failure). */
int default_model_missing(const char *path);

/* x's expansion as a string literal, for a number that is both a value and --help text. */
#define STR(x) STR_(x)
#define STR_(x) #x

#endif
