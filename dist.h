/* dist.h — the processes of one training run (`mpirun -np N charrnn-mpi train`; docs/scaling.md): which process
 * this is, the callbacks of the library's rnn_dist (the gradient reduction in shard order, the exchange of
 * losses and state), and the few agreements `train` needs (a status, a value of rank 0's). Two implementations:
 * dist_none.c, one process (the default build, no MPI anywhere), and dist_mpi.c (`make mpi`). Every function
 * but dist_rank/dist_size is collective: every process calls it, in the same order.
 * Must not know: the model, the options, the files of a run. */
#ifndef DIST_H
#define DIST_H

#include "rnn.h"

#include <stddef.h>

/* Joins the run's processes (with MPI: only when started by mpirun; otherwise one process) and fills d with
 * this process's rank, the size and the callbacks. 0, or -1 with a reason in err. */
int dist_begin(rnn_dist *d, rnn_err err);
/* Leaves the run (MPI_Finalize); `failed`: some process failed, end without waiting for the others. */
void dist_end(int failed);
int dist_rank(void);
int dist_size(void);
/* Every process's `bytes` bytes, in rank order, into all (size * bytes). 0 or -1. */
int dist_allgather(const void *mine, size_t bytes, void *all);
/* Rank 0's `bytes` bytes into buf on every process. 0 or -1. */
int dist_bcast(void *buf, size_t bytes);

#endif
