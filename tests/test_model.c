/* tests/test_model.c — the model (rnn.c): gradient checks of every parameter of every cell (the mutation
 * checks of test.sh break lines of rnn.c and expect these to fail), one stream == batched streams. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"
#include "rnn_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- gradcheck */
/* Every parameter of a tiny model (several layers, batch > 1, seq > 1, non-zero carried state) against a
 * central finite difference of the chunk loss. Float32 forward: eps = 1e-2 balances rounding noise against
 * curvature; an entry passes when |analytic - numeric| <= 2e-4 + 1e-2 * max(|a|, |n|). */
static int gradcheck_k(int cell, float dropout, int batch, int bidir, int shards) {
    unsigned char text[600];
    make_text(text, sizeof text, 6);
    rnn_config c = small_config(cell, 2, 5, batch, bidir ? 6 : 4);   /* bidirectional: seq 6, margin 2 */
    c.dropout = dropout;
    c.bidir = bidir;
    if (bidir) c.lr = 0.1f;   /* big warm-up steps: every tensor's gradient rises well above the noise */
    rig r;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
    rnn_err err;
    if (rnn_trainer_set_shards(r.t, shards, NULL, err)) { rig_free(&r); FAILF("shards: %s", err); }
    for (int i = 0; i < 3; i++) rnn_train_step(r.t);   /* carried state and moved weights */
    float *g, *p = rnn_model_params(r.m);
    size_t np = rnn_model_nparams(r.m);
    rnn__trainer_eval_chunk(r.t, 1, &g);
    float *ga = malloc(sizeof(float) * np);
    memcpy(ga, g, sizeof(float) * np);
    rnn_tensor ts[64];
    int nt = rnn__param_tensors(r.m, ts, 64);
    const float eps = 1e-2f;
    int bad = 0;
    char worst[256] = "";
    double worst_err = 0;
    for (int k = 0; k < nt; k++) {
        int meaningful = 0;
        for (size_t i = ts[k].offset; i < ts[k].offset + ts[k].count; i++) {
            float keep = p[i];
            p[i] = keep + eps;
            double lp = rnn__trainer_eval_chunk(r.t, 0, NULL);
            p[i] = keep - eps;
            double lm = rnn__trainer_eval_chunk(r.t, 0, NULL);
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
    snprintf(detail, sizeof detail, "%s%s%s B%d: %zu parameters in %d tensors; %d mismatches%s%s", bidir ? "bidirectional " : "",
             rnn_cell_name(cell), dropout > 0 ? "+dropout" : "", batch, np, nt, bad, bad ? ", worst " : "", worst);
    free(ga);
    rig_free(&r);
    return bad != 0;
}

static int gradcheck(int cell, float dropout, int batch, int bidir) {
    return gradcheck_k(cell, dropout, batch, bidir, 1);
}
/* --shards: the gradient summed over shards (each with its own dropout masks) is still the chunk's gradient. */
int test_gradcheck_shards(void) {
    if (gradcheck_k(RNN_CELL_LSTM, 0.3f, 3, 0, 3)) return 1;
    return gradcheck_k(RNN_CELL_GRU, 0.3f, 3, 1, 3);
}
int test_gradcheck_rnn(void) { return gradcheck(RNN_CELL_RNN, 0, 3, 0); }
int test_gradcheck_lstm(void) { return gradcheck(RNN_CELL_LSTM, 0, 3, 0); }
int test_gradcheck_gru(void) { return gradcheck(RNN_CELL_GRU, 0, 3, 0); }
int test_gradcheck_dropout(void) { return gradcheck(RNN_CELL_LSTM, 0.3f, 3, 0); }
/* Bidirectional, 2 layers, batch 3: both directions' every tensor, and the output layer's two halves. */
int test_gradcheck_bidir_rnn(void) { return gradcheck(RNN_CELL_RNN, 0, 3, 1); }
int test_gradcheck_bidir_lstm(void) { return gradcheck(RNN_CELL_LSTM, 0, 3, 1); }
int test_gradcheck_bidir_gru(void) { return gradcheck(RNN_CELL_GRU, 0.3f, 3, 1); }   /* with dropout in both stacks */
/* Batch 1 takes other paths (matrix-vector products, a transposed copy of Wh): check them too. */
int test_gradcheck_batch1(void) {
    char all[1024] = "";
    for (int cell = RNN_CELL_RNN; cell <= RNN_CELL_GRU; cell++) {
        if (gradcheck(cell, 0, 1, 0)) return 1;
        snprintf(all + strlen(all), sizeof all - strlen(all), "%.300s; ", detail);
    }
    snprintf(detail, sizeof detail, "%s", all);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- batch paths */
/* Validation and sampling run one stream (matrix-vector products); training runs B streams (packed GEMM).
 * The same stream through both must give the same loss, for every cell. */
int test_batch_paths(void) {
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
        double l1 = rnn__debug_stream_loss(r.m, r.ids, 3000, 1, 1), l3 = rnn__debug_stream_loss(r.m, r.ids, 3000, 3, 2);
        rig_free(&r);
        if (!(fabs(l1 - l3) < 1e-5)) { free(text); FAILF("%s: one stream %.7f, three streams %.7f", rnn_cell_name(cells[ci]), l1, l3); }
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s %.5f ", rnn_cell_name(cells[ci]), l1);
    }
    free(text);
    snprintf(detail, sizeof detail, "one stream == three streams: %s", msg);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- torch parity */
/* One training step of each cell at the default gated size (2 x 512: several K blocks in every product, the
 * second layer's input and its gradient to the layer below) against PyTorch's nn.RNN/LSTM/GRU loaded with the
 * same initial weights (tests/torch_ref.py wrote tests/ref/parity-CELL.ref from tests/ref/parity-CELL.ckpt,
 * which `test_rnn parity-dump` writes): the loss of chunk 0, every tensor's gradient norm and every 4999th
 * gradient entry, then after one clipped Adam step the loss of chunk 1 from the carried state. Float32 sums in
 * another order: losses agree to 2e-5, gradient entries to 1e-3 of their tensor's RMS, norms to 1e-4. */
#define PARITY_TEXT "tests/ref/ctext.txt"

static int parity_rig(rig *r, unsigned char **text, int cell) {
    FILE *f = fopen(PARITY_TEXT, "rb");
    if (!f) FAILF("cannot open %s", PARITY_TEXT);
    *text = malloc(1 << 20);
    size_t len = fread(*text, 1, 1 << 20, f);
    fclose(f);
    rnn_config c = small_config(cell, 2, 512, 8, 64);
    c.dropout = 0;
    return rig_make(r, &c, *text, len, RNN_UNIT_CHAR, 2);
}

/* `test_rnn parity-dump`: writes the initial models that tests/torch_ref.py reads. */
int parity_dump(void) {
    for (int cell = RNN_CELL_RNN; cell <= RNN_CELL_GRU; cell++) {
        rig r;
        unsigned char *text = NULL;
        rnn_err err;
        char path[64];
        snprintf(path, sizeof path, "tests/ref/parity-%s.ckpt", rnn_cell_name(cell));
        if (parity_rig(&r, &text, cell)) { free(text); return 1; }
        int rc = rnn_save(path, r.m, NULL, err);
        rig_free(&r);
        free(text);
        if (rc) FAILF("save: %s", err);
    }
    snprintf(detail, sizeof detail, "wrote tests/ref/parity-{rnn,lstm,gru}.ckpt");
    return 0;
}

/* Compares one reference file's lines (see tests/torch_ref.py) with the gradient g and the two losses. */
static int parity_compare(FILE *ref, const char *cell, const float *g, size_t np, double loss0, double loss1) {
    char line[256], kind[16], rcell[16];
    int nnorm = 0, nent = 0, L, H, V, B, T;
    size_t off, count, refnp;
    double want, worst = 0, rms[64] = {0};
    size_t toff[64], tcnt[64];
    while (fgets(line, sizeof line, ref)) {
        int layer;
        if (sscanf(line, "config %15s %d %d %d %d %d %zu", rcell, &L, &H, &V, &B, &T, &refnp) == 7 &&
            (refnp != np || strcmp(rcell, cell)))
            FAILF("the reference is for %s with %zu parameters, the model %s with %zu", rcell, refnp, cell, np);
        if (sscanf(line, "loss0 %lf", &want) == 1 && !(fabs(loss0 - want) <= 2e-5)) FAILF("loss0 %.7f, torch %.7f", loss0, want);
        if (sscanf(line, "loss1 %lf", &want) == 1 && !(fabs(loss1 - want) <= 2e-5)) FAILF("loss1 (after one Adam step) %.7f, torch %.7f", loss1, want);
        if (sscanf(line, "norm %15s %d %zu %zu %lf", kind, &layer, &off, &count, &want) == 5 && nnorm < 64) {
            double ss = 0;
            for (size_t i = off; i < off + count && i < np; i++) ss += (double)g[i] * g[i];
            if (!(fabs(sqrt(ss) - want) <= 1e-4 * want + 1e-9)) FAILF("|grad %s[%d]| %.7g, torch %.7g", kind, layer, sqrt(ss), want);
            toff[nnorm] = off, tcnt[nnorm] = count, rms[nnorm++] = want / sqrt((double)count);
        }
        if (sscanf(line, "g %zu %lf", &off, &want) == 2) {
            int k = 0;
            while (k < nnorm - 1 && off >= toff[k] + tcnt[k]) k++;
            double e = off < np ? fabs(g[off] - want) / (rms[k] + 1e-12) : INFINITY;
            if (!(e <= 1e-3)) FAILF("grad #%zu %.7g, torch %.7g (%.2g of the tensor's RMS)", off, off < np ? g[off] : NAN, want, e);
            worst = e > worst ? e : worst;
            nent++;
        }
    }
    if (nnorm < 7 || nent < 100) FAILF("the reference holds %d norms and %d entries: not a reference", nnorm, nent);
    snprintf(detail, sizeof detail, "%s 2x512 vs PyTorch: loss0 %.6f, loss1 %.6f, %d tensor norms, %d entries (worst %.1g RMS)",
             cell, loss0, loss1, nnorm, nent, worst);
    return 0;
}

static int torch_parity(int cell) {
    rig r;
    unsigned char *text = NULL;
    char path[64];
    snprintf(path, sizeof path, "tests/ref/parity-%s.ref", rnn_cell_name(cell));
    if (parity_rig(&r, &text, cell)) { free(text); return 1; }
    FILE *ref = fopen(path, "r");
    if (!ref) { rig_free(&r); free(text); FAILF("cannot open %s", path); }
    float *g;
    size_t np = rnn_model_nparams(r.m);
    double loss0 = rnn__trainer_eval_chunk(r.t, 1, &g);
    float *g0 = malloc(sizeof(float) * np);
    memcpy(g0, g, sizeof(float) * np);
    rnn_train_step(r.t);
    double loss1 = rnn__trainer_eval_chunk(r.t, 0, NULL);
    int rc = parity_compare(ref, rnn_cell_name(cell), g0, np, loss0, loss1);
    fclose(ref);
    free(g0);
    rig_free(&r);
    free(text);
    return rc;
}
int test_torch_parity_rnn(void) { return torch_parity(RNN_CELL_RNN); }
int test_torch_parity_lstm(void) { return torch_parity(RNN_CELL_LSTM); }
int test_torch_parity_gru(void) { return torch_parity(RNN_CELL_GRU); }
/* One cell's rnn_model_extend: base trained a few steps on letters a..f, extended with 'A' (before them: every old
 * id moves by one) and 'z' (after them). Old rows/columns exact, new ones as rnn_model_new makes them, the loss on
 * old text unchanged once the new symbols' output bias is pushed to -1e4 (their probability then is exactly 0). */
static int extend_cell(int cell, int layers) {
    rnn_err err;
    unsigned char text[4000];
    make_text(text, sizeof text, 6);
    rnn_config c = small_config(cell, layers, 12, 4, 8);
    rig r;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
    for (int i = 0; i < 5; i++) rnn_train_step(r.t);
    rnn_validate(r.t);
    rnn_vocab add, merged;
    int32_t map[6];
    if (rnn_vocab_build(&add, (const unsigned char *)"Azab", 4, RNN_UNIT_CHAR, err) ||
        rnn_vocab_merge(&merged, rnn_model_vocab(r.m), &add, map, err))
        FAILF("vocabulary: %s", err);
    rnn_vocab_free(&add);
    rnn_config c2 = c;
    c2.seed = 99;
    c2.lr = 1e-3f;
    rnn_model *e = rnn_model_extend(r.m, "base.ckpt", &c2, &merged, err), *fresh = rnn_model_new(&c2, &merged, err);
    rnn_vocab_free(&merged);
    if (!e || !fresh) FAILF("extend: %s", err);
    param_view pb, pe, pf;
    size_t H = 12, GH = rnn_cell_gates(cell) * H, V0 = 6, V1 = 8;
    rnn__param_layout(&c, 6, r.m->params, &pb);
    rnn__param_layout(&c2, 8, e->params, &pe);
    rnn__param_layout(&c2, 8, fresh->params, &pf);
    int bad = map[0] != 1 || map[5] != 6;
    for (size_t i = 0; i < V0; i++) bad |= memcmp(pe.l[0].wx + (i + 1) * GH, pb.l[0].wx + i * GH, 4 * GH) != 0;
    bad |= memcmp(pe.l[0].wx, pf.l[0].wx, 4 * GH) || memcmp(pe.l[0].wx + 7 * GH, pf.l[0].wx + 7 * GH, 4 * GH);
    for (int l = 0; l < layers; l++) {
        if (l) bad |= memcmp(pe.l[l].wx, pb.l[l].wx, 4 * H * GH) != 0;
        bad |= memcmp(pe.l[l].wh, pb.l[l].wh, 4 * H * GH) || memcmp(pe.l[l].b, pb.l[l].b, 4 * GH);
        if (pb.l[l].bhn) bad |= memcmp(pe.l[l].bhn, pb.l[l].bhn, 4 * H) != 0;
    }
    for (size_t h = 0; h < H; h++) {
        for (size_t i = 0; i < V0; i++) bad |= pe.wy[h * V1 + i + 1] != pb.wy[h * V0 + i];
        bad |= pe.wy[h * V1] != pf.wy[h * V1] || pe.wy[h * V1 + 7] != pf.wy[h * V1 + 7];
    }
    for (size_t i = 0; i < V0; i++) bad |= pe.by[i + 1] != pb.by[i];
    bad |= pe.by[0] != pf.by[0] || pe.by[7] != pf.by[7];   /* 0 for gated cells; the tanh RNN draws it (rnn_model_new) */
    if (bad) FAILF("%s: a tensor was not carried over or freshly initialised as specified", rnn_cell_name(cell));
    const rnn_origin *o = rnn_model_origin(e);
    if (!o || strcmp(o->name, "base.ckpt") || o->step != 5 || o->vocab_size != 6 || o->best_val != r.m->prog.best_val ||
        isnan(o->best_val) || e->prog.step != 0 || !isnan(e->prog.best_val) || e->cfg.seed != 99 || e->cfg.lr != 1e-3f ||
        rnn_model_origin(r.m))
        FAILF("%s: origin, progress or settings wrong", rnn_cell_name(cell));
    int32_t *ids = malloc(sizeof(int32_t) * sizeof text);
    size_t n = rnn_encode(rnn_model_vocab(e), text, sizeof text, ids, NULL);
    double l0 = rnn__debug_stream_loss(r.m, r.ids, r.n, 1, 1), l1 = rnn__debug_stream_loss(e, ids, n, 1, 1);
    pe.by[0] = pe.by[7] = -1e4f;
    double l2 = rnn__debug_stream_loss(e, ids, n, 1, 1);
    free(ids);
    rnn_model_free(e);
    rnn_model_free(fresh);
    rig_free(&r);
    if (!(fabs(l2 - l0) <= 1e-5 * l0) || !(fabs(l1 - l0) > 1e-4))
        FAILF("%s: loss on the old text: base %.7f, extended %.7f, with the new symbols silenced %.7f",
              rnn_cell_name(cell), l0, l1, l2);
    snprintf(detail, sizeof detail, "%s", "");
    return 0;
}

int test_model_extend(void) {
    if (extend_cell(RNN_CELL_RNN, 1) || extend_cell(RNN_CELL_LSTM, 2) || extend_cell(RNN_CELL_GRU, 2)) return 1;
    /* the refusals: another shape, a vocabulary without all of base's symbols */
    rnn_err err;
    unsigned char text[3000];
    make_text(text, sizeof text, 5);
    rnn_config c = small_config(RNN_CELL_LSTM, 2, 8, 4, 8);
    rig r;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
    rnn_config c2 = c;
    c2.hidden = 9;
    rnn_model *e = rnn_model_extend(r.m, "b", &c2, rnn_model_vocab(r.m), err);
    int ok = !e && !strcmp(err, "the base model is lstm 2 x 8, not lstm 2 x 9");
    rnn_model_free(e);
    rnn_vocab v;
    rnn_vocab_build(&v, (const unsigned char *)"abcz", 4, RNN_UNIT_CHAR, err);
    e = rnn_model_extend(r.m, "b", &c, &v, err);
    ok = ok && !e && !strcmp(err, "the new vocabulary does not hold every symbol of the base model's");
    rnn_model_free(e);
    rnn_vocab_free(&v);
    e = rnn_model_extend(r.m, "b", &c, rnn_model_vocab(r.m), err);   /* same vocabulary: the same loss, exactly */
    ok = ok && e && rnn__debug_stream_loss(e, r.ids, r.n, 1, 1) == rnn__debug_stream_loss(r.m, r.ids, r.n, 1, 1);
    rnn_model_free(e);
    rig_free(&r);
    if (!ok) FAILF("a refusal's message, or the same-vocabulary loss, is wrong: '%s'", err);
    snprintf(detail, sizeof detail, "rnn, lstm, gru: old rows/columns exact under new ids, new ones (by too) as a fresh model's; "
             "old-text loss equal with the new symbols silenced; shape and vocabulary refusals");
    return 0;
}
