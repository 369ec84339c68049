/* tests/fuzz_fill.c — fuzz target for the filler's input path: any bytes as the text of `charrnn fill`, and as the
 * text `charrnn score` gives a bidirectional model. The text is decoded with rnn_decode (symbols outside the
 * vocabulary included), every '_' becomes a blank, and rnn_fill runs on a small GRU made in-process (fixed seed),
 * bidirectional or forward. Byte 0 picks the model (bit 0: forward), the passes (bits 1-2) and whether to draw
 * (bit 3: temperature from byte 1, top-k from byte 2, top-p from byte 3, the seed from byte 4; these bytes are not
 * text then). Properties: no crash, every blank gets a symbol id of the vocabulary, the probabilities are finite
 * and sum to 1, a forward model runs one pass, the same seed gives the same fills; the bidirectional model's cloze
 * scores of the text are finite and non-negative for every known symbol, NaN for an unknown one. Seeds:
 * tests/fuzz/fill/. */
#include "fuzz.h"
#include "rnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rnn_model *model(int bidir) {
    static rnn_model *m[2];
    if (m[bidir]) return m[bidir];
    static const unsigned char alphabet[] = "abcdefgh _\n\xc3\xa9";   /* '_' is in it: a blank that is also a symbol */
    rnn_vocab v;
    rnn_err err;
    rnn_config c;
    rnn_config_default(&c);
    c.cell = RNN_CELL_GRU;
    c.layers = 2;
    c.hidden = 8;
    c.bidir = bidir;
    if (rnn_vocab_build(&v, alphabet, sizeof alphabet - 1, RNN_UNIT_CHAR, err)) fuzz_fail("vocabulary: %s", err);
    m[bidir] = rnn_model_new(&c, &v, err);
    rnn_vocab_free(&v);
    if (!m[bidir]) fuzz_fail("model: %s", err);
    return m[bidir];
}

/* The options byte 0 (and, drawing, bytes 1..4) say; returns how many bytes they took. */
static size_t fill_opts(const uint8_t *data, size_t size, rnn_fill_opts *o) {
    *o = (rnn_fill_opts){.passes = 1 + (data[0] >> 1) % 4, .temperature = 0, .top_p = 1};
    if (!(data[0] & 8) || size < 5) return 1;
    o->temperature = (float)data[1] / 64.0f;   /* 0..4 */
    o->top_k = data[2] % 16;
    o->top_p = data[3] ? (float)data[3] / 255.0f : 1.0f;
    o->seed = data[4];
    return 5;
}

/* Cloze scores of the decoded text as one stream: finite and >= 0 where known, NaN where not. */
static void check_cloze(const int32_t *ids, size_t nsym) {
    rnn_err err;
    rnn_scorer *s = rnn_scorer_new(model(1), 2, 1, err);
    double *nats = malloc(sizeof(double) * (nsym + 1));
    if (!s || !nats) fuzz_fail("scorer: %s", s ? "out of memory" : err);
    if (rnn_score_streams(s, ids, (size_t[]){0, nsym}, 1, nats, err)) fuzz_fail("rnn_score_streams: %s", err);
    for (size_t i = 0; i < nsym; i++)
        if (ids[i] < 0 ? !isnan(nats[i]) : !(isfinite(nats[i]) && nats[i] >= 0)) fuzz_fail("symbol %zu scored %g", i, nats[i]);
    free(nats);
    rnn_scorer_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0 || size > 4096) return 0;
    rnn_fill_opts o;
    size_t skip = fill_opts(data, size, &o);
    rnn_model *m = model(!(data[0] & 1));
    int V = rnn_model_vocab(m)->size, passes = 0;
    data += skip;
    size -= skip;
    int32_t *ids = malloc(sizeof(int32_t) * (size + 1)), *again = malloc(sizeof(int32_t) * (size + 1));
    unsigned char *blank = malloc(size + 1);
    size_t nsym = rnn_decode(rnn_model_vocab(m), data, size, ids, NULL), nb = 0;
    for (size_t i = 0; i < nsym; i++) nb += blank[i] = ids[i] >= 0 && rnn_model_vocab(m)->sym[ids[i]] == '_';
    check_cloze(ids, nsym);   /* before the fill changes the blanks */
    memcpy(again, ids, sizeof(int32_t) * (nsym + 1));
    float *probs = malloc(sizeof(float) * (nb + 1) * (size_t)V);
    rnn_err err;
    if (rnn_fill(m, ids, blank, nsym, &o, 1, probs, &passes, err)) fuzz_fail("rnn_fill: %s", err);
    if (nb && !rnn_model_config(m)->bidir && passes != 1) fuzz_fail("a forward fill ran %d passes", passes);
    if (nb && (passes < 1 || passes > o.passes)) fuzz_fail("%d passes of at most %d", passes, o.passes);
    if (nb > 1 && rnn_model_config(m)->bidir && o.temperature > 0 && passes != o.passes)
        fuzz_fail("drawing ran %d passes, not %d", passes, o.passes);
    if (o.temperature > 0 && nb && (rnn_fill(m, again, blank, nsym, &o, 2, NULL, NULL, err) ||
                                    memcmp(again, ids, sizeof(int32_t) * nsym)))
        fuzz_fail("the same seed gave other fills (2 threads)");
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
    free(again);
    free(blank);
    free(probs);
    return 0;
}
