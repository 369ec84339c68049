/* tests/test_mat.c — the matrix kernels and vector math (rnn_mat.c): GEMM against a double reference on every
 * path, fast exp/tanh/sigmoid against libm. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- GEMM */
int test_gemm(void) {
    int shapes[][3] = {{1, 1, 1}, {1, 700, 600}, {1, 33, 1000}, {7, 5, 3}, {33, 65, 17}, {128, 300, 257},
                       {64, 1024, 300}, {512, 65, 300}, {3, 700, 600}, {200, 9, 520}};
    uint64_t s = 1;
    mat_pool *p1 = rnn__mat_pool_new(1), *p3 = rnn__mat_pool_new(3);
    int bad = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++) {
                    int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2], lda = ta ? M : K, ldb = tb ? K : N;
                    float *A = malloc(4 * (size_t)M * K), *B = malloc(4 * (size_t)K * N), *C0 = malloc(4 * (size_t)M * N),
                          *C1 = malloc(4 * (size_t)M * N), *C3 = malloc(4 * (size_t)M * N), *C4 = malloc(4 * (size_t)M * N);
                    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
                    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
                    for (size_t i = 0; i < (size_t)M * N; i++) C0[i] = C1[i] = C3[i] = C4[i] = (float)i / (M * N);
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            double a = acc ? C0[(size_t)i * N + j] : 0;
                            for (int k = 0; k < K; k++)
                                a += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                                     (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                            C0[(size_t)i * N + j] = (float)a;
                        }
                    rnn__mat_mul(p1, M, N, K, A, lda, ta, B, ldb, tb, C1, N, acc);
                    rnn__mat_mul(p3, M, N, K, A, lda, ta, B, ldb, tb, C3, N, acc);
                    mat_packed pk;
                    pk.data = malloc(4 * rnn__mat_packed_size(p3, K, N));
                    rnn__mat_pack(p3, &pk, K, N, B, ldb, tb);
                    rnn__mat_mul_packed(p3, M, A, lda, ta, &pk, C4, N, acc);
                    double e = 0;
                    for (size_t i = 0; i < (size_t)M * N; i++) e = fmax(e, fabs(C1[i] - C0[i]));
                    if (e > 2e-6 * K + 1e-6 || memcmp(C1, C3, 4 * (size_t)M * N) || memcmp(C1, C4, 4 * (size_t)M * N)) {
                        if (!bad++)
                            snprintf(detail, sizeof detail, "M%d N%d K%d ta%d tb%d acc%d: max error %g, threads/packed identical: %d",
                                     M, N, K, ta, tb, acc, e, !memcmp(C1, C3, 4 * (size_t)M * N) && !memcmp(C1, C4, 4 * (size_t)M * N));
                    }
                    free(A); free(B); free(C0); free(C1); free(C3); free(C4); free(pk.data);
                }
    if (!bad) snprintf(detail, sizeof detail, "kernel %s: 160 products match a double reference; 1 thread == 3 threads == packed",
                       rnn__mat_kernel_name(p1));
    rnn__mat_pool_free(p1);
    rnn__mat_pool_free(p3);
    return bad != 0;
}

/* ---------------------------------------------------------------------------------------------- vector math */
/* The fast exp/tanh/sigmoid against libm in double, over their whole useful range; NaN must stay NaN. */
int test_vecmath(void) {
    enum { N = 20001 };
    static float x[N], y[N];
    double e_exp = 0, e_tanh = 0, e_sig = 0;
    for (int i = 0; i < N; i++) x[i] = -87.0f + 175.0f * i / (N - 1);
    memcpy(y, x, sizeof x);
    vec_exp(y, N);
    for (int i = 0; i < N; i++) e_exp = fmax(e_exp, fabs(y[i] - exp((double)x[i])) / exp((double)x[i]));
    for (int i = 0; i < N; i++) x[i] = -20.0f + 40.0f * i / (N - 1);
    memcpy(y, x, sizeof x);
    vec_tanh(y, N);
    for (int i = 0; i < N; i++) e_tanh = fmax(e_tanh, fabs(y[i] - tanh((double)x[i])));
    memcpy(y, x, sizeof x);
    vec_sigmoid(y, N);
    for (int i = 0; i < N; i++) e_sig = fmax(e_sig, fabs(y[i] - 1 / (1 + exp(-(double)x[i]))));
    float nan3[3] = {NAN, NAN, NAN};
    vec_exp(nan3, 1);
    vec_tanh(nan3 + 1, 1);
    vec_sigmoid(nan3 + 2, 1);
    snprintf(detail, sizeof detail, "exp max rel error %.2g, tanh abs %.2g, sigmoid abs %.2g; NaN stays NaN: %s", e_exp,
             e_tanh, e_sig, isnan(nan3[0]) && isnan(nan3[1]) && isnan(nan3[2]) ? "yes" : "NO");
    return !(e_exp < 1e-6 && e_tanh < 1e-6 && e_sig < 1e-6 && isnan(nan3[0]) && isnan(nan3[1]) && isnan(nan3[2]));
}

