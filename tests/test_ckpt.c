/* tests/test_ckpt.c — the checkpoint (rnn_ckpt.c): exact save/load, and resume == straight, bit for bit; its
 * CRC-32 (rnn_crc.c) against the bitwise definition. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"
#include "rnn_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int test_save_load_sample(void) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    rnn_config c = small_config(RNN_CELL_LSTM, 2, 32, 8, 16);
    rig r;
    if (rig_make(&r, &c, text, 50000, RNN_UNIT_CHAR, 2)) { free(text); return 1; }
    for (int i = 0; i < 20; i++) rnn_train_step(r.t);
    rnn_validate(r.t);
    char path[] = "/tmp/charrnn-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    rnn_err err;
    rnn_model *m2 = NULL;
    int rc = 1;
    unsigned char a[4096], b[4096], d[4096];
    size_t la = 0, lb = 0, ld = 0;
    if (rnn_save(path, r.m, NULL, err)) { snprintf(detail, sizeof detail, "save: %s", err); goto out; }
    if (rnn_load(path, &m2, NULL, err)) { snprintf(detail, sizeof detail, "load: %s", err); goto out; }
    if (rnn_model_nparams(m2) != rnn_model_nparams(r.m) ||
        memcmp(rnn_model_params(m2), rnn_model_params(r.m), sizeof(float) * rnn_model_nparams(r.m))) {
        snprintf(detail, sizeof detail, "parameters differ after save/load");
        goto out;
    }
    const rnn_vocab *v1 = rnn_model_vocab(r.m), *v2 = rnn_model_vocab(m2);
    if (v1->size != v2->size || memcmp(v1->sym, v2->sym, sizeof(uint32_t) * v1->size)) {
        snprintf(detail, sizeof detail, "vocabulary differs after save/load");
        goto out;
    }
    const rnn_config *c1 = rnn_model_config(r.m), *c2 = rnn_model_config(m2);
    if (c1->cell != c2->cell || c1->layers != c2->layers || c1->hidden != c2->hidden || c1->batch != c2->batch ||
        c1->seq != c2->seq || c1->optim != c2->optim || c1->lr != c2->lr || c1->lr_decay != c2->lr_decay ||
        c1->clip != c2->clip || c1->dropout != c2->dropout || c1->val_frac != c2->val_frac || c1->seed != c2->seed ||
        c1->forget_bias != c2->forget_bias ||
        rnn_model_progress(m2)->step != 20 || rnn_model_progress(m2)->last_val != rnn_model_progress(r.m)->last_val) {
        snprintf(detail, sizeof detail, "config or progress differs after save/load");
        goto out;
    }
    sample_into(r.m, 99, 1, 1000, "The ", a, &la);
    sample_into(m2, 99, 1, 1000, "The ", b, &lb);
    sample_into(m2, 100, 1, 1000, "The ", d, &ld);
    if (la != lb || memcmp(a, b, la)) { snprintf(detail, sizeof detail, "loaded model samples different bytes"); goto out; }
    sample_into(m2, 99, 1, 1000, "The ", d, &ld);
    if (ld != lb || memcmp(d, b, ld)) { snprintf(detail, sizeof detail, "same seed twice gave different bytes"); goto out; }
    sample_into(m2, 100, 1, 1000, "The ", d, &ld);
    if (ld == lb && !memcmp(d, b, ld)) { snprintf(detail, sizeof detail, "different seeds gave the same bytes"); goto out; }
    snprintf(detail, sizeof detail, "params, vocab, config identical; 1000 sampled symbols identical (seed 99)");
    rc = 0;
out:
    unlink(path);
    rnn_model_free(m2);
    rig_free(&r);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- resume */
/* N steps, save (with training state), load, resume for M more == N + M straight, bit for bit; across an
 * epoch boundary with learning-rate decay and dropout. With `sc` (NULL: the library's default, constant) both
 * runs have that schedule over the budget `bud` (NULL: none): the averaged weights and the trained ones, kept in
 * the training state, must both agree. */
