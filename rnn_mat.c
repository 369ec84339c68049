/* rnn_mat.c — the GEMM kernel, the thread pool and vector math. See rnn_mat.h for the contracts. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE   /* MADV_HUGEPAGE */
#include "rnn.h"   /* rnn_kernel_names */
#include "rnn_mat.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MAT_X86 1
#include <immintrin.h>
#endif

/* ------------------------------------------------------------------------------------ micro-kernels */
/* A micro-kernel computes one MR x NR tile of C from kc steps of packed A (kc, MR) and packed B (kc, NR):
 * acc = sum_k a[k][i] * b[k][j] in k order, then C = acc (overwrite) or C = C + acc. Only the top-left mr x nr
 * part of the tile is stored; edge tiles compute exactly what full tiles do (the padding is zeros). */
typedef void (*ukern_fn)(int kc, const float *a, const float *b, float *c, int ldc, int mr, int nr, int overwrite);

/* Stores acc (MR x NR, row stride NR) into C's top-left mr x nr. */
static void store_tile(const float *acc, int NR, float *c, int ldc, int mr, int nr, int overwrite) {
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            c[(size_t)i * ldc + j] = overwrite ? acc[i * NR + j] : c[(size_t)i * ldc + j] + acc[i * NR + j];
}

#define G_MR 4
#define G_NR 16
static void kern_generic(int kc, const float *a, const float *b, float *c, int ldc, int mr, int nr, int overwrite) {
    float acc[G_MR * G_NR] = {0};
    for (int k = 0; k < kc; k++, a += G_MR, b += G_NR)
        for (int i = 0; i < G_MR; i++)
            for (int j = 0; j < G_NR; j++) acc[i * G_NR + j] += a[i] * b[j];
    store_tile(acc, G_NR, c, ldc, mr, nr, overwrite);
}

#ifdef MAT_X86
/* AVX-512: 8 rows x 32 columns = 16 zmm accumulators, 2 loads of B and 8 broadcasts of A per k. */
__attribute__((target("avx512f")))
static void kern_avx512(int kc, const float *a, const float *b, float *c, int ldc, int mr, int nr, int overwrite) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
           c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int k = 0; k < kc; k++, a += 8, b += 32) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), x;
#define ROW(i) x = _mm512_set1_ps(a[i]); c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0); c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    }
    if (mr == 8 && nr == 32) {
#define ST(i) { float *p = c + (size_t)i * ldc;                                                              \
        if (!overwrite) { c##i##0 = _mm512_add_ps(_mm512_loadu_ps(p), c##i##0);                              \
                          c##i##1 = _mm512_add_ps(_mm512_loadu_ps(p + 16), c##i##1); }                       \
        _mm512_storeu_ps(p, c##i##0); _mm512_storeu_ps(p + 16, c##i##1); }
        ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7)
#undef ST
        return;
    }
    float t[8 * 32];
#define SV(i) _mm512_storeu_ps(t + i * 32, c##i##0); _mm512_storeu_ps(t + i * 32 + 16, c##i##1);
    SV(0) SV(1) SV(2) SV(3) SV(4) SV(5) SV(6) SV(7)
#undef SV
    store_tile(t, 32, c, ldc, mr, nr, overwrite);
}

/* AVX2 + FMA: 6 rows x 16 columns = 12 ymm accumulators. */
__attribute__((target("avx2,fma")))
static void kern_avx2(int kc, const float *a, const float *b, float *c, int ldc, int mr, int nr, int overwrite) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
           c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int k = 0; k < kc; k++, a += 6, b += 16) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), x;
