/* cmd.c — what several commands share: the names of cells and optimizers as the options and reports spell
 * them, the clock seed of sample and fill, and the hint when the default checkpoint does not exist.
 * Must not know: any one command's options beyond the draw rows (cmd.h). */
#define _POSIX_C_SOURCE 200809L
#include "cmd.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
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

int default_model_missing(const char *path) {
    struct stat st;
    if (strcmp(path, DEFAULT_MODEL) || stat(path, &st) == 0 || errno != ENOENT) return 0;
    return fail("cannot open '%s': %s; train one with 'charrnn train CORPUS', or name another with -m FILE",
                path, strerror(ENOENT));
}
