/* rnn_crc.c — the CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): the one owner of it, so that the trainer
 * (the corpus CRC a checkpoint stores) and the checkpoint code (the file CRC) both call here and not each other.
 * Two ways to the same values as the bitwise definition (tests/test_ckpt.c's crc32 compares both with it):
 * slicing-by-8, eight bytes per step through eight 256-entry tables, anywhere; and on x86-64 CPUs with PCLMULQDQ
 * (carry-less multiplication) the folding method of Gopal et al., "Fast CRC computation for generic polynomials
 * using PCLMULQDQ" (Intel, 2009), 64 bytes per step, for the bulk of long buffers (a 40 MB checkpoint is read
 * in a few milliseconds instead of tens). CHARRNN_KERNEL=generic keeps to the tables (the portable code).
 * The tables are computed once per process (pthread_once) and only read afterwards: constants, not state.
 * Must not know: anything else; it depends on rnn.h only. */
#define _POSIX_C_SOURCE 200809L
#include "rnn.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC_X86 1
#include <immintrin.h>
#endif

#define CRC_POLY 0xEDB88320u   /* x^32 + x^26 + ... + 1, bit-reversed */

static uint32_t crc_table[8][256];   /* [k][b]: the CRC of byte b followed by k zero bytes */
static int crc_clmul;                /* 1: the CPU has PCLMULQDQ and CHARRNN_KERNEL does not ask for generic */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Fills crc_table: table 0 by the bitwise definition, table k from table k - 1 (one more zero byte). */
static void crc_init(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (CRC_POLY & (0u - (c & 1u)));
        crc_table[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++)
            crc_table[k][b] = (crc_table[k - 1][b] >> 8) ^ crc_table[0][crc_table[k - 1][b] & 0xFF];
#ifdef CRC_X86
    const char *force = getenv("CHARRNN_KERNEL");
    __builtin_cpu_init();
    crc_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1") &&
                !(force && !strcmp(force, "generic"));
#endif
}

#ifdef CRC_X86
/* Folding constants for the reflected polynomial 0xEDB88320 (the paper's k1..k5, P' and mu: x^n mod P for the
 * fold distances 512 +/- 64, 128 +/- 64 and 64 bits, and the Barrett reduction's pair), as bit-reflected 33-bit
 * values. */
#define K_512_HI 0x154442bd4ull   /* fold 64 bytes ahead: low and high halves of a lane */
#define K_512_LO 0x1c6e41596ull
#define K_128_HI 0x1751997d0ull   /* fold 16 bytes ahead */
#define K_128_LO 0x0ccaa009eull
#define K_64     0x163cd6124ull   /* 64 bits to 32 */
#define P_PRIME  0x1db710641ull   /* the polynomial P(x), reflected, with its x^32 term */
#define MU       0x1f7011641ull   /* floor(x^64 / P(x)), reflected */

/* x (two 64-bit halves) carried forward by the distance that k (k_lo, k_hi) stands for, xor next. */
__attribute__((target("pclmul,sse4.1")))
static __m128i fold(__m128i x, __m128i k, __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00), hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The CRC state (the inverted CRC, as rnn_crc32's loop keeps it) after n more bytes at p; n >= 64, a multiple of
 * 16. Four lanes of 16 bytes fold 64 bytes ahead per step, then into one lane, which folds 16 bytes ahead per
 * step to the end; the 128-bit remainder is reduced to 64 and 32 bits and a Barrett reduction gives the state. */
__attribute__((target("pclmul,sse4.1")))
static uint32_t crc_fold(uint32_t state, const unsigned char *p, size_t n) {
    const __m128i k512 = _mm_set_epi64x((long long)K_512_LO, (long long)K_512_HI);
    const __m128i k128 = _mm_set_epi64x((long long)K_128_LO, (long long)K_128_HI);
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i x[4];
    for (int i = 0; i < 4; i++) x[i] = _mm_loadu_si128((const __m128i *)(p + 16 * i));
    x[0] = _mm_xor_si128(x[0], _mm_cvtsi32_si128((int)state));
    for (p += 64, n -= 64; n >= 64; p += 64, n -= 64)
        for (int i = 0; i < 4; i++) x[i] = fold(x[i], k512, _mm_loadu_si128((const __m128i *)(p + 16 * i)));
    __m128i r = x[0];
    for (int i = 1; i < 4; i++) r = fold(r, k128, x[i]);
    for (; n >= 16; p += 16, n -= 16) r = fold(r, k128, _mm_loadu_si128((const __m128i *)p));
    /* 128 -> 64 bits: the low half times x^(128) mod P, added to the high half */
    r = _mm_xor_si128(_mm_srli_si128(r, 8), _mm_clmulepi64_si128(r, k128, 0x10));
    /* 64 -> 32 bits (plus 32 to carry) */
    __m128i t = _mm_srli_si128(r, 4);
    r = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(r, low32), _mm_cvtsi64_si128((long long)K_64), 0x00), t);
    /* Barrett: q = (r mod x^32) * mu, state = r xor (q mod x^32) * P */
    const __m128i pm = _mm_set_epi64x((long long)MU, (long long)P_PRIME);
    t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(r, low32), pm, 0x10), low32);
    r = _mm_xor_si128(r, _mm_clmulepi64_si128(t, pm, 0x00));
    return (uint32_t)_mm_extract_epi32(r, 1);
}
#endif

uint32_t rnn_crc32(uint32_t crc, const void *buf, size_t n) {
    const unsigned char *p = buf;
    const uint32_t (*t)[256] = (const uint32_t (*)[256])crc_table;
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
#ifdef CRC_X86
    if (crc_clmul && n >= 256) {
        size_t m = n & ~(size_t)15;
        crc = crc_fold(crc, p, m);
        p += m;
        n -= m;
    }
#endif
    for (; n >= 8; n -= 8, p += 8) {   /* bytes assembled one by one: the same on any byte order */
        uint32_t a = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        crc = t[7][a & 0xFF] ^ t[6][(a >> 8) & 0xFF] ^ t[5][(a >> 16) & 0xFF] ^ t[4][a >> 24] ^
              t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    while (n--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}
