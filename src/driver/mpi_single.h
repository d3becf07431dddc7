/* The part of MPI the driver uses, for one process: a gradsweep built
 * --without-mpi runs every sweep as the one-rank sweep it runs as an MPI
 * singleton (the coordinator and its compute thread), with the same
 * database and the same rows. With one rank no message ever travels:
 * collectives copy or do nothing, and a receive has nothing to find.
 * Included by driver/internal.h instead of <mpi.h> when HAVE_MPI is not
 * defined. */
#ifndef GS_DRIVER_MPI_SINGLE_H
#define GS_DRIVER_MPI_SINGLE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int MPI_Comm;
typedef int MPI_Request;
typedef int MPI_Datatype;
typedef int MPI_Op;
typedef int MPI_Info;
typedef int MPI_Errhandler;
typedef struct {
    int MPI_SOURCE, MPI_TAG, MPI_ERROR;
} MPI_Status;

#define MPI_SUCCESS 0
#define MPI_COMM_WORLD 0
#define MPI_COMM_TYPE_SHARED 0
#define MPI_INFO_NULL 0
#define MPI_ERRORS_RETURN 0
#define MPI_THREAD_FUNNELED 1
#define MPI_ANY_SOURCE (-1)
#define MPI_MAX 0
#define MPI_MAX_ERROR_STRING 64
#define MPI_STATUS_IGNORE ((MPI_Status *)0)
#define MPI_IN_PLACE ((void *)1)
/* a datatype is its size in bytes */
#define MPI_BYTE 1
#define MPI_CHAR 1
#define MPI_INT ((int)sizeof(int))
#define MPI_LONG_LONG ((int)sizeof(long long))
#define MPI_INT64_T 8

static inline int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    (void)argc, (void)argv;
    *provided = required;
    return MPI_SUCCESS;
}
static inline int MPI_Finalize(void) { return MPI_SUCCESS; }
static inline int MPI_Abort(MPI_Comm comm, int code)
{
    (void)comm;
    exit(code);
}
static inline int MPI_Comm_rank(MPI_Comm comm, int *rank)
{
    (void)comm;
    *rank = 0;
    return MPI_SUCCESS;
}
static inline int MPI_Comm_size(MPI_Comm comm, int *size)
{
    (void)comm;
    *size = 1;
    return MPI_SUCCESS;
}
static inline int MPI_Comm_split_type(MPI_Comm comm, int type, int key, MPI_Info info,
                                      MPI_Comm *out)
{
    (void)comm, (void)type, (void)key, (void)info;
    *out = 0;
    return MPI_SUCCESS;
}
static inline int MPI_Comm_set_errhandler(MPI_Comm comm, MPI_Errhandler h)
{
    (void)comm;
    (void)h;
    return MPI_SUCCESS;
}
static inline int MPI_Comm_free(MPI_Comm *comm)
{
    (void)comm;
    return MPI_SUCCESS;
}
static inline int MPI_Error_string(int code, char *s, int *len)
{
    *len = snprintf(s, MPI_MAX_ERROR_STRING, "error %d", code);
    return MPI_SUCCESS;
}
static inline int MPI_Bcast(void *buf, int n, MPI_Datatype t, int root, MPI_Comm comm)
{
    (void)buf, (void)n, (void)t, (void)root, (void)comm;   /* the root has it */
    return MPI_SUCCESS;
}
static inline int MPI_Allreduce(const void *in, void *out, int n, MPI_Datatype t, MPI_Op op,
                                MPI_Comm comm)
{
    (void)op, (void)comm;
    if (in != MPI_IN_PLACE)
        memcpy(out, in, (size_t)n * (size_t)t);
    return MPI_SUCCESS;
}
static inline int MPI_Gather(const void *in, int n, MPI_Datatype t, void *out, int m,
                             MPI_Datatype u, int root, MPI_Comm comm)
{
    (void)m, (void)u, (void)root, (void)comm;
    memcpy(out, in, (size_t)n * (size_t)t);
    return MPI_SUCCESS;
}
/* one rank: nothing is ever sent or received */
static inline int MPI_Iprobe(int src, int tag, MPI_Comm comm, int *flag, MPI_Status *st)
{
    (void)src, (void)tag, (void)comm, (void)st;
    *flag = 0;
    return MPI_SUCCESS;
}
static inline int MPI_Send(const void *buf, int n, MPI_Datatype t, int dst, int tag, MPI_Comm comm)
{
    (void)buf, (void)n, (void)t, (void)dst, (void)tag, (void)comm;
    fprintf(stderr, "gradsweep: built without MPI, yet a message was sent\n");
    abort();
}
static inline int MPI_Recv(void *buf, int n, MPI_Datatype t, int src, int tag, MPI_Comm comm,
                           MPI_Status *st)
{
    (void)buf, (void)n, (void)t, (void)src, (void)tag, (void)comm, (void)st;
    fprintf(stderr, "gradsweep: built without MPI, yet a message was received\n");
    abort();
}
static inline int MPI_Isend(const void *buf, int n, MPI_Datatype t, int dst, int tag,
                            MPI_Comm comm, MPI_Request *req)
{
    (void)req;
    return MPI_Send(buf, n, t, dst, tag, comm);
}
static inline int MPI_Test(MPI_Request *req, int *flag, MPI_Status *st)
{
    (void)req, (void)st;
    *flag = 1;
    return MPI_SUCCESS;
}
static inline int MPI_Wait(MPI_Request *req, MPI_Status *st)
{
    (void)req, (void)st;
    return MPI_SUCCESS;
}
static inline int MPI_Get_count(const MPI_Status *st, MPI_Datatype t, int *count)
{
    (void)st, (void)t;
    *count = 0;
    return MPI_SUCCESS;
}

#endif