#define ROW(i) x = _mm256_broadcast_ss(a + i); c##i##0 = _mm256_fmadd_ps(x, b0, c##i##0); c##i##1 = _mm256_fmadd_ps(x, b1, c##i##1);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
    if (mr == 6 && nr == 16) {
#define ST(i) { float *p = c + (size_t)i * ldc;                                                              \
        if (!overwrite) { c##i##0 = _mm256_add_ps(_mm256_loadu_ps(p), c##i##0);                              \
                          c##i##1 = _mm256_add_ps(_mm256_loadu_ps(p + 8), c##i##1); }                        \
        _mm256_storeu_ps(p, c##i##0); _mm256_storeu_ps(p + 8, c##i##1); }
        ST(0) ST(1) ST(2) ST(3) ST(4) ST(5)
#undef ST
        return;
    }
    float t[6 * 16];
#define SV(i) _mm256_storeu_ps(t + i * 16, c##i##0); _mm256_storeu_ps(t + i * 16 + 8, c##i##1);
    SV(0) SV(1) SV(2) SV(3) SV(4) SV(5)
#undef SV
    store_tile(t, 16, c, ldc, mr, nr, overwrite);
}
#endif

/* avx: packing may use AVX; fma: the kernel multiplies and adds in one rounding (the small-M paths follow it) */
typedef struct { const char *name; int mr, nr; ukern_fn fn; int avx, fma; } ukernel;

/* The names pick_kernel knows (rnn.h). */
const char *const *rnn_kernel_names(void) {
    static const char *const names[] = {"avx512", "avx2", "generic", NULL};
    return names;
}

static ukernel pick_kernel(void) {
    ukernel g = {"generic", G_MR, G_NR, kern_generic, 0, 0};
#ifdef MAT_X86
    const char *force = getenv("CHARRNN_KERNEL");
    int allow512 = !force || !strcmp(force, "avx512"), allow2 = allow512 || !strcmp(force, "avx2");
    __builtin_cpu_init();
    if (allow512 && __builtin_cpu_supports("avx512f")) return (ukernel){"avx512", 8, 32, kern_avx512, 1, 1};
    if (allow2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return (ukernel){"avx2", 6, 16, kern_avx2, 1, 1};
#endif
    return g;
}

/* ------------------------------------------------------------------------------------ big buffers */
enum { BIG_PAGE = 2u << 20 };   /* a transparent huge page on x86-64 */

void *rnn__big_calloc(size_t bytes) {
    if (bytes < BIG_PAGE) return calloc(1, bytes ? bytes : 1);
    if (bytes > SIZE_MAX - BIG_PAGE) return NULL;   /* the rounding up would wrap */
    size_t n = (bytes + BIG_PAGE - 1) / BIG_PAGE * BIG_PAGE;
    void *p = NULL;
    if (posix_memalign(&p, BIG_PAGE, n)) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE);   /* advice only: without huge pages the buffer works the same */
#endif
    memset(p, 0, n);
    return p;
}

/* ------------------------------------------------------------------------------------ thread pool */
/* Blocking: K by KC (fixed: it sets the order of the sums), N by nc columns and M by mc row tiles per pool, sized
 * from the caches (pick_blocking; neither changes a bit: each element of C still sums its KC blocks in order). */
enum { KC = MAT_KC };
enum { GEMV_SPLIT = 65536 };   /* one-row products split their columns over the pool from this many weights */

typedef struct { pthread_t th; struct mat_pool *pool; int id; } worker;

struct mat_pool {
    int n;                       /* threads, including the caller */
    ukernel uk;
    int bf16;                    /* MAT_BF16: products round their operands to bf16 (rnn_mat.h) */
    int gemm_rows;               /* one-row products from packed operands sum in the GEMM's order */
    worker *w;                   /* (n) w[0] is the caller */
    int mc_tiles, nc;            /* blocking of M (row tiles of MR) and N (columns, a multiple of NR) */
    float **pack_a, **pack_b;    /* (n) per-thread buffers: (mc_tiles*MR, KC) and (KC, nc) */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_uint gen;             /* job generation: bumping it releases the workers */
    atomic_uint *claimed;        /* (n) the generation in which part i was last taken by some thread */
    atomic_int finished;         /* parts of the current job done */
    int stop;
    void (*fn)(void *, int, int);
    void *arg;
};

/* The level-2 cache per core in bytes (sysconf where the C library knows it), else 512 KB. */
static long l2_bytes(void) {
    long b = -1;
#ifdef _SC_LEVEL2_CACHE_SIZE
    b = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    return b >= 65536 ? b : 512 * 1024;
}

/* Sizes the GEMM's blocks for this CPU: the packed block of A (mc_tiles * MR rows x KC) takes about a quarter of
 * the L2, the packed block of B (KC x nc) about half, so both stay there while the micro-kernel streams them.
 * CHARRNN_BLOCKING=MC_TILES,NC in the environment sets them (tests: the results never depend on it). */
static void pick_blocking(mat_pool *p) {
    long l2 = l2_bytes(), fl = (long)sizeof(float) * KC;
    int mc = (int)(l2 / 4 / (fl * p->uk.mr)), nc = (int)(l2 / 2 / fl) / p->uk.nr * p->uk.nr;
    const char *force = getenv("CHARRNN_BLOCKING");
    int fm, fn;
    if (force && sscanf(force, "%d,%d", &fm, &fn) == 2) {
        mc = fm;
        nc = fn / p->uk.nr * p->uk.nr;
    }
    p->mc_tiles = mc < 1 ? 1 : mc > 64 ? 64 : mc;
    p->nc = nc < p->uk.nr ? p->uk.nr : nc > 4096 ? 4096 : nc;
}

static inline void cpu_relax(void) {
#ifdef MAT_X86
    __builtin_ia32_pause();
#endif
}
enum { SPIN = 1 << 14 };   /* polls before sleeping: keeps short jobs free of wake-up latency */

/* One poll of a spin wait. Every 128th also yields, so that a spinning thread gives its core away when the
 * machine is oversubscribed (another process, or more threads than cores). */
static inline void spin_pause(int s) {
    if ((s & 127) == 127) sched_yield();
    else cpu_relax();
}

/* Job parts are claimed, not assigned: thread `id` takes part `id` first, then any part nobody has taken yet.
 * A part always computes the same slice, whoever runs it, so results never depend on who ran what; and the
 * caller never waits for a worker that has not started (descheduled on a busy machine): it does that part. A
 * part is taken by a CAS from an older generation to g, which fails once anyone has taken it in job g; job g
 * cannot finish (nor fn/arg change) while a part of it is untaken, so a successful claim always runs job g. */
static void run_parts(struct mat_pool *p, int id, unsigned g) {
    for (int k = 0; k < p->n; k++) {
        int i = (id + k) % p->n;
        unsigned c = atomic_load_explicit(&p->claimed[i], memory_order_relaxed);
        if ((int)(c - g) >= 0 ||
            !atomic_compare_exchange_strong_explicit(&p->claimed[i], &c, g, memory_order_acquire, memory_order_relaxed))
            continue;
        p->fn(p->arg, i, p->n);
        if (atomic_fetch_add_explicit(&p->finished, 1, memory_order_acq_rel) + 1 == p->n && id != 0) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    struct mat_pool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        for (int s = 0; g == seen && s < SPIN; s++) {
            spin_pause(s);
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->gen)) == seen && !p->stop) pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (g == seen) return NULL;   /* stop */
        seen = g;
        run_parts(p, w->id, g);
    }
}

