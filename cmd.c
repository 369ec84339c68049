/* cmd.c — what several commands share: the names of cells and optimizers as the options and reports spell them,
 * and the clock seed of sample and fill.
 * Must not know: any one command's options beyond the draw rows (cmd.h). */
#define _POSIX_C_SOURCE 200809L
#include "cmd.h"

#include <time.h>
#include <unistd.h>

const char *const cell_names[] = {"rnn", "lstm", "gru", NULL};
const char *const optim_names[] = {"adam", "adagrad", "sgd", NULL};

/* ============================================================================================ draws */
/* After parsing a table with SEED_ROW: a --seed not given comes from the clock and the process id. */
void draw_seed(draw_args *d, const opt *o, int n) {
    if (opt_seen(o, n, "seed")) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    d->seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
}
