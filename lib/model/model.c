/* lib/model/model.c -- dh_model: creation from options (encoder + head), accessors,
 * the combined parameter list with group tags, and the training interface of
 * model.h (forward_train / backward / zero_grad) used by the trainer. */
#include "model/model.h"

#include "model/fmap_pool.h"

#include "nn/optim.h"

#include <math.h>
#include <string.h>

void dh_model_options_init(dh_model_options *o)
{
    if (!o) return;
    *o = (dh_model_options){0};
    o->struct_size = sizeof *o;
    o->encoder = "smallcnn";
    o->n_bits = 64;
    o->head = DH_HEAD_TANH;
    o->batch_size = 64;
    for (int c = 0; c < 4; c++) o->mean[c] = 0.0f, o->std[c] = 1.0f;
    o->seed = 0x5eed;
    o->head_beta = 1.0;
    o->head_init_std = 0.01;
    o->head_bias = 1;
    o->dropout = 0.5f;
    o->bn_momentum = 0.1f;
    o->bn_eps = 1e-5f;
    o->fmap_aux_weight = 1.0f;
}

static dh_status validate(const dh_model_options *o)
{
    DH_CHECK_ARG_MSG(o->encoder != NULL && o->encoder[0] != '\0',
                     "dh_model_options: encoder spec is NULL or empty");
    DH_TRY(dh__check_bits(o->n_bits, "dh_model_create")); /* before any encoder is built */
    DH_CHECK_ARG_MSG(o->batch_size >= 1 && o->batch_size <= 65536,
                     "dh_model_options: batch_size %u is outside 1..65536", o->batch_size);
    for (int c = 0; c < 4; c++) {
        DH_CHECK_ARG_MSG(isfinite(o->mean[c]), "dh_model_options: mean[%d] is not finite", c);
        DH_CHECK_ARG_MSG(isfinite(o->std[c]) && o->std[c] > 0,
                         "dh_model_options: std[%d] = %g must be finite and > 0", c,
                         (double)o->std[c]);
    }
    DH_CHECK_ARG_MSG(o->in_channels >= 0 && o->in_height >= 0 && o->in_width >= 0,
                     "dh_model_options: negative input size");
    return DH_OK;
}

static dh_status make_parts(dh_model *m)
{
    dh_encoder_options eo;
    dh_encoder_options_init(&eo);
    eo.seed = m->o.seed;
    eo.in_channels = m->o.in_channels;
    eo.in_height = m->o.in_height;
    eo.in_width = m->o.in_width;
    eo.dropout = m->o.dropout;
    eo.bn_momentum = m->o.bn_momentum;
    eo.bn_eps = m->o.bn_eps;
    DH_TRY(dh_encoder_create(m->spec, &eo, &m->enc));
    m->D = dh_encoder_feature_dim(m->enc);
    m->in_ndim = dh_encoder_input_shape(m->enc, m->in_shape);
    m->sample_len = 1;
    for (int32_t i = 0; i < m->in_ndim; i++) m->sample_len *= (size_t)m->in_shape[i];
    if (m->in_ndim == 3) { /* record what the encoder resolved from its defaults */
        m->o.in_channels = (int32_t)m->in_shape[0];
        m->o.in_height = (int32_t)m->in_shape[1];
        m->o.in_width = (int32_t)m->in_shape[2];
    }
    DH_TRY(dh__model_fmap_build(m)); /* a feature-map pool changes D (fmap.c) */
    dh_head_options ho;
    dh_head_options_init(&ho);
    ho.type = m->o.head;
    ho.n_bits = m->o.n_bits;
    ho.in_dim = (uint32_t)m->D;
    ho.bias = m->o.head_bias;
    ho.beta = m->o.head_beta;
    ho.init_std = m->o.head_init_std;
    ho.seed = m->o.seed + 1;
    ho.bn_momentum = m->o.bn_momentum;
    ho.bn_eps = m->o.bn_eps;
    DH_TRY(dh_head_create(&ho, &m->head));
    m->K = m->o.n_bits;
    return dh__model_collect_params(m);
}