mat_pool *rnn__mat_pool_new(int nthreads) {
    if (nthreads < 1) return NULL;
    mat_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = nthreads;
    p->uk = pick_kernel();
    pick_blocking(p);
    p->w = calloc((size_t)nthreads, sizeof *p->w);
    p->pack_a = calloc((size_t)nthreads, sizeof *p->pack_a);
    p->pack_b = calloc((size_t)nthreads, sizeof *p->pack_b);
    p->claimed = calloc((size_t)nthreads, sizeof *p->claimed);
    if (!p->w || !p->pack_a || !p->pack_b || !p->claimed) goto fail;
    for (int i = 0; i < nthreads; i++) {
        p->pack_a[i] = malloc(sizeof(float) * (size_t)p->mc_tiles * p->uk.mr * KC);
        p->pack_b[i] = malloc(sizeof(float) * KC * (size_t)p->nc);
        if (!p->pack_a[i] || !p->pack_b[i]) goto fail;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->finished, 0);
    for (int i = 0; i < nthreads; i++) {
        atomic_init(&p->claimed[i], 0);
        p->w[i].pool = p;
        p->w[i].id = i;
    }
    /* Workers block every signal, so signals (Ctrl-C) are handled by the caller's thread only. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int started = 1;
    while (started < nthreads && pthread_create(&p->w[started].th, NULL, worker_main, &p->w[started]) == 0) started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started < nthreads) {   /* stop the ones that started, then free everything */
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
        for (int i = 1; i < started; i++) pthread_join(p->w[i].th, NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->wake);
        pthread_cond_destroy(&p->done);
        goto fail;
    }
    return p;
fail:
    if (p->pack_a)
        for (int i = 0; i < nthreads; i++) free(p->pack_a[i]);
    if (p->pack_b)
        for (int i = 0; i < nthreads; i++) free(p->pack_b[i]);
    free(p->pack_a);
    free(p->pack_b);
    free(p->claimed);
    free(p->w);
    free(p);
    return NULL;
}

void rnn__mat_pool_free(mat_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->w[i].th, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    for (int i = 0; i < p->n; i++) {
        free(p->pack_a[i]);
        free(p->pack_b[i]);
    }
    free(p->pack_a);
    free(p->pack_b);
    free(p->claimed);
    free(p->w);
    free(p);
}

const char *rnn__mat_kernel_name(const mat_pool *p) { return p->uk.name; }
void rnn__mat_pool_blocking(const mat_pool *p, int *mc_rows, int *nc) {
    *mc_rows = p->mc_tiles * p->uk.mr;
    *nc = p->nc;
}

void rnn__mat_pool_set_precision(mat_pool *p, int precision) { p->bf16 = precision == MAT_BF16; }
static int mat_pool_precision(const mat_pool *p) { return p && p->bf16 ? MAT_BF16 : MAT_FP32; }
void rnn__mat_pool_set_gemm_rows(mat_pool *p, int on) { p->gemm_rows = on != 0; }

/* Runs fn(arg, i, n) for i = 0..n-1 on the pool's threads (n = pool size) and waits for all of them. Part i
 * may run on any of the threads (whichever is free first), never on two at once. One calling thread per pool;
 * fn must not call back into the pool. */
void rnn__mat_pool_run(mat_pool *p, void (*fn)(void *, int, int), void *arg) {
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    unsigned g = atomic_fetch_add_explicit(&p->gen, 1, memory_order_release) + 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_parts(p, 0, g);
    for (int s = 0; atomic_load_explicit(&p->finished, memory_order_acquire) < p->n && s < SPIN; s++) spin_pause(s);
    if (atomic_load_explicit(&p->finished, memory_order_acquire) < p->n) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->finished) < p->n) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

typedef struct { size_t n; void (*fn)(void *, size_t, size_t); void *arg; } for_call;

static void for_thread(void *arg, int i, int n) {
    for_call *c = arg;
    size_t lo = c->n * (size_t)i / (size_t)n, hi = c->n * (size_t)(i + 1) / (size_t)n;
    if (lo < hi) c->fn(c->arg, lo, hi);
}

void rnn__mat_pool_for(mat_pool *p, size_t n, size_t grain, void (*fn)(void *, size_t, size_t), void *arg) {
    if (!p || p->n == 1 || n < 2 * grain) {
        if (n) fn(arg, 0, n);
        return;
    }
    for_call c = {n, fn, arg};
    rnn__mat_pool_run(p, for_thread, &c);
}

/* ------------------------------------------------------------------------------------ packing */
/* dst (8 x 8, row stride ldd) = src (8 x 8, row stride lds) transposed. A copy: it never changes a result. */
#ifdef MAT_X86
__attribute__((target("avx"))) static void transpose8_avx(float *dst, size_t ldd, const float *src, size_t lds) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds), r2 = _mm256_loadu_ps(src + 2 * lds),
           r3 = _mm256_loadu_ps(src + 3 * lds), r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds),
           r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#endif

static void transpose8(int avx, float *dst, size_t ldd, const float *src, size_t lds) {
#ifdef MAT_X86
    if (avx) {
        transpose8_avx(dst, ldd, src, lds);
        return;
    }
#endif
    (void)avx;
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 8; j++) dst[j * ldd + i] = src[i * lds + j];
}

/* op(A) rows i0..i0+mc, columns k0..k0+kc, into row tiles of MR: tile r is (kc, MR), zero-padded rows.
 * avx: the CPU has AVX (the 8 x 8 transposes may use it). */
