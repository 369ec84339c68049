/* tests/test_train.c — the trainer (rnn_train.c): bit-identical results for any thread count, learning on real
 * text, the divergence guard, the twin biases (tanh RNN, GRU). */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- threads */
/* Training results are bit-identical for 1, 2, 3 and 7 threads (sizes large enough that the pool is used; 7 is
 * more threads than cores here, so parts get claimed by whichever thread runs first). */
int test_threads(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    len = len > 40000 ? 40000 : len;   /* validation: 4,000 symbols, one stream in 16 chunks of 256 */
    int cells[4] = {RNN_CELL_RNN, RNN_CELL_LSTM, RNN_CELL_GRU, RNN_CELL_LSTM};   /* the last: bidirectional */
    for (int ci = 0; ci < 4; ci++) {
        float *ref = NULL, ref_val = 0;
        size_t np = 0;
        static const int nth[] = {1, 2, 3, 7};
        for (int ti = 0; ti < 4; ti++) {
            int th = nth[ti];
            rnn_config c = small_config(cells[ci], 2, 96, 24, 16);
            c.dropout = 0.2f;
            c.bidir = ci == 3;
            rig r;
            if (rig_make(&r, &c, text, len, RNN_UNIT_CHAR, th)) { free(text); free(ref); return 1; }
            for (int i = 0; i < 4; i++) rnn_train_step(r.t);
            rnn_validate(r.t);
            np = rnn_model_nparams(r.m);
            if (!ref) {
                ref = malloc(sizeof(float) * np);
                memcpy(ref, rnn_model_params(r.m), sizeof(float) * np);
                ref_val = rnn_model_progress(r.m)->last_val;
            } else if (memcmp(ref, rnn_model_params(r.m), sizeof(float) * np) ||
                       rnn_model_progress(r.m)->last_val != ref_val) {
                rig_free(&r);
                free(ref);
                free(text);
                FAILF("%s: parameters or validation loss after 4 steps differ between 1 and %d threads", rnn_cell_name(cells[ci]), th);
            }
            rig_free(&r);
        }
        free(ref);
    }
    free(text);
    snprintf(detail, sizeof detail, "rnn, lstm, gru, bidirectional lstm 2x96 B24 T16 with dropout: 1, 2, 3, 7 threads bit-identical");
    return 0;
}

/* ---------------------------------------------------------------------------------------------- learning */
/* A short run on real text ends with validation loss well below the unigram model's (cross-entropy of the
 * validation split under the training split's add-one-smoothed symbol frequencies). */
int test_learns(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    rnn_config c = small_config(RNN_CELL_RNN, 1, 128, 32, 64);
    rig r;
    if (rig_make(&r, &c, text, len, RNN_UNIT_CHAR, 2)) { free(text); return 1; }
    rnn_train_info info;
    rnn_trainer_info(r.t, &info);
    int V = rnn_model_vocab(r.m)->size;
    double *cnt = calloc((size_t)V, sizeof(double)), uni = 0;
    for (size_t i = 0; i < info.n_train; i++) cnt[r.ids[i]] += 1;
    for (size_t i = info.n_train + 1; i < r.n; i++) uni -= log((cnt[r.ids[i]] + 1) / (info.n_train + V));
    uni /= (double)(r.n - info.n_train - 1);
    free(cnt);
    double first = rnn_validate(r.t);
    for (int i = 0; i < 400; i++) rnn_train_step(r.t);
    double v = rnn_validate(r.t);
    rig_free(&r);
    free(text);
    snprintf(detail, sizeof detail, "unigram %.3f nats/char; val %.3f before, %.3f after 400 steps (rnn 1x128)", uni,
             first, v);
    return !(v < uni - 0.6);
}

