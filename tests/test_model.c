/* tests/test_model.c — the model (rnn.c): gradient checks of every parameter of every cell (the mutation
 * checks of test.sh break lines of rnn.c and expect these to fail), one stream == batched streams. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- gradcheck */
/* Every parameter of a tiny model (several layers, batch > 1, seq > 1, non-zero carried state) against a
 * central finite difference of the chunk loss. Float32 forward: eps = 1e-2 balances rounding noise against
 * curvature; an entry passes when |analytic - numeric| <= 2e-4 + 1e-2 * max(|a|, |n|). */
static int gradcheck(int cell, float dropout, int batch) {
    unsigned char text[600];
    make_text(text, sizeof text, 6);
    rnn_config c = small_config(cell, 2, 5, batch, 4);
    c.dropout = dropout;
    rig r;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
    for (int i = 0; i < 3; i++) rnn_train_step(r.t);   /* carried state and moved weights */
    float *g, *p = rnn_model_params(r.m);
    size_t np = rnn_model_nparams(r.m);
    rnn_trainer_eval_chunk(r.t, 1, &g);
    float *ga = malloc(sizeof(float) * np);
    memcpy(ga, g, sizeof(float) * np);
    rnn_tensor ts[64];
    int nt = rnn_param_tensors(r.m, ts, 64);
    const float eps = 1e-2f;
    int bad = 0;
    char worst[256] = "";
    double worst_err = 0;
    for (int k = 0; k < nt; k++) {
        int meaningful = 0;
        for (size_t i = ts[k].offset; i < ts[k].offset + ts[k].count; i++) {
            float keep = p[i];
            p[i] = keep + eps;
            double lp = rnn_trainer_eval_chunk(r.t, 0, NULL);
            p[i] = keep - eps;
            double lm = rnn_trainer_eval_chunk(r.t, 0, NULL);
            p[i] = keep;
            double num = (lp - lm) / (2.0 * eps), a = ga[i], mx = fmax(fabs(a), fabs(num));
            double e = fabs(a - num);
            if (mx > 1e-3) meaningful++;
            if (e > 2e-4 + 1e-2 * mx) {
                bad++;
                if (e > worst_err) {
                    worst_err = e;
                    snprintf(worst, sizeof worst, "%s[%d] #%zu analytic %.6g numeric %.6g", ts[k].name, ts[k].layer,
                             i - ts[k].offset, a, num);
                }
            }
        }
        if (!meaningful) {
            snprintf(detail, sizeof detail, "%s[%d]: no entry has a gradient above 1e-3 (check cannot see it)",
                     ts[k].name, ts[k].layer);
            free(ga);
            rig_free(&r);
            return 1;
        }
    }
    snprintf(detail, sizeof detail, "%s%s B%d: %zu parameters in %d tensors; %d mismatches%s%s", rnn_cell_name(cell),
             dropout > 0 ? "+dropout" : "", batch, np, nt, bad, bad ? ", worst " : "", worst);
    free(ga);
    rig_free(&r);
    return bad != 0;
}

int gc_rnn(void) { return gradcheck(RNN_CELL_RNN, 0, 3); }
int gc_lstm(void) { return gradcheck(RNN_CELL_LSTM, 0, 3); }
int gc_gru(void) { return gradcheck(RNN_CELL_GRU, 0, 3); }
int gc_lstm_drop(void) { return gradcheck(RNN_CELL_LSTM, 0.3f, 3); }
/* Batch 1 takes other paths (matrix-vector products, a transposed copy of Wh): check them too. */
int gc_batch1(void) {
    char all[1024] = "";
    for (int cell = RNN_CELL_RNN; cell <= RNN_CELL_GRU; cell++) {
        if (gradcheck(cell, 0, 1)) return 1;
        snprintf(all + strlen(all), sizeof all - strlen(all), "%.300s; ", detail);
    }
    snprintf(detail, sizeof detail, "%s", all);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- batch paths */
/* Validation and sampling run one stream (matrix-vector products); training runs B streams (packed GEMM).
 * The same stream through both must give the same loss, for every cell. */
int batch_paths(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    int cells[3] = {RNN_CELL_RNN, RNN_CELL_LSTM, RNN_CELL_GRU};
    char msg[256] = "";
    for (int ci = 0; ci < 3; ci++) {
        rnn_config c = small_config(cells[ci], 2, 40, 8, 16);
        rig r;
        if (rig_make(&r, &c, text, 40000, RNN_UNIT_CHAR, 1)) { free(text); return 1; }
        for (int i = 0; i < 10; i++) rnn_train_step(r.t);
        double l1 = rnn_debug_stream_loss(r.m, r.ids, 3000, 1, 1), l3 = rnn_debug_stream_loss(r.m, r.ids, 3000, 3, 2);
        rig_free(&r);
        if (!(fabs(l1 - l3) < 1e-5)) { free(text); FAILF("%s: one stream %.7f, three streams %.7f", rnn_cell_name(cells[ci]), l1, l3); }
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s %.5f ", rnn_cell_name(cells[ci]), l1);
    }
    free(text);
    snprintf(detail, sizeof detail, "one stream == three streams: %s", msg);
    return 0;
}
