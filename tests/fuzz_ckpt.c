/* tests/fuzz_ckpt.c — fuzz target: the checkpoint reader on any bytes (rnn_load_mem, the same checks as rnn_load).
 * Properties: it never crashes, leaks or reads out of bounds; it either refuses with a message or returns a model
 * that works: a sampler on a forward model draws symbols inside the vocabulary (a bidirectional one refuses the
 * sampler with a message), and an origin record's name is 1..RNN_MAX_ORIGIN_NAME bytes. Each input is read twice: as it is, and with its
 * last 4 bytes replaced by the right CRC-32 of the rest, so that mutations reach the checks after the CRC (12-14),
 * which a random mutation almost never does. Seeds: tests/fuzz/ckpt/ (tiny real checkpoints,
 * with and without training state, versions 1 to 3: bidirectional, fine-tuned with an origin record, a byte model
 * of valid UTF-8, a cosine schedule with averaged weights, a linear one without). */
#include "fuzz.h"
#include "rnn.h"

#include <string.h>

/* Loads data[0..size), with and without the training state; a forward model that loads must sample. */
static void load(const uint8_t *data, size_t size) {
    rnn_err err;
    rnn_model *m;
    rnn_resume *r;
    for (int with_state = 0; with_state < 2; with_state++) {
        err[0] = 0;
        if (rnn_load_mem(data, size, "fuzz", &m, with_state ? &r : NULL, err)) {
            if (!err[0]) fuzz_fail("rnn_load_mem refused without a message");
            continue;
        }
        const rnn_vocab *v = rnn_model_vocab(m);
        const rnn_origin *o = rnn_model_origin(m);
        if (o && (!o->name || strlen(o->name) < 1 || strlen(o->name) > RNN_MAX_ORIGIN_NAME))
            fuzz_fail("an origin record's name of %zu bytes was read", o->name ? strlen(o->name) : 0);
        err[0] = 0;
        rnn_sampler *s = rnn_sampler_new(m, 1, 1, err);
        if (!s && (!rnn_model_config(m)->bidir || !err[0]))
            fuzz_fail("a checkpoint that loads gives no sampler: %s", err);
        for (int i = 0; s && i < 3; i++) {
            int32_t id = rnn_sampler_next(s, 1.0f, 0, 1.0f);
            if (id < 0 || id >= v->size) fuzz_fail("sampled id %d outside the vocabulary of %d", (int)id, v->size);
            rnn_sampler_feed(s, id);
        }
        rnn_sampler_free(s);
        if (with_state) rnn_resume_free(r);
        rnn_model_free(m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load(data, size);
    if (size < 8) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    uint32_t crc = rnn_crc32(0, fixed, size - 4);
    for (int i = 0; i < 4; i++) fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    load(fixed, size);
    free(fixed);
    return 0;
}