RNN_CLONES static void pack_a(float *dst, int MR, int avx, const float *A, int lda, int ta, int i0, int mc, int k0,
                              int kc) {
    if (ta && MR == 8 && mc % 8 == 0) {   /* op(A) = A^T, full tiles: each source row read once, in order */
        for (int k = 0; k < kc; k++) {
            const float *s = A + (size_t)(k0 + k) * lda + i0;
            for (int r = 0; r < mc; r += 8)
                for (int i = 0; i < 8; i++) dst[(size_t)(r / 8) * kc * 8 + (size_t)k * 8 + i] = s[r + i];
        }
        return;
    }
    for (int r = 0; r < mc; r += MR, dst += (size_t)kc * MR) {
        int rows = mc - r < MR ? mc - r : MR;
        if (ta) {   /* op(A) = A^T: the MR values of one k are contiguous in A */
            for (int k = 0; k < kc; k++) {
                const float *s = A + (size_t)(k0 + k) * lda + (i0 + r);
                float *d = dst + (size_t)k * MR;
                for (int i = 0; i < rows; i++) d[i] = s[i];
                for (int i = rows; i < MR; i++) d[i] = 0.0f;
            }
            continue;
        }
        if (MR == 8 && rows == 8) {   /* the AVX-512 kernel's full tiles: 8 x 8 blocks transposed */
            const float *s = A + (size_t)(i0 + r) * lda + k0;
            int k = 0;
            for (; k + 8 <= kc; k += 8) transpose8(avx, dst + (size_t)k * 8, 8, s + k, (size_t)lda);
            for (; k < kc; k++)
                for (int i = 0; i < 8; i++) dst[k * 8 + i] = s[(size_t)i * lda + k];
            continue;
        }
        if (MR < 8 && rows == MR && avx) {   /* the AVX2 kernel's full tiles: MR x 8 blocks through an 8 x 8 one */
            const float *s = A + (size_t)(i0 + r) * lda + k0;
            float in[64] = {0}, out[64];
            int k = 0;
            for (; k + 8 <= kc; k += 8) {
                for (int i = 0; i < MR; i++) memcpy(in + i * 8, s + (size_t)i * lda + k, sizeof(float) * 8);
                transpose8(avx, out, 8, in, 8);
                for (int j = 0; j < 8; j++) memcpy(dst + (size_t)(k + j) * MR, out + j * 8, sizeof(float) * MR);
            }
            for (; k < kc; k++)
                for (int i = 0; i < MR; i++) dst[k * MR + i] = s[(size_t)i * lda + k];
            continue;
        }
        for (int i = 0; i < MR; i++) {
            if (i >= rows) {
                for (int k = 0; k < kc; k++) dst[k * MR + i] = 0.0f;
            } else {
                const float *s = A + (size_t)(i0 + r + i) * lda + k0;
                for (int k = 0; k < kc; k++) dst[k * MR + i] = s[k];
            }
        }
    }
}

/* op(B) rows k0..k0+kc, columns j0..j0+nc, into column panels of NR: panel q is (kc, NR), zero-padded. */
RNN_CLONES static void pack_b(float *dst, int NR, int avx, const float *B, int ldb, int tb, int k0, int kc, int j0,
                              int nc) {
    for (int q = 0; q < nc; q += NR, dst += (size_t)kc * NR) {
        int cols = nc - q < NR ? nc - q : NR;
        if (tb && cols == NR && NR % 8 == 0) {   /* op(B) = B^T, a full panel: 8 x 8 blocks transposed */
            const float *s = B + (size_t)(j0 + q) * ldb + k0;
            int k = 0;
            for (; k + 8 <= kc; k += 8)
                for (int j = 0; j < NR; j += 8)
                    transpose8(avx, dst + (size_t)k * NR + j, (size_t)NR, s + (size_t)j * ldb + k, (size_t)ldb);
            for (; k < kc; k++)
                for (int j = 0; j < NR; j++) dst[(size_t)k * NR + j] = s[(size_t)j * ldb + k];
            continue;
        }
        if (tb) {   /* op(B) = B^T: walk each source row contiguously */
            for (int j = 0; j < cols; j++) {
                const float *s = B + (size_t)(j0 + q + j) * ldb + k0;
                for (int k = 0; k < kc; k++) dst[(size_t)k * NR + j] = s[k];
            }
            for (int k = 0; k < kc; k++)
                for (int j = cols; j < NR; j++) dst[(size_t)k * NR + j] = 0.0f;
            continue;
        }
        for (int k = 0; k < kc; k++) {
            float *d = dst + (size_t)k * NR;
            memcpy(d, B + (size_t)(k0 + k) * ldb + j0 + q, sizeof(float) * cols);
            for (int j = cols; j < NR; j++) d[j] = 0.0f;
        }
    }
}

/* x[0..n) rounded to bf16 in place (a packed tile or panel of a bf16 product: the padding zeros stay zeros). */
RNN_CLONES static void round_bf16(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = mat_bf16(x[i]);
}

/* ------------------------------------------------------------------------------------ GEMM */
typedef struct {
    int M, N, K;
    const float *A; int lda, ta;
    const float *B; int ldb, tb;      /* B == NULL: use the prepacked operand bp */
    const mat_packed *bp;
    float *C; int ldc, accumulate;
    int bf16;                         /* round the packed operands to bf16 (bp is already rounded) */
    int split_n;                      /* partition columns (1) or rows (0) among threads */
} gemm_job;

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* Computes C's rows m0..m1 x columns n0..n1 (n0 a multiple of NR) for one thread. */
static void gemm_block(mat_pool *p, int tid, const gemm_job *g, int m0, int m1, int n0, int n1) {
    const int MR = p->uk.mr, NR = p->uk.nr, MC = p->mc_tiles * MR, NC = p->nc;
    float *pa = p->pack_a[tid], *pb = p->pack_b[tid];
    int npad = ceil_div(g->N, NR) * NR;
    for (int jc = n0; jc < n1; jc += NC) {
        int nc = n1 - jc < NC ? n1 - jc : NC;
        for (int pc = 0; pc < g->K; pc += KC) {
            int kc = g->K - pc < KC ? g->K - pc : KC;
            const float *bblk;
            if (g->B) {
                pack_b(pb, NR, p->uk.avx, g->B, g->ldb, g->tb, pc, kc, jc, nc);
                if (g->bf16) round_bf16(pb, (size_t)ceil_div(nc, NR) * NR * kc);
                bblk = pb;
            } else {
                bblk = g->bp->data + (size_t)pc * npad + (size_t)(jc / NR) * kc * NR;
            }
            int overwrite = pc == 0 && !g->accumulate;
            for (int ic = m0; ic < m1; ic += MC) {
                int mc = m1 - ic < MC ? m1 - ic : MC;
                pack_a(pa, MR, p->uk.avx, g->A, g->lda, g->ta, ic, mc, pc, kc);
                if (g->bf16) round_bf16(pa, (size_t)ceil_div(mc, MR) * MR * kc);
                for (int jr = 0; jr < nc; jr += NR)
                    for (int ir = 0; ir < mc; ir += MR)
                        p->uk.fn(kc, pa + (size_t)(ir / MR) * kc * MR, bblk + (size_t)(jr / NR) * kc * NR,
                                 g->C + (size_t)(ic + ir) * g->ldc + jc + jr, g->ldc,
                                 mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR, overwrite);
            }
        }
    }
}

