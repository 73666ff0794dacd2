/* lib/model/fmap.c -- fine-grained models: the encoder's last feature map goes
 * through a feature-map pool (lib/model/fmap_pool.h: GAP, SEMICON-lite attention or
 * ExchNet-style parts) and the pooled vector is what the hash head reads.
 *
 *   training  x -> dh_encoder_forward_fmap -> F [n, C, h, w] -> pool -> Z [n, Dz] -> head
 *   backward  dZ -> pool backward -> dF -> dh_encoder_backward_fmap (features get none)
 * With fmap_global = DH_FMAP_GLOBAL_ENCODER the pool's global part g = GAP(F) [C] is
 * replaced by the encoder's own features f [D_enc] (SEMICON's global branch is a network
 * of its own, not a bare GAP; for smallcnn that is the fc-512 output, which keeps the
 * positions GAP discards):
 *   forward   x -> (f, F); pool(F) = [g; l_1..l_T] -> Z = [f; l_1..l_T] [n, D_enc + C T]
 *   backward  dZ = [df; dl] -> pool backward of [0; dl] -> dF; encoder backward (df, dF)
 * The pools are unchanged: g is computed and dropped (O(C P) per image). Inference runs
 * the same code with training = 0, so encodes match the training forward in eval mode.
 *
 * The trainer and dh_model_encode* call dh__model_features / _backward, so a pool
 * needs nothing else from them. The pool's tensors ("fmap.weight", "fmap.bias") join
 * the model's parameter list in the head group and are saved with the model. */
#include "model/model.h"

#include "model/fmap_pool.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const pool_names[] = {"none", "gap", "attn", "part"};
static const char *const global_names[] = {"pool", "encoder"};

static int enc_global(const dh_model *m)
{
    return m->pool && m->o.fmap_global == DH_FMAP_GLOBAL_ENCODER;
}

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
    DH_CHECK_ARG_MSG(o->fmap_global == DH_FMAP_GLOBAL_POOL ||
                         o->fmap_global == DH_FMAP_GLOBAL_ENCODER,
                     "dh_model_options: fmap_global %d is not a DH_FMAP_GLOBAL_* value",
                     (int)o->fmap_global);
    /* GAP (or no pool) with the encoder's features as g would be the plain model */
    DH_CHECK_ARG_MSG(o->fmap_global == DH_FMAP_GLOBAL_POOL ||
                         o->fmap_pool == DH_FMAP_POOL_ATTN || o->fmap_pool == DH_FMAP_POOL_PART,
                     "dh_model_options: fmap_global DH_FMAP_GLOBAL_ENCODER needs fmap_pool "
                     "ATTN or PART, not '%s'", pool_names[o->fmap_pool]);
    DH_CHECK_ARG_MSG(o->fmap_reserved2 == 0, "dh_model_options: fmap_reserved2 must be 0");
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
    m->enc_dim = m->D; /* dh_encoder_feature_dim, set by the caller */
    m->D = enc_global(m) ? m->enc_dim + m->pool->C * m->pool->T : m->pool->Dz;
    return DH_OK;
}

void dh__model_fmap_free(dh_model *m)
{
    dh__fmap_pool_free(m->pool);
    dh__free(m->fmap);
    dh__free(m->dfmap);
    dh__free(m->fenc);
    dh__free(m->zpool);
    m->pool = NULL, m->fmap = m->dfmap = m->fenc = m->zpool = NULL, m->fmap_rows = 0;
}

static dh_status reserve_fmap(dh_model *m, size_t n)
{
    if (n <= m->fmap_rows) return DH_OK;
    dh__free(m->fmap), dh__free(m->dfmap), dh__free(m->fenc), dh__free(m->zpool);
    m->fenc = m->zpool = NULL;
    m->fmap = dh__calloc(n, m->fmap_len * sizeof(float));
    m->dfmap = dh__calloc(n, m->fmap_len * sizeof(float));
    int ok = m->fmap && m->dfmap;
    if (ok && enc_global(m)) {
        m->fenc = dh__calloc(n, m->enc_dim * sizeof(float));
        m->zpool = dh__calloc(n, m->pool->Dz * sizeof(float));
        ok = m->fenc && m->zpool;
    }
    m->fmap_rows = ok ? n : 0;
    return m->fmap_rows ? DH_OK : DH_E_NO_MEMORY;
}

