/* lib/model/meta.c -- a model's optional LTHNet meta-embedding (lib/model/meta_embed.c):
 * attaching it, the forward hook between features and head, the class-centroid
 * memory refresh over a data set, and re-attaching it when a model file holds one.
 * The memory is a model buffer ("meta.memory"), so it is saved, checkpointed and
 * snapshotted with the weights. */
#include "model/model.h"

#include <string.h>

dh_status dh__model_meta_forward(dh_model *m, const float *f, size_t n, int32_t training,
                                 const float **hin)
{
    if (!m->meta) {
        *hin = f;
        return DH_OK;
    }
    return dh__meta_forward(m->meta, f, n, training, hin);
}

static dh_status attach(dh_model *m, uint32_t n_classes)
{
    DH_TRY(dh__meta_create(n_classes, (uint32_t)m->D, m->o.seed + 2, &m->meta));
    dh_status st = dh__model_collect_params(m);
    if (st != DH_OK) {
        dh__meta_free(m->meta);
        m->meta = NULL;
        (void)dh__model_collect_params(m);
    }
    return st;
}

dh_status dh_model_add_meta_embedding(dh_model *m, uint32_t n_classes)
{
    DH_CHECK_ARG(m != NULL);
    if (m->meta)
        return dh__set_error(DH_E_STATE, "dh_model_add_meta_embedding: the model already has a "
                                         "meta-embedding (%u classes)",
                             dh__meta_classes(m->meta));
    DH_CHECK_ARG_MSG(n_classes >= 1 && n_classes <= 65536, "dh_model_add_meta_embedding: "
                     "n_classes %u is outside 1..65536", n_classes);
    DH_CHECK_ARG_MSG(m->D <= 16384, "dh_model_add_meta_embedding: feature dimension %zu is "
                     "above 16384 (the concept selector is D x D)", m->D);
    return attach(m, n_classes);
}

uint32_t dh_model_meta_classes(const dh_model *m) { return m ? dh__meta_classes(m->meta) : 0; }

dh_status dh_model_get_class_memory(const dh_model *m, float *out, size_t n, uint32_t *out_dim)
{
    DH_CHECK_ARG(m != NULL);
    if (!m->meta)
        return dh__set_error(DH_E_STATE, "dh_model_get_class_memory: the model has no "
                                         "meta-embedding");
    const size_t C = dh__meta_classes(m->meta), D = dh__meta_dim(m->meta);
    if (out_dim) *out_dim = (uint32_t)D;
    if (!out && n == 0) return DH_OK;
    DH_CHECK_ARG(out != NULL);
    if (n != C * D)
        return dh__set_error(DH_E_SHAPE, "dh_model_get_class_memory: n = %zu but the memory is "
                             "%zu x %zu", n, C, D);
    dh__param *p;
    dh__meta_params(m->meta, &p);
    memcpy(out, p[4].data, n * sizeof(float));
    return DH_OK;
}

dh_status dh_model_update_class_memory(dh_model *m, const dh_dataset *ds)
{
    DH_CHECK_ARG(m != NULL && ds != NULL);
    if (!m->meta)
        return dh__set_error(DH_E_STATE, "dh_model_update_class_memory: the model has no "
                                         "meta-embedding (dh_model_add_meta_embedding)");
    const size_t C = dh__meta_classes(m->meta), n = dh_dataset_count(ds);
    if (dh_dataset_n_classes(ds) != C)
        return dh__set_error(DH_E_SHAPE, "dh_model_update_class_memory: the dataset has %u "
                             "classes, the meta-embedding %zu", dh_dataset_n_classes(ds), C);
    DH_CHECK_ARG_MSG(n > 0, "dh_model_update_class_memory: the dataset is empty");
    float *Y = dh__calloc(n, C * sizeof(float));
    uint8_t *codes = dh__calloc(n, dh_code_bytes((uint32_t)m->K));
    dh_status st = Y && codes ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK) st = dh_dataset_get_labels(ds, 0, n, Y);
    if (st == DH_OK) {
        /* every inference forward of the pass accumulates its rows against Y, in order */
        dh__meta_memory_begin(m->meta, Y, n);
        st = dh_model_encode_dataset(m, ds, codes, NULL);
        if (st != DH_OK) {
            dh__meta_memory_begin(m->meta, NULL, 0); /* cancel: the memory stays as it was */
        } else {
            size_t seen = 0;
            (void)dh__meta_memory_commit(m->meta, &seen);
            if (seen != n)
                st = dh__set_error(DH_E_INTERNAL, "dh_model_update_class_memory: the pass "
                                   "delivered %zu of %zu rows", seen, n);
        }
    }
    dh__free(Y);
    dh__free(codes);
    return st;
}

dh_status dh__model_meta_from_file(dh_model *m, const dh__safetensors *st)
{
    const dh__st_tensor *t = dh__safetensors_find(st, "meta.memory");
    if (!t) return DH_OK;
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[0] > 65536 || t->shape[1] != (int64_t)m->D)
        return dh__set_error(DH_E_SHAPE, "model file: tensor 'meta.memory' has shape [%lld, "
                             "%lld]; a meta-embedding needs [n_classes (1..65536), %zu]",
                             (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0),
                             m->D);
    if (m->meta) return DH_OK;
    return attach(m, (uint32_t)t->shape[0]);
}