/* ---------------------------------------------------------------------------------------------- divergence */
/* A step whose loss or gradient is not finite changes nothing: not the weights, not the step count. */
int test_divergence(void) {
    unsigned char text[3000];
    make_text(text, sizeof text, 8);
    rnn_config c = small_config(RNN_CELL_RNN, 1, 16, 4, 8);
    c.optim = RNN_OPT_SGD;
    c.clip = 0;
    rig r;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
    rnn_train_step(r.t);
    float *p = rnn_model_params(r.m);
    size_t np = rnn_model_nparams(r.m);
    p[np - 1] = INFINITY;   /* an output bias of +inf: the softmax gives NaN */
    float *before = malloc(sizeof(float) * np);
    memcpy(before, p, sizeof(float) * np);
    uint64_t step = rnn_model_progress(r.m)->step;
    double loss = rnn_train_step(r.t);
    int ok = !isfinite(loss) && !memcmp(before, p, sizeof(float) * np) && rnn_model_progress(r.m)->step == step;
    free(before);
    rig_free(&r);
    snprintf(detail, sizeof detail, "non-finite loss %g returned; weights and step unchanged: %s", loss, ok ? "yes" : "NO");
    return !ok;
}

/* ---------------------------------------------------------------------------------------------- twin tensors */
/* The tanh RNN's bias, and the r and z blocks of the GRU's (the first 2H of b), stand for PyTorch's b_ih + b_hh
 * (rnn_net.h rnn__param_twins): one SGD step with clipping active moves them twice as far as their gradient says, and
 * their gradient counts twice in the norm that clipping divides by; every other entry (the GRU's n block and bhn,
 * every tensor of the LSTM) moves once. Checked entry by entry against the gradient of the same chunk
 * (rnn__trainer_eval_chunk), forward and bidirectional, to 1e-4 of the step. */
