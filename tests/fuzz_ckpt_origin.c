/* tests/fuzz_ckpt_origin.c — fuzz target for the checkpoint reader (rnn_load), seeded with version-2 checkpoints
 * that carry an origin record (fine-tuned models, README "Origin record") and a version-1 one. The input is
 * written to a temporary file, read with and without the training state, and must be refused with a message or
 * read whole; a model that reads is sampled a few symbols to touch every part. Links the library only. */
#define _POSIX_C_SOURCE 200809L
#include "../rnn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[] = "/tmp/charrnn-fuzz-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    FILE *f = fdopen(fd, "wb");
    if (!f) { close(fd); unlink(path); return 0; }
    fwrite(data, 1, size, f);
    fclose(f);
    rnn_err err;
    for (int with_state = 0; with_state < 2; with_state++) {
        rnn_model *m = NULL;
        rnn_resume *r = NULL;
        if (rnn_load(path, &m, with_state ? &r : NULL, err) == 0) {
            const rnn_origin *o = rnn_model_origin(m);
            if (o && (strlen(o->name) < 1 || strlen(o->name) > RNN_MAX_ORIGIN_NAME)) abort();
            rnn_sampler *s = rnn_sampler_new(m, 1, 1, err);
            for (int i = 0; s && i < 4; i++) rnn_sampler_feed(s, rnn_sampler_next(s, 1.0f, 0, 1.0f));
            rnn_sampler_free(s);
        } else if (!err[0]) {
            abort();   /* a refusal always says why */
        }
        rnn_resume_free(r);
        rnn_model_free(m);
    }
    unlink(path);
    return 0;
}
