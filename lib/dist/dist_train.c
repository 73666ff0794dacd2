/* lib/dist/dist_train.c -- data-parallel training on MPI: the hooks of
 * dh_train_parallel (dh.h) as MPI_Allgatherv / MPI_Allreduce / MPI_Bcast on a
 * duplicate of the caller's communicator. */
#include "dist.h"

#include <limits.h>
#include <stdlib.h>

typedef struct train_comm {
    MPI_Comm comm;
    int size;
    int *counts, *displs; /* [size] floats per process, for MPI_Allgatherv */
} train_comm;

static dh_status allgather(void *user, float *all, const size_t *counts, size_t row_floats)
{
    train_comm *tc = user;
    size_t off = 0;
    for (int p = 0; p < tc->size; p++) {
        size_t n = counts[p] * row_floats;
        if (n > INT_MAX || off > INT_MAX)
            return dh__dist_error(DH_E_INVALID_ARG, "dh_trainer_set_comm: a batch of %zu "
                                  "floats is too large for MPI_Allgatherv", n);
        tc->counts[p] = (int)n;
        tc->displs[p] = (int)off;
        off += n;
    }
    DH__MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, tc->counts, tc->displs,
                           MPI_FLOAT, tc->comm));
    return DH_OK;
}

static dh_status allreduce_sum(void *user, float *buf, size_t n)
{
    train_comm *tc = user;
    DH__MPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, tc->comm));
    return DH_OK;
}

static dh_status broadcast(void *user, float *buf, size_t n)
{
    train_comm *tc = user;
    DH__MPI(MPI_Bcast(buf, (int)n, MPI_FLOAT, 0, tc->comm));
    return DH_OK;
}

static void release(void *user)
{
    train_comm *tc = user;
    if (!tc) return;
    MPI_Comm_free(&tc->comm);
    free(tc->counts);
    free(tc->displs);
    free(tc);
}

dh_status dh_trainer_set_comm(dh_trainer *trainer, MPI_Comm comm)
{
    train_comm *tc = calloc(1, sizeof *tc);
    if (!tc) return dh__dist_error(DH_E_NO_MEMORY, "dh_trainer_set_comm: out of memory");
    dh_status st = dh__dist_dup(comm, &tc->comm);
    if (st != DH_OK) {
        free(tc);
        return st;
    }
    int rank = 0;
    MPI_Comm_rank(tc->comm, &rank);
    MPI_Comm_size(tc->comm, &tc->size);
    tc->counts = calloc((size_t)tc->size, sizeof *tc->counts);
    tc->displs = calloc((size_t)tc->size, sizeof *tc->displs);
    st = !tc->counts || !tc->displs ? dh__dist_error(DH_E_NO_MEMORY, "dh_trainer_set_comm: "
                                                     "out of memory")
         : !trainer ? dh__dist_error(DH_E_INVALID_ARG, "dh_trainer_set_comm: trainer is NULL")
                    : DH_OK;
    st = dh__dist_agree(tc->comm, st);
    if (st != DH_OK || tc->size == 1) {
        release(tc);
        return st == DH_OK ? dh_trainer_set_parallel(trainer, NULL) : st;
    }
    dh_train_parallel p;
    dh_train_parallel_init(&p);
    p.rank = (uint32_t)rank;
    p.size = (uint32_t)tc->size;
    p.allgather = allgather;
    p.allreduce_sum = allreduce_sum;
    p.broadcast = broadcast;
    p.release = release;
    p.user = tc;
    /* its broadcast of the model is collective: a local argument error must not skip
     * it on one process only, so agree on the outcome afterwards */
    st = dh_trainer_set_parallel(trainer, &p);
    if (st != DH_OK) release(tc); /* set_parallel does not release on failure */
    return st;
}
