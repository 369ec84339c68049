/* dist_mpi.c — dist.h over MPI (`make mpi` builds charrnn-mpi with mpicc): joins the processes mpirun started,
 * and implements the library's rnn_dist: the gradient reduction in shard order (a reduce-scatter by parameter
 * chunks in which each chunk's owner adds the K shards in shard order, then an all-gather of the summed chunks)
 * and the all-gather of losses and state. Bytes per process and step: docs/scaling.md.
 * Must not know: the model, the options, the files of a run. Only this file includes mpi.h. */
#include "dist.h"

#include <mpi.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank = 0, size = 1, joined = 0;
static float *pack, *recv;        /* reduce: this process's slices by destination; the K slices of its chunk */
static size_t pack_n, recv_n;     /* their sizes in floats */
static int *cnt_s, *dsp_s, *cnt_r, *dsp_r, *cnt_g, *dsp_g;   /* (size) each: alltoallv and allgatherv */

/* Chunk q of n floats: [q n / P, (q + 1) n / P). */
static size_t chunk_lo(size_t n, int q) { return (size_t)((unsigned long long)n * (unsigned)q / (unsigned)size); }

static int grow(float **buf, size_t *have, size_t want) {
    if (*have >= want) return 0;
    float *b = realloc(*buf, sizeof(float) * (want ? want : 1));
    if (!b) return -1;
    *buf = b, *have = want;
    return 0;
}

/* rnn_dist.reduce: mine holds nmine shard gradients (n floats each) of shards rank * nmine ..; sum gets
 * ((g0 + g1) + g2) + ... over all K = size * nmine shards, the same bits on every process. */
static int reduce(void *ctx, const float *mine, int nmine, size_t n, float *sum) {
    (void)ctx;
    size_t K = (size_t)nmine * (size_t)size, mylen = chunk_lo(n, rank + 1) - chunk_lo(n, rank);
    if ((double)n * nmine > INT_MAX || grow(&pack, &pack_n, (size_t)nmine * n) || grow(&recv, &recv_n, K * mylen))
        return -1;
    for (int q = 0; q < size; q++) {   /* to process q: the slices of its chunk, shard by shard */
        size_t lo = chunk_lo(n, q), len = chunk_lo(n, q + 1) - lo;
        for (int j = 0; j < nmine; j++) memcpy(pack + (size_t)nmine * lo + (size_t)j * len, mine + (size_t)j * n + lo,
                                               sizeof(float) * len);
        cnt_s[q] = (int)((size_t)nmine * len), dsp_s[q] = (int)((size_t)nmine * lo);
        cnt_r[q] = (int)((size_t)nmine * mylen), dsp_r[q] = (int)((size_t)nmine * mylen * (size_t)q);
        cnt_g[q] = (int)len, dsp_g[q] = (int)lo;
    }
    if (MPI_Alltoallv(pack, cnt_s, dsp_s, MPI_FLOAT, recv, cnt_r, dsp_r, MPI_FLOAT, MPI_COMM_WORLD) != MPI_SUCCESS)
        return -1;
    float *own = sum + chunk_lo(n, rank);   /* recv holds shard k's slice at k * mylen: add in shard order */
    for (size_t i = 0; i < mylen; i++) {
        float acc = recv[i];
        for (size_t k = 1; k < K; k++) acc += recv[k * mylen + i];
        own[i] = acc;
    }
    return MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, sum, cnt_g, dsp_g, MPI_FLOAT, MPI_COMM_WORLD) ==
                   MPI_SUCCESS ? 0 : -1;
}

int dist_allgather(const void *mine, size_t bytes, void *all) {
    if (size == 1) {
        memmove(all, mine, bytes);
        return 0;
    }
    if (bytes > INT_MAX) return -1;
    return MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

static int allgather_cb(void *ctx, const void *mine, size_t bytes, void *all) {
    (void)ctx;
    return dist_allgather(mine, bytes, all);
}

int dist_bcast(void *buf, size_t bytes) {
    if (size == 1) return 0;
    if (bytes > INT_MAX) return -1;
    return MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

/* Started by mpirun (Open MPI, MPICH or anything PMI): join; otherwise run as one process without MPI. */
int dist_begin(rnn_dist *d, rnn_err err) {
    *d = (rnn_dist){.rank = 0, .size = 1};
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK")) return 0;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        snprintf(err, RNN_ERRLEN, "cannot join the MPI run (MPI_Init failed)");
        return -1;
    }
    joined = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int *c = calloc(6 * (size_t)size, sizeof(int));
    if (!c) {
        snprintf(err, RNN_ERRLEN, "rank %d: out of memory", rank);
        return -1;
    }
    cnt_s = c, dsp_s = c + size, cnt_r = c + 2 * size, dsp_r = c + 3 * size, cnt_g = c + 4 * size, dsp_g = c + 5 * size;
    *d = (rnn_dist){.rank = rank, .size = size, .reduce = reduce, .allgather = allgather_cb};
    return 0;
}

void dist_end(int failed) {
    if (!joined) return;
    free(pack), free(recv), free(cnt_s);
    pack = recv = NULL, cnt_s = NULL;
    if (failed) MPI_Abort(MPI_COMM_WORLD, 1);   /* a process that failed alone: nobody waits for it */
    MPI_Finalize();
    joined = 0;
}

int dist_rank(void) { return rank; }
int dist_size(void) { return size; }