static int resume_exact_sched(int cell, int bidir, const rnn_schedule *sc, const rnn_budget *bud) {
    size_t len;
    unsigned char *text = slurp("fortunes.txt", &len);
    if (!text) FAILF("cannot read %s/fortunes.txt", data_dir);
    len = 12000;   /* small: 11 chunks per epoch, so N + M crosses epoch boundaries */
    rnn_config c = small_config(cell, 2, 24, 8, 16);
    c.dropout = 0.25f;
    c.lr_decay = 0.9f;
    c.optim = cell == RNN_CELL_GRU ? RNN_OPT_ADAGRAD : RNN_OPT_ADAM;
    c.bidir = bidir;
    const int N = 17, M = 13;
    rig a, b;
    if (rig_make(&a, &c, text, len, RNN_UNIT_CHAR, 2)) { free(text); return 1; }
    if (rig_make(&b, &c, text, len, RNN_UNIT_CHAR, 1)) { free(text); rig_free(&a); return 1; }
    rnn_err err;
    if (sc && (rnn_trainer_set_schedule(a.t, sc, err) || rnn_trainer_set_schedule(b.t, sc, err))) {
        rig_free(&a);
        rig_free(&b);
        free(text);
        FAILF("set_schedule: %s", err);
    }
    if (bud) *rnn_trainer_budget(a.t) = *rnn_trainer_budget(b.t) = *bud;
    for (int i = 0; i < N + M; i++) rnn_train_step(a.t);
    for (int i = 0; i < N; i++) rnn_train_step(b.t);
    char path[] = "/tmp/charrnn-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    int rc = 1;
    rnn_model *m = NULL;
    rnn_resume *rs = NULL;
    rnn_trainer *t = NULL;
    if (rnn_save(path, b.m, b.t, err)) { snprintf(detail, sizeof detail, "save: %s", err); goto out; }
    if (rnn_load(path, &m, &rs, err) || !rs) { snprintf(detail, sizeof detail, "load: %s", rs ? err : "no resume state"); goto out; }
    t = rnn_trainer_new(m, b.ids, b.n, 3, rs, err);
    if (!t) { snprintf(detail, sizeof detail, "trainer: %s", err); goto out; }
    for (int i = 0; i < M; i++) rnn_train_step(t);
    size_t np = rnn_model_nparams(m);
    if (memcmp(rnn_model_params(m), rnn_model_params(a.m), sizeof(float) * np)) {
        snprintf(detail, sizeof detail, "%s: resumed weights differ from uninterrupted training", rnn_cell_name(cell));
        goto out;
    }
    struct rnn_resume ra, rb;   /* the trained weights (averaging) and the schedule, as a checkpoint holds them */
    rnn__trainer_snapshot(a.t, &ra);
    rnn__trainer_snapshot(t, &rb);
    if ((ra.raw == NULL) != (rb.raw == NULL) || (ra.raw && memcmp(ra.raw, rb.raw, sizeof(float) * np)) ||
        ra.sched.kind != rb.sched.kind || ra.sched.warmup != rb.sched.warmup || ra.sched.ema != rb.sched.ema ||
        ra.sched.floor != rb.sched.floor || ra.lr != rb.lr) {
        snprintf(detail, sizeof detail, "resumed trained weights or schedule differ from uninterrupted training");
        goto out;
    }
    if (sc && sc->ema > 0 && !memcmp(ra.raw, rnn_model_params(a.m), sizeof(float) * np)) {
        snprintf(detail, sizeof detail, "the averaged weights are the trained ones");
        goto out;
    }
    /* A different corpus is refused. */
    rnn_trainer *t2 = rnn_trainer_new(m, b.ids + 1, b.n - 1, 1, rs, err);
    if (t2) { rnn_trainer_free(t2); snprintf(detail, sizeof detail, "resume on another corpus was accepted"); goto out; }
    if (rnn_model_config(m)->bidir != bidir) { snprintf(detail, sizeof detail, "direction lost in the checkpoint"); goto out; }
    snprintf(detail, sizeof detail, "%s%s: %d + %d steps (over epoch ends, lr decay, dropout%s) == %d straight, bit for bit",
             bidir ? "bidirectional " : "", rnn_cell_name(cell), N, M,
             sc ? ", schedule, averaged weights" : "", N + M);
    rc = 0;
out:
    unlink(path);
    rnn_trainer_free(t);
    rnn_model_free(m);
    rnn_resume_free(rs);
    rig_free(&a);
    rig_free(&b);
    free(text);
    return rc;
}

