/*
 * dh_mpi.h -- libdh_mpi: libdh across processes on MPI (docs/scale.md).
 *
 * A separate library (libdh_mpi.so, linking libdh.so and the MPI library) so that
 * libdh itself never depends on MPI. Every function takes or wraps an MPI_Comm that
 * the caller owns and has initialised (libdh_mpi never calls MPI_Init/Finalize); the
 * library duplicates it (MPI_Comm_dup) and sets MPI_ERRORS_RETURN on the duplicate,
 * so its messages never mix with the caller's and MPI failures become dh_status.
 *
 * Collective calls: every process of the communicator must make the same call, in
 * the same order. A failure on any process (a missing shard file, bad arguments, no
 * memory) makes the call fail on EVERY process with the same status and a message
 * "rank R: ..." naming the first failing process; no collective is left unmatched,
 * so nothing hangs. Errors are reported through dh_last_error() like libdh's own.
 *
 * Shards. A sharded database is one dh_index per process:
 *  - DH_DIST_CONTIGUOUS: process r holds the r-th consecutive block of the rows
 *    (one index file per shard, e.g. written by `dh index split`); the global row of
 *    local row i is (rows of processes 0..r-1) + i. Global ids are the ids stored
 *    in the shards.
 *  - DH_DIST_STRIDED: every process maps the one index file and keeps its live rows
 *    r, r + P, r + 2P, ... (P processes); the global row is the row in the file.
 * Results of dh_dist_search and dh_dist_range_search are those of dh_index_search
 * and dh_index_range_search on one index holding every row in global order: the same
 * ids, distances and tie order (ties by global row).
 */
#ifndef DH_MPI_H
#define DH_MPI_H

#include <mpi.h>

#include "dh.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(DH_STATIC_DEFINE)
#define DH_MPI_API __attribute__((visibility("default")))
#else
#define DH_MPI_API
#endif

/** Shard layouts (dh_dist_shard_layout). */
enum { DH_DIST_CONTIGUOUS = 0, DH_DIST_STRIDED = 1 };

/** `root` value of the search calls: queries given on every process, results
 *  returned on every process. */
#define DH_DIST_ALL (-1)

/** One process's shard of a database spread over a communicator. Opaque. */
typedef struct dh_dist_shard dh_dist_shard;

/** Collective. Make `index` (borrowed: it must outlive the shard and not change)
 *  this process's shard in the DH_DIST_CONTIGUOUS layout. index NULL is an empty
 *  shard whose K is taken from the others. Every non-NULL index must have the same K.
 *  out receives the shard (NULL after a failure); free with dh_dist_shard_free().
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_SHAPE (K differs), DH_E_BACKEND (MPI).
 *  Since: 1.2 */
DH_MPI_API dh_status dh_dist_shard_create(MPI_Comm comm, const dh_index *index,
                                          dh_dist_shard **out);

/** Collective. Open this process's shard from `path`: when path contains one "%d",
 *  process r maps the file named by printf(path, r) (DH_DIST_CONTIGUOUS; a file per
 *  shard); otherwise every process reads the one file and keeps its live rows
 *  r::P (DH_DIST_STRIDED; a copy of 1/P of the rows, the file is unmapped again).
 *  Any process failing (missing or corrupt file) fails the call everywhere.
 *  Returns DH_OK or the errors of dh_index_load_mmap(), DH_E_SHAPE, DH_E_BACKEND.
 *  Since: 1.2 */
DH_MPI_API dh_status dh_dist_shard_open(MPI_Comm comm, const char *path, dh_dist_shard **out);

/** Collective (frees the duplicated communicator). NULL is a no-op on that process
 *  only. Since: 1.2 */
DH_MPI_API void dh_dist_shard_free(dh_dist_shard *shard);

/** This process's index (borrowed), or NULL for an empty shard. Since: 1.2 */
DH_MPI_API const dh_index *dh_dist_shard_index(const dh_dist_shard *shard);
/** DH_DIST_CONTIGUOUS or DH_DIST_STRIDED. Since: 1.2 */
DH_MPI_API int32_t dh_dist_shard_layout(const dh_dist_shard *shard);
/** Live rows of all shards together. Since: 1.2 */
DH_MPI_API uint64_t dh_dist_shard_total(const dh_dist_shard *shard);
/** Live rows of this shard. Since: 1.2 */
DH_MPI_API uint64_t dh_dist_shard_count(const dh_dist_shard *shard);
/** Code length K. Since: 1.2 */
DH_MPI_API uint32_t dh_dist_shard_n_bits(const dh_dist_shard *shard);

