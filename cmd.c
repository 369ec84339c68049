/* cmd.c — what several commands share: the names of cells and optimizers as the options and reports spell
 * them, and the clock seed of sample and fill.
 * Must not know: any one command's options beyond the draw rows (cmd.h). */
#define _POSIX_C_SOURCE 200809L
#include "cmd.h"

#include <time.h>
#include <unistd.h>

const char *const cell_names[] = {"rnn", "lstm", "gru", NULL};
const char *const optim_names[] = {"adam", "adagrad", "sgd", NULL};

void draw_seed(draw_args *d, const command *c) {
    if (opt_seen(c, "seed")) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    d->seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
}