static int resume_exact(int cell, int bidir) { return resume_exact_sched(cell, bidir, NULL, NULL); }

int test_resume_rnn(void) { return resume_exact(RNN_CELL_RNN, 0); }
int test_resume_lstm(void) { return resume_exact(RNN_CELL_LSTM, 0); }
int test_resume_gru(void) { return resume_exact(RNN_CELL_GRU, 0); }
int test_resume_bidir(void) { return resume_exact(RNN_CELL_LSTM, 1); }
/* Cosine over a 30-step budget with 5 warm-up steps and averaged weights; then linear over 2.5 epochs. */
int test_resume_sched(void) {
    rnn_schedule sc = {.kind = RNN_SCHED_COSINE, .warmup = 5, .floor = 0.1f, .ema = 0.9f};
    rnn_budget bud = {.steps = 30};
    int rc = resume_exact_sched(RNN_CELL_LSTM, 0, &sc, &bud);
    if (rc) return rc;
    sc = (rnn_schedule){.kind = RNN_SCHED_LINEAR, .warmup = 3, .floor = 0, .ema = 0.5f};
    bud = (rnn_budget){.epochs = 2.5};
    return resume_exact_sched(RNN_CELL_GRU, 0, &sc, &bud);
}


static size_t get_vocab_bytes(const unsigned char *h) {
    return (size_t)h[120] | (size_t)h[121] << 8 | (size_t)h[122] << 16 | (size_t)h[123] << 24;
}

/* Rewrites the file's last 4 bytes as the CRC-32 of the rest, so that a patched field reaches its own check. */
static int patch_file(const char *path, size_t off, const unsigned char *bytes, size_t n) {
    FILE *f = fopen(path, "r+b");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    unsigned char *buf = malloc((size_t)len);
    fseek(f, 0, SEEK_SET);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) { free(buf); fclose(f); return -1; }
    memcpy(buf + off, bytes, n);
    uint32_t crc = rnn_crc32(0, buf, (size_t)len - 4);
    for (int i = 0; i < 4; i++) buf[len - 4 + i] = (unsigned char)(crc >> (8 * i));
    fseek(f, 0, SEEK_SET);
    int r = fwrite(buf, 1, (size_t)len, f) == (size_t)len ? 0 : -1;
    free(buf);
    return fclose(f) || r ? -1 : 0;
}

/* The origin record (since version 2): written (as version 3) with origin_bytes at 124, read back exactly; a version-1 file (whose
 * byte 124 was reserved and unchecked) reads with no origin; a corrupt record is refused by name. */
int test_origin_record(void) {
    rnn_err err;
    unsigned char text[3000];
    make_text(text, sizeof text, 5);
    rnn_config c = small_config(RNN_CELL_GRU, 1, 8, 4, 8);
    rig r;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) return 1;
    for (int i = 0; i < 3; i++) rnn_train_step(r.t);
    rnn_validate(r.t);
    rnn_vocab add, merged;
    rnn_vocab_build(&add, (const unsigned char *)"\xc3\xa9Z", 3, RNN_UNIT_CHAR, err);
    rnn_vocab_merge(&merged, rnn_model_vocab(r.m), &add, NULL, err);
    rnn_vocab_free(&add);
    rnn_model *e = rnn_model_extend(r.m, "dir/base model.ckpt", &c, &merged, err), *back = NULL;
    rnn_vocab_free(&merged);
    char path[] = "/tmp/charrnn-test-XXXXXX";
    close(mkstemp(path));
    int rc = 1;
    const unsigned char v1[4] = {1, 0, 0, 0}, junk[4] = {0xAA, 0, 0, 0}, bad_len[4] = {5, 0, 0, 0};
    if (!e || rnn_save(path, e, NULL, err) || rnn_load(path, &back, NULL, err)) { snprintf(detail, sizeof detail, "%s", err); goto out; }
    const rnn_origin *o = rnn_model_origin(back);
    FILE *f = fopen(path, "rb");
    unsigned char h[128] = {0};
    if (f) { if (fread(h, 1, 128, f) != 128) h[4] = 0; fclose(f); }
    if (!o || strcmp(o->name, "dir/base model.ckpt") || o->step != 3 || o->vocab_size != 5 ||
        o->best_val != r.m->prog.best_val || h[4] != 3 || h[124] != 20 + 19 || h[125] ||
        memcmp(back->params, e->params, 4 * e->nparams))
        { snprintf(detail, sizeof detail, "origin, version or origin_bytes wrong after save/load"); goto out; }
    size_t rec = 128 + get_vocab_bytes(h);
    rnn_model_free(back);
    back = NULL;
    if (patch_file(path, rec + 16, bad_len, 4) || rnn_load(path, &back, NULL, err) == 0 ||
        !strstr(err, "has a corrupt origin record"))
        { snprintf(detail, sizeof detail, "a corrupt origin record was not refused: %s", err); goto out; }
    rnn_model_free(back);
    back = NULL;
    if (rnn_save(path, r.m, NULL, err) || patch_file(path, 4, v1, 4) || patch_file(path, 12, (const unsigned char[4]){0, 0, 0, 0}, 4) ||
        patch_file(path, 124, junk, 4) ||
        rnn_load(path, &back, NULL, err) || rnn_model_origin(back))
        { snprintf(detail, sizeof detail, "a version-1 file did not read as one without origin: %s", err); goto out; }
    snprintf(detail, sizeof detail, "version 3, origin_bytes 39, name/steps/vocabulary/best val exact; corrupt record "
             "refused; version 1 (byte 124 ignored) reads without origin");
    rc = 0;