/* ---------------------------------------------------------------------------------------------- bfloat16 */
static uint32_t f2bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* mat_bf16 on chosen bit patterns (ties to even both ways, just off a tie, overflow to infinity, NaNs quietened
 * with sign and payload kept, subnormals to signed zero), then on 2^20 random normal floats against the nearest of
 * the two bf16 neighbours found in double (ties: the even one). */
int test_bf16_round(void) {
    static const uint32_t cases[][2] = {
        {0x3F800000, 0x3F800000}, {0x3F808000, 0x3F800000}, {0x3F818000, 0x3F820000}, {0x3F808001, 0x3F810000},
        {0x3F807FFF, 0x3F800000}, {0xBF808000, 0xBF800000}, {0xBF818000, 0xBF820000}, {0x7F7FFFFF, 0x7F800000},
        {0x7F7F7FFF, 0x7F7F0000}, {0x7F7F8000, 0x7F800000}, {0x7F800000, 0x7F800000}, {0xFF800000, 0xFF800000},
        {0x7FC00000, 0x7FC00000}, {0x7F800001, 0x7FC00000}, {0xFF812345, 0xFFC10000}, {0x7FFFFFFF, 0x7FFF0000},
        {0x00000001, 0x00000000}, {0x807FFFFF, 0x80000000}, {0x00800000, 0x00800000}, {0x00FFFFFF, 0x01000000},
        {0x80000000, 0x80000000}, {0x00000000, 0x00000000}, {0x40490FDB, 0x40490000}, {0x3DCCCCCD, 0x3DCD0000}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t got = f2bits(mat_bf16(bits2f(cases[i][0])));
        if (got != cases[i][1]) FAILF("bf16(0x%08X) = 0x%08X, expected 0x%08X", (unsigned)cases[i][0], (unsigned)got, (unsigned)cases[i][1]);
    }
    uint64_t s = 99;
    for (int i = 0; i < 1 << 20; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t u = (uint32_t)(s >> 32);
        if ((u & 0x7F800000u) == 0 || (u & 0x7F800000u) == 0x7F800000u) continue;   /* normal numbers only here */
        double x = bits2f(u);
        uint32_t lo = u & 0xFFFF0000u, hi = lo + 0x10000u;   /* the neighbours toward zero and away from it */
        double dl = fabs(x - bits2f(lo)), dh = fabs((double)bits2f(hi) - x);
        if ((hi & 0x7F800000u) == 0x7F800000u) dh = fabs(ldexp(1.0, 128) - fabs(x));   /* past the largest: infinity */
        uint32_t want = dl < dh ? lo : dh < dl ? hi : (lo & 0x10000u) ? hi : lo;
        uint32_t got = f2bits(mat_bf16((float)x));
        if (got != want) FAILF("bf16(0x%08X) = 0x%08X, nearest (ties to even) is 0x%08X", (unsigned)u, (unsigned)got, (unsigned)want);
    }
    snprintf(detail, sizeof detail, "24 chosen patterns (ties, overflow, NaN, Inf, subnormals) and 2^20 random normals round to nearest even");
    return 0;
}

/* A bf16 product against the order rnn_mat.h defines, computed here in plain C on bf16-rounded copies of the
 * inputs: per MAT_KC block a float sum from +0 in k order of exact products, added to C block by block. Every
 * result must be those bits exactly (on every kernel: test.sh runs this on avx2 and generic too), on 1 and 3
 * threads, with B packed, and in the one-row paths; the bits must differ from the FP32 product's (the rounding
 * happens), and stay within K * 2^-23 * sum |a||b| of a double reference. Shapes cover edge tiles, odd K, one and
 * several K blocks, and M == 1. A NaN in A makes exactly its row of C NaN. */