dh_status dh__model_build(const dh_model_options *opts, dh_model **out)
{
    *out = NULL;
    dh_model_options o;
    dh_model_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_model_options"));
    DH_TRY(validate(&o));
    dh_model *m = dh__calloc(1, sizeof *m);
    if (!m) return DH_E_NO_MEMORY;
    m->o = o;
    m->training = 1;
    m->spec = dh__strdup(o.encoder);
    dh_status st = m->spec ? make_parts(m) : DH_E_NO_MEMORY;
    if (st != DH_OK) {
        dh__error_prefix("dh_model_create");
        dh_model_free(m);
        return st;
    }
    m->o.encoder = m->spec;
    *out = m;
    return DH_OK;
}

dh_status dh_model_create(const dh_model_options *opts, dh_model **out)
{
    DH_CHECK_ARG(out != NULL);
    return dh__model_build(opts, out);
}

void dh_model_free(dh_model *m)
{
    if (!m) return;
    dh_encoder_free(m->enc);
    dh_head_free(m->head);
    dh__meta_free(m->meta);
    dh__model_fmap_free(m);
    dh__free(m->spec);
    dh__free(m->params);
    for (size_t i = 0; i < m->n_extra; i++) {
        dh__free(m->extra[i].name);
        dh__free(m->extra[i].data);
    }
    dh__free(m->extra);
    for (size_t i = 0; i < m->n_meta; i++) {
        dh__free(m->meta_keys[i]);
        dh__free(m->meta_vals[i]);
    }
    dh__free(m->meta_keys);
    dh__free(m->meta_vals);
    dh__free(m->feat);
    dh__free(m->dfeat);
    dh__free(m);
}

dh_status dh__model_collect_params(dh_model *m)
{
    dh__param *ep = NULL, *hp = NULL;
    size_t ne = dh__encoder_params(m->enc, &ep), nh = dh__head_params(m->head, &hp);
    dh__param *mp = NULL; /* the meta-embedding (LTHNet) belongs to the head group */
    size_t nm = m->meta ? dh__meta_params(m->meta, &mp) : 0;
    dh__param *pp = NULL; /* a feature-map pool (fmap.c), head group too */
    size_t np = m->pool ? dh__fmap_pool_params(m->pool, &pp) : 0;
    dh__free(m->params);
    m->params = dh__calloc(ne + nh + nm + np, sizeof *m->params);
    if (!m->params) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < ne; i++)
        m->params[i] = (dh__model_param){ep[i], DH_PARAM_GROUP_BACKBONE, 0};
    for (size_t i = 0; i < nh; i++)
        m->params[ne + i] = (dh__model_param){hp[i], DH_PARAM_GROUP_HEAD, 0};
    for (size_t i = 0; i < nm; i++)
        m->params[ne + nh + i] = (dh__model_param){mp[i], DH_PARAM_GROUP_HEAD, 0};
    for (size_t i = 0; i < np; i++)
        m->params[ne + nh + nm + i] = (dh__model_param){pp[i], DH_PARAM_GROUP_HEAD, 0};
    m->n_params = ne + nh + nm + np;
    return DH_OK;
}

size_t dh__model_params(dh_model *m, dh__model_param **out)
{
    if (out) *out = m->params;
    return m->n_params;
}

void dh__model_params_changed(dh_model *m) { dh__encoder_params_changed(m->enc); }

void dh__model_set_training(dh_model *m, int32_t training) { m->training = training ? 1 : 0; }

void dh__model_zero_grad(dh_model *m)
{
    dh_encoder_zero_grad(m->enc);
    dh__head_zero_grad(m->head);
    if (m->meta) dh__meta_zero_grad(m->meta);
    if (m->pool) dh__fmap_pool_zero_grad(m->pool);
}

static dh_status reserve_feat(dh_model *m, size_t n)
{
    if (n <= m->feat_rows) return DH_OK;
    dh__free(m->feat);
    dh__free(m->dfeat);
    m->feat = dh__calloc(n, m->D * sizeof(float));
    m->dfeat = dh__calloc(n, m->D * sizeof(float));
    m->feat_rows = m->feat && m->dfeat ? n : 0;
    return m->feat_rows ? DH_OK : DH_E_NO_MEMORY;
}

