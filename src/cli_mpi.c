/* src/cli_mpi.c -- the dh tool under mpirun: MPI start-up, rank-0 output, and thin
 * wrappers over libdh_mpi (include/dh_mpi.h) for `dh index search`, `dh eval` and
 * `dh train`. Built only with DH_WITH_MPI (see cli_mpi.h). */
#include "cli_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dh_mpi.h"

static int g_state = -1; /* -1 unknown, 0 single process, 1 under mpirun */
static int g_rank;

static void finalize(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
}

int dh_cli_mpi_active(void)
{
    if (g_state >= 0) return g_state;
    /* launched by mpirun (not a singleton: a parent process that called MPI_Init on its
     * own, e.g. a Python test that imported mpi4py, leaves PMIX_* variables to its
     * children, which must then run as plain single processes) */
    const char *ess = getenv("OMPI_MCA_ess");
    int singleton = ess && !strcmp(ess, "singleton"); /* mpirun sets "^singleton" */
    g_state = !singleton &&
              (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK"));
    if (!g_state) return 0;
    int init = 0;
    MPI_Initialized(&init);
    if (!init && MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        fprintf(stderr, "dh: MPI_Init failed; running as one process\n");
        return g_state = 0;
    }
    atexit(finalize);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    if (g_rank != 0 && !freopen("/dev/null", "w", stdout))
        fprintf(stderr, "dh: rank %d cannot silence its stdout\n", g_rank);
    return 1;
}

int dh_cli_mpi_rank(void) { return dh_cli_mpi_active() ? g_rank : 0; }

int dh_cli_mpi_agree(int rc)
{
    int all = rc;
    if (dh_cli_mpi_active()) MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return all;
}

uint64_t dh_cli_mpi_sum(uint64_t n)
{
    uint64_t all = n;
    if (dh_cli_mpi_active()) MPI_Allreduce(&n, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    return all;
}

int dh_cli_mpi_fail(const char *cmd, dh_status st)
{
    if (dh_cli_mpi_rank() == 0) return dh_cli_fail(cmd, st);
    return st == DH_E_NOT_FOUND || st == DH_E_IO ? DH_EXIT_IO : DH_EXIT_FAIL;
}

const char *dh_cli_mpi_path(const char *pattern, char *buf, size_t cap)
{
    const char *p = strstr(pattern, "%d");
    if (!p || strchr(p + 2, '%')) return NULL;
    int n = snprintf(buf, cap, "%.*s%d%s", (int)(p - pattern), pattern, dh_cli_mpi_rank(), p + 2);
    return n > 0 && (size_t)n < cap ? buf : NULL;
}

dh_status dh_cli_mpi_open(const char *path, void **shard, uint32_t *n_bits)
{
    dh_dist_shard *s = NULL;
    dh_status st = dh_dist_shard_open(MPI_COMM_WORLD, path, &s);
    *shard = s;
    *n_bits = st == DH_OK ? dh_dist_shard_n_bits(s) : 0;
    return st;
}

void dh_cli_mpi_close(void *shard) { dh_dist_shard_free(shard); }

dh_status dh_cli_mpi_search(void *shard, const uint8_t *q, size_t nq, uint32_t k, int32_t *D,
                            int64_t *I)
{
    dh_status st = dh_dist_search(shard, q, nq, k, 0, D, I);
    if (st == DH_OK && g_rank != 0) /* nothing to print elsewhere */
        for (size_t i = 0; i < nq * k; i++) I[i] = -1;
    return st;
}

dh_status dh_cli_mpi_range(void *shard, const uint8_t *q, size_t nq, uint32_t radius,
                           dh_range_result **out)
{
    dh_status st = dh_dist_range_search(shard, q, nq, radius, 0, out);
    if (st != DH_OK || g_rank == 0) return st;
    size_t *lims = calloc(nq + 1, sizeof *lims); /* empty results off rank 0 */
    if (!lims) return DH_E_NO_MEMORY;
    st = dh_range_result_create(nq, lims, NULL, NULL, out);
    free(lims);
    return st;
}

dh_status dh_cli_mpi_eval(const dh_eval_options *o, const uint8_t *qc, const void *ql,
                          size_t nq, const uint8_t *dc, const void *dl, size_t n_db,
                          const uint64_t *ns, size_t n_ns, double *map, double *ap, double *p,
                          double *r, double *prp, double *prr, double *bp, double *br,
                          double *be)
{
    return dh_dist_eval(MPI_COMM_WORLD, o, qc, ql, nq, dc, dl, n_db, ns, n_ns, map, ap, p, r,
                        prp, prr, bp, br, be);
}

dh_status dh_cli_mpi_trainer(dh_trainer *t) { return dh_trainer_set_comm(t, MPI_COMM_WORLD); }