dh_status dh__model_features(dh_model *m, const float *x, size_t n, int32_t training,
                             float *feat)
{
    if (!m->pool) return dh_encoder_forward(m->enc, x, n, training, feat);
    DH_TRY(reserve_fmap(m, n));
    if (!enc_global(m)) {
        DH_TRY(dh_encoder_forward_fmap(m->enc, x, n, training, NULL, m->fmap));
        return dh__fmap_pool_forward(m->pool, m->fmap, n, training, feat);
    }
    DH_TRY(dh_encoder_forward_fmap(m->enc, x, n, training, m->fenc, m->fmap));
    DH_TRY(dh__fmap_pool_forward(m->pool, m->fmap, n, training, m->zpool));
    size_t De = m->enc_dim, C = m->pool->C, Dz = m->pool->Dz;
    for (size_t i = 0; i < n; i++) { /* [f; l_1..l_T]: the pool's g = zpool[0..C) dropped */
        memcpy(feat + i * m->D, m->fenc + i * De, De * sizeof(float));
        memcpy(feat + i * m->D + De, m->zpool + i * Dz + C, (Dz - C) * sizeof(float));
    }
    return DH_OK;
}

dh_status dh__model_features_backward(dh_model *m, const float *dfeat)
{
    if (!m->pool) return dh_encoder_backward(m->enc, dfeat, NULL);
    if (!m->pool->pending) /* before n_rows is trusted to size the copies below */
        return dh__set_error(DH_E_STATE, "feature-map pool: backward without a training forward");
    size_t n = m->pool->n_rows;
    DH_TRY(reserve_fmap(m, n));
    if (!enc_global(m)) {
        DH_TRY(dh__fmap_pool_backward(m->pool, dfeat, m->dfmap));
        return dh_encoder_backward_fmap(m->enc, NULL, m->dfmap, NULL);
    }
    size_t De = m->enc_dim, C = m->pool->C, Dz = m->pool->Dz;
    for (size_t i = 0; i < n; i++) { /* df -> fenc; [0 (g unused); dl] -> zpool */
        memcpy(m->fenc + i * De, dfeat + i * m->D, De * sizeof(float));
        memset(m->zpool + i * Dz, 0, C * sizeof(float));
        memcpy(m->zpool + i * Dz + C, dfeat + i * m->D + De, (Dz - C) * sizeof(float));
    }
    DH_TRY(dh__fmap_pool_backward(m->pool, m->zpool, m->dfmap));
    return dh_encoder_backward_fmap(m->enc, m->fenc, m->dfmap, NULL);
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
    if (m->o.fmap_global == DH_FMAP_GLOBAL_POOL) return 3; /* files as before 1.1 */
    keys[3] = "fmap_global";
    snprintf(vals[3], 512, "%s", global_names[m->o.fmap_global]);
    return 4;
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
    const char *global = dh__safetensors_meta(st, "fmap_global");
    if (!global) return DH_OK; /* files before 1.1: g = GAP(F) */
    o->fmap_global = -1;
    for (int32_t i = DH_FMAP_GLOBAL_POOL; i <= DH_FMAP_GLOBAL_ENCODER; i++)
        if (!strcmp(global, global_names[i])) o->fmap_global = i;
    if (o->fmap_global < 0) return META_ERR("fmap_global", "is not pool or encoder");
    if (o->fmap_global == DH_FMAP_GLOBAL_ENCODER && o->fmap_pool == DH_FMAP_POOL_GAP)
        return META_ERR("fmap_global", "is encoder with fmap_pool gap");
    return DH_OK;
}
