/* lib/model/encode.c -- inference: images (uint8 HWC) or float rows -> encoder ->
 * head -> sgn -> packed codes, in batches of opts.batch_size. oneDNN parallelises the
 * encoder; the uint8 -> normalised NCHW conversion runs on an OpenMP loop. */
#include "model/model.h"

#include <math.h>
#include <string.h>

typedef struct scratch {
    float *x, *feat, *u;
} scratch;

static void scratch_free(scratch *s)
{
    dh__free(s->x);
    dh__free(s->feat);
    dh__free(s->u);
}

static dh_status scratch_alloc(const dh_model *m, size_t rows, int need_x, scratch *s)
{
    memset(s, 0, sizeof *s);
    s->x = need_x ? dh__calloc(rows, m->sample_len * sizeof(float)) : NULL;
    s->feat = dh__calloc(rows, m->D * sizeof(float));
    s->u = dh__calloc(rows, m->K * sizeof(float));
    if ((need_x && !s->x) || !s->feat || !s->u) {
        scratch_free(s);
        return DH_E_NO_MEMORY;
    }
    return DH_OK;
}

/* uint8 [n, H, W, C] -> float [n, C, H, W], (p / 255 - mean[c]) / std[c] */
static void to_nchw(const dh_model *m, const uint8_t *img, size_t n, size_t C, size_t HW,
                    float *x)
{
    float scale[4], shift[4];
    for (size_t c = 0; c < C; c++) {
        scale[c] = 1.0f / (255.0f * m->o.std[c]);
        shift[c] = -m->o.mean[c] / m->o.std[c];
    }
    long total = (long)n;
#pragma omp parallel for schedule(static) if (total > 1) num_threads(dh__num_threads())
    for (long i = 0; i < total; i++) {
        const uint8_t *src = img + (size_t)i * HW * C;
        float *dst = x + (size_t)i * HW * C;
        for (size_t p = 0; p < HW; p++)
            for (size_t c = 0; c < C; c++)
                dst[c * HW + p] = (float)src[p * C + c] * scale[c] + shift[c];
    }
}

/* Encoder + head on rows [0, b) of x; then copy U out and pack the codes. */
static dh_status run_batch(dh_model *m, const float *x, size_t b, size_t row0, scratch *s,
                           uint8_t *codes, float *out_u)
{
    DH_TRY(dh__model_features(m, x, b, 0, s->feat));
    const float *hin = s->feat;
    DH_TRY(dh__model_meta_forward(m, s->feat, b, 0, &hin));
    DH_TRY(dh_head_forward(m->head, hin, b, 0, s->u));
    for (size_t i = 0; i < b * m->K; i++)
        if (isnan(s->u[i]))
            return dh__set_error(DH_E_FORMAT, "dh_model_encode: the network output for row %zu "
                                              "is NaN (NaN input or corrupt weights)",
                                 row0 + i / m->K);
    if (out_u) memcpy(out_u + row0 * m->K, s->u, b * m->K * sizeof(float));
    if (codes) {
        size_t nb = dh_code_bytes((uint32_t)m->K);
        DH_TRY(dh_codes_pack_float(s->u, b, (uint32_t)m->K, 0, codes + row0 * nb));
    }
    return DH_OK;
}

dh_status dh_model_encode(dh_model *m, const uint8_t *images, size_t n, uint32_t height,
                          uint32_t width, uint32_t channels, uint8_t *out_codes, float *out_u)
{
    DH_CHECK_ARG(m != NULL);
    DH_CHECK_ARG(out_codes != NULL || out_u != NULL);
    DH_CHECK_ARG(images != NULL || n == 0);
    int64_t C = m->in_ndim == 3 ? m->in_shape[0] : 1;
    int64_t H = m->in_ndim == 3 ? m->in_shape[1] : 1;
    int64_t W = m->in_ndim == 3 ? m->in_shape[2] : m->in_shape[0];
    if ((int64_t)height != H || (int64_t)width != W || (int64_t)channels != C)
        return dh__set_error(DH_E_SHAPE, "dh_model_encode: images are %ux%ux%u (HxWxC) but the "
                             "model takes %lldx%lldx%lld; resize them first", height, width,
                             channels, (long long)H, (long long)W, (long long)C);
    if (C > 4)
        return dh__set_error(DH_E_UNSUPPORTED, "dh_model_encode: uint8 input with %lld channels "
                             "(at most 4 have a mean/std); use dh_model_encode_float",
                             (long long)C);
    if (n == 0) return DH_OK;
    size_t bs = m->o.batch_size < n ? m->o.batch_size : n, HW = (size_t)(H * W);
    scratch s;
    DH_TRY(scratch_alloc(m, bs, 1, &s));
    dh_status st = DH_OK;
    for (size_t r = 0; r < n && st == DH_OK; r += bs) {
        size_t b = n - r < bs ? n - r : bs;
        to_nchw(m, images + r * m->sample_len, b, (size_t)C, HW, s.x);
        st = run_batch(m, s.x, b, r, &s, out_codes, out_u);
    }
    scratch_free(&s);
    return st;
}

dh_status dh_model_encode_float(dh_model *m, const float *x, size_t n, size_t sample_len,
                                uint8_t *out_codes, float *out_u)
{
    DH_CHECK_ARG(m != NULL);
    DH_CHECK_ARG(out_codes != NULL || out_u != NULL);
    DH_CHECK_ARG(x != NULL || n == 0);
    if (sample_len != m->sample_len)
        return dh__set_error(DH_E_SHAPE, "dh_model_encode_float: sample_len %zu but the model "
                             "takes %zu floats per sample", sample_len, m->sample_len);
    if (n == 0) return DH_OK;
    /* ReLU maps NaN to 0, so a NaN input would silently give a plausible code */
    for (size_t i = 0; i < n * sample_len; i++)
        if (!isfinite(x[i]))
            return dh__set_error(DH_E_INVALID_ARG, "dh_model_encode_float: x[%zu][%zu] is not "
                                 "finite", i / sample_len, i % sample_len);
    size_t bs = m->o.batch_size < n ? m->o.batch_size : n;
    scratch s;
    DH_TRY(scratch_alloc(m, bs, 0, &s));
    dh_status st = DH_OK;
    for (size_t r = 0; r < n && st == DH_OK; r += bs) {
        size_t b = n - r < bs ? n - r : bs;
        st = run_batch(m, x + r * m->sample_len, b, r, &s, out_codes, out_u);
    }
    scratch_free(&s);
    return st;
}
