/* src/cli_mpi.h -- the dh tool under mpirun (src/cli_mpi.c, built with DH_WITH_MPI).
 * Without MPI every function is a stub: dh_cli_mpi_active() is 0 and the tool runs
 * as one process. Under mpirun (OMPI_COMM_WORLD_SIZE / PMI_SIZE in the environment)
 * the tool initialises MPI itself (libdh_mpi never does), rank r opens shard r, and
 * only rank 0 writes to stdout, so the output is that of the single-process command. */
#ifndef DH_CLI_MPI_H
#define DH_CLI_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "dh.h"

#ifdef DH_CLI_MPI
/** 1 when running under mpirun (MPI initialised on the first call; finalised at exit;
 *  stdout of ranks other than 0 goes to /dev/null). */
int dh_cli_mpi_active(void);
int dh_cli_mpi_rank(void);
/** Collective: the largest exit code of all ranks (0 when every rank succeeded). */
int dh_cli_mpi_agree(int rc);
/** Collective: sum of a count over ranks. */
uint64_t dh_cli_mpi_sum(uint64_t n);
/** A libdh_mpi failure (the same on every rank): printed by rank 0 only. */
int dh_cli_mpi_fail(const char *cmd, dh_status st);
/** `pattern` with "%d" replaced by the rank (into buf), or NULL if it holds no "%d". */
const char *dh_cli_mpi_path(const char *pattern, char *buf, size_t cap);
/** Collective: open the shard (dh_dist_shard_open). */
dh_status dh_cli_mpi_open(const char *path, void **shard, uint32_t *n_bits);
void dh_cli_mpi_close(void *shard);
/** Collective searches with results on rank 0 (other ranks get empty results). */
dh_status dh_cli_mpi_search(void *shard, const uint8_t *q, size_t nq, uint32_t k, int32_t *D,
                            int64_t *I);
dh_status dh_cli_mpi_range(void *shard, const uint8_t *q, size_t nq, uint32_t radius,
                           dh_range_result **out);
/** Collective dh_dist_eval with dh_eval_all's arguments (n_db: this rank's part). */
dh_status dh_cli_mpi_eval(const dh_eval_options *o, const uint8_t *qc, const void *ql,
                          size_t nq, const uint8_t *dc, const void *dl, size_t n_db,
                          const uint64_t *ns, size_t n_ns, double *map, double *ap, double *p,
                          double *r, double *prp, double *prr, double *bp, double *br,
                          double *be);
/** Collective dh_trainer_set_comm on MPI_COMM_WORLD. */
dh_status dh_cli_mpi_trainer(dh_trainer *t);
#else
static inline int dh_cli_mpi_active(void) { return 0; }
static inline int dh_cli_mpi_rank(void) { return 0; }
static inline int dh_cli_mpi_agree(int rc) { return rc; }
static inline uint64_t dh_cli_mpi_sum(uint64_t n) { return n; }
static inline int dh_cli_mpi_fail(const char *cmd, dh_status st)
{
    (void)cmd;
    return st ? 1 : 0;
}
static inline const char *dh_cli_mpi_path(const char *p, char *b, size_t c)
{
    (void)p, (void)b, (void)c;
    return NULL;
}
static inline dh_status dh_cli_mpi_open(const char *p, void **s, uint32_t *n)
{
    (void)p, (void)s, (void)n;
    return DH_E_UNSUPPORTED;
}
static inline void dh_cli_mpi_close(void *s) { (void)s; }
static inline dh_status dh_cli_mpi_search(void *s, const uint8_t *q, size_t nq, uint32_t k,
                                          int32_t *D, int64_t *I)
{
    (void)s, (void)q, (void)nq, (void)k, (void)D, (void)I;
    return DH_E_UNSUPPORTED;
}
static inline dh_status dh_cli_mpi_range(void *s, const uint8_t *q, size_t nq, uint32_t r,
                                         dh_range_result **out)
{
    (void)s, (void)q, (void)nq, (void)r, (void)out;
    return DH_E_UNSUPPORTED;
}
static inline dh_status dh_cli_mpi_eval(const dh_eval_options *o, const uint8_t *qc,
                                        const void *ql, size_t nq, const uint8_t *dc,
                                        const void *dl, size_t n_db, const uint64_t *ns,
                                        size_t n_ns, double *map, double *ap, double *p,
                                        double *r, double *prp, double *prr, double *bp,
                                        double *br, double *be)
{
    return dh_eval_all(o, qc, ql, nq, dc, dl, n_db, ns, n_ns, map, ap, p, r, prp, prr, bp, br,
                       be);
}
static inline dh_status dh_cli_mpi_trainer(dh_trainer *t)
{
    (void)t;
    return DH_OK;
}
#endif

#endif
