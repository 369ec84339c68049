/* examples/sample.c — a program of your own on the charrnn library: load a checkpoint and sample text from it.
 *
 *   cc sample.c $(pkg-config --cflags --libs charrnn) -o sample
 *   ./sample charrnn.ckpt 200 7      # 200 symbols, seed 7
 *
 * With the same seed it prints the same text as `charrnn sample -m FILE -n N --seed SEED` (test.sh checks that). */
#include <rnn.h>

#include <stdio.h>
#include <stdlib.h>

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
    long n = strtol(argv[2], NULL, 10);
    rnn_sampler *s = rnn_sampler_new(m, strtoull(argv[3], NULL, 10), 1, err);
    if (!s) {
        fprintf(stderr, "sample: %s\n", err);
        rnn_model_free(m);
        return 1;
    }
    for (long i = 0; i < n; i++) {
        int32_t id = rnn_sampler_next(s, 1.0f, 0, 1.0f);   /* temperature 1, no top-k, no top-p */
        unsigned char b[4];
        fwrite(b, 1, (size_t)rnn_symbol_bytes(rnn_model_vocab(m), id, b), stdout);
        rnn_sampler_feed(s, id);
    }
    rnn_sampler_free(s);
    rnn_model_free(m);
    return fflush(stdout) ? 1 : 0;
}