out:
    unlink(path);
    rnn_model_free(back);
    rnn_model_free(e);
    rig_free(&r);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- versions */
/* Version 2 is written, with flags bit 1 for a bidirectional model; a version-1 file (no such flag) still reads,
 * as a forward model; a "version-1" file with bit 1 set is refused; a bidirectional model round-trips exactly. */
int test_ckpt_versions(void) {
    unsigned char text[2000];
    make_text(text, sizeof text, 7);
    char path[] = "/tmp/charrnn-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    int rc = 1;
    rnn_err err = "";
    rnn_model *m = NULL;
    rig r[2] = {{0}};
    for (int bi = 0; bi < 2; bi++) {
        rnn_config c = small_config(RNN_CELL_GRU, 2, 8, 4, 8);
        c.bidir = bi;
        if (rig_make(&r[bi], &c, text, sizeof text, RNN_UNIT_CHAR, 1)) goto out;
        rnn_train_step(r[bi].t);
        if (rnn_save(path, r[bi].m, NULL, err) || rnn_load(path, &m, NULL, err)) { snprintf(detail, sizeof detail, "%s", err); goto out; }
        size_t np = rnn_model_nparams(m);
        if (rnn_model_config(m)->bidir != bi || np != rnn_model_nparams(r[bi].m) ||
            memcmp(rnn_model_params(m), rnn_model_params(r[bi].m), sizeof(float) * np)) {
            snprintf(detail, sizeof detail, "%s model: direction or parameters differ after save/load", bi ? "bidirectional" : "forward");
            goto out;
        }
        rnn_model_free(m);
        m = NULL;
        /* as version 1 wrote it: version 1, and no flag but (here) the bidirectional one (bit 2, UTF-8, is version 2's) */
        if (patch_file(path, 4, (const unsigned char[4]){1, 0, 0, 0}, 4) ||
            patch_file(path, 12, (const unsigned char[4]){(unsigned char)(bi ? 2 : 0), 0, 0, 0}, 4)) {
            snprintf(detail, sizeof detail, "cannot patch %s", path);
            goto out;
        }
        int loaded = rnn_load(path, &m, NULL, err) == 0;
        if (bi == 0 && !loaded) { snprintf(detail, sizeof detail, "version-1 file refused: %s", err); goto out; }
        if (bi == 1 && (loaded || !strstr(err, "has unknown flags 0x2"))) {
            snprintf(detail, sizeof detail, "version-1 file with the bidirectional flag: %s", loaded ? "accepted" : err);
            goto out;
        }
        rnn_model_free(m);
        m = NULL;
    }
    snprintf(detail, sizeof detail, "forward and bidirectional gru round-trip exactly; version 1 reads; v1 + flag 0x2: %s", err);
    rc = 0;
out:
    unlink(path);
    rnn_model_free(m);
    rig_free(&r[0]);
    rig_free(&r[1]);
    return rc;
}

