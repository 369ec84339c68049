/* tests/fuzz_gen.c — fuzz target for the generator's option readers (rnn_gen.c): --line-starts text and --stop
 * strings from arbitrary bytes, against a tiny model of a fixed vocabulary (characters and bytes). Input layout:
 * byte 0 picks the unit (bit 0) and raw (bit 1); the rest up to the first NUL is the line-starts text, what
 * follows is one stop string. The generator must check, refuse or run (a few steps) without crashing. */
#include "fuzz.h"
#include "rnn_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const char corpus[] = "ab\nc 春夏\xff\xfe\n";
    rnn_err err;
    rnn_vocab v;
    int unit = data[0] & 1 ? RNN_UNIT_BYTE : RNN_UNIT_CHAR;
    if (rnn_vocab_build(&v, (const unsigned char *)corpus, sizeof corpus - 1, unit, err)) return 0;
    rnn_config c;
    rnn_config_default(&c);
    c.hidden = 4;
    rnn_model *m = rnn_model_new(&c, &v, err);
    rnn_vocab_free(&v);
    if (!m) return 0;
    char *text = malloc(size);
    if (!text) { rnn_model_free(m); return 0; }
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    size_t tl = strlen(text);
    const char *stop = tl + 1 < size - 1 ? text + tl + 1 : NULL;
    rnn_gen_opts o = {.temperature = 1.0f, .top_p = 1.0f, .raw = (data[0] >> 1) & 1, .length = 40,
                      .stops = &stop, .nstops = stop && *stop ? 1 : 0, .line_starts = tl ? text : NULL};
    if (!rnn_gen_check(m, &o, err)) {
        rnn_gen *g = rnn_gen_new(m, 2, 1, 1, &o, err);
        if (g) {
            rnn_gen_out out[2];
            rnn_gen_prime(g, (const unsigned char *)text, tl, NULL, err);
            for (int i = 0; i < 100 && rnn_gen_step(g, out); i++) {}
            rnn_gen_free(g);
        }
    }
    free(text);
    rnn_model_free(m);
    return 0;
}