typedef struct { mat_pool *p; gemm_job g; } gemm_call;

static void gemm_thread(void *arg, int i, int n) {
    gemm_call *c = arg;
    const gemm_job *g = &c->g;
    int MR = c->p->uk.mr, NR = c->p->uk.nr;
    if (g->split_n) {
        int tiles = ceil_div(g->N, NR), t0 = (int)((long)tiles * i / n), t1 = (int)((long)tiles * (i + 1) / n);
        int n0 = t0 * NR, n1 = t1 * NR < g->N ? t1 * NR : g->N;
        if (n0 < n1) gemm_block(c->p, i, g, 0, g->M, n0, n1);
    } else {
        int tiles = ceil_div(g->M, MR), t0 = (int)((long)tiles * i / n), t1 = (int)((long)tiles * (i + 1) / n);
        int m0 = t0 * MR, m1 = t1 * MR < g->M ? t1 * MR : g->M;
        if (m0 < m1) gemm_block(c->p, i, g, m0, m1, 0, g->N);
    }
}

static void run_gemm(mat_pool *p, gemm_job *g) {
    if (g->M <= 0 || g->N <= 0) return;
    if (g->K <= 0) {
        if (!g->accumulate)
            for (int i = 0; i < g->M; i++) memset(g->C + (size_t)i * g->ldc, 0, sizeof(float) * g->N);
        return;
    }
    int tm = ceil_div(g->M, p->uk.mr), tn = ceil_div(g->N, p->uk.nr);
    g->split_n = tn >= tm;
    gemm_call c = {p, *g};
    /* Small products are not worth waking the pool; the result is the same either way. */
    if ((double)g->M * g->N * g->K < 32768.0 * 8) gemm_thread(&c, 0, 1);
    else rnn__mat_pool_run(p, gemm_thread, &c);
}

/* One row: y (N) = [y +] x (K) · op(B). Packing would cost more than the product, so B is read in place.
 * Each y[j] is summed over k in plain order (as gemv_panels does), W columns at a time with the sums held in
 * registers: the order depends on nothing but k, so the threads' split and the packing never change a bit. */
RNN_CLONES static void gemv(int N, int K, const float *x, int incx, const float *B, int ldb, int tb, float *y,
                            int accumulate) {
    int j0 = 0;
#define GEMV_COLS(W, SK, SJ)                                                                                  \
    for (; j0 + (W) <= N; j0 += (W)) {                                                                        \
        float a[W] = {0};                                                                                     \
        for (int k = 0; k < K; k++) {                                                                         \
            const float xk = x[(size_t)k * incx], *b = B + (size_t)k * (SK) + (size_t)j0 * (SJ);              \
            for (int j = 0; j < (W); j++) a[j] += xk * b[(size_t)j * (SJ)];                                   \
        }                                                                                                     \
        for (int j = 0; j < (W); j++) y[j0 + j] = accumulate ? y[j0 + j] + a[j] : a[j];                       \
    }
    if (!tb) {   /* rows of B are contiguous: wide blocks */
        GEMV_COLS(64, ldb, 1)
        GEMV_COLS(32, ldb, 1)
        GEMV_COLS(16, ldb, 1)
        GEMV_COLS(8, ldb, 1)
        GEMV_COLS(1, ldb, 1)
    } else {     /* op(B) = B^T, columns strided (only in training with --seq 1 --batch 1) */
        GEMV_COLS(16, 1, ldb)
        GEMV_COLS(1, 1, ldb)
    }
#undef GEMV_COLS
}

/* The bf16 one-row product: the same sums as the GEMM computes for each row of a bf16 product (rnn_mat.h): x and B
 * rounded to bf16 as they are read, and per MAT_KC block of k a partial sum from +0 in k order, added to y (or
 * stored, for the first block without accumulate). The products are exact, so multiply-then-add here gives the
 * bits the GEMM's fused multiply-adds give. K >= 1. */
RNN_CLONES static void gemv_bf16(int N, int K, const float *x, int incx, const float *B, int ldb, int tb, float *y,
                                 int accumulate) {
    int j0 = 0;
#define GEMV16_COLS(W, SK, SJ)                                                                                \
    for (; j0 + (W) <= N; j0 += (W)) {                                                                        \
        float s[W] = {0}, a[W];                                                                                  \
        for (int pc = 0; pc < K; pc += MAT_KC) {                                                              \
            int ke = K - pc < MAT_KC ? K : pc + MAT_KC;                                                       \
            for (int j = 0; j < (W); j++) a[j] = 0.0f;                                                        \
            for (int k = pc; k < ke; k++) {                                                                   \
                const float xk = mat_bf16(x[(size_t)k * incx]), *b = B + (size_t)k * (SK) + (size_t)j0 * (SJ); \
                for (int j = 0; j < (W); j++) a[j] += xk * mat_bf16(b[(size_t)j * (SJ)]);                    \
            }                                                                                                 \
            for (int j = 0; j < (W); j++) s[j] = pc ? s[j] + a[j] : accumulate ? y[j0 + j] + a[j] : a[j];     \
        }                                                                                                     \
        for (int j = 0; j < (W); j++) y[j0 + j] = s[j];                                                       \
    }
    if (!tb) {
        GEMV16_COLS(64, ldb, 1)
        GEMV16_COLS(16, ldb, 1)
        GEMV16_COLS(1, ldb, 1)
    } else {
        GEMV16_COLS(16, 1, ldb)
        GEMV16_COLS(1, 1, ldb)
    }
#undef GEMV16_COLS
}