int test_gemm_bf16(void) {
    int shapes[][3] = {{1, 1, 1}, {1, 700, 600}, {1, 33, 257}, {2, 5, 3}, {7, 5, 3}, {33, 65, 17}, {9, 31, 511},
                       {128, 300, 257}, {64, 100, 300}, {3, 700, 600}, {200, 9, 520}, {17, 40, 256}};
    uint64_t s = 7;
    mat_pool *p1 = rnn__mat_pool_new(1), *p3 = rnn__mat_pool_new(3);
    if (!p1 || !p3) FAILF("cannot start the pools");
    rnn__mat_pool_set_precision(p1, MAT_BF16);
    rnn__mat_pool_set_precision(p3, MAT_BF16);
    mat_pool *pf = rnn__mat_pool_new(1);   /* FP32, to show that the bf16 product differs */
    int bad = 0, products = 0;
    size_t differ = 0, total = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0] && !bad; si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++) {
                    int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2], lda = ta ? M : K, ldb = tb ? K : N;
                    size_t MN = (size_t)M * N;
                    float *A = malloc(4 * (size_t)M * K), *B = malloc(4 * (size_t)K * N), *C0 = malloc(4 * MN),
                          *C1 = malloc(4 * MN), *C3 = malloc(4 * MN), *C4 = malloc(4 * MN), *CF = malloc(4 * MN);
                    double *D = malloc(sizeof(double) * MN), *E = malloc(sizeof(double) * MN);
                    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
                    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
                    for (size_t i = 0; i < MN; i++) C0[i] = C1[i] = C3[i] = C4[i] = CF[i] = (float)i / (float)MN;
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            float c = C0[(size_t)i * N + j];
                            double d = acc ? c : 0, e = acc ? fabs(c) : 0;
                            for (int pc = 0; pc < K; pc += MAT_KC) {
                                float part = 0.0f;
                                for (int k = pc; k < K && k < pc + MAT_KC; k++) {
                                    float a = mat_bf16(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
                                    float b = mat_bf16(tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                                    float ab = a * b;
                                    part = part + ab;
                                    d += (double)a * b;
                                    e += fabs((double)a * b);
                                }
                                c = pc == 0 && !acc ? part : c + part;
                            }
                            C0[(size_t)i * N + j] = c;
                            D[(size_t)i * N + j] = d;
                            E[(size_t)i * N + j] = e;
                        }
                    rnn__mat_mul(p1, M, N, K, A, lda, ta, B, ldb, tb, C1, N, acc);
                    rnn__mat_mul(p3, M, N, K, A, lda, ta, B, ldb, tb, C3, N, acc);
                    rnn__mat_mul(pf, M, N, K, A, lda, ta, B, ldb, tb, CF, N, acc);
                    mat_packed pk;
                    pk.data = malloc(4 * rnn__mat_packed_size(p3, K, N));
                    rnn__mat_pack(p3, &pk, K, N, B, ldb, tb);
                    rnn__mat_mul_packed(p3, M, A, lda, ta, &pk, C4, N, acc);
                    double err = 0;
                    for (size_t i = 0; i < MN; i++) {
                        err = fmax(err, fabs(C1[i] - D[i]) / (E[i] * K * 0x1p-23 + 1e-30));
                        differ += CF[i] != C1[i];
                    }
                    total += MN;
                    products++;
                    if (memcmp(C0, C1, 4 * MN) || memcmp(C1, C3, 4 * MN) || memcmp(C1, C4, 4 * MN) || !(err <= 1)) {
                        size_t w = 0;
                        while (w < MN && C0[w] == C1[w]) w++;
                        if (!bad++)
                            snprintf(detail, sizeof detail, "M%d N%d K%d ta%d tb%d acc%d: reference order %s (first at %zu: %.9g vs %.9g), "
                                     "1 == 3 threads %d, == packed %d, error/bound %.3g", M, N, K, ta, tb, acc,
                                     w < MN ? "differs" : "equal", w, w < MN ? C0[w] : 0.0, w < MN ? C1[w] : 0.0,
                                     !memcmp(C1, C3, 4 * MN), !memcmp(C1, C4, 4 * MN), err);
                    }
                    free(A); free(B); free(C0); free(C1); free(C3); free(C4); free(CF); free(D); free(E); free(pk.data);
                }
    if (!bad && differ < total / 4) {
        bad = 1;
        snprintf(detail, sizeof detail, "only %zu of %zu bf16 results differ from FP32: are the operands rounded?", differ, total);
    }
    /* A NaN in row 2 of A: C's row 2 is all NaN, the other rows are finite. */
    if (!bad) {
        enum { M = 5, N = 40, K = 33 };
        float A[M * K], B[K * N], C[M * N];
        for (int i = 0; i < M * K; i++) A[i] = 0.25f * (float)(i % 7) - 0.5f;
        for (int i = 0; i < K * N; i++) B[i] = 0.125f * (float)(i % 5);
        A[2 * K + 11] = NAN;
        rnn__mat_mul(p3, M, N, K, A, K, 0, B, N, 0, C, N, 0);
        for (int i = 0; i < M && !bad; i++)
            for (int j = 0; j < N; j++)
                if ((i == 2) != (isnan(C[i * N + j]) != 0)) {
                    bad = 1;
                    snprintf(detail, sizeof detail, "NaN in A row 2: C[%d][%d] = %g", i, j, C[i * N + j]);
                    break;
                }
    }
    if (!bad)
        snprintf(detail, sizeof detail, "kernel %s: %d bf16 products equal the defined order bit for bit (1 == 3 threads == packed == "
                 "one-row), within K*2^-23*sum|ab| of double; %.0f%% differ from FP32; NaN stays in its row", rnn__mat_kernel_name(p1),
                 products, 100.0 * (double)differ / (double)total);
    rnn__mat_pool_free(p1);
    rnn__mat_pool_free(p3);
    rnn__mat_pool_free(pf);
    return bad != 0;
}

