/* lib/loss/unsup_common.c -- what the unsupervised methods share: their flags (the
 * unsupervised bits of dh__loss_method.flags), the validated label-free
 * forward/backward, and the feature bank (N x D rows that SSDH, k-means pseudo-labels,
 * BiHalf and SGH read through the batch indices). */
#include <string.h>

#include "loss/unsup.h"

uint32_t dh__method_unsup_flags(const dh__loss_method *m)
{
    return m ? m->flags & DH__UNSUP_MASK : 0;
}

uint32_t dh__loss_unsup_flags(const dh_loss *L)
{
    return L && L->m ? dh__method_unsup_flags(L->m) : 0;
}

uint32_t dh__unsup_default_classes(const dh__loss_method *m)
{
    return m == &dh__loss_kmeans ? 10u : 1u;
}

dh__featbank *dh__unsup_bank(dh_loss *L)
{
    return (L && (dh__loss_unsup_flags(L) & DH__UNSUP_FEATS)) ? (dh__featbank *)L->priv : NULL;
}

dh_status dh__unsup_set_features(dh_loss *L, const float *F, size_t n, size_t d, int32_t user)
{
    DH_CHECK_ARG(L != NULL);
    dh__featbank *fb = dh__unsup_bank(L);
    if (!fb)
        return dh__set_error(DH_E_STATE, "dh_loss_set_features(%s): this method reads no "
                             "features", L->m->name);
    DH_CHECK_ARG_MSG(F != NULL && n > 0 && d > 0 && d <= (1u << 24),
                     "dh_loss_set_features(%s): need features [n > 0, 0 < d <= 2^24]",
                     L->m->name);
    if (n != L->N)
        return dh__set_error(DH_E_SHAPE, "dh_loss_set_features(%s): %zu rows but n_train = %zu",
                             L->m->name, n, L->N);
    if (fb->D && d != fb->D)
        return dh__set_error(DH_E_SHAPE, "dh_loss_set_features(%s): %zu columns, earlier "
                             "features had %zu", L->m->name, d, fb->D);
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(F[i]))
            return dh__set_error(DH_E_INVALID_ARG, "dh_loss_set_features(%s): feature [%zu][%zu] "
                                 "is %g (not finite)", L->m->name, i / d, i % d, (double)F[i]);
    if (!fb->F) {
        size_t bytes;
        if (!dh__mul_ok(n, d * sizeof(float), &bytes)) return DH_E_NO_MEMORY;
        if (!(fb->F = dh__alloc(bytes))) return DH_E_NO_MEMORY;
    }
    memcpy(fb->F, F, n * d * sizeof(float));
    fb->N = n, fb->D = d;
    fb->user = user ? 1 : fb->user;
    dh_status st = fb->refit ? fb->refit(L) : DH_OK;
    if (st == DH_OK) fb->fits++;
    return st;
}

dh_status dh__unsup_forward_backward(dh_loss *L, const float *U, size_t B,
                                     const int64_t *indices, float *dU, double *value)
{
    const size_t K = L->K;
    const char *m = L->m->name;
    for (size_t i = 0; i < B * K; i++)
        if (!isfinite(U[i]))
            return dh__set_error(DH_E_INVALID_ARG, "dh_loss_forward_backward(%s): U[%zu][%zu] "
                                 "is not finite", m, i / K, i % K);
    if (dh__method_unsup_flags(L->m) & DH__UNSUP_SHALLOW)
        return dh__set_error(DH_E_STATE, "dh_loss_forward_backward(%s): a shallow baseline is "
                             "fitted in closed form (dh_trainer_run fits the head), it has no "
                             "gradient", m);
    if ((dh__method_unsup_flags(L->m) & DH__UNSUP_VIEWS) && (B % 2 || B < 4))
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_forward_backward(%s): %zu rows; a "
                             "contrastive method needs two views of at least 2 images (rows "
                             "[0, B/2) and [B/2, B), B even >= 4): batch size 1 has no negatives",
                             m, B);
    if (dh__method_unsup_flags(L->m) & DH__UNSUP_FEATS) {
        dh__featbank *fb = dh__unsup_bank(L);
        if (!fb->F)
            return dh__set_error(DH_E_STATE, "dh_loss_forward_backward(%s): no features yet "
                                 "(dh_loss_set_features, or train with dh_trainer)", m);
        if (!indices)
            return dh__set_error(DH_E_INVALID_ARG, "dh_loss_forward_backward(%s): indices are "
                                 "required (rows of the feature bank)", m);
    }
    if (indices && L->N)
        for (size_t i = 0; i < B; i++)
            if (indices[i] < 0 || (uint64_t)indices[i] >= (uint64_t)L->N)
                return dh__set_error(DH_E_INVALID_ARG, "dh_loss_forward_backward(%s): "
                                     "indices[%zu] = %lld not in [0, n_train = %zu)", m, i,
                                     (long long)indices[i], L->N);
    dh__loss_batch b = {U, B, NULL, NULL, L->N ? indices : NULL, dU};
    for (size_t i = 0; i < L->n_params; i++) memset(L->t[i].grad, 0, L->t[i].n * sizeof(float));
    double v = 0;
    dh_status st = L->m->fb(L, &b, &v);
    if (st == DH_OK && !isfinite(v))
        st = dh__set_error(DH_E_INTERNAL, "dh_loss_forward_backward(%s): value is not finite", m);
    if (st == DH_OK && !L->frozen) L->iter++;
    if (st == DH_OK && value) *value = v;
    return st;
}

dh_status dh_loss_set_features(dh_loss *loss, const float *features, size_t n, size_t dim)
{
    return dh__unsup_set_features(loss, features, n, dim, 1);
}