typedef struct { int N, K; const float *x; int incx; const float *B; int ldb, tb; float *y; int accumulate, bf16; } gemv_call;

/* Part i of n is a fixed run of 16-column groups of y (a cache line each), the same run on every call, so the
 * thread that usually runs it keeps its slice of B in its own core's cache from one call to the next. */
static void gemv_thread(void *arg, int i, int n) {
    const gemv_call *c = arg;
    int groups = ceil_div(c->N, 16), g0 = (int)((long)groups * i / n), g1 = (int)((long)groups * (i + 1) / n);
    int j0 = g0 * 16, j1 = g1 * 16 < c->N ? g1 * 16 : c->N;
    if (j0 >= j1)
        return;
    (c->bf16 ? gemv_bf16 : gemv)(j1 - j0, c->K, c->x, c->incx, c->B + (size_t)j0 * (c->tb ? (size_t)c->ldb : 1), c->ldb,
                                 c->tb, c->y + j0, c->accumulate);
}

/* Each y[j] is summed over k in the same order whichever columns a thread holds, so splitting the columns
 * never changes a bit. Worth it only once B outgrows one core's L2 (sampling and validation of big models). */
static int gemv_split(const mat_pool *p, int N, int K) { return p && p->n > 1 && (double)N * K >= GEMV_SPLIT; }

static void run_gemv(mat_pool *p, int N, int K, const float *x, int incx, const float *B, int ldb, int tb, float *y,
                     int accumulate) {
    if (N <= 0) return;
    if (K <= 0) {
        if (!accumulate) memset(y, 0, sizeof(float) * N);
        return;
    }
    gemv_call c = {N, K, x, incx, B, ldb, tb, y, accumulate, mat_pool_precision(p) == MAT_BF16};
    if (gemv_split(p, N, K)) rnn__mat_pool_run(p, gemv_thread, &c);
    else gemv_thread(&c, 0, 1);
}

void rnn__mat_mul(mat_pool *p, int M, int N, int K, const float *A, int lda, int ta, const float *B, int ldb, int tb,
             float *C, int ldc, int accumulate) {
    if (M == 1) {
        run_gemv(p, N, K, A, ta ? lda : 1, B, ldb, tb, C, accumulate);
        return;
    }
    gemm_job g = {M, N, K, A, lda, ta, B, ldb, tb, NULL, C, ldc, accumulate, p->bf16, 0};
    run_gemm(p, &g);
}

size_t rnn__mat_packed_size(const mat_pool *p, int K, int N) {
    return (size_t)K * ceil_div(N, p->uk.nr) * p->uk.nr;
}

typedef struct { mat_pool *p; mat_packed *dst; const float *B; int ldb, tb; } pack_call;

/* Packed layout: for each KC block of rows (pc), its column panels one after another, each (kc, NR). */
static void pack_thread(void *arg, int i, int n) {
    pack_call *c = arg;
    int NR = c->p->uk.nr, K = c->dst->K, N = c->dst->N, tiles = ceil_div(N, NR), npad = tiles * NR;
    int t0 = (int)((long)tiles * i / n), t1 = (int)((long)tiles * (i + 1) / n);
    if (t0 >= t1) return;
    int j0 = t0 * NR, j1 = t1 * NR < N ? t1 * NR : N;
    for (int pc = 0; pc < K; pc += KC) {
        int kc = K - pc < KC ? K - pc : KC;
        float *d = c->dst->data + (size_t)pc * npad + (size_t)t0 * kc * NR;
        pack_b(d, NR, c->p->uk.avx, c->B, c->ldb, c->tb, pc, kc, j0, j1 - j0);
        if (c->dst->bf16) round_bf16(d, (size_t)(t1 - t0) * NR * kc);
    }
}

void rnn__mat_pack(mat_pool *p, mat_packed *dst, int K, int N, const float *B, int ldb, int tb) {
    dst->K = K;
    dst->N = N;
    dst->bf16 = p->bf16;
    pack_call c = {p, dst, B, ldb, tb};
    if ((double)K * N < 65536.0) pack_thread(&c, 0, 1);
    else rnn__mat_pool_run(p, pack_thread, &c);
}

/* One row from a packed operand: y = [y +] x (K) · B over the column panels [t0, t1), G panels at a time (their
 * sums held in registers over all of K). Each y[j] is summed over k in plain order, as gemv does with tb = 0,
 * so both give the same bits. Panels are contiguous, so a thread's share of B streams from its own cache. */
RNN_CLONES static void gemv_panels(const mat_packed *B, int NR, int t0, int t1, const float *x, int incx, float *y,
                                   int accumulate) {
    int K = B->K, N = B->N, npad = ceil_div(N, NR) * NR, t = t0;
#define GEMV_PANELS(NRC, G)                                                                                   \
    for (; t + (G) <= t1; t += (G)) {                                                                         \
        float a[(G) * (NRC)] = {0};                                                                           \
        for (int pc = 0; pc < K; pc += KC) {                                                                  \
            int kc = K - pc < KC ? K - pc : KC;                                                               \
            const float *b = B->data + (size_t)pc * npad + (size_t)t * kc * (NRC);                           \
            for (int k = 0; k < kc; k++, b += (NRC)) {                                                        \
                const float xk = x[(size_t)(pc + k) * incx];                                                  \
                for (int q = 0; q < (G); q++)                                                                 \
                    for (int j = 0; j < (NRC); j++) a[q * (NRC) + j] += xk * b[(size_t)q * kc * (NRC) + j];   \
            }                                                                                                 \
        }                                                                                                     \
        int nj = N - t * (NRC) < (G) * (NRC) ? N - t * (NRC) : (G) * (NRC);   /* a bound, not an exit: */      \
        if (accumulate) for (int j = 0; j < nj; j++) y[t * (NRC) + j] += a[j];   /* the sums vectorise */     \
        else for (int j = 0; j < nj; j++) y[t * (NRC) + j] = a[j];                                             \
    }
    if (NR == 32) {   /* G panels at once: G independent chains of additions */
        GEMV_PANELS(32, 4)
        GEMV_PANELS(32, 2)
        GEMV_PANELS(32, 1)
    } else {   /* every kernel's NR is 32 or 16 */
        GEMV_PANELS(16, 8)
        GEMV_PANELS(16, 4)
        GEMV_PANELS(16, 2)
        GEMV_PANELS(16, 1)
    }
#undef GEMV_PANELS
}

