/* tests/test_text.c — text to symbols (rnn_text.c): UTF-8 and byte round trips of real and junk text. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- UTF-8 */
static int valid_utf8(const unsigned char *s, size_t n) {
    rnn_vocab v;
    rnn_err err;
    if (n == 0) return 1;
    if (rnn_vocab_build(&v, s, n, RNN_UNIT_CHAR, err)) return 0;
    int ok = v.sym[v.size - 1] < RNN_RAWBYTE;   /* no byte fell out as a raw symbol */
    rnn_vocab_free(&v);
    return ok;
}

static int roundtrip(const unsigned char *text, size_t len, int unit, int *vsize) {
    rnn_vocab v;
    rnn_err err;
    if (rnn_vocab_build(&v, text, len, unit, err)) return -1;
    int32_t *ids = malloc(sizeof(int32_t) * len);
    size_t unk, n = rnn_encode(&v, text, len, ids, &unk);
    unsigned char *back = malloc(len + 4);
    size_t o = 0;
    int ok = unk == 0;
    for (size_t i = 0; i < n && ok; i++) {
        unsigned char b[4];
        int k = rnn_symbol_bytes(&v, ids[i], b);
        if (o + (size_t)k > len) ok = 0;
        else { memcpy(back + o, b, (size_t)k); o += (size_t)k; }
    }
    ok = ok && o == len && !memcmp(back, text, len);
    *vsize = v.size;
    free(ids);
    free(back);
    rnn_vocab_free(&v);
    return ok ? 0 : -1;
}

int test_utf8(void) {
    size_t len;
    unsigned char *zh = slurp("tang.txt", &len);
    if (!zh) FAILF("cannot read %s/tang.txt", data_dir);
    int vz, vb, vm;
    if (roundtrip(zh, len, RNN_UNIT_CHAR, &vz)) { free(zh); FAILF("Chinese text does not round-trip"); }
    if (roundtrip(zh, len, RNN_UNIT_BYTE, &vb) || vb > 256) { free(zh); FAILF("Chinese text does not round-trip as bytes"); }
    if (!valid_utf8(zh, len)) { free(zh); FAILF("tang.txt itself is not valid UTF-8"); }
    /* Invalid bytes of every kind, CRLF, and a 4-byte character. */
    static const unsigned char junk[] = "a\r\nb\xff\xfe \xc3\x28 \xe2\x82 \xf0\x9f\x98\x80 \xed\xa0\x80 \xc0\xaf "
                                        "\xf4\x90\x80\x80 \xe0\x80\x80 caf\xc3\xa9\r\n\x80\x00z\xe4\xb8";
    if (roundtrip(junk, sizeof junk - 1, RNN_UNIT_CHAR, &vm)) { free(zh); FAILF("invalid bytes + CRLF do not round-trip"); }
    /* A model on Chinese text samples valid UTF-8 (sampling cannot split a character). */
    rnn_config c = small_config(RNN_CELL_GRU, 1, 16, 4, 8);
    rig r;
    if (rig_make(&r, &c, zh, len, RNN_UNIT_CHAR, 1)) { free(zh); return 1; }
    rnn_train_step(r.t);
    unsigned char *out = malloc(4 * 3000);
    size_t lo = 0;
    sample_into(r.m, 5, 1, 3000, "《", out, &lo);
    int ok = valid_utf8(out, lo);
    free(out);
    rig_free(&r);
    free(zh);
    if (!ok) FAILF("sampled output of a UTF-8 model is not valid UTF-8");
    snprintf(detail, sizeof detail, "tang.txt (%d characters, %d bytes as --bytes), junk+CRLF (%d symbols) round-trip; "
             "3000 sampled Chinese characters are valid UTF-8", vz, vb, vm);
    return 0;
}

/* rnn_vocab_merge: the sorted union, the map of the first vocabulary's ids, and the refusals. */
int test_vocab_merge(void) {
    rnn_err err;
    rnn_vocab a, b, m, x;
    const unsigned char ta[] = "ace\xc3\xa4", tb[] = "fcb\xe4\xb8\x80";   /* a c e ä  and  f c b 一 */
    if (rnn_vocab_build(&a, ta, sizeof ta - 1, RNN_UNIT_CHAR, err) || rnn_vocab_build(&b, tb, sizeof tb - 1, RNN_UNIT_CHAR, err))
        FAILF("build: %s", err);
    int32_t map[4];
    if (rnn_vocab_merge(&m, &a, &b, map, err)) FAILF("merge: %s", err);
    const uint32_t want[] = {'a', 'b', 'c', 'e', 'f', 0xE4, 0x4E00};
    int ok = m.size == 7 && m.unit == RNN_UNIT_CHAR && !memcmp(m.sym, want, sizeof want) && map[0] == 0 && map[1] == 2 &&
             map[2] == 3 && map[3] == 5;
    rnn_vocab_free(&m);
    if (!ok) FAILF("merged vocabulary or map wrong");
    if (rnn_vocab_merge(&m, &a, &a, map, err) || m.size != a.size || map[3] != 3) FAILF("merge with itself is not itself");
    rnn_vocab_free(&m);
    if (rnn_vocab_build(&x, ta, sizeof ta - 1, RNN_UNIT_BYTE, err)) FAILF("build bytes: %s", err);
    rnn_vocab y, bad;   /* the UTF-8 flag: kept when both texts were valid UTF-8, lost when one was not */
    const unsigned char invalid[] = "f\xe4";
    if (rnn_vocab_build(&y, tb, sizeof tb - 1, RNN_UNIT_BYTE, err) ||
        rnn_vocab_build(&bad, invalid, sizeof invalid - 1, RNN_UNIT_BYTE, err))
        FAILF("build bytes: %s", err);
    int flags[2] = {-1, -1};
    if (!rnn_vocab_merge(&m, &x, &y, NULL, err)) flags[0] = m.utf8, rnn_vocab_free(&m);
    if (!rnn_vocab_merge(&m, &x, &bad, NULL, err)) flags[1] = m.utf8, rnn_vocab_free(&m);
    rnn_vocab_free(&y);
    rnn_vocab_free(&bad);
    if (!x.utf8 || flags[0] != 1 || flags[1] != 0)
        FAILF("UTF-8 flag of merged byte vocabularies: valid + valid %d (want 1), valid + invalid %d (want 0)", flags[0],
              flags[1]);
    int r = rnn_vocab_merge(&m, &a, &x, NULL, err);
    rnn_vocab_free(&a);
    rnn_vocab_free(&b);
    rnn_vocab_free(&x);
    if (r == 0 || strcmp(err, "cannot merge a byte vocabulary with a character vocabulary")) FAILF("unit mismatch: %d '%s'", r, err);
    snprintf(detail, sizeof detail, "{a,c,e,ä} + {b,c,f,一} = 7 sorted symbols, ids 0,2,3,5; UTF-8 flag "
             "kept only if both are valid; mixed units refused");
    return 0;
}
