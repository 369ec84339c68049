/* tests/fuzz_fill.c — fuzz target for the filler's input path: any bytes as the text of `charrnn fill`. The text is
 * decoded with rnn_decode (symbols outside the vocabulary included), every '_' becomes a blank, and
 * rnn_fill runs on a small bidirectional GRU made in-process (fixed seed), with the pass count taken from the
 * first byte. Properties: no crash, every blank gets a symbol id of the vocabulary, the probabilities are finite
 * and sum to 1. Seeds: tests/fuzz/fill/. */
#include "fuzz.h"
#include "rnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rnn_model *model(void) {
    static rnn_model *m;
    if (m) return m;
    static const unsigned char alphabet[] = "abcdefgh _\n\xc3\xa9";   /* '_' is in it: a blank that is also a symbol */
    rnn_vocab v;
    rnn_err err;
    rnn_config c;
    rnn_config_default(&c);
    c.cell = RNN_CELL_GRU;
    c.layers = 2;
    c.hidden = 8;
    c.bidir = 1;
    if (rnn_vocab_build(&v, alphabet, sizeof alphabet - 1, RNN_UNIT_CHAR, err)) fuzz_fail("vocabulary: %s", err);
    m = rnn_model_new(&c, &v, err);
    rnn_vocab_free(&v);
    if (!m) fuzz_fail("model: %s", err);
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0 || size > 4096) return 0;
    rnn_model *m = model();
    int passes = 1 + data[0] % 4, V = rnn_model_vocab(m)->size;
    data++;
    size--;
    int32_t *ids = malloc(sizeof(int32_t) * (size + 1));
    unsigned char *blank = malloc(size + 1);
    size_t nsym = rnn_decode(rnn_model_vocab(m), data, size, ids, NULL), nb = 0;
    for (size_t i = 0; i < nsym; i++) nb += blank[i] = ids[i] >= 0 && rnn_model_vocab(m)->sym[ids[i]] == '_';
    float *probs = malloc(sizeof(float) * (nb + 1) * (size_t)V);
    rnn_err err;
    if (rnn_fill(m, ids, blank, nsym, passes, 1, probs, NULL, err)) fuzz_fail("rnn_fill: %s", err);
    for (size_t i = 0; i < nsym; i++)
        if (blank[i] && (ids[i] < 0 || ids[i] >= V)) fuzz_fail("blank %zu filled with id %d", i, (int)ids[i]);
    for (size_t k = 0; k < nb; k++) {
        double s = 0;
        for (int j = 0; j < V; j++) {
            if (!isfinite(probs[k * V + j])) fuzz_fail("blank %zu: probability %g", k, probs[k * V + j]);
            s += probs[k * V + j];
        }
        if (fabs(s - 1) > 1e-3) fuzz_fail("blank %zu: probabilities sum to %g", k, s);
    }
    free(ids);
    free(blank);
    free(probs);
    return 0;
}