/* gemv_panels for a bf16 packed operand: the sums of gemv_bf16 (per MAT_KC block from +0, then added to y), x
 * rounded as it is read, B already rounded by rnn__mat_pack. */
RNN_CLONES static void gemv_panels_bf16(const mat_packed *B, int NR, int t0, int t1, const float *x, int incx,
                                        float *y, int accumulate) {
    int K = B->K, N = B->N, npad = ceil_div(N, NR) * NR, t = t0;
#define GEMV16_PANELS(NRC, G)                                                                                 \
    for (; t + (G) <= t1; t += (G)) {                                                                         \
        float s[(G) * (NRC)] = {0}, a[(G) * (NRC)];   /* s: y (accumulate) or +0, then + each block's sum */      \
        int nj = N - t * (NRC) < (G) * (NRC) ? N - t * (NRC) : (G) * (NRC);                                     \
        if (accumulate) for (int j = 0; j < nj; j++) s[j] = y[t * (NRC) + j];                                  \
        for (int pc = 0; pc < K; pc += MAT_KC) {                                                              \
            int kc = K - pc < MAT_KC ? K - pc : MAT_KC;                                                       \
            const float *b = B->data + (size_t)pc * npad + (size_t)t * kc * (NRC);                           \
            for (int j = 0; j < (G) * (NRC); j++) a[j] = 0.0f;                                                \
            for (int k = 0; k < kc; k++, b += (NRC)) {                                                        \
                const float xk = mat_bf16(x[(size_t)(pc + k) * incx]);                                        \
                for (int q = 0; q < (G); q++)                                                                 \
                    for (int j = 0; j < (NRC); j++) a[q * (NRC) + j] += xk * b[(size_t)q * kc * (NRC) + j];   \
            }                                                                                                 \
            for (int j = 0; j < (G) * (NRC); j++) s[j] += a[j];   /* +0 + a == a: a is never -0 */            \
        }                                                                                                     \
        for (int j = 0; j < nj; j++) y[t * (NRC) + j] = s[j];                                                 \
    }
    if (NR == 32) {
        GEMV16_PANELS(32, 2)
        GEMV16_PANELS(32, 1)
    } else {
        GEMV16_PANELS(16, 4)
        GEMV16_PANELS(16, 2)
        GEMV16_PANELS(16, 1)
    }
#undef GEMV16_PANELS
}

typedef struct { const mat_packed *B; int NR; const float *x; int incx; float *y; int accumulate; } gemvp_call;

static void gemvp_thread(void *arg, int i, int n) {   /* part i: a fixed run of panels, as in gemv_thread */
    const gemvp_call *c = arg;
    int tiles = ceil_div(c->B->N, c->NR);
    (c->B->bf16 ? gemv_panels_bf16 : gemv_panels)(c->B, c->NR, (int)((long)tiles * i / n), (int)((long)tiles * (i + 1) / n),
                                                  c->x, c->incx, c->y, c->accumulate);
}

/* ------------------------------------------------------------------------------------ small-M products */
/* C (M <= MAT_ROWS rows) = [C +] op(A) · B from a packed B with exactly the GEMM's sums (rnn_mat.h), reading B
 * once instead of packing A and running M-row tiles: per KC block, acc from +0 over k in order (one fused
 * multiply-add per step when the pool's kernel fuses, else a multiply then an add, as kern_generic), then
 * C = acc (first block, no accumulate) or C + acc. Which columns are done together never matters. */
typedef struct rows_call rows_call;
struct rows_call {
    int M;
    const float *A; int lda, ta;
    const mat_packed *B; int NR;
    float *C; int ldc, accumulate;
    void (*fn)(const rows_call *c, int j0, int j1);   /* columns [j0, j1), j0 a multiple of 16 */
};

/* A's element (row i, column k) is A[i * ia + k * ka]. */
static void rows_strides(const rows_call *c, size_t *ia, size_t *ka) {
    *ia = c->ta ? 1 : (size_t)c->lda;
    *ka = c->ta ? (size_t)c->lda : 1;
}

/* The portable sums (kern_generic's: acc += a * b, no fused multiply-add), 16 columns at a time. */
static void rows_generic(const rows_call *c, int j0, int j1) {
    const mat_packed *B = c->B;
    int K = B->K, NR = c->NR, npad = ceil_div(B->N, NR) * NR, M = c->M;
    size_t ia, ka;
    rows_strides(c, &ia, &ka);
    for (int j = j0; j < j1; j += 16) {
        int w = j1 - j < 16 ? j1 - j : 16;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC, first = pc == 0 && !c->accumulate;
            const float *b = B->data + (size_t)pc * npad + (size_t)(j / NR) * kc * NR + j % NR;
            float acc[MAT_ROWS][16] = {{0}};
            for (int k = 0; k < kc; k++, b += NR)
                for (int i = 0; i < M; i++) {
                    float a = c->A[(size_t)i * ia + (size_t)(pc + k) * ka];
                    a = B->bf16 ? mat_bf16(a) : a;
                    for (int q = 0; q < 16; q++) acc[i][q] += a * b[q];
                }
            for (int i = 0; i < M; i++) {
                float *y = c->C + (size_t)i * c->ldc + j;
                for (int q = 0; q < w; q++) y[q] = first ? acc[i][q] : y[q] + acc[i][q];
            }
        }
    }
}