/* Rewrites the file at path with header flags and version replaced and the CRC recomputed. 0 or -1. */
static int patch_header(const char *path, uint32_t version, uint32_t flags) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n < 136 || n == sizeof buf) return -1;
    for (int i = 0; i < 4; i++) { buf[4 + i] = (unsigned char)(version >> 8 * i); buf[12 + i] = (unsigned char)(flags >> 8 * i); }
    uint32_t crc = rnn_crc32(0, buf, n - 4);
    for (int i = 0; i < 4; i++) buf[n - 4 + i] = (unsigned char)(crc >> 8 * i);
    f = fopen(path, "wb");
    if (!f) return -1;
    int bad = fwrite(buf, 1, n, f) != n;
    return fclose(f) || bad ? -1 : 0;
}

/* Flags bit 2 (the corpus was valid UTF-8): a --bytes model of tang.txt saves it (version 2) and loads it back; a
 * version-1 file loads with it 0, and a version-1 file with bit 2 set is refused (unknown flags). */
int test_ckpt_utf8_flag(void) {
    size_t len;
    unsigned char *text = slurp("tang.txt", &len);
    if (!text) FAILF("cannot read %s/tang.txt", data_dir);
    rnn_config c = small_config(RNN_CELL_RNN, 1, 8, 2, 8);
    rig r;
    size_t n = 20000;
    while ((text[n] & 0xC0) == 0x80) n--;   /* whole characters: the cut text stays valid UTF-8 */
    int bad = rig_make(&r, &c, text, n, RNN_UNIT_BYTE, 1);
    free(text);
    if (bad) return 1;
    char path[] = "/tmp/charrnn-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    rnn_err err;
    rnn_model *m2 = NULL;
    const char *why = NULL;
    if (rnn_save(path, r.m, NULL, err) || rnn_load(path, &m2, NULL, err)) why = err;
    else if (!rnn_model_vocab(m2)->utf8) why = "bit 2 lost in a version-2 round trip";
    rnn_model_free(m2);
    m2 = NULL;
    if (!why && (patch_header(path, 1, 0) || rnn_load(path, &m2, NULL, err))) why = "a version-1 file does not load";
    else if (!why && rnn_model_vocab(m2)->utf8) why = "a version-1 file loads with bit 2 set";
    rnn_model_free(m2);
    m2 = NULL;
    if (!why && (patch_header(path, 1, 4) || !rnn_load(path, &m2, NULL, err))) why = "version 1 with bit 2 loads";
    else if (!why && !strstr(err, "has unknown flags 0x4")) why = err;
    rnn_model_free(m2);
    unlink(path);
    rig_free(&r);
    if (why) FAILF("%s", why);
    snprintf(detail, sizeof detail, "bit 2 round-trips in version 2; version 1 reads as 0; version 1 with bit 2: %s", err);
    return 0;
}

/* Flags bit 3 (bf16 products): a bf16 model saves it and loads back as bf16 with the same parameters and a
 * resumable training state; an FP32 model leaves it 0; set on a version-1 file (as an older reader sees a new
 * one: it knows fewer bits) it is refused as an unknown flag; rnn_model_set_precision changes what is saved. */
