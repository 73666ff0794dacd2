/* lib/loss/wdht.c -- weakly supervised methods that learn from tags only:
 * WDHT (Gattupalli et al., CVPR 2019; docs/methods.md#wdht) and the EWSH-style tag
 * refinement (docs/methods.md#tagrefine), which trains on the WDHT objective over a
 * tag matrix it refines between epochs from the codes' Hamming neighbours (through
 * the method table's update_codes hook, which the trainer calls after each epoch
 * with the whole training set encoded). The batch's "labels" are tag rows: the
 * trainer passes the dataset's tags (train/trainer.c), never its labels. */
#include <math.h>
#include <string.h>

#include "loss/weak.h"

uint32_t dh__method_weak_flags(const dh__loss_method *m)
{
    return m ? m->flags & DH_LOSS_FLAG_TAGS : 0;
}

/* ---- the objective ---- */

void dh__weak_semantic(const float *Y, size_t B, uint32_t T, const float *E, uint32_t D,
                       float *Sh, uint8_t *mask)
{
    for (size_t i = 0; i < B; i++) {
        float *s = Sh + i * D;
        memset(s, 0, D * sizeof(float));
        double cnt = 0, nr = 0;
        for (uint32_t t = 0; t < T; t++)
            if (Y[i * T + t] > 0.5f) {
                for (uint32_t d = 0; d < D; d++) s[d] += E[(size_t)t * D + d];
                cnt++;
            }
        for (uint32_t d = 0; d < D; d++) nr += (double)s[d] * s[d];
        nr = sqrt(nr);
        mask[i] = cnt > 0 && nr > 1e-12; /* the mean's direction: the sum's */
        for (uint32_t d = 0; d < D; d++) s[d] = mask[i] ? (float)(s[d] / nr) : 0.0f;
    }
}

double dh__wdht_objective(const float *U, size_t B, size_t K, const float *Sh,
                          const uint8_t *mask, const float *W, size_t D, double pair_w,
                          double align_w, double quant_w, double margin, float *dU, float *dW)
{
    float *G = dh__alloc(B * B * sizeof(float)), *S = dh__alloc(B * B * sizeof(float));
    float *A = dh__alloc(B * D * sizeof(float)), *Cm = dh__alloc(B * B * sizeof(float));
    float *dA = dh__calloc(B * D, sizeof(float));
    double *nr = dh__alloc(B * sizeof(double));
    double v = NAN;
    if (!G || !S || !A || !Cm || !dA || !nr) goto done;
    size_t nv = 0;
    for (size_t i = 0; i < B; i++) nv += mask[i];
    memset(dU, 0, B * K * sizeof(float));
    memset(dW, 0, K * D * sizeof(float));
    v = 0;
    dh__gemm_nt(B, B, D, 1.0f, Sh, Sh, 0.0f, S);
    /* (1) pairwise: sum over valid pairs of (u_i.u_j/K - cos(t_i, t_j))^2 / nv^2 */
    if (nv) {
        dh__gemm_nt(B, B, K, 1.0f / (float)K, U, U, 0.0f, G);
        const double P = (double)nv * (double)nv;
        double lp = 0;
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                double r = (mask[i] && mask[j]) ? (double)G[i * B + j] - S[i * B + j] : 0.0;
                lp += r * r;
                G[i * B + j] = (float)r;
            }
        v += pair_w * lp / P;
        dh__gemm_nn(B, B, K, (float)(pair_w * 4.0 / (P * (double)K)), G, U, 0.0f, dU);
    }
    /* (2) alignment: a_i = W^T u_i ranks its own semantic vector above the others by
     * the margin scaled by their dissimilarity (1 - cos) */
    if (nv >= 2 && align_w > 0) {
        dh__gemm_nn(B, K, D, 1.0f, U, W, 0.0f, A);
        dh__row_normalise(A, B, D, A, nr);
        dh__gemm_nt(B, B, D, 1.0f, A, Sh, 0.0f, Cm);
        const double w = align_w / ((double)nv * (double)(nv - 1));
        double la = 0;
        for (size_t i = 0; i < B; i++) {
            if (!mask[i]) continue;
            for (size_t j = 0; j < B; j++) {
                if (j == i || !mask[j]) continue;
                double h = margin * (1.0 - S[i * B + j]) - Cm[i * B + i] + Cm[i * B + j];
                if (h <= 0) continue;
                la += h;
                for (size_t d = 0; d < D; d++)
                    dA[i * D + d] += (float)(w * ((double)Sh[j * D + d] - Sh[i * D + d]));
            }
        }
        v += w * la;
        dh__row_normalise_back(A, nr, B, D, dA);
        dh__gemm_tn(B, K, D, 1.0f, U, dA, 0.0f, dW);
        dh__gemm_nt(B, K, D, 1.0f, dA, W, 1.0f, dU);
    }
    /* (3) quantisation: mean (u - sgn u)^2 */
    if (quant_w > 0) {
        double q = 0, s = quant_w / ((double)B * (double)K);
        for (size_t i = 0; i < B * K; i++) {
            double d = U[i] - dh__sgn(U[i]);
            q += d * d;
            dU[i] += (float)(2.0 * s * d);
        }
        v += s * q;
    }