int test_twin_step(void) {
    unsigned char text[4000];
    make_text(text, sizeof text, 12);
    const int cells[5] = {RNN_CELL_RNN, RNN_CELL_RNN, RNN_CELL_LSTM, RNN_CELL_GRU, RNN_CELL_GRU};
    double ratio[3] = {0};   /* by cell: the norm counting twins twice over the plain one (1 for the LSTM) */
    for (int ci = 0; ci < 5; ci++) {
        rnn_config c = small_config(cells[ci], 2, 16, 4, 8);
        c.optim = RNN_OPT_SGD;
        c.lr = 50;        /* with clip: a step of norm 0.05, far above float rounding of the weights */
        c.clip = 1e-3f;   /* far below the gradient's norm: every step is clipped */
        c.dropout = 0;
        c.bidir = ci == 1 || ci == 4;
        rig r;
        if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
        size_t np = rnn_model_nparams(r.m);
        float *g, *p = rnn_model_params(r.m), *twins = malloc(sizeof(float) * np), *g0 = malloc(sizeof(float) * np),
              *p0 = malloc(sizeof(float) * np);
        rnn_tensor tn[8 * RNN_MAX_LAYERS + 2];   /* the most rnn__param_tensors lists: 4 per layer and direction, wy, by */
        int nt = rnn__param_tensors(r.m, tn, 8 * RNN_MAX_LAYERS + 2);
        for (int k = 0; k < nt; k++) {
            int bias = !strcmp(tn[k].name, "b") || !strcmp(tn[k].name, "bwd.b");
            size_t ntw = !bias ? 0 : cells[ci] == RNN_CELL_RNN ? tn[k].count : cells[ci] == RNN_CELL_GRU ? 2 * (size_t)c.hidden : 0;
            for (size_t i = 0; i < tn[k].count; i++) twins[tn[k].offset + i] = i < ntw ? 2.0f : 1.0f;
        }
        rnn__trainer_eval_chunk(r.t, 1, &g);
        memcpy(g0, g, sizeof(float) * np);
        memcpy(p0, p, sizeof(float) * np);
        double ss = 0, ss1 = 0, worst = 0;
        for (size_t i = 0; i < np; i++) ss += twins[i] * (double)g0[i] * g0[i], ss1 += (double)g0[i] * g0[i];
        double gs = c.clip / (sqrt(ss) + 1e-6), big = 0;
        rnn_train_step(r.t);
        for (size_t i = 0; i < np; i++) big = fmax(big, fabs(c.lr * gs * twins[i] * g0[i]));
        for (size_t i = 0; i < np; i++) {
            double want = -c.lr * gs * twins[i] * g0[i], got = (double)p[i] - p0[i];
            worst = fmax(worst, fabs(got - want) / big);
        }
        ratio[cells[ci]] = sqrt(ss / ss1);
        free(twins), free(g0), free(p0);
        rig_free(&r);
        if (!(worst <= 1e-4)) FAILF("%s%s: a step differs from lr * clip/|g| * twins * g by %.2g of the largest step",
                                    c.bidir ? "bidirectional " : "", rnn_cell_name(cells[ci]), worst);
    }
    snprintf(detail, sizeof detail, "rnn, lstm, gru 2x16 (rnn and gru also bidirectional), clipped SGD: twin biases "
             "step 2x; norm with twins / without: rnn %.4f, lstm %.4f, gru %.4f", ratio[RNN_CELL_RNN],
             ratio[RNN_CELL_LSTM], ratio[RNN_CELL_GRU]);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- bidirectional */
/* The same short run on real text, forward vs bidirectional of the same size: the cloze loss (each symbol from
 * both sides) must end far below the forward model's next-symbol loss on the same validation symbols. */
int test_bidir_learns(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    len = len > 300000 ? 300000 : len;
    double v[2];
    for (int bi = 0; bi < 2; bi++) {
        rnn_config c = small_config(RNN_CELL_GRU, 1, 96, 16, 48);
        c.bidir = bi;
        c.lr = 4e-3f;
        rig r;
        if (rig_make(&r, &c, text, len, RNN_UNIT_CHAR, 2)) { free(text); return 1; }
        for (int i = 0; i < 300; i++) rnn_train_step(r.t);
        v[bi] = rnn_validate(r.t);
        rig_free(&r);
    }
    free(text);
    snprintf(detail, sizeof detail, "gru 1x96, 300 steps: forward next-symbol val %.3f nats/char, bidirectional cloze val %.3f",
             v[0], v[1]);
    return !(v[1] < v[0] - 0.4);
}

/* --precision bf16 training: an LSTM 2x64 with dropout gives the same parameters and validation loss on 1, 2 and 3
 * threads, and not the FP32 run's parameters (the products really are bf16); a tanh RNN 1x128's validation loss
 * falls by more than 1.5 nats in 400 bf16 steps and ends within 0.05 nats of the same run in FP32. */
int test_bf16_train(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    float *ref = NULL, ref_val = 0;
    size_t np = 0;
    for (int run = 0; run < 4; run++) {   /* bf16 on 1, 2, 3 threads, then FP32 */
        rnn_config c = small_config(RNN_CELL_LSTM, 2, 64, 16, 24);
        c.dropout = 0.2f;
        c.precision = run < 3 ? RNN_PREC_BF16 : RNN_PREC_FP32;
        rig r;
        if (rig_make(&r, &c, text, len > 100000 ? 100000 : len, RNN_UNIT_CHAR, run < 3 ? run + 1 : 2)) { free(text); free(ref); return 1; }
        for (int i = 0; i < 5; i++) rnn_train_step(r.t);
        rnn_validate(r.t);
        np = rnn_model_nparams(r.m);
        int same = ref && !memcmp(ref, rnn_model_params(r.m), sizeof(float) * np) && rnn_model_progress(r.m)->last_val == ref_val;
        if (!ref) {
            ref = malloc(sizeof(float) * np);
            memcpy(ref, rnn_model_params(r.m), sizeof(float) * np);
            ref_val = rnn_model_progress(r.m)->last_val;
        }
        rig_free(&r);
        if ((run == 1 || run == 2) && !same) { free(ref); free(text); FAILF("bf16 lstm: 1 and %d threads differ after 5 steps", run + 1); }
        if (run == 3 && same) { free(ref); free(text); FAILF("bf16 and fp32 training give the same parameters"); }
    }
    free(ref);
    double val[2], first = 0;
    for (int prec = 0; prec < 2; prec++) {
        rnn_config c = small_config(RNN_CELL_RNN, 1, 128, 32, 64);
        c.precision = prec ? RNN_PREC_FP32 : RNN_PREC_BF16;
        rig r;
        if (rig_make(&r, &c, text, len, RNN_UNIT_CHAR, 2)) { free(text); return 1; }
        if (!prec) first = rnn_validate(r.t);
        for (int i = 0; i < 400; i++) rnn_train_step(r.t);
        val[prec] = rnn_validate(r.t);
        rig_free(&r);
    }
    free(text);
    snprintf(detail, sizeof detail, "lstm 2x64 bf16: 1 == 2 == 3 threads != fp32; rnn 1x128 val %.3f -> %.3f after 400 bf16 steps (fp32 %.3f)",
             first, val[0], val[1]);
    return !(val[0] < first - 1.5 && fabs(val[0] - val[1]) < 0.05);
}

/* ---------------------------------------------------------------------------------------------- schedule */
/* rnn_schedule_factor at known steps and progress. 0, or 1 with detail. */
static int schedule_factors(void) {
    const double pi = 3.14159265358979323846;
    struct { int kind; uint64_t warmup; float floor; uint64_t step; double p, want; } k[] = {
        {RNN_SCHED_CONSTANT, 4, 0, 0, 0, 0.2},   /* warm-up: (s + 1) / (warmup + 1) */
        {RNN_SCHED_CONSTANT, 4, 0, 3, 0.5, 0.8},
        {RNN_SCHED_CONSTANT, 4, 0, 4, 0.9, 1},
        {RNN_SCHED_CONSTANT, 0, 0, 0, 0, 1},
        {RNN_SCHED_COSINE, 0, 0.1f, 10, 0, 1},
        {RNN_SCHED_COSINE, 0, 0.1f, 10, 0.5, 0.55},
        {RNN_SCHED_COSINE, 0, 0.1f, 10, 1, 0.1},
        {RNN_SCHED_COSINE, 0, 0.1f, 10, 2, 0.1},   /* progress clamped */
        {RNN_SCHED_COSINE, 0, 0.1f, 0, 0.25, 0.1 + 0.9 * 0.5 * (1 + cos(pi / 4))},
        {RNN_SCHED_LINEAR, 0, 0, 10, 0.25, 0.75},
        {RNN_SCHED_LINEAR, 2, 0.5f, 1, 0.5, 2.0 / 3 * 0.75},
    };
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        rnn_schedule s = {.kind = k[i].kind, .warmup = k[i].warmup, .floor = k[i].floor};
        double got = rnn_schedule_factor(&s, k[i].step, k[i].p);
        if (!(fabs(got - k[i].want) <= 1e-7))
            FAILF("%s warmup %llu floor %g at step %llu, progress %g: factor %.9g, want %.9g",
                  rnn_schedule_names()[k[i].kind], (unsigned long long)k[i].warmup, k[i].floor,
                  (unsigned long long)k[i].step, k[i].p, got, k[i].want);
    }
    return 0;
}