int test_ckpt_bf16_flag(void) {
    unsigned char text[3000];
    make_text(text, sizeof text, 9);
    char path[] = "/tmp/charrnn-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    rnn_err err = "";
    const char *why = NULL;
    rnn_model *m2 = NULL;
    rnn_resume *rs = NULL;
    rig r;
    rnn_config c = small_config(RNN_CELL_LSTM, 1, 16, 4, 8);
    c.precision = RNN_PREC_BF16;
    if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) { unlink(path); return 1; }
    rnn_train_step(r.t);
    unsigned char h[16];
    FILE *f = NULL;
    if (rnn_save(path, r.m, r.t, err) || rnn_load(path, &m2, &rs, err)) why = err;
    else if (rnn_model_config(m2)->precision != RNN_PREC_BF16) why = "bf16 lost in a round trip";
    else if (!rs || memcmp(rnn_model_params(m2), rnn_model_params(r.m), sizeof(float) * rnn_model_nparams(r.m)))
        why = "parameters or training state lost in a round trip";
    else if (!(f = fopen(path, "rb")) || fread(h, 1, 16, f) != 16 || (h[12] & (1 | 8)) != (1 | 8)) why = "flags bits 0 and 3 not set";
    if (f) fclose(f);
    f = NULL;
    rnn_model_free(m2);
    rnn_resume_free(rs);
    m2 = NULL;
    if (!why && (rnn_model_set_precision(r.m, RNN_PREC_FP32, err) || rnn_save(path, r.m, NULL, err) ||
                 rnn_load(path, &m2, NULL, err)))
        why = err;
    else if (!why && rnn_model_config(m2)->precision != RNN_PREC_FP32) why = "an fp32 model loads as bf16";
    else if (!why && (!(f = fopen(path, "rb")) || fread(h, 1, 16, f) != 16 || (h[12] & 8))) why = "an fp32 model sets bit 3";
    if (f) fclose(f);
    rnn_model_free(m2);
    m2 = NULL;
    if (!why && (patch_header(path, 1, 8) || !rnn_load(path, &m2, NULL, err))) why = "version 1 with bit 3 loads";
    else if (!why && !strstr(err, "has unknown flags 0x8")) why = err;
    rnn_model_free(m2);
    m2 = NULL;
    char v1[RNN_ERRLEN];
    snprintf(v1, sizeof v1, "%s", err);
    if (!why && !rnn_model_set_precision(r.m, 2, err)) why = "precision 2 accepted";
    unlink(path);
    rig_free(&r);
    if (why) FAILF("%s", why);
    snprintf(detail, sizeof detail, "bit 3 round-trips (bf16, with training state); fp32 writes 0; version 1 with bit 3: %s", v1);
    return 0;
}

