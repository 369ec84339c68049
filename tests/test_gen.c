/* tests/test_gen.c — generation (rnn_gen.c): the same validation loss and sampled text on 1 and 3 threads. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One-row products (sampling, validation) split big weight matrices over the pool: rnn 1x256 and lstm 2x128
 * are past that size, so 1 and 3 threads must give the same validation loss and the same sampled bytes. */
int sample_threads(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    len = len > 60000 ? 60000 : len;
    rnn_config cs[2] = {small_config(RNN_CELL_RNN, 1, 256, 4, 16), small_config(RNN_CELL_LSTM, 2, 128, 4, 16)};
    for (int ci = 0; ci < 2; ci++) {
        unsigned char out[2][3000];
        size_t lo[2];
        float val[2];
        for (int k = 0; k < 2; k++) {
            rig r;
            if (rig_make(&r, &cs[ci], text, len, RNN_UNIT_CHAR, k ? 3 : 1)) { free(text); return 1; }
            rnn_train_step(r.t);
            val[k] = (float)rnn_validate(r.t);
            int bad = sample_into(r.m, 7, k ? 3 : 1, 600, "The ", out[k], &lo[k]);
            rig_free(&r);
            if (bad) { free(text); FAILF("sampler: out of memory"); }
        }
        if (val[0] != val[1] || lo[0] != lo[1] || memcmp(out[0], out[1], lo[0])) {
            free(text);
            FAILF("%s: 1 and 3 threads differ: validation %.9g vs %.9g, %zu vs %zu sampled bytes",
                  rnn_cell_name(cs[ci].cell), val[0], val[1], lo[0], lo[1]);
        }
    }
    free(text);
    snprintf(detail, sizeof detail, "rnn 1x256, lstm 2x128: validation loss and 600 sampled symbols identical on 1 and 3 threads");
    return 0;
}