/** Collective. Exact k-NN over the whole sharded database (as dh_index_search on
 *  one index with every row): each process searches its shard, and the per-shard
 *  top-k lists are merged by an MPI_Reduce with a merge operator (key: distance,
 *  then global row), in query batches of at most ~32 MiB of candidates.
 *  root  a rank: queries, n_queries and k are read on root only (broadcast) and
 *        the results written on root only (other processes may pass NULL);
 *        DH_DIST_ALL: every process gives the same queries, n_queries and k, and
 *        every process receives the results (MPI_Allreduce).
 *  queries [n_queries, dh_code_bytes(K)], out_dist (may be NULL) and out_ids
 *        [n_queries, k]: as dh_index_search(), padding with -1 / INT32_MAX when
 *        fewer than k rows exist in total.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NO_MEMORY, DH_E_BACKEND. Since: 1.2 */
DH_MPI_API dh_status dh_dist_search(const dh_dist_shard *shard, const uint8_t *queries,
                                    size_t n_queries, uint32_t k, int root, int32_t *out_dist,
                                    int64_t *out_ids);

/** Collective. Every row within Hamming distance `radius` (inclusive) of each query
 *  over the whole sharded database, as dh_index_range_search(): per query the shard
 *  hit lists are gathered (MPI_Gatherv) and merged by (distance, global row).
 *  root  as dh_dist_search(); *out receives the result on root (on every process
 *        with DH_DIST_ALL) and NULL elsewhere. Free with dh_range_result_free().
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NO_MEMORY (also when one batch of 1024
 *  queries has more than 2^27 hits on a process: lower the radius), DH_E_BACKEND.
 *  Since: 1.2 */
DH_MPI_API dh_status dh_dist_range_search(const dh_dist_shard *shard, const uint8_t *queries,
                                          size_t n_queries, uint32_t radius, int root,
                                          dh_range_result **out);

/** Collective. dh_eval_all() over a database held in parts: process r holds the r-th
 *  part (db_codes, db_labels, n_db rows; n_db may be 0), parts in rank order. Every
 *  process gives the same opts, queries, query labels and ns, and receives every
 *  output (each may be NULL, as for dh_eval_all). The per-query Hamming histograms
 *  are summed with MPI_Allreduce and prefixed with MPI_Exscan (dh_eval_part_*), so
 *  P@N, R@N, the PR curve, P@H<=r and all DH_TIES_EXPECTED metrics are bit-identical
 *  to one process's dh_eval_all over the concatenated database; mAP under
 *  DH_TIES_INDEX_ORDER is equal up to float summation order (~1e-15).
 *  Memory per process: n_queries * (2K + 2) * 8 bytes of histograms.
 *  Returns as dh_eval_all(), and DH_E_BACKEND. Since: 1.2 */
DH_MPI_API dh_status dh_dist_eval(MPI_Comm comm, const dh_eval_options *opts,
                                  const uint8_t *query_codes, const void *query_labels,
                                  size_t n_queries, const uint8_t *db_codes,
                                  const void *db_labels, size_t n_db, const uint64_t *ns,
                                  size_t n_ns, double *out_map, double *out_ap,
                                  double *out_p_at_n, double *out_r_at_n,
                                  double *out_pr_precision, double *out_pr_recall,
                                  double *out_ball_precision, double *out_ball_recall,
                                  double *out_ball_empty);

/** Collective. Make `trainer` one process of a data-parallel run over `comm`
 *  (dh_trainer_set_parallel with MPI hooks: MPI_Allgatherv of the code rows U,
 *  MPI_Allreduce of flat gradient buckets, MPI_Bcast of the model from rank 0).
 *  Every process must create its trainer with the same model spec, loss, data and
 *  options (the global batch size is opts.batch_size). Only rank 0 writes
 *  checkpoints; give every process the same checkpoint path on a shared file system
 *  to resume (on any number of processes). Returns as dh_trainer_set_parallel(),
 *  and DH_E_BACKEND. Since: 1.2 */
DH_MPI_API dh_status dh_trainer_set_comm(dh_trainer *trainer, MPI_Comm comm);

/** The version of libdh_mpi, equal to dh_version() of the libdh it was built with.
 *  Since: 1.2 */
DH_MPI_API uint32_t dh_mpi_version(void);

#ifdef __cplusplus
}
#endif

#endif