/* The CRC-32 by its bitwise definition (reflected, polynomial 0xEDB88320), one bit at a time. */
static uint32_t crc32_bitwise(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* rnn_crc32 (slicing-by-8) against the bitwise definition: the check value of "123456789", then random
 * lengths 0..1100 at every alignment 0..15 with random starting CRCs, and a buffer split across two calls. */
int test_crc32(void) {
    static unsigned char buf[5000];
    uint64_t s = 42;
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(rng_next(&s) >> 56);
    uint32_t check = rnn_crc32(0, "123456789", 9);
    if (check != 0xCBF43926u) FAILF("crc32(\"123456789\") = 0x%08X, expected 0xCBF43926", (unsigned)check);
    for (int trial = 0; trial < 4000; trial++) {
        size_t off = (size_t)(trial % 16), n = (size_t)(rng_next(&s) % (trial % 4 ? 1101 : 4977));
        uint32_t start = trial % 3 ? (uint32_t)rng_next(&s) : 0, split = (uint32_t)(rng_next(&s) % (n + 1));
        uint32_t want = crc32_bitwise(start, buf + off, n), got = rnn_crc32(start, buf + off, n);
        uint32_t two = rnn_crc32(rnn_crc32(start, buf + off, split), buf + off + split, n - split);
        if (got != want || two != want)
            FAILF("%zu bytes at offset %zu from 0x%08X: 0x%08X (in two calls 0x%08X), bitwise 0x%08X", n, off,
                  (unsigned)start, (unsigned)got, (unsigned)two, (unsigned)want);
    }
    snprintf(detail, sizeof detail, "crc32(\"123456789\") = 0x%08X; 4000 random lengths 0..4976 at offsets "
             "0..15 (whole and split in two calls) equal the bitwise CRC", (unsigned)check);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- version 3 */
/* Reads the whole file at path into a malloc'd buffer (*len bytes); NULL on failure. */
static unsigned char *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    unsigned char *buf = n > 0 ? malloc((size_t)n) : NULL;
    fseek(f, 0, SEEK_SET);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Loads buf[0..len) with the CRC made right; 0 or -1 with err. */
static int load_fixed(unsigned char *buf, size_t len, rnn_model **m, rnn_resume **rs, rnn_err err) {
    uint32_t crc = rnn_crc32(0, buf, len - 4);
    for (int i = 0; i < 4; i++) buf[len - 4 + i] = (unsigned char)(crc >> (8 * i));
    return rnn_load_mem(buf, len, "x", m, rs, err);
}

/* Version 3: the schedule and the averaged weights round-trip (flags bit 4 with the trained weights after the
 * carried state; without averaging neither); each malformed new field is refused by name; a version-2 file (the
 * 72-byte training-state header) still reads, as a constant schedule without averaging; bit 4 is unknown there. */
int test_ckpt_v3(void) {
    unsigned char text[3000];
    make_text(text, sizeof text, 6);
    rnn_config c = small_config(RNN_CELL_LSTM, 1, 8, 4, 8);
    char path[] = "/tmp/charrnn-test-XXXXXX";
    close(mkstemp(path));
    rnn_err err = "";
    const char *why = NULL;
    unsigned char *buf = NULL, *cp = NULL;
    rnn_model *m = NULL;
    rnn_resume *rs = NULL;
    rig r;
    for (int ema = 0; ema < 2 && !why; ema++) {
        if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) { unlink(path); return 1; }
        rnn_schedule sc = {.kind = RNN_SCHED_LINEAR, .warmup = 7, .floor = 0.25f, .ema = ema ? 0.75f : 0};
        if (rnn_trainer_set_schedule(r.t, &sc, err)) why = "set_schedule";
        for (int i = 0; i < 3; i++) rnn_train_step(r.t);
        size_t len = 0, np = rnn_model_nparams(r.m);
        struct rnn_resume snap;
        rnn__trainer_snapshot(r.t, &snap);
        if (!why && (rnn_save(path, r.m, r.t, err) || !(buf = read_whole(path, &len)))) why = "save";
        size_t ts = buf ? 128 + get_vocab_bytes(buf) + 4 * np : 0;   /* the training state's offset */
        if (!why && (buf[4] != 3 || (buf[12] & 0x11) != (ema ? 0x11 : 0x01))) why = "version 3, flags bits 0 and 4";
        if (!why && (rnn_load(path, &m, &rs, err) || !rs)) why = "load";
        if (!why && (rs->sched.kind != sc.kind || rs->sched.warmup != 7 || rs->sched.floor != 0.25f ||
                     rs->sched.ema != sc.ema || (rs->raw != NULL) != ema ||
                     (ema && memcmp(rs->raw, snap.raw, 4 * np)) ||
                     memcmp(rnn_model_params(m), rnn_model_params(r.m), 4 * np)))
            why = "the schedule, the trained or the averaged weights differ after save/load";
        rnn_model_free(m), m = NULL;
        rnn_resume_free(rs), rs = NULL;
        struct { size_t off; uint32_t v; const char *msg; } bad[] = {
            {72, 3, "has a bad learning-rate schedule (unknown lr schedule 3)"},
            {76, 0x40000000u /* 2.0f */, "has a bad learning-rate schedule (lr floor must be in [0, 1])"},
            {88, ema ? 0 : 0x3f000000u /* 0.5f */, ema ? "has an ema of 0 with averaged weights (flags bit 4)" :
                                                        "has an ema of 0.5 without averaged weights (flags bit 4)"},
            {88, 0x3f800000u /* 1.0f */, "has a bad learning-rate schedule (ema must be 0 (off) or in (0, 1))"},
        };
        for (size_t k = 0; k < sizeof bad / sizeof *bad && !why; k++) {
            cp = malloc(len);
            memcpy(cp, buf, len);
            for (int i = 0; i < 4; i++) cp[ts + bad[k].off + i] = (unsigned char)(bad[k].v >> (8 * i));
            err[0] = 0;
            if (!load_fixed(cp, len, &m, &rs, err) || !strstr(err, bad[k].msg)) {
                snprintf(detail, sizeof detail, "field at +%zu: '%s', want '%s'", bad[k].off, err, bad[k].msg);
                why = detail;
            }
            rnn_model_free(m), m = NULL;
            rnn_resume_free(rs), rs = NULL;
            free(cp), cp = NULL;
        }
        if (!why && !ema) {   /* as version 2 wrote it: version 2, the training-state header's first 72 bytes */
            cp = malloc(len);
            memcpy(cp, buf, ts + 72);
            memcpy(cp + ts + 72, buf + ts + 92, len - ts - 92);
            cp[4] = 2;
            if (load_fixed(cp, len - 20, &m, &rs, err) || !rs) why = "a version-2 file does not read";
            else if (rs->sched.kind != RNN_SCHED_CONSTANT || rs->sched.ema != 0 || rs->sched.warmup || rs->raw ||
                     memcmp(rs->state, snap.state, 4 * snap.nstate))
                why = "a version-2 file reads with a schedule, averaging or another state";
            rnn_model_free(m), m = NULL;
            rnn_resume_free(rs), rs = NULL;
            free(cp), cp = NULL;
        }
        if (!why && ema) {
            cp = malloc(len);
            memcpy(cp, buf, len);
            cp[4] = 2;   /* version 2 did not know bit 4 */
            if (!load_fixed(cp, len, &m, &rs, err) || !strstr(err, "has unknown flags 0x1")) why = "bit 4 in version 2";
            rnn_model_free(m), m = NULL;
            rnn_resume_free(rs), rs = NULL;
            cp[4] = 3;
            cp[12] &= (unsigned char)~1u;   /* bit 4 without bit 0 */
            if (!why && (!load_fixed(cp, len, &m, NULL, err) || !strstr(err, "averaged weights without a training state")))
                why = "bit 4 without a training state";
            rnn_model_free(m), m = NULL;
            free(cp), cp = NULL;
        }
        free(buf), buf = NULL;
        rig_free(&r);
    }
    unlink(path);
    if (why == detail) return 1;
    if (why) FAILF("%.200s: %.400s", why, err);
    snprintf(detail, sizeof detail, "schedule and averaged weights round-trip (flags bits 0 and 4; 0 alone without); bad "
             "schedule, floor, ema refused; version 2 reads as constant; bit 4 refused in version 2 and without bit 0");
    return 0;
}

/* --shards: K at training-state offset 44 (0 for one shard, as files before it hold), read back into the resume and
 * the resumed trainer; more than 65536 refused. */
int test_ckpt_shards(void) {
    unsigned char text[3000];
    make_text(text, sizeof text, 6);
    rnn_config c = small_config(RNN_CELL_GRU, 1, 8, 4, 8);
    char path[] = "/tmp/charrnn-test-XXXXXX";
    close(mkstemp(path));
    rnn_err err = "";
    const char *why = NULL;
    for (int K = 1; K <= 4 && !why; K *= 4) {
        rig r;
        rnn_model *m = NULL;
        rnn_resume *rs = NULL;
        rnn_trainer *t = NULL;
        unsigned char *buf = NULL;
        size_t len = 0;
        if (rig_make(&r, &c, text, sizeof text, RNN_UNIT_CHAR, 1)) { unlink(path); return 1; }
        if (rnn_trainer_set_shards(r.t, K, NULL, err)) why = "set_shards";
        for (int i = 0; i < 2 && !why; i++) rnn_train_step(r.t);
        if (!why && (rnn_save(path, r.m, r.t, err) || !(buf = read_whole(path, &len)))) why = "save";
        size_t ts = buf ? 128 + get_vocab_bytes(buf) + 4 * rnn_model_nparams(r.m) : 0;
        if (!why && (buf[ts + 44] != (K > 1 ? K : 0) || buf[ts + 45] || buf[ts + 46] || buf[ts + 47]))
            why = "the shards at training-state offset 44";
        if (!why && (rnn_load(path, &m, &rs, err) || !rs || rnn_resume_shards(rs) != K)) why = "load";
        if (!why && (!(t = rnn_trainer_new(m, r.ids, r.n, 1, rs, err)) || rnn_trainer_shards(t) != K))
            why = "the resumed trainer's shards";
        rnn_trainer_free(t);
        rnn_model_free(m), m = NULL;
        rnn_resume_free(rs), rs = NULL;
        if (!why && K > 1) {
            buf[ts + 44] = 0x70, buf[ts + 45] = 0x11, buf[ts + 46] = 0x01;   /* 70000 */
            if (!load_fixed(buf, len, &m, &rs, err) || !strstr(err, "has a bad shard count 70000")) why = err;
            rnn_model_free(m);
            rnn_resume_free(rs);
        }
        free(buf);
        rig_free(&r);
    }
    unlink(path);
    if (why) FAILF("%s", why);
    snprintf(detail, sizeof detail, "K = 4 written at offset 44 and resumed, K = 1 as 0, 70000 refused");
    return 0;
}