/* Steps 0..3 of r's 4-step SGD run, linear to 0 after 2 warm-up steps, averaging at 0.5: rnn_trainer_info
 * announces lr(s) = want_lr[s], each step moves the trained weights by exactly -lr(s) g, and the average is
 * the trained weights after step 1 and d = 1/3 of the old average after step 2. 0, or 1 with detail. */
static int schedule_steps(rig *r, const double want_lr[4]) {
    size_t np = rnn_model_nparams(r->m);
    float *g, *avg = rnn_model_params(r->m), *raw0 = malloc(sizeof(float) * np), *g0 = malloc(sizeof(float) * np),
          *avg0 = malloc(sizeof(float) * np);
    int rc = 1;
    for (int step = 0; step < 4; step++) {
        struct rnn_resume rs;
        rnn__trainer_snapshot(r->t, &rs);
        rnn_train_info info;
        rnn_trainer_info(r->t, &info);
        if (info.lr != (float)want_lr[step]) {
            snprintf(detail, sizeof detail, "step %d: info.lr %.9g, want %.9g", step, info.lr, want_lr[step]);
            goto out;
        }
        rnn__trainer_eval_chunk(r->t, 1, &g);
        memcpy(g0, g, sizeof(float) * np);
        memcpy(raw0, rs.raw, sizeof(float) * np);
        memcpy(avg0, avg, sizeof(float) * np);
        rnn_train_step(r->t);
        rnn__trainer_snapshot(r->t, &rs);
        double worst = 0, big = 0, dev = 0, d = step == 1 ? 1.0 / 3 : 0;
        for (size_t i = 0; i < np; i++) big = fmax(big, fabs(want_lr[step] * g0[i]));
        for (size_t i = 0; i < np; i++) {
            worst = fmax(worst, fabs((double)rs.raw[i] - raw0[i] + want_lr[step] * g0[i]) / big);
            if (step < 2) dev = fmax(dev, fabs(avg[i] - (d * avg0[i] + (1 - d) * rs.raw[i])));
        }
        if (!(worst <= 1e-4)) {
            snprintf(detail, sizeof detail, "step %d: the step differs from -lr(s) g by %.2g of the largest", step,
                     worst);
            goto out;
        }
        if (!(dev <= 1e-6)) {
            snprintf(detail, sizeof detail, "step %d: the average is off by %.2g", step + 1, dev);
            goto out;
        }
    }
    rc = 0;
out:
    free(raw0), free(g0), free(avg0);
    return rc;
}

