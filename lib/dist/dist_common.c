/* lib/dist/dist_common.c -- error agreement between processes, communicator
 * duplication, and the version. */
#include "dist.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_LEN 1024

dh_status dh__dist_error(dh_status st, const char *fmt, ...)
{
    char buf[MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return dh_set_error(st, buf);
}

dh_status dh__dist_mpi_error(int rc, const char *call)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", rc);
    return dh__dist_error(DH_E_BACKEND, "libdh_mpi: %s failed: %s", call, msg);
}

dh_status dh__dist_agree(MPI_Comm comm, dh_status st)
{
    int rank = 0;
    DH__MPI(MPI_Comm_rank(comm, &rank));
    struct { int st, rank; } mine = {st < 0 ? (int)st : 0, rank}, worst;
    DH__MPI(MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MINLOC, comm));
    if (worst.st == 0) return DH_OK;
    char msg[MSG_LEN];
    snprintf(msg, sizeof msg, "%s", rank == worst.rank ? dh_last_error() : "");
    DH__MPI(MPI_Bcast(msg, MSG_LEN, MPI_CHAR, worst.rank, comm));
    msg[MSG_LEN - 1] = '\0';
    if (strncmp(msg, "rank ", 5) == 0) return dh_set_error((dh_status)worst.st, msg);
    return dh__dist_error((dh_status)worst.st, "rank %d: %s", worst.rank, msg);
}

dh_status dh__dist_dup(MPI_Comm comm, MPI_Comm *out)
{
    *out = MPI_COMM_NULL;
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin)
        return dh__dist_error(DH_E_STATE, "libdh_mpi: MPI is not initialised (call MPI_Init "
                              "first; libdh_mpi never does)");
    if (comm == MPI_COMM_NULL)
        return dh__dist_error(DH_E_INVALID_ARG, "libdh_mpi: the communicator is MPI_COMM_NULL");
    DH__MPI(MPI_Comm_dup(comm, out));
    DH__MPI(MPI_Comm_set_errhandler(*out, MPI_ERRORS_RETURN));
    return DH_OK;
}

uint32_t dh_mpi_version(void) { return dh_version(); }