/* ---------------------------------------------------------------------------------------------- small-M rows */
/* The small-M path (rnn__mat_mul_packed with 1..MAT_ROWS rows; one row on a pool that asks for the GEMM's sums) gives
 * every row the bits the GEMM gives it among 13 rows, for K of one to three KC blocks, N off the panel width,
 * op(A) plain and transposed, C overwritten and accumulated, FP32 and bf16, 1 and 3 threads. The plain one-row sums
 * must differ somewhere in FP32 (else the comparison could not tell the paths apart). */
int test_gemm_rows(void) {
    int shapes[][2] = {{600, 700}, {257, 33}, {1, 65}, {300, 2048}}, R = 13, r0 = 5, bad = 0;   /* K, N */
    size_t plain_diff = 0, plain_n = 0;
    uint64_t s = 7;
    for (int prec = 0; prec < 2; prec++) {
        mat_pool *pg = rnn__mat_pool_new(1), *p3 = rnn__mat_pool_new(3), *pp = rnn__mat_pool_new(1);
        rnn__mat_pool_set_precision(pg, prec ? MAT_BF16 : MAT_FP32);
        rnn__mat_pool_set_precision(p3, prec ? MAT_BF16 : MAT_FP32);
        rnn__mat_pool_set_precision(pp, prec ? MAT_BF16 : MAT_FP32);
        rnn__mat_pool_set_gemm_rows(pg, 1);
        rnn__mat_pool_set_gemm_rows(p3, 1);
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int ta = 0; ta < 2; ta++)
                for (int acc = 0; acc < 2; acc++)
                    for (int M = 1; M <= MAT_ROWS; M++) {
                        int K = shapes[si][0], N = shapes[si][1], lda = ta ? R : K;
                        float *A = malloc(4 * (size_t)R * K), *B = malloc(4 * (size_t)K * N), *C0 = malloc(4 * (size_t)R * N),
                              *C1 = malloc(4 * (size_t)R * N), *C3 = malloc(4 * (size_t)R * N), *Cp = malloc(4 * (size_t)R * N);
                        mat_packed pk;
                        pk.data = malloc(4 * rnn__mat_packed_size(pg, K, N));
                        for (size_t i = 0; i < (size_t)R * K; i++) A[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
                        for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
                        for (size_t i = 0; i < (size_t)R * N; i++) C0[i] = C1[i] = C3[i] = Cp[i] = (float)i / (R * N);
                        rnn__mat_mul(pg, R, N, K, A, lda, ta, B, N, 0, C0, N, acc);   /* 13 rows: the GEMM */
                        rnn__mat_pack(pg, &pk, K, N, B, N, 0);
                        const float *Ar = ta ? A + r0 : A + (size_t)r0 * K;
                        size_t off = (size_t)r0 * N, n = (size_t)M * N;
                        rnn__mat_mul_packed(pg, M, Ar, lda, ta, &pk, C1 + off, N, acc);
                        rnn__mat_mul_packed(p3, M, Ar, lda, ta, &pk, C3 + off, N, acc);
                        if (M == 1) {
                            rnn__mat_mul_packed(pp, 1, Ar, lda, ta, &pk, Cp + off, N, acc);
                            for (size_t i = 0; i < n; i++) plain_diff += !prec && memcmp(Cp + off + i, C0 + off + i, 4);
                            plain_n += prec ? 0 : n;
                        }
                        if ((memcmp(C1 + off, C0 + off, 4 * n) || memcmp(C3 + off, C0 + off, 4 * n)) && !bad++)
                            snprintf(detail, sizeof detail, "%s M%d N%d K%d ta%d acc%d: rows differ from the GEMM's (1 thread %s, 3 threads %s)",
                                     prec ? "bf16" : "fp32", M, N, K, ta, acc, memcmp(C1 + off, C0 + off, 4 * n) ? "differs" : "same",
                                     memcmp(C3 + off, C0 + off, 4 * n) ? "differs" : "same");
                        free(A); free(B); free(C0); free(C1); free(C3); free(Cp); free(pk.data);
                    }
        rnn__mat_pool_free(pg);
        rnn__mat_pool_free(p3);
        rnn__mat_pool_free(pp);
    }
    if (!bad && !plain_diff) FAILF("the plain one-row sums equal the GEMM's everywhere: the test cannot tell the paths apart");
    if (!bad) {
        mat_pool *p = rnn__mat_pool_new(1);
        snprintf(detail, sizeof detail, "kernel %s: 1..%d rows == the GEMM's rows bit for bit (64 products x fp32/bf16, 1 and 3 threads); "
                 "plain one-row sums differ in %zu of %zu", rnn__mat_kernel_name(p), MAT_ROWS, plain_diff, plain_n);
        rnn__mat_pool_free(p);
    }
    return bad != 0;
}