done:
    dh__free(G), dh__free(S), dh__free(A), dh__free(Cm), dh__free(dA), dh__free(nr);
    return v;
}

/* ---- the methods ---- */

typedef struct weak_priv {
    uint32_t D;      /* embedding dimension, 0 until set up */
    int32_t refines; /* update_codes calls so far (tagrefine's schedule) */
    size_t added, dropped;
} weak_priv;

static void wdht_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->pair_weight = 1.0;
    o->center_weight = 0.1; /* alignment */
    o->quant_weight = 0.1;
    o->margin = 0.2;
    o->sweeps = 10;         /* tagrefine: h neighbours */
    o->tau = 0.4;           /* tagrefine: add threshold */
    o->gamma = 0.05;        /* tagrefine: drop threshold (with h = 10: no neighbour has it) */
    o->update_every = 10;   /* tagrefine: refine every this many epochs; the first after
                               10 (codes of the first epochs are too poor to vote) */
}

static dh_status weak_create(dh_loss *L)
{
    if (L->m == &dh__loss_tagrefine && L->o.tau <= L->o.gamma)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(tagrefine): the add threshold tau "
                             "(%g) must exceed the drop threshold gamma (%g)", L->o.tau,
                             L->o.gamma);
    if (L->m == &dh__loss_tagrefine && L->o.tau > 1)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(tagrefine): tau = %g is a vote "
                             "share, want <= 1", L->o.tau);
    L->priv = dh__calloc(1, sizeof(weak_priv));
    return L->priv ? DH_OK : DH_E_NO_MEMORY;
}

static void weak_destroy(dh_loss *L) { dh__free(L->priv); }

/* Tensors once D is known: parameter "align" (K x D), state "tag_vectors" (T x D),
 * tagrefine's "tags" and "tags_observed" (N x T). E: the vectors, or NULL for the
 * co-occurrence embedding of the training tags. */
static dh_status setup(dh_loss *L, const float *E, uint32_t D)
{
    weak_priv *p = L->priv;
    float *W, *TV;
    DH_TRY(dh__loss_add_tensor(L, "align", 0, 2, L->K, D, &W));
    DH_TRY(dh__loss_add_tensor(L, "tag_vectors", 1, 2, L->C, D, &TV));
    for (size_t i = 0; i < (size_t)L->K * D; i++)
        W[i] = (float)(dh__loss_normal(&L->rng) / sqrt((double)L->K));
    if (E) memcpy(TV, E, (size_t)L->C * D * sizeof(float));
    else DH_TRY(dh_tags_embed_cooccurrence(L->train_Y, L->N, L->C, D, TV));
    if (L->m == &dh__loss_tagrefine) {
        float *Tc, *To;
        DH_TRY(dh__loss_add_tensor(L, "tags", 1, 2, (int64_t)L->N, L->C, &Tc));
        DH_TRY(dh__loss_add_tensor(L, "tags_observed", 1, 2, (int64_t)L->N, L->C, &To));
        if (L->train_Y) {
            memcpy(Tc, L->train_Y, L->N * L->C * sizeof(float));
            memcpy(To, L->train_Y, L->N * L->C * sizeof(float));
        }
    }
    p->D = D;
    return DH_OK;
}

dh_status dh_loss_set_tag_vectors(dh_loss *L, const float *vectors, uint32_t n_tags,
                                  uint32_t dim)
{
    DH_CHECK_ARG(L != NULL && vectors != NULL);
    if (!dh__method_weak_flags(L->m))
        return dh__set_error(DH_E_STATE, "dh_loss_set_tag_vectors(%s): this method reads no tag "
                             "vectors (wdht and tagrefine do)", L->m->name);
    weak_priv *p = L->priv;
    if (p->D)
        return dh__set_error(DH_E_STATE, "dh_loss_set_tag_vectors(%s): the tag vectors are set "
                             "already (set them once, before dh_trainer_create)", L->m->name);
    if (n_tags != L->C)
        return dh__set_error(DH_E_SHAPE, "dh_loss_set_tag_vectors(%s): %u rows, the loss has %u "
                             "tags (n_classes)", L->m->name, n_tags, L->C);
    DH_CHECK_ARG_MSG(dim >= 1 && dim <= 65536, "dh_loss_set_tag_vectors: dim %u not in 1..65536",
                     dim);
    size_t nz = 0;
    for (size_t i = 0; i < (size_t)n_tags * dim; i++) {
        if (!isfinite(vectors[i]))
            return dh__set_error(DH_E_INVALID_ARG, "dh_loss_set_tag_vectors: vectors[%zu][%zu] "
                                 "is not finite", i / dim, i % dim);
        nz += vectors[i] != 0.0f;
    }
    if (!nz)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_set_tag_vectors: every vector is zero "
                             "(no tag name was found in the word-vector file?)");
    return setup(L, vectors, dim);
}

