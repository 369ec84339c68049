/* rnn_text.c — text to symbols: UTF-8 decoding (strict; an invalid byte becomes a raw-byte symbol of its own) and
 * the vocabulary (building it from a corpus, encoding text to ids, the bytes of a symbol).
 *
 * Owns: rnn_vocab_*, rnn_decode, rnn_encode, rnn_symbol_bytes, rnn_utf8_next, and the private rnn__next_symbol /
 * rnn__value_bytes (rnn_impl.h) that the checkpoint reader uses to check a stored vocabulary table, and the
 * incremental UTF-8 check rnn__utf8_accepts / rnn__utf8_feed that the generator uses to keep byte models' output valid.
 * Must not know: models, training, sampling, files. It depends on nothing but rnn.h and libc. */
#include "rnn_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================================================ vocabulary */
/* The incremental strict UTF-8 check (rnn_impl.h): which bytes may come next, and the state after one. The decoder
 * below and the generator's valid-UTF-8 constraint (rnn_gen.c) both use it, so they agree on every byte. */
int rnn__utf8_accepts(const rnn_utf8_state *st, unsigned b) {
    if (st->need) return b >= st->lo && b <= st->hi;
    return b < 0x80 || (b >= 0xC2 && b <= 0xF4);
}

void rnn__utf8_feed(rnn_utf8_state *st, unsigned b) {
    if (st->need && b >= st->lo && b <= st->hi) {
        st->need--;
        st->lo = 0x80, st->hi = 0xBF;
        return;
    }
    /* a lead byte, or a byte that breaks the sequence in progress: it starts afresh */
    *st = (rnn_utf8_state){0, 0x80, 0xBF};
    if (b >= 0xC2 && b <= 0xDF) st->need = 1;
    else if (b >= 0xE0 && b <= 0xEF) { st->need = 2; if (b == 0xE0) st->lo = 0xA0; if (b == 0xED) st->hi = 0x9F; }
    else if (b >= 0xF0 && b <= 0xF4) { st->need = 3; if (b == 0xF0) st->lo = 0x90; if (b == 0xF4) st->hi = 0x8F; }
}

/* Decodes one symbol at s[0..n), n >= 1: a strictly valid UTF-8 sequence (no overlongs, no surrogates, nothing
 * above U+10FFFF) gives its code point; anything else gives RNN_RAWBYTE + s[0]. Returns bytes consumed. */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *sym) {
    unsigned b0 = s[0];
    if (b0 < 0x80) { *sym = b0; return 1; }
    rnn_utf8_state st = {0, 0x80, 0xBF};
    if (!rnn__utf8_accepts(&st, b0)) { *sym = RNN_RAWBYTE + b0; return 1; }
    rnn__utf8_feed(&st, b0);
    int len = st.need + 1;
    uint32_t cp = b0 & (0x7Fu >> len);
    if ((size_t)len > n) { *sym = RNN_RAWBYTE + b0; return 1; }
    for (int i = 1; i < len; i++) {
        if (!rnn__utf8_accepts(&st, s[i])) { *sym = RNN_RAWBYTE + b0; return 1; }
        rnn__utf8_feed(&st, s[i]);
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    *sym = cp;
    return len;
}

int rnn_utf8_next(const unsigned char *s, size_t n, uint32_t *sym) { return utf8_next(s, n, sym); }

/* Whether all of text[0..n) is strictly valid UTF-8. */
static int valid_utf8(const unsigned char *text, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t s;
        i += (size_t)utf8_next(text + i, n - i, &s);
        if (s >= RNN_RAWBYTE) return 0;
    }
    return 1;
}

int rnn__next_symbol(int unit, const unsigned char *s, size_t n, uint32_t *sym) {
    if (unit == RNN_UNIT_BYTE) { *sym = RNN_RAWBYTE + s[0]; return 1; }
    return utf8_next(s, n, sym);
}

