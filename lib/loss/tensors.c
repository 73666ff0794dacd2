/* lib/loss/tensors.c -- the loss's tensor registry: parameters (with gradients) first,
 * then state (centers, codes, banks), added by each method's create; the internal
 * accessors the methods and the trainer use and the public dh_loss_*tensor* functions.
 * Methods call only this file and common.c, never loss.c (the method table). */
#include "loss/loss.h"

#include <stdio.h>
#include <string.h>

dh_status dh__loss_add_tensor(dh_loss *L, const char *name, int32_t is_buffer, int32_t ndim,
                              int64_t d0, int64_t d1, float **data)
{
    if (L->n_tensors >= DH__LOSS_MAX_TENSORS)
        return dh__set_error(DH_E_INTERNAL, "loss: too many tensors");
    /* parameters come first: a parameter added after a state tensor is a bug */
    if (!is_buffer && L->n_params != L->n_tensors)
        return dh__set_error(DH_E_INTERNAL, "loss: parameter '%s' after state", name);
    size_t n;
    if (!dh__mul_ok((size_t)d0, (size_t)(ndim > 1 ? d1 : 1), &n) || n > ((size_t)1 << 34))
        return dh__set_error(DH_E_NO_MEMORY, "loss: tensor '%s' too large", name);
    dh__param *p = &L->t[L->n_tensors];
    memset(p, 0, sizeof *p);
    p->name = dh__strdup(name);
    p->data = dh__alloc_aligned((n ? n : 1) * sizeof(float), 64);
    if (!is_buffer) p->grad = dh__alloc_aligned((n ? n : 1) * sizeof(float), 64);
    L->n_tensors++;
    if (!p->name || !p->data || (!is_buffer && !p->grad)) return DH_E_NO_MEMORY;
    memset(p->data, 0, n * sizeof(float));
    if (p->grad) memset(p->grad, 0, n * sizeof(float));
    p->n = n;
    p->ndim = ndim;
    p->is_buffer = is_buffer;
    p->shape[0] = d0;
    if (ndim > 1) p->shape[1] = d1;
    p->no_decay = (ndim == 1);
    if (!is_buffer) L->n_params++;
    if (data) *data = p->data;
    return DH_OK;
}

dh__param *dh__loss_find(dh_loss *L, const char *name)
{
    for (size_t i = 0; i < L->n_tensors; i++)
        if (strcmp(L->t[i].name, name) == 0) return &L->t[i];
    return NULL;
}

size_t dh__loss_params(dh_loss *L, dh__param **out)
{
    if (out) *out = L->t;
    return L->n_params;
}

size_t dh__loss_state(dh_loss *L, dh__param **out)
{
    if (out) *out = L->t + L->n_params;
    return L->n_tensors - L->n_params;
}

void dh__loss_set_frozen(dh_loss *L, int32_t frozen) { L->frozen = frozen; }

size_t dh_loss_param_count(const dh_loss *L) { return L ? L->n_params : 0; }
size_t dh_loss_state_count(const dh_loss *L) { return L ? L->n_tensors - L->n_params : 0; }

const char *dh_loss_param_name(const dh_loss *L, size_t i)
{
    return L && i < L->n_params ? L->t[i].name : NULL;
}

const char *dh_loss_state_name(const dh_loss *L, size_t i)
{
    return L && i < L->n_tensors - L->n_params ? L->t[L->n_params + i].name : NULL;
}

static dh_status lookup(const dh_loss *L, const char *name, dh__param **p)
{
    DH_CHECK_ARG(L != NULL && name != NULL);
    *p = dh__loss_find((dh_loss *)L, name);
    if (!*p) {
        char list[200];
        size_t off = 0;
        for (size_t i = 0; i < L->n_tensors && off < sizeof list; i++)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                    L->t[i].name);
        return dh__set_error(DH_E_NOT_FOUND, "loss '%s' has no tensor '%.40s' (has: %s)",
                             L->m->name, name, L->n_tensors ? list : "none");
    }
    return DH_OK;
}

dh_status dh_loss_tensor_shape(const dh_loss *L, const char *name, int64_t shape[4],
                               int32_t *ndim)
{
    dh__param *p;
    DH_TRY(lookup(L, name, &p));
    if (shape) memcpy(shape, p->shape, sizeof p->shape);
    if (ndim) *ndim = p->ndim;
    return DH_OK;
}

dh_status dh_loss_get_tensor(const dh_loss *L, const char *name, float *out, size_t n)
{
    dh__param *p;
    DH_TRY(lookup(L, name, &p));
    DH_CHECK_ARG(out != NULL);
    if (n != p->n)
        return dh__set_error(DH_E_SHAPE, "loss tensor '%s' has %zu elements, buffer %zu", name,
                             p->n, n);
    memcpy(out, p->data, n * sizeof(float));
    return DH_OK;
}

dh_status dh_loss_set_tensor(dh_loss *L, const char *name, const float *data, size_t n)
{
    dh__param *p;
    DH_TRY(lookup(L, name, &p));
    DH_CHECK_ARG(data != NULL);
    if (n != p->n)
        return dh__set_error(DH_E_SHAPE, "loss tensor '%s' has %zu elements, data %zu", name,
                             p->n, n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(data[i]))
            return dh__set_error(DH_E_INVALID_ARG, "loss tensor '%s': element %zu is not finite",
                                 name, i);
    memcpy(p->data, data, n * sizeof(float));
    return DH_OK;
}
