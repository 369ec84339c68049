/* rnn_mat.h — private to the library: the matrix-multiply kernel, the thread pool, and vector math.
 *
 * One GEMM does all of the model's heavy compute:   C (M,N)  =  [C +]  op(A) (M,K)  ·  op(B) (K,N)
 * where op(A) = A (M,K, row stride lda) or A^T (A stored (K,M)), likewise op(B) = B (K,N) or B^T (B stored (N,K)).
 * It packs blocks of op(A) and op(B) into contiguous tiles and runs a register-tiled micro-kernel chosen once at
 * start-up for the CPU (AVX-512, AVX2+FMA, or portable C).
 *
 * Determinism: every element of C is the same sequence of floating-point operations whatever the number of
 * threads and whichever part of C a thread computes (the K dimension is split into fixed KC blocks, the
 * micro-kernel accumulates k in order, and edge tiles are zero-padded instead of taking a different path).
 * So results are bit-identical for any --threads.
 *
 * Precision: a pool multiplies in FP32 (the default) or in bfloat16 (rnn__mat_pool_set_precision). A bf16 product
 * rounds both operands to bf16 where they are packed (mat_bf16: round to nearest even, NaN stays NaN, subnormals
 * become zero, as the hardware's conversion does) and accumulates in FP32: for each KC block of k, acc starts at
 * +0 and adds the products in k order, one FP32 rounding per addition, then C = acc or C + acc. The product of
 * two bf16 values is exact in FP32 (8 + 8 significant bits), so a fused multiply-add, a multiply then an add, and
 * vdpbf16ps's steps give the same bits: every micro-kernel (avx512, avx2, generic) computes the same result, and
 * so do the one-row paths (M == 1, which follow the same KC blocks). The exceptions are products or sums beyond
 * the FP32 range (below 2^-126 or above 2^128), far outside anything a model computes.
 */
#ifndef RNN_MAT_H
#define RNN_MAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>   /* defines __GLIBC__ on glibc */
#include <string.h>

/* Hot loops outside the GEMM are compiled three times (AVX-512, AVX2+FMA, baseline) and the best is picked
 * when the program loads (GCC/Clang function multiversioning; needs glibc's ifunc). Elsewhere: baseline. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__GLIBC__) && !defined(CHARRNN_NO_CLONES)
#define RNN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RNN_CLONES
#endif

typedef struct mat_pool mat_pool;

enum { MAT_KC = 256 };                     /* the K blocking (fixed: results never depend on threads) */
enum { MAT_FP32 = 0, MAT_BF16 = 1 };       /* a pool's precision */
enum { MAT_ROWS = 4 };                     /* products of up to this many rows read a packed B once (rnn__mat_mul_packed) */

/* x rounded to bfloat16 (returned as the float of equal value): round to nearest, ties to even; NaN stays NaN
 * (quietened, sign and top payload bits kept); infinities stay; subnormals (and zeros) become a zero of their
 * sign; a finite value that rounds past the largest bf16 becomes infinity. */
static inline float mat_bf16(float x) {
    uint32_t u, r;
    memcpy(&u, &x, 4);
    uint32_t a = u & 0x7fffffffu;
    r = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    r = a > 0x7f800000u ? (u | 0x00400000u) & 0xffff0000u : r;
    r = a < 0x00800000u ? u & 0x80000000u : r;
    float y;
    memcpy(&y, &r, 4);
    return y;
}

/* A pool of `nthreads` >= 1 workers (the calling thread is worker 0). NULL if threads or memory fail. */
mat_pool *rnn__mat_pool_new(int nthreads);
void rnn__mat_pool_free(mat_pool *p);

/* A zeroed buffer of `bytes` for a big operand (weights, packed panels, workspaces, optimizer moments), freed
 * with free(); NULL if out of memory. From 2 MB up it is aligned to 2 MB and advised to use transparent huge
 * pages: one page fault per 2 MB instead of one per 4 KB (a first touch costs microseconds on some virtual
 * machines) and fewer TLB misses; contents and results are the same either way. */
void *rnn__big_calloc(size_t bytes);
/* Sets the precision of the pool's products from now on (MAT_FP32 or MAT_BF16; a pool starts in FP32). A packed
 * operand keeps the precision it was packed with (pack again after a change). */
void rnn__mat_pool_set_precision(mat_pool *p, int precision);
/* Runs fn(arg, i, n) for i = 0..n-1 on the pool's threads (n = pool size) and waits for all of them. Part i
 * may run on any of the threads (whichever is free first), never on two at once. One calling thread per pool;
 * fn must not call back into the pool. */
