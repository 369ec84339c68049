/* examples/sample.c — a program of your own on the charrnn library: load a checkpoint and sample text from it.
 *
 *   cc sample.c $(pkg-config --cflags --libs charrnn) -o sample
 *   ./sample charrnn.ckpt 200 7      # 200 symbols, seed 7
 *
 * It uses the generator (rnn_gen_*), as `charrnn sample` does: with the same seed it prints the same text as
 * `charrnn sample -m FILE -n N --seed SEED` (test.sh checks that), starting where the corpus's lines start and,
 * from a byte model of valid UTF-8, writing valid UTF-8. */
#include <rnn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s CHECKPOINT N SEED\n", argv[0]);
        return 2;
    }
    rnn_err err;
    rnn_model *m;
    if (rnn_load(argv[1], &m, NULL, err)) {   /* the library reports; the program prints */
        fprintf(stderr, "sample: %s\n", err);
        return 1;
    }
    rnn_gen_opts o;
    memset(&o, 0, sizeof o);   /* no top-k, stop strings, line limit or line starts (C++ has no designators) */
    o.temperature = 1.0f;
    o.top_p = 1.0f;            /* no top-p */
    o.length = strtoull(argv[2], NULL, 10);
    rnn_gen *g = rnn_gen_new(m, 1, strtoull(argv[3], NULL, 10), 1, &o, err);   /* one sample, one thread */
    if (!g) {
        fprintf(stderr, "sample: %s\n", err);
        rnn_model_free(m);
        return 1;
    }
    rnn_gen_out out;
    int running;
    do {
        running = rnn_gen_step(g, &out);
        fwrite(out.bytes, 1, (size_t)out.nbytes, stdout);
    } while (running);
    rnn_gen_free(g);
    rnn_model_free(m);
    return fflush(stdout) ? 1 : 0;
}
