/* tests/fuzz_utf8.c — fuzz target: the UTF-8 decoder and the vocabulary builder (rnn_vocab_build, rnn_encode,
 * rnn_symbol_bytes) on any bytes, in both units. Properties: the vocabulary is strictly increasing, every symbol of
 * the text is in it, and decoding then re-encoding the ids gives back exactly the input bytes (invalid UTF-8
 * included). Seeds: tests/fuzz/utf8/. */
#include "fuzz.h"
#include "rnn.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int unit = RNN_UNIT_CHAR; unit <= RNN_UNIT_BYTE; unit++) {
        rnn_vocab v;
        rnn_err err;
        if (rnn_vocab_build(&v, data, size, unit, err)) {
            if (size) fuzz_fail("rnn_vocab_build refused %zu bytes: %s", size, err);
            rnn_vocab_free(&v);
            continue;
        }
        if (v.size < 1 || (unit == RNN_UNIT_BYTE && v.size > 256)) fuzz_fail("vocabulary of %d symbols", v.size);
        for (int i = 1; i < v.size; i++)
            if (v.sym[i] <= v.sym[i - 1]) fuzz_fail("vocabulary not strictly increasing at %d", i);
        int32_t *ids = malloc(sizeof(int32_t) * size);
        unsigned char *back = malloc(size);
        if (!ids || !back) fuzz_fail("out of memory");
        size_t unknown, n = rnn_encode(&v, data, size, ids, &unknown), k = 0;
        if (unknown) fuzz_fail("%zu symbols of the text are not in its own vocabulary", unknown);
        for (size_t i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= v.size) fuzz_fail("id %d outside the vocabulary", (int)ids[i]);
            unsigned char b[4];
            int len = rnn_symbol_bytes(&v, ids[i], b);
            if (len < 1 || len > 4 || k + (size_t)len > size) fuzz_fail("symbol %zu has %d bytes", i, len);
            memcpy(back + k, b, (size_t)len);
            k += (size_t)len;
        }
        if (k != size || memcmp(back, data, size)) fuzz_fail("the text does not round-trip (%zu of %zu bytes)", k, size);
        free(ids);
        free(back);
        rnn_vocab_free(&v);
    }
    return 0;
}