int rnn_vocab_build(rnn_vocab *v, const unsigned char *text, size_t n, int unit, rnn_err err) {
    memset(v, 0, sizeof *v);
    if (n == 0) { snprintf(err, RNN_ERRLEN, "empty text"); return -1; }
    const uint32_t nsym = RNN_RAWBYTE + 256;
    unsigned char *seen = calloc(nsym / 8 + 1, 1);
    if (!seen) { snprintf(err, RNN_ERRLEN, "out of memory"); return -1; }
    int count = 0;
    for (size_t i = 0; i < n;) {
        uint32_t s;
        i += rnn__next_symbol(unit, text + i, n - i, &s);
        if (!(seen[s >> 3] & (1u << (s & 7)))) { seen[s >> 3] |= (unsigned char)(1u << (s & 7)); count++; }
    }
    v->sym = malloc(sizeof(uint32_t) * count);
    if (!v->sym) { free(seen); snprintf(err, RNN_ERRLEN, "out of memory"); return -1; }
    int k = 0;
    for (uint32_t s = 0; s < nsym; s++)
        if (seen[s >> 3] & (1u << (s & 7))) v->sym[k++] = s;
    free(seen);
    v->unit = unit;
    v->size = count;
    v->utf8 = valid_utf8(text, n);
    return 0;
}

int rnn_vocab_merge(rnn_vocab *out, const rnn_vocab *a, const rnn_vocab *b, int32_t *map, rnn_err err) {
    memset(out, 0, sizeof *out);
    if (a->unit != b->unit) { snprintf(err, RNN_ERRLEN, "cannot merge a byte vocabulary with a character vocabulary"); return -1; }
    size_t cap = (size_t)a->size + (size_t)b->size;
    out->sym = malloc(sizeof(uint32_t) * cap);
    if (!out->sym) { snprintf(err, RNN_ERRLEN, "out of memory"); return -1; }
    size_t i = 0, j = 0, k = 0;
    while (i < (size_t)a->size || j < (size_t)b->size) {   /* both are strictly increasing: a sorted merge */
        int take_a = j == (size_t)b->size || (i < (size_t)a->size && a->sym[i] <= b->sym[j]);
        uint32_t s = take_a ? a->sym[i] : b->sym[j];
        if (take_a) {
            if (map) map[i] = (int32_t)k;
            i++;
            if (j < (size_t)b->size && b->sym[j] == s) j++;
        } else {
            j++;
        }
        out->sym[k++] = s;
    }
    size_t limit = a->unit == RNN_UNIT_BYTE ? 256 : RNN_MAX_VOCAB;
    if (k > limit) {
        rnn_vocab_free(out);
        snprintf(err, RNN_ERRLEN, "the merged vocabulary has %zu symbols, more than %zu", k, limit);
        return -1;
    }
    out->unit = a->unit;
    out->size = (int)k;
    out->utf8 = a->utf8 && b->utf8;   /* a text of both kinds: valid UTF-8 only if both were */
    return 0;
}

void rnn_vocab_free(rnn_vocab *v) {
    free(v->sym);
    memset(v, 0, sizeof *v);
}

static int32_t vocab_find(const rnn_vocab *v, uint32_t s) {
    int lo = 0, hi = v->size - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (v->sym[mid] == s) return mid;
        if (v->sym[mid] < s) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

size_t rnn_decode(const rnn_vocab *v, const unsigned char *text, size_t n, int32_t *ids, size_t *ends) {
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        uint32_t s;
        i += rnn__next_symbol(v->unit, text + i, n - i, &s);
        ids[k] = vocab_find(v, s);
        if (ends) ends[k] = i;
    }
    return k;
}

size_t rnn_encode(const rnn_vocab *v, const unsigned char *text, size_t n, int32_t *ids, size_t *unknown) {
    size_t total = rnn_decode(v, text, n, ids, NULL), k = 0;
    for (size_t i = 0; i < total; i++)   /* drop the unknown symbols in place */
        if (ids[i] >= 0) ids[k++] = ids[i];
    if (unknown) *unknown = total - k;
    return k;
}

int rnn_symbol_bytes(const rnn_vocab *v, int32_t id, unsigned char out[4]) { return rnn__value_bytes(v->sym[id], out); }

int rnn__value_bytes(uint32_t c, unsigned char out[4]) {
    if (c >= RNN_RAWBYTE) { out[0] = (unsigned char)(c - RNN_RAWBYTE); return 1; }
    if (c < 0x80) { out[0] = (unsigned char)c; return 1; }
    if (c < 0x800) { out[0] = (unsigned char)(0xC0 | c >> 6); out[1] = (unsigned char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        out[0] = (unsigned char)(0xE0 | c >> 12);
        out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | c >> 18);
    out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}