void rnn__mat_pool_run(mat_pool *p, void (*fn)(void *arg, int i, int n), void *arg);
/* With on, a one-row product from a packed operand (rnn__mat_mul_packed, M == 1) sums as the GEMM sums each row
 * (per MAT_KC block, the micro-kernel's multiply-adds) instead of in plain order, so that one stream gives the same
 * bits alone as among others (the generator of one sample). Off at the start. */
void rnn__mat_pool_set_gemm_rows(mat_pool *p, int on);

/* Runs fn(arg, lo, hi) over [0, n) cut into one contiguous part per thread; inline (one part) when p is NULL
 * or n < 2 * grain. Only for work whose result does not depend on where the cuts fall (per-item work, or
 * reductions that each part does whole, like one column's sum over all rows). */
void rnn__mat_pool_for(mat_pool *p, size_t n, size_t grain, void (*fn)(void *arg, size_t lo, size_t hi), void *arg);

/* C = op(A)·op(B) (accumulate = 0) or C += op(A)·op(B) (accumulate = 1). ta/tb: 1 = transposed.
 * One-row products (M == 1) read B in place, split by columns over the pool when B is large; p may be NULL. */
void rnn__mat_mul(mat_pool *p, int M, int N, int K,
             const float *A, int lda, int ta, const float *B, int ldb, int tb,
             float *C, int ldc, int accumulate);

/* A pre-packed right-hand operand, for a weight matrix used many times between updates (the recurrent
 * products inside one chunk, every step of sampling): pack once, multiply many times. The packed form is
 * column panels contiguous in memory, so one-row products split over threads stream from each core's cache. */
typedef struct {
    int K, N;
    int bf16;             /* packed by a bf16 pool: the values are bf16-rounded, products with it are bf16 */
    float *data;          /* (rnn__mat_packed_size floats) caller-owned */
} mat_packed;
/* Floats a K x N packed operand needs with this pool's kernel, in either precision; dst->data must hold that many. */
size_t rnn__mat_packed_size(const mat_pool *p, int K, int N);
void rnn__mat_pack(mat_pool *p, mat_packed *dst, int K, int N, const float *B, int ldb, int tb);
/* C = [C +] op(A) · B from a packed B: the same bits as rnn__mat_mul with B unpacked. From 2 to MAT_ROWS rows, B is read
 * once per call (the small-M path, the GEMM's sums without packing A); one row sums as rnn__mat_mul's one-row product,
 * or as the GEMM when the pool asks for it (rnn__mat_pool_set_gemm_rows). */
void rnn__mat_mul_packed(mat_pool *p, int M, const float *A, int lda, int ta, const mat_packed *B,
                    float *C, int ldc, int accumulate);


/* Name of the pool's micro-kernel ("avx512", "avx2", "generic"), chosen for the CPU when the pool is made.
 * CHARRNN_KERNEL=avx2|generic in the environment forces a lesser one (to test the other paths). */
const char *rnn__mat_kernel_name(const mat_pool *p);
/* The pool's GEMM blocking: rows of A and columns of B packed at a time, sized for the CPU's L2 when the pool is
 * made; CHARRNN_BLOCKING=MC_TILES,NC (row tiles, columns) in the environment sets them. No result depends on it. */
void rnn__mat_pool_blocking(const mat_pool *p, int *mc_rows, int *nc);

/* ---- Vector math over n floats, in place, written so compilers vectorise it; static inline so that each
 * multiversioned caller gets it compiled for its own instruction set. Accurate to a few ulp; NaN in, NaN out
 * (never clamped away, so divergence stays visible). */

/* exp(x) by Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial for e^r, and 2^n
 * built in the exponent bits. The argument saturates to [-87, 88] (results stay normal floats); NaN passes
 * through, because the comparisons below are false for NaN. No float-to-int conversion (UB for NaN). */
static inline float mat_exp1(float x) {
    x = x > 88.0f ? 88.0f : x;
    x = x < -87.0f ? -87.0f : x;
    const float magic = 12582912.0f;   /* 1.5 * 2^23: adding it rounds to an integer in the low mantissa bits */
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float q = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-01f + r * (4.16666418e-02f +
                                                 r * (8.33336939e-03f + r * 1.38878867e-03f)))));
    uint32_t tb, mb;
    memcpy(&tb, &t, 4);
    memcpy(&mb, &magic, 4);
    uint32_t sb = (tb - mb + 127u) << 23;
    float s;
    memcpy(&s, &sb, 4);
    return q * s;
}

static inline void vec_exp(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = mat_exp1(x[i]);
}
static inline void vec_sigmoid(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = 1.0f / (1.0f + mat_exp1(-x[i]));
}
static inline void vec_tanh(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = 1.0f - 2.0f / (1.0f + mat_exp1(2.0f * x[i]));
}

#endif
