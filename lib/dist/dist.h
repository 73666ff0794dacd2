/* lib/dist/dist.h -- internals of libdh_mpi (include/dh_mpi.h). Only public libdh
 * API is used; errors go through dh_set_error so dh_last_error() reports them. */
#ifndef DH_DIST_H
#define DH_DIST_H

#include "dh_mpi.h"

#include <stddef.h>
#include <stdint.h>

struct dh_dist_shard {
    MPI_Comm comm;       /* our duplicate, MPI_ERRORS_RETURN */
    int rank, size;
    int32_t layout;      /* DH_DIST_* */
    uint32_t n_bits;
    const dh_index *ix;  /* this shard, NULL when empty */
    dh_index *owned;     /* ix when the shard owns it (opened from a file) */
    int64_t *ids;        /* DH_DIST_STRIDED: real id of local row i (the index stores r + iP) */
    uint64_t count;      /* live rows here */
    uint64_t offset;     /* DH_DIST_CONTIGUOUS: live rows on lower ranks */
    uint64_t total;      /* live rows everywhere */
};

/* Merge key of a result: distance in the top bits, global row below. */
#define DH__DIST_ROW_BITS 50
#define DH__DIST_EMPTY UINT64_MAX

typedef struct dh__dist_hit {
    uint64_t key; /* (distance << DH__DIST_ROW_BITS) | global row, or DH__DIST_EMPTY */
    int64_t id;
} dh__dist_hit;

/** Format a message, record it with dh_set_error and return st. */
dh_status dh__dist_error(dh_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** An MPI return code as DH_E_BACKEND with the call's text and MPI's message. */
dh_status dh__dist_mpi_error(int rc, const char *call);
#define DH__MPI(call)                                                                        \
    do {                                                                                     \
        int rc_ = (call);                                                                    \
        if (rc_ != MPI_SUCCESS) return dh__dist_mpi_error(rc_, #call);                       \
    } while (0)

#define DH_TRY_DIST(expr)                                                                    \
    do {                                                                                     \
        dh_status st_ = (expr);                                                              \
        if (st_ != DH_OK) return st_;                                                        \
    } while (0)

/** Collective: agree on a status. If any process has st < 0, every process returns
 *  the lowest such rank's status, with its message prefixed "rank R: " (the message
 *  is broadcast from that rank). Returns DH_OK when all succeeded. */
dh_status dh__dist_agree(MPI_Comm comm, dh_status st);

/** MPI_Comm_dup with MPI_ERRORS_RETURN (collective). */
dh_status dh__dist_dup(MPI_Comm comm, MPI_Comm *out);

/** Global row of local result j of a shard's output list (id = what the shard index
 *  returned), and the caller-visible id. */
static inline void dh__dist_locate(const struct dh_dist_shard *s, size_t j, int64_t id,
                                   uint64_t *row, int64_t *out_id)
{
    if (s->layout == DH_DIST_STRIDED) {
        *row = (uint64_t)id; /* the shard index stores global rows as ids */
        *out_id = s->ids[(uint64_t)id / (uint64_t)s->size];
    } else {
        *row = s->offset + j; /* j-th of this shard's rows at this distance or below:
                                 below offset + count, in row order within a distance */
        *out_id = id;
    }
}

#endif
