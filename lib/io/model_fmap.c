/* lib/io/model_fmap.c -- fine-grained models: the encoder's last feature map goes
 * through a feature-map pool (lib/hash/head_attn.h: GAP, SEMICON-lite attention or
 * ExchNet-style parts) and the pooled vector is what the hash head reads.
 *
 *   training  x -> dh_encoder_forward_fmap -> F [n, C, h, w] -> pool -> Z [n, Dz] -> head
 *   backward  dZ -> pool backward -> dF -> dh_encoder_backward_fmap (features get none)
 * The trainer and dh_model_encode* call dh__model_features / _backward, so a pool
 * needs nothing else from them. The pool's tensors ("fmap.weight", "fmap.bias") join
 * the model's parameter list in the head group and are saved with the model. */
#include "model.h"

#include "../hash/head_attn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const pool_names[] = {"none", "gap", "attn", "part"};

static dh_status validate(const dh_model_options *o)
{
    DH_CHECK_ARG_MSG(o->fmap_pool >= DH_FMAP_POOL_NONE && o->fmap_pool <= DH_FMAP_POOL_PART,
                     "dh_model_options: fmap_pool %d is not a DH_FMAP_POOL_* value",
                     (int)o->fmap_pool);
    DH_CHECK_ARG_MSG(o->fmap_parts <= DH__FMAP_MAX_PARTS,
                     "dh_model_options: fmap_parts %u is outside 0..%u", o->fmap_parts,
                     DH__FMAP_MAX_PARTS);
    DH_CHECK_ARG_MSG(isfinite(o->fmap_aux_weight) && o->fmap_aux_weight >= 0 &&
                         o->fmap_aux_weight <= 1e4f,
                     "dh_model_options: fmap_aux_weight %g must be in [0, 1e4]",
                     (double)o->fmap_aux_weight);
    DH_CHECK_ARG_MSG(o->fmap_reserved == 0, "dh_model_options: fmap_reserved must be 0");
    return DH_OK;
}

dh_status dh__model_fmap_build(dh_model *m)
{
    DH_TRY(validate(&m->o));
    if (m->o.fmap_pool == DH_FMAP_POOL_NONE) return DH_OK;
    int64_t s[3];
    if (dh_encoder_feature_map_shape(m->enc, s) != 3)
        return dh__set_error(DH_E_UNSUPPORTED, "dh_model_options: fmap_pool '%s' needs an "
                             "encoder with a feature map; '%s' has none",
                             pool_names[m->o.fmap_pool], m->spec);
    DH_TRY(dh__fmap_pool_create(m->o.fmap_pool, (size_t)s[0], (size_t)s[1], (size_t)s[2],
                                m->o.fmap_parts, m->o.fmap_aux_weight, m->o.seed + 2,
                                &m->pool));
    if (m->o.fmap_pool != DH_FMAP_POOL_GAP) m->o.fmap_parts = (uint32_t)m->pool->T;
    m->fmap_len = (size_t)(s[0] * s[1] * s[2]);
    m->D = m->pool->Dz;
    return DH_OK;
}

void dh__model_fmap_free(dh_model *m)
{
    dh__fmap_pool_free(m->pool);
    dh__free(m->fmap);
    dh__free(m->dfmap);
    m->pool = NULL, m->fmap = m->dfmap = NULL, m->fmap_rows = 0;
}

static dh_status reserve_fmap(dh_model *m, size_t n)
{
    if (n <= m->fmap_rows) return DH_OK;
    dh__free(m->fmap);
    dh__free(m->dfmap);
    m->fmap = dh__calloc(n, m->fmap_len * sizeof(float));
    m->dfmap = dh__calloc(n, m->fmap_len * sizeof(float));
    m->fmap_rows = m->fmap && m->dfmap ? n : 0;
    return m->fmap_rows ? DH_OK : DH_E_NO_MEMORY;
}

dh_status dh__model_features(dh_model *m, const float *x, size_t n, int32_t training,
                             float *feat)
{
    if (!m->pool) return dh_encoder_forward(m->enc, x, n, training, feat);
    DH_TRY(reserve_fmap(m, n));
    DH_TRY(dh_encoder_forward_fmap(m->enc, x, n, training, NULL, m->fmap));
    return dh__fmap_pool_forward(m->pool, m->fmap, n, training, feat);
}

dh_status dh__model_features_backward(dh_model *m, const float *dfeat)
{
    if (!m->pool) return dh_encoder_backward(m->enc, dfeat, NULL);
    DH_TRY(reserve_fmap(m, m->pool->n_rows));
    DH_TRY(dh__fmap_pool_backward(m->pool, dfeat, m->dfmap));
    return dh_encoder_backward_fmap(m->enc, NULL, m->dfmap, NULL);
}

int dh__model_fmap_meta(const dh_model *m, const char **keys, char (*vals)[512])
{
    if (!m->pool) return 0;
    keys[0] = "fmap_pool";
    snprintf(vals[0], 512, "%s", pool_names[m->o.fmap_pool]);
    keys[1] = "fmap_parts";
    snprintf(vals[1], 512, "%u", m->o.fmap_parts);
    keys[2] = "fmap_aux_weight";
    snprintf(vals[2], 512, "%.9g", (double)m->o.fmap_aux_weight);
    return 3;
}

#define META_ERR(key, what)                                                                   \
    dh__set_error(DH_E_FORMAT, "model file: __metadata__ \"%s\" %s", key, what)

dh_status dh__model_fmap_read_meta(const dh__safetensors *st, dh_model_options *o)
{
    const char *pool = dh__safetensors_meta(st, "fmap_pool");
    if (!pool) return DH_OK;
    o->fmap_pool = -1;
    for (int32_t i = DH_FMAP_POOL_GAP; i <= DH_FMAP_POOL_PART; i++)
        if (!strcmp(pool, pool_names[i])) o->fmap_pool = i;
    if (o->fmap_pool < 0) return META_ERR("fmap_pool", "is not gap, attn or part");
    const char *parts = dh__safetensors_meta(st, "fmap_parts");
    const char *aux = dh__safetensors_meta(st, "fmap_aux_weight");
    unsigned v;
    float w;
    char extra;
    if (!parts || sscanf(parts, "%u%c", &v, &extra) != 1 || v > DH__FMAP_MAX_PARTS)
        return META_ERR("fmap_parts", "is missing or not an integer in 0..16");
    if (!aux || sscanf(aux, "%g%c", &w, &extra) != 1 || !isfinite(w) || w < 0 || w > 1e4f)
        return META_ERR("fmap_aux_weight", "is missing or not a number in [0, 1e4]");
    o->fmap_parts = v;
    o->fmap_aux_weight = w;
    return DH_OK;
}