#ifdef MAT_X86
/* The fused sums (kern_avx512's and kern_avx2's: a fused multiply-add is one rounding at any vector width) of one
 * KC block (pc, kc) for MM rows of xa (MAT_ROWS, KC) and SS strips of 8 columns from column j0; inlined with
 * constant MM and SS so that the sums stay in registers. */
__attribute__((target("avx2,fma"), always_inline)) static inline void rows_fma_strips(const rows_call *c, int MM,
        int SS, int j0, int pc, int kc, float (*xa)[KC]) {
    const mat_packed *B = c->B;
    int N = B->N, NR = c->NR, npad = ceil_div(N, NR) * NR, first = pc == 0 && !c->accumulate;
    const float *b[8];
    __m256 acc[MAT_ROWS][8];
    for (int q = 0; q < SS; q++) {
        int j = j0 + 8 * q;
        b[q] = B->data + (size_t)pc * npad + (size_t)(j / NR) * kc * NR + j % NR;
        for (int i = 0; i < MM; i++) acc[i][q] = _mm256_setzero_ps();
    }
    for (size_t k = 0; k < (size_t)kc; k++)
        for (int i = 0; i < MM; i++) {
            __m256 x = _mm256_set1_ps(xa[i][k]);
            for (int q = 0; q < SS; q++) acc[i][q] = _mm256_fmadd_ps(x, _mm256_loadu_ps(b[q] + k * NR), acc[i][q]);
        }
    for (int i = 0; i < MM; i++)
        for (int q = 0; q < SS; q++) {
            float *y = c->C + (size_t)i * c->ldc + j0 + 8 * q, t[8];
            int n = N - (j0 + 8 * q);
            if (n >= 8) {
                _mm256_storeu_ps(y, first ? acc[i][q] : _mm256_add_ps(_mm256_loadu_ps(y), acc[i][q]));
                continue;
            }
            _mm256_storeu_ps(t, acc[i][q]);
            for (int j = 0; j < n; j++) y[j] = first ? t[j] : y[j] + t[j];
        }
}

/* KC block by block (so B streams in the order it is packed), A's block copied (bf16: rounded) once. */
__attribute__((target("avx2,fma"))) static void rows_fma(const rows_call *c, int j0, int j1) {
    int K = c->B->K, M = c->M, strips = ceil_div(j1 - j0, 8);
    size_t ia, ka;
    rows_strides(c, &ia, &ka);
    float xa[MAT_ROWS][KC];
    for (int pc = 0; pc < K; pc += KC) {
        int kc = K - pc < KC ? K - pc : KC, s = 0;
        for (int i = 0; i < M; i++)
            for (int k = 0; k < kc; k++) {
                float a = c->A[(size_t)i * ia + (size_t)(pc + k) * ka];
                xa[i][k] = c->B->bf16 ? mat_bf16(a) : a;
            }
#define ROWS_RUN(MM, SS) for (; s + (SS) <= strips; s += (SS)) rows_fma_strips(c, MM, SS, j0 + 8 * s, pc, kc, xa);
        switch (M) {
        case 1: ROWS_RUN(1, 8) ROWS_RUN(1, 1) break;
        case 2: ROWS_RUN(2, 4) ROWS_RUN(2, 1) break;
        case 3: ROWS_RUN(3, 3) ROWS_RUN(3, 1) break;
        default: ROWS_RUN(4, 2) ROWS_RUN(4, 1) break;
        }
#undef ROWS_RUN
    }
}
#endif

static void rows_thread(void *arg, int i, int n) {   /* part i: a fixed run of panels, as in gemvp_thread */
    const rows_call *c = arg;
    int tiles = ceil_div(c->B->N, c->NR), t0 = (int)((long)tiles * i / n), t1 = (int)((long)tiles * (i + 1) / n);
    int j0 = t0 * c->NR, j1 = t1 * c->NR < c->B->N ? t1 * c->NR : c->B->N;
    if (j0 < j1) c->fn(c, j0, j1);
}

/* Whether rnn__mat_mul_packed takes the small-M path: a few rows, and one row only when the pool asks for the GEMM's
 * sums (otherwise gemv_panels' plain sums, as one-row products always had). */
static int rows_path(const mat_pool *p, int M, const mat_packed *B) {
    return B->K > 0 && B->N > 0 && M <= MAT_ROWS && (M > 1 || p->gemm_rows);
}

static void run_rows(mat_pool *p, int M, const float *A, int lda, int ta, const mat_packed *B, float *C, int ldc,
                     int accumulate) {
    rows_call c = {M, A, lda, ta, B, p->uk.nr, C, ldc, accumulate, rows_generic};
#ifdef MAT_X86
    if (p->uk.fma) c.fn = rows_fma;
#endif
    if (gemv_split(p, B->N, B->K)) rnn__mat_pool_run(p, rows_thread, &c);
    else rows_thread(&c, 0, 1);
}

void rnn__mat_mul_packed(mat_pool *p, int M, const float *A, int lda, int ta, const mat_packed *B, float *C, int ldc,
                    int accumulate) {
    if (M >= 1 && rows_path(p, M, B)) {
        run_rows(p, M, A, lda, ta, B, C, ldc, accumulate);
        return;
    }
    if (M == 1) {
        gemvp_call c = {B, p->uk.nr, A, ta ? lda : 1, C, accumulate};
        if (gemv_split(p, B->N, B->K)) rnn__mat_pool_run(p, gemvp_thread, &c);
        else gemvp_thread(&c, 0, 1);
        return;
    }
    gemm_job g = {M, B->N, B->K, A, lda, ta, NULL, 0, 0, B, C, ldc, accumulate, B->bf16, 0};
    run_gemm(p, &g);
}