/* After r's 4-step budget: progress 1; then the largest fraction of any limit (epochs done, training seconds).
 * 0, or 1 with detail. */
static int schedule_progress(rig *r) {
    rnn_train_info info;
    rnn_trainer_info(r->t, &info);
    if (info.progress != 1) FAILF("progress %g at the budget's end", info.progress);
    rnn_budget *bud = rnn_trainer_budget(r->t);
    *bud = (rnn_budget){.steps = 400, .epochs = 0.5};
    rnn_trainer_info(r->t, &info);
    double pe = info.epoch / 0.5;
    if (!(pe > 4.0 / 400) || fabs(info.progress - pe) > 1e-12)
        FAILF("progress %g at epoch %g of 0.5", info.progress, info.epoch);
    bud->seconds = 10;
    rnn_model_progress(r->m)->seconds = 9;
    rnn_trainer_info(r->t, &info);
    if (fabs(info.progress - (pe > 0.9 ? pe : 0.9)) > 1e-12) FAILF("progress %g after 9 s of 10", info.progress);
    return 0;
}

/* The learning-rate schedule (rnn.h "rnn_schedule"): its factor at known steps and progress; then a short SGD
 * run (LSTM: no twin tensors) over a 4-step budget, linear to 0 after 2 warm-up steps, averaging at 0.5
 * (schedule_steps), the budget's progress (schedule_progress), and validation scores the average. */