static dh_status weak_init(dh_loss *L)
{
    weak_priv *p = L->priv;
    if (p->D) { /* vectors given first: tagrefine still needs the tag rows */
        dh__param *tc = dh__loss_find(L, "tags"), *to = dh__loss_find(L, "tags_observed");
        if (tc && L->train_Y) {
            memcpy(tc->data, L->train_Y, L->N * L->C * sizeof(float));
            memcpy(to->data, L->train_Y, L->N * L->C * sizeof(float));
        }
        return DH_OK;
    }
    if (!L->train_Y) return DH_OK; /* fb reports the missing embedding */
    uint32_t D = L->C < DH__TAGEMBED_DIM ? L->C : DH__TAGEMBED_DIM;
    return setup(L, NULL, D);
}

static dh_status weak_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    weak_priv *p = L->priv;
    if (!p->D)
        return dh__set_error(DH_E_STATE, "dh_loss_forward_backward(%s): no tag vectors: call "
                             "dh_loss_set_tag_vectors, or dh_loss_init with the training tags "
                             "(n_train set) for the co-occurrence embedding", L->m->name);
    const size_t B = b->B, K = L->K, D = p->D;
    const float *Y = b->Y;
    float *rows = NULL;
    if (L->m == &dh__loss_tagrefine) { /* the refined tag rows of the batch */
        const float *Tc = dh__loss_find(L, "tags")->data;
        if (!(rows = dh__alloc(B * L->C * sizeof(float)))) return DH_E_NO_MEMORY;
        for (size_t i = 0; i < B; i++)
            memcpy(rows + i * L->C, Tc + (size_t)b->idx[i] * L->C, L->C * sizeof(float));
        Y = rows;
    }
    float *Sh = dh__alloc(B * D * sizeof(float));
    uint8_t *mask = dh__alloc(B);
    dh_status st = DH_E_NO_MEMORY;
    if (Sh && mask) {
        dh__param *w = dh__loss_find(L, "align");
        dh__weak_semantic(Y, B, L->C, dh__loss_find(L, "tag_vectors")->data, (uint32_t)D, Sh,
                          mask);
        double v = dh__wdht_objective(b->U, B, K, Sh, mask, w->data, D, L->o.pair_weight,
                                      L->o.center_weight, L->o.quant_weight, L->o.margin, b->dU,
                                      w->grad);
        st = isnan(v) ? DH_E_NO_MEMORY : DH_OK;
        *value = v;
    }
    dh__free(rows), dh__free(Sh), dh__free(mask);
    return st;
}

/* tagrefine's hook: refine every update_every calls (epochs) */
static dh_status refine_update(dh_loss *L, const float *U, const int64_t *idx, size_t m)
{
    weak_priv *p = L->priv;
    if (!p->D) return dh__set_error(DH_E_STATE, "tagrefine: no tag vectors yet");
    if (m != L->N)
        return dh__set_error(DH_E_SHAPE, "tagrefine: refinement needs the codes of all %zu "
                             "training rows, got %zu", L->N, m);
    for (size_t i = 0; i < m; i++)
        if (idx[i] != (int64_t)i)
            return dh__set_error(DH_E_INVALID_ARG, "tagrefine: rows must come in training order "
                                 "(indices[%zu] = %lld)", i, (long long)idx[i]);
    p->refines++;
    int32_t every = L->o.update_every > 0 ? L->o.update_every : 1;
    if (p->refines % every) return DH_OK;
    float *Tc = dh__loss_find(L, "tags")->data, *To = dh__loss_find(L, "tags_observed")->data;
    return dh__tag_refine(U, L->N, L->K, To, Tc, L->C, (uint32_t)L->o.sweeps, L->o.tau,
                          L->o.gamma, L->o.seed + (uint64_t)p->refines, Tc, &p->added,
                          &p->dropped);
}

const dh__loss_method dh__loss_wdht = {
    .name = "wdht",
    .summary = "Weakly supervised hashing through tag embeddings (Gattupalli et al., CVPR 2019)",
    .head = DH_LOSS_HEAD_TANH,
    .flags = DH_LOSS_FLAG_TAGS,
    .defaults = wdht_defaults,
    .create = weak_create,
    .init = weak_init,
    .fb = weak_fb,
    .destroy = weak_destroy,
};

const dh__loss_method dh__loss_tagrefine = {
    .name = "tagrefine",
    .summary = "WDHT objective on tags refined from Hamming neighbours (EWSH-style)",
    .head = DH_LOSS_HEAD_TANH,
    .flags = DH_LOSS_FLAG_TAGS,
    .needs_index = 1,
    .defaults = wdht_defaults,
    .create = weak_create,
    .init = weak_init,
    .fb = weak_fb,
    .destroy = weak_destroy,
    .update_codes = refine_update,
};