/* ---------------------------------------------------------------------------------------------- blocking */
/* The GEMM's blocking of M and N (sized from the caches, or CHARRNN_BLOCKING) never changes a bit: products large
 * enough for several blocks each way, with op(A)/op(B) plain and transposed, overwrite and accumulate, FP32 and
 * bf16, equal under four blockings (the reported blockings must differ, so that the comparison means something). */
int test_gemm_blocking(void) {
    const char *forced[] = {NULL, "1,16", "3,100", "64,4096"};
    int shapes[][3] = {{300, 1100, 600}, {97, 531, 257}}, rows[4], cols[4], bad = 0;
    const char *old = getenv("CHARRNN_BLOCKING");
    mat_pool *p[4];
    for (int b = 0; b < 4; b++) {
        if (forced[b]) setenv("CHARRNN_BLOCKING", forced[b], 1);
        else unsetenv("CHARRNN_BLOCKING");
        p[b] = rnn__mat_pool_new(b == 2 ? 3 : 1);
        if (!p[b]) FAILF("out of memory");
        rnn__mat_pool_blocking(p[b], &rows[b], &cols[b]);
    }
    if (old) setenv("CHARRNN_BLOCKING", old, 1);
    else unsetenv("CHARRNN_BLOCKING");
    uint64_t s = 3;
    for (int prec = 0; prec < 2; prec++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int t = 0; t < 8; t++) {
                int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2], ta = t & 1, tb = t >> 1 & 1, acc = t >> 2;
                float *A = malloc(4 * (size_t)M * K), *B = malloc(4 * (size_t)K * N), *C[4];
                for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
                for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
                for (int b = 0; b < 4; b++) {
                    C[b] = malloc(4 * (size_t)M * N);
                    for (size_t i = 0; i < (size_t)M * N; i++) C[b][i] = (float)i / (M * N);
                    rnn__mat_pool_set_precision(p[b], prec ? MAT_BF16 : MAT_FP32);
                    rnn__mat_mul(p[b], M, N, K, A, ta ? M : K, ta, B, tb ? K : N, tb, C[b], N, acc);
                }
                for (int b = 1; b < 4; b++)
                    if (memcmp(C[0], C[b], 4 * (size_t)M * N) && !bad++)
                        snprintf(detail, sizeof detail, "%s M%d N%d K%d ta%d tb%d acc%d: blocking %dx%d differs from %dx%d",
                                 prec ? "bf16" : "fp32", M, N, K, ta, tb, acc, rows[b], cols[b], rows[0], cols[0]);
                free(A); free(B);
                for (int b = 0; b < 4; b++) free(C[b]);
            }
    for (int b = 0; b < 4; b++) rnn__mat_pool_free(p[b]);
    if (!bad && (rows[1] == rows[3] || cols[1] == cols[3]))
        FAILF("CHARRNN_BLOCKING did not change the blocking (%dx%d, %dx%d)", rows[1], cols[1], rows[3], cols[3]);
    if (!bad)
        snprintf(detail, sizeof detail, "32 products (fp32, bf16) equal under blockings (rows x columns) %dx%d (this CPU's), "
                 "%dx%d, %dx%d (3 threads), %dx%d", rows[0], cols[0], rows[1], cols[1], rows[2], cols[2], rows[3], cols[3]);
    return bad != 0;
}
