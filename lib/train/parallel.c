/* lib/train/parallel.c -- data-parallel training through caller hooks (dh.h,
 * dh_train_parallel; libdh_mpi fills them from an MPI communicator).
 *
 * One step on process r of P with a global batch of n rows (every process loaded the
 * same batch): forward rows [a, b) = [r n / P, (r+1) n / P) into U[a:b], gather U,
 * evaluate the loss on all n rows (identically everywhere: same inputs, same code),
 * backpropagate dU[a:b], and sum the encoder/head gradients over processes. The
 * per-slice backward gives this slice's share of dL/dtheta, so the sum is the
 * gradient of the whole batch (no 1/P: the loss is already the global batch's).
 * Loss parameters get identical gradients on every process from the full-batch loss
 * and are left alone. */
#include <string.h>

#include "model/model.h"
#include "loss/loss.h"
#include "train/train_impl.h"

#define BUCKET_FLOATS ((size_t)1 << 22) /* 16 MiB of gradients per reduction */

void dh_train_parallel_init(dh_train_parallel *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->size = 1;
}

void dh__trainer_parallel_drop(dh_trainer *t)
{
    if (t->par.size > 1 && t->par.release) t->par.release(t->par.user);
    dh__free(t->par_counts);
    dh__free(t->par_bucket);
    t->par_counts = NULL;
    t->par_bucket = NULL;
    dh_train_parallel_init(&t->par);
}

/* The tensors a pass covers: with `grads`, the gradients of trainable tensors; else
 * every tensor's data (weights and BatchNorm running statistics). */
static float *pass_ptr(const dh__model_param *p, int grads)
{
    return grads ? (p->p.is_buffer ? NULL : p->p.grad) : p->p.data;
}

/* Copy the bucket back over the tensors from (i0, off0) on. */
static void unpack(dh__model_param *p, int grads, size_t i0, size_t off0, const float *bk,
                   size_t fill)
{
    size_t got = 0;
    for (size_t j = i0, o = off0; got < fill; j++, o = 0) {
        float *dst = pass_ptr(&p[j], grads);
        if (!dst) continue;
        size_t m = p[j].p.n - o < fill - got ? p[j].p.n - o : fill - got;
        memcpy(dst + o, bk + got, m * sizeof *bk);
        got += m;
    }
}

/* Apply `fn` (broadcast or allreduce) to the tensors of a pass, packed into flat
 * buckets of BUCKET_FLOATS (one collective per bucket, not per tensor). */
static dh_status over_tensors(dh_trainer *t, int grads,
                              dh_status (*fn)(void *, float *, size_t))
{
    dh__model_param *p;
    size_t np = dh__model_params(t->model, &p), fill = 0, i0 = 0, off0 = 0;
    float *bk = t->par_bucket;
    for (size_t i = 0; i < np; i++) {
        const float *src = pass_ptr(&p[i], grads);
        for (size_t off = 0; src && off < p[i].p.n;) {
            if (fill == 0) i0 = i, off0 = off;
            size_t take = p[i].p.n - off;
            if (take > BUCKET_FLOATS - fill) take = BUCKET_FLOATS - fill;
            memcpy(bk + fill, src + off, take * sizeof *bk);
            fill += take;
            off += take;
            if (fill < BUCKET_FLOATS) continue;
            DH_TRY(fn(t->par.user, bk, fill));
            unpack(p, grads, i0, off0, bk, fill);
            fill = 0;
        }
    }
    if (fill) {
        DH_TRY(fn(t->par.user, bk, fill));
        unpack(p, grads, i0, off0, bk, fill);
    }
    if (!grads) dh__model_params_changed(t->model);
    return DH_OK;
}

dh_status dh_trainer_set_parallel(dh_trainer *t, const dh_train_parallel *p)
{
    DH_CHECK_ARG(t != NULL);
    dh__trainer_parallel_drop(t);
    if (!p || p->size <= 1) return DH_OK;
    DH_CHECK_ARG_MSG(p->struct_size >= sizeof *p, "dh_trainer_set_parallel: struct_size %zu; "
                     "fill p with dh_train_parallel_init", p->struct_size);
    DH_CHECK_ARG_MSG(p->rank < p->size, "dh_trainer_set_parallel: rank %u >= size %u", p->rank,
                     p->size);
    DH_CHECK_ARG_MSG(p->allgather && p->allreduce_sum && p->broadcast,
                     "dh_trainer_set_parallel: allgather, allreduce_sum and broadcast are "
                     "required");
    if (t->teacher)
        return dh__set_error(DH_E_UNSUPPORTED, "dh_trainer_set_parallel: distillation "
                             "(incremental sessions) is not data-parallel");
    t->par_counts = dh__calloc(p->size, sizeof *t->par_counts);
    t->par_bucket = dh__alloc(BUCKET_FLOATS * sizeof *t->par_bucket);
    if (!t->par_counts || !t->par_bucket) {
        dh__trainer_parallel_drop(t);
        return DH_E_NO_MEMORY;
    }
    t->par = *p;
    t->par.struct_size = sizeof t->par;
    dh_status st = over_tensors(t, 0, t->par.broadcast); /* one starting point */
    if (st != DH_OK) {
        t->par.release = NULL; /* the caller still owns user after a failure */
        dh__trainer_parallel_drop(t);
    }
    return st;
}

dh_status dh__trainer_parallel_step(dh_trainer *t, size_t n, double *value)
{
    const uint32_t P = t->par.size, r = t->par.rank;
    const size_t K = t->loss->K, sf = dh_loader_sample_floats(t->loader);
    for (uint32_t q = 0; q < P; q++)
        t->par_counts[q] = n * (q + 1) / P - n * q / P;
    const size_t a = n * r / P, m = t->par_counts[r];
    dh__model_zero_grad(t->model);
    if (m > 0) DH_TRY(dh__model_forward_train(t->model, t->x + a * sf, m, t->U + a * K));
    DH_TRY(t->par.allgather(t->par.user, t->U, t->par_counts, K));
    int single = t->cls[0] >= 0;
    for (size_t i = 0; i < n && single; i++) single = t->cls[i] >= 0;
    DH_TRY(dh_loss_forward_backward(t->loss, t->U, n, t->y, single ? t->cls : NULL, t->idx,
                                    t->dU, value));
    if (m > 0) DH_TRY(dh__model_backward_ex(t->model, t->dU + a * K, NULL, m));
    return over_tensors(t, 1, t->par.allreduce_sum);
}

dh_status dh__trainer_parallel_sync(dh_trainer *t)
{
    return t->par.size > 1 ? over_tensors(t, 0, t->par.broadcast) : DH_OK;
}