int test_schedule(void) {
    if (schedule_factors()) return 1;
    unsigned char text[4000];
    make_text(text, sizeof text, 12);
    rnn_config c = small_config(RNN_CELL_LSTM, 1, 16, 4, 8);
    c.optim = RNN_OPT_SGD;
    c.lr = 0.5f;
    c.clip = 0;
    c.dropout = 0;
    rig r;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
    rnn_schedule s = {.kind = RNN_SCHED_LINEAR, .warmup = 2, .floor = 0, .ema = 0.5f};
    rnn_err err;
    if (rnn_trainer_set_schedule(r.t, &s, err)) { rig_free(&r); FAILF("set_schedule: %s", err); }
    rnn_trainer_budget(r.t)->steps = 4;
    const double want_lr[4] = {0.5 / 3, 0.5 * 2 / 3 * 0.75, 0.5 * 0.5, 0.5 * 0.25};
    int rc = schedule_steps(&r, want_lr) || schedule_progress(&r);
    if (!rc) {
        rnn_train_info info;
        rnn_trainer_info(r.t, &info);
        double v = rnn_validate(r.t), want = rnn__debug_stream_loss(r.m, r.ids + info.n_train, info.n_val, 1, 1);
        if (!(fabs(v - want) <= 1e-5)) {
            snprintf(detail, sizeof detail, "validation %.6f, but the averaged weights score %.6f", v, want);
            rc = 1;
        } else {
            snprintf(detail, sizeof detail, "factors at 11 known points; 4 SGD steps at lr %.4g %.4g %.4g %.4g "
                     "(linear, warm-up 2); average after 1 and 2 steps; validation on it (%.4f)", want_lr[0],
                     want_lr[1], want_lr[2], want_lr[3], v);
        }
    }
    rig_free(&r);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- shards */
/* Trains `steps` steps of config c on text with `shards` (dist may be NULL) into params (*np_out floats, malloc'd).
 * Returns the last loss, NaN after writing detail on failure. */
static double shard_run(const rnn_config *c, const unsigned char *text, size_t len, int threads, int shards,
                        const rnn_dist *dist, int steps, float **params, size_t *np_out) {
    rig r;
    rnn_err err;
    *params = NULL;
    if (rig_make(&r, c, text, len, RNN_UNIT_CHAR, threads)) return NAN;
    if (rnn_trainer_set_shards(r.t, shards, dist, err)) {
        snprintf(detail, sizeof detail, "shards: %s", err);
        rig_free(&r);
        return NAN;
    }
    double loss = NAN;
    for (int i = 0; i < steps; i++) loss = rnn_train_step(r.t);
    size_t np = *np_out = rnn_model_nparams(r.m);
    *params = malloc(sizeof(float) * np);
    memcpy(*params, rnn_model_params(r.m), sizeof(float) * np);
    rig_free(&r);
    return loss;
}

/* --shards 1 is the step without shards, bit for bit; --shards 4 is the same for 1 and 3 threads, close to (not
 * the same as) one shard; a batch that 3 does not divide is refused. */
int test_shards_one(void) {
    unsigned char text[20000];
    make_text(text, sizeof text, 20);
    rnn_config c = small_config(RNN_CELL_LSTM, 2, 48, 8, 16);
    c.dropout = 0.1f;
    float *a, *b, *d, *e;
    size_t n1;
    double la = shard_run(&c, text, sizeof text, 1, 1, NULL, 5, &a, &n1);
    rig r;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
    for (int i = 0; i < 5; i++) rnn_train_step(r.t);
    size_t np = rnn_model_nparams(r.m);
    int same1 = !memcmp(a, rnn_model_params(r.m), sizeof(float) * np);
    rnn_err err;
    int refused = rnn_trainer_set_shards(r.t, 3, NULL, err) != 0;
    rig_free(&r);
    double lb = shard_run(&c, text, sizeof text, 1, 4, NULL, 5, &b, &n1);
    double ld = shard_run(&c, text, sizeof text, 3, 4, NULL, 5, &d, &n1);
    shard_run(&c, text, sizeof text, 1, 2, NULL, 5, &e, &n1);
    int same4 = b && d && !memcmp(b, d, sizeof(float) * np), differ = b && memcmp(a, b, sizeof(float) * np);
    free(a), free(b), free(d), free(e);
    if (!same1) FAILF("--shards 1 differs from the default");
    if (!same4 || lb != ld) FAILF("--shards 4 differs between 1 and 3 threads");
    if (!differ || !(fabs(la - lb) < 0.05)) FAILF("--shards 4 vs 1: loss %.6f vs %.6f, weights %s", lb, la,
                                                 differ ? "differ" : "identical");
    if (!refused) FAILF("--shards 3 accepted for --batch 8");
    snprintf(detail, sizeof detail, "shards 1 = default; shards 4 the same on 1 and 3 threads, loss %.5f vs %.5f "
             "with one shard; %.100s", lb, la, err);
    return 0;
}

/* A stand-in for dist_mpi.c: `size` threads, each a "process", exchanging through shared slots. */
typedef struct { pthread_barrier_t bar; int size; const void *slot[4]; } hub;
typedef struct {
    hub *h;
    rnn_dist d;
    const rnn_config *c;
    const unsigned char *text;
    size_t len;
    int shards;
    float *params;
    size_t np;
    double loss;
} fake;

static int fake_allgather(void *ctx, const void *mine, size_t bytes, void *all) {
    fake *f = ctx;
    f->h->slot[f->d.rank] = mine;
    pthread_barrier_wait(&f->h->bar);
    for (int q = 0; q < f->h->size; q++) memcpy((char *)all + (size_t)q * bytes, f->h->slot[q], bytes);
    pthread_barrier_wait(&f->h->bar);
    return 0;
}

static int fake_reduce(void *ctx, const float *mine, int nmine, size_t n, float *sum) {
    fake *f = ctx;
    f->h->slot[f->d.rank] = mine;
    pthread_barrier_wait(&f->h->bar);
    for (size_t i = 0; i < n; i++) {
        float acc = ((const float *)f->h->slot[0])[i];
        for (int k = 1; k < nmine * f->h->size; k++)
            acc += ((const float *)f->h->slot[k / nmine])[(size_t)(k % nmine) * n + i];
        sum[i] = acc;
    }
    pthread_barrier_wait(&f->h->bar);
    return 0;
}

static void *fake_main(void *arg) {
    fake *f = arg;
    f->loss = shard_run(f->c, f->text, f->len, 1, f->shards, &f->d, 5, &f->params, &f->np);
    return NULL;
}

/* 1 process with --shards 4 = 2 "processes" (threads through fake callbacks) with --shards 4 = 4 of them, bit for
 * bit, for an LSTM with dropout and a bidirectional GRU. */
int test_shards_dist(void) {
    unsigned char text[20000];
    make_text(text, sizeof text, 20);
    for (int bi = 0; bi < 2; bi++) {
        rnn_config c = small_config(bi ? RNN_CELL_GRU : RNN_CELL_LSTM, 2, 32, 8, 12);
        c.dropout = 0.2f;
        c.bidir = bi;
        float *ref;
        size_t np;
        double lref = shard_run(&c, text, sizeof text, 1, 4, NULL, 5, &ref, &np);
        if (!ref) return 1;
        for (int P = 2; P <= 4; P += 2) {
            hub h = {.size = P};
            pthread_barrier_init(&h.bar, NULL, (unsigned)P);
            fake f[4];
            pthread_t th[4];
            for (int q = 0; q < P; q++) {
                f[q] = (fake){&h, {q, P, &f[q], fake_reduce, fake_allgather}, &c, text, sizeof text, 4, NULL, 0, 0};
                pthread_create(&th[q], NULL, fake_main, &f[q]);
            }
            for (int q = 0; q < P; q++) pthread_join(th[q], NULL);
            pthread_barrier_destroy(&h.bar);
            int bad = 0;
            for (int q = 0; q < P; q++) {
                bad |= !f[q].params || f[q].np != np || f[q].loss != lref ||
                       memcmp(f[q].params, ref, sizeof(float) * np);
                free(f[q].params);
            }
            if (bad) {
                free(ref);
                FAILF("%s: %d processes differ from one (loss %.9g vs %.9g)", bi ? "bidir gru" : "lstm", P, f[0].loss,
                      lref);
            }
        }
        free(ref);
    }
    snprintf(detail, sizeof detail, "lstm and bidirectional gru, --shards 4: 1, 2 and 4 processes identical");
    return 0;
}
