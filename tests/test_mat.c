/* tests/test_mat.c — the matrix kernels and vector math (rnn_mat.c): GEMM against a double reference on every
 * path, fast exp/tanh/sigmoid against libm. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- GEMM */
int gemm(void) {
    int shapes[][3] = {{1, 1, 1}, {1, 700, 600}, {1, 33, 1000}, {7, 5, 3}, {33, 65, 17}, {128, 300, 257},
                       {64, 1024, 300}, {512, 65, 300}, {3, 700, 600}, {200, 9, 520}};
    uint64_t s = 1;
    mat_pool *p1 = mat_pool_new(1), *p3 = mat_pool_new(3);
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
                    mat_mul(p1, M, N, K, A, lda, ta, B, ldb, tb, C1, N, acc);
                    mat_mul(p3, M, N, K, A, lda, ta, B, ldb, tb, C3, N, acc);
                    mat_packed pk;
                    pk.data = malloc(4 * mat_packed_size(p3, K, N));
                    mat_pack(p3, &pk, K, N, B, ldb, tb);
                    mat_mul_packed(p3, M, A, lda, ta, &pk, C4, N, acc);
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
                       mat_kernel_name(p1));
    mat_pool_free(p1);
    mat_pool_free(p3);
    return bad != 0;
}

/* ---------------------------------------------------------------------------------------------- vector math */
/* The fast exp/tanh/sigmoid against libm in double, over their whole useful range; NaN must stay NaN. */
int vecmath(void) {
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