dh_status dh__model_forward_train(dh_model *m, const float *x, size_t n, float *U)
{
    DH_CHECK_ARG(m != NULL && x != NULL && U != NULL && n >= 1);
    DH_TRY(reserve_feat(m, n));
    DH_TRY(dh__model_features(m, x, n, m->training, m->feat));
    const float *hin = m->feat;
    DH_TRY(dh__model_meta_forward(m, m->feat, n, m->training, &hin));
    return dh_head_forward(m->head, hin, n, m->training, U);
}

dh_status dh__model_backward(dh_model *m, const float *dU)
{
    return dh__model_backward_ex(m, dU, NULL, 0);
}

dh_status dh__model_backward_ex(dh_model *m, const float *dU, const float *dfeat_add, size_t n)
{
    DH_CHECK_ARG(m != NULL && dU != NULL);
    DH_TRY(dh_head_backward(m->head, dU, m->dfeat));
    const float *df = m->dfeat;
    if (m->meta) {
        DH_TRY(dh__meta_backward(m->meta, m->dfeat, &df));
        if (dfeat_add) { /* m->dfeat is free again: gather d/df there */
            memcpy(m->dfeat, df, n * m->D * sizeof(float));
            df = m->dfeat;
        }
    }
    if (dfeat_add)
        for (size_t i = 0; i < n * m->D; i++) m->dfeat[i] += dfeat_add[i];
    return dh__model_features_backward(m, df);
}

const float *dh__model_train_features(const dh_model *m, size_t *dim)
{
    if (dim) *dim = m->D;
    return m->feat;
}

dh_status dh__model_clone(dh_model *m, dh_model **out)
{
    *out = NULL;
    dh_model *c = NULL;
    DH_TRY(dh__model_build(&m->o, &c));
    dh_status st = m->meta ? dh_model_add_meta_embedding(c, dh__meta_classes(m->meta)) : DH_OK;
    if (st == DH_OK && c->n_params != m->n_params)
        st = dh__set_error(DH_E_INTERNAL, "model clone: %zu tensors, want %zu", c->n_params,
                           m->n_params);
    for (size_t i = 0; st == DH_OK && i < m->n_params; i++) {
        const dh__param *a = &m->params[i].p;
        dh__param *b = &c->params[i].p;
        if (a->n != b->n || strcmp(a->name, b->name) != 0)
            st = dh__set_error(DH_E_INTERNAL, "model clone: tensor %zu is %s (%zu), want %s (%zu)",
                               i, b->name, b->n, a->name, a->n);
        else
            memcpy(b->data, a->data, a->n * sizeof(float));
    }
    if (st == DH_OK && dh_head_type(m->head) == DH_HEAD_SCALED_TANH)
        st = dh_head_set_beta(c->head, dh_head_get_beta(m->head));
    if (st != DH_OK) {
        dh_model_free(c);
        return st;
    }
    dh__model_params_changed(c);
    c->training = m->training;
    *out = c;
    return DH_OK;
}

uint32_t dh_model_n_bits(const dh_model *m) { return m ? (uint32_t)m->K : 0; }

int32_t dh_model_input_shape(const dh_model *m, int64_t shape[3])
{
    if (!m || !shape) return 0;
    for (int32_t i = 0; i < m->in_ndim; i++) shape[i] = m->in_shape[i];
    return m->in_ndim;
}

const dh_model_options *dh_model_get_options(const dh_model *m) { return m ? &m->o : NULL; }
dh_encoder *dh_model_encoder(dh_model *m) { return m ? m->enc : NULL; }
dh_head *dh_model_head(dh_model *m) { return m ? m->head : NULL; }

dh_status dh_optimizer_add_model(dh_optimizer *opt, dh_model *m)
{
    DH_CHECK_ARG(opt != NULL && m != NULL);
    for (size_t i = 0; i < m->n_params; i++) {
        const dh__model_param *p = &m->params[i];
        if (p->p.is_buffer || !p->p.grad) continue;
        DH_TRY(dh__optimizer_add_tensor(opt, p->p.name, p->p.data, p->p.grad, p->p.n, p->group,
                                        p->p.no_decay));
    }
    return DH_OK;
}
