/* lib/data/augment.c -- per-image augmentation into a normalised CHW float tensor:
 * geometric step (random resized crop, padded random crop, resize + centre crop, or a
 * plain resize), horizontal flip, colour jitter, random greyscale, mean/std. Every
 * random draw comes from the caller's generator, in a fixed order, so one (seed,
 * epoch, index, view) always gives the same tensor. */
#include "data/data.h"

#include <math.h>
#include <string.h>

void dh__aug_scratch_free(dh__aug_scratch *s)
{
    if (!s) return;
    dh__free(s->a);
    dh__free(s->b);
    memset(s, 0, sizeof *s);
}

static dh_status scratch_reserve(dh__aug_scratch *s, size_t n)
{
    if (n <= s->cap) return DH_OK;
    dh__free(s->a), dh__free(s->b);
    s->a = dh__alloc(n * sizeof(float));
    s->b = dh__alloc(n * sizeof(float));
    s->cap = s->a && s->b ? n : 0;
    return s->cap ? DH_OK : DH_E_NO_MEMORY;
}

void dh__resize_crop(const float *src, uint32_t c, uint32_t h, uint32_t w, double x0, double y0,
                     double cw, double ch, uint32_t out_h, uint32_t out_w, float *dst)
{
    double sx = cw / out_w, sy = ch / out_h;
    for (uint32_t oy = 0; oy < out_h; oy++) {
        double fy = y0 + (oy + 0.5) * sy - 0.5, y = floor(fy), wy = fy - y;
        long y1 = (long)y, y2 = y1 + 1;
        for (uint32_t ox = 0; ox < out_w; ox++) {
            double fx = x0 + (ox + 0.5) * sx - 0.5, x = floor(fx), wx = fx - x;
            long x1 = (long)x, x2 = x1 + 1;
            int in_x1 = x1 >= 0 && x1 < (long)w, in_x2 = x2 >= 0 && x2 < (long)w;
            int in_y1 = y1 >= 0 && y1 < (long)h, in_y2 = y2 >= 0 && y2 < (long)h;
            for (uint32_t k = 0; k < c; k++) {
                const float *p = src + (size_t)k * h * w;
                double v11 = in_y1 && in_x1 ? p[y1 * (long)w + x1] : 0.0;
                double v12 = in_y1 && in_x2 ? p[y1 * (long)w + x2] : 0.0;
                double v21 = in_y2 && in_x1 ? p[y2 * (long)w + x1] : 0.0;
                double v22 = in_y2 && in_x2 ? p[y2 * (long)w + x2] : 0.0;
                double v = (1 - wy) * ((1 - wx) * v11 + wx * v12) + wy * ((1 - wx) * v21 + wx * v22);
                dst[((size_t)k * out_h + oy) * out_w + ox] = (float)v;
            }
        }
    }
}

static double unif(dh__rng *r, double lo, double hi) { return lo + (hi - lo) * dh__rng_unif(r); }

/* torchvision RandomResizedCrop.get_params: 10 tries, then a centre crop clamped to the
 * ratio range. */
static void resized_crop_box(uint32_t h, uint32_t w, const dh__aug_params *p, dh__rng *r,
                             double box[4])
{
    double area = (double)h * w, lr0 = log(p->ratio_min), lr1 = log(p->ratio_max);
    for (int t = 0; t < 10; t++) {
        double a = area * unif(r, p->scale_min, p->scale_max), ar = exp(unif(r, lr0, lr1));
        double cw = round(sqrt(a * ar)), ch = round(sqrt(a / ar));
        if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
            box[0] = (double)dh__rng_below(r, (uint64_t)(w - cw) + 1);
            box[1] = (double)dh__rng_below(r, (uint64_t)(h - ch) + 1);
            box[2] = cw, box[3] = ch;
            return;
        }
    }
    double in_ratio = (double)w / h, cw = w, ch = h;
    if (in_ratio < p->ratio_min) ch = round(cw / p->ratio_min);
    else if (in_ratio > p->ratio_max) cw = round(ch * p->ratio_max);
    box[0] = floor((w - cw) / 2), box[1] = floor((h - ch) / 2), box[2] = cw, box[3] = ch;
}

/* The source region (x0, y0, w, h) that maps to the output. */
static void crop_box(uint32_t h, uint32_t w, const dh__aug_params *p, dh__rng *r, double box[4])
{
    if (p->flags & DH_AUG_RESIZED_CROP) {
        resized_crop_box(h, w, p, r, box);
    } else if (p->flags & DH_AUG_RANDOM_CROP) {
        /* offsets in the zero-padded image, then back to image coordinates */
        uint64_t rx = (uint64_t)(w + 2 * p->pad - p->out_w) + 1;
        uint64_t ry = (uint64_t)(h + 2 * p->pad - p->out_h) + 1;
        box[0] = (double)dh__rng_below(r, rx) - p->pad;
        box[1] = (double)dh__rng_below(r, ry) - p->pad;
        box[2] = p->out_w, box[3] = p->out_h;
    } else if (p->flags & DH_AUG_CENTER_CROP) {
        double shorter = (double)(p->out_h < p->out_w ? p->out_h : p->out_w) / p->resize_ratio;
        double scale = shorter / (double)(h < w ? h : w); /* output px per source px */
        box[2] = p->out_w / scale, box[3] = p->out_h / scale;
        box[0] = (w - box[2]) / 2, box[1] = (h - box[3]) / 2;
    } else {
        box[0] = 0, box[1] = 0, box[2] = w, box[3] = h;
    }
}

static void flip(float *x, uint32_t c, uint32_t h, uint32_t w)
{
    for (size_t row = 0; row < (size_t)c * h; row++) {
        float *p = x + row * w;
        for (uint32_t i = 0, j = w - 1; i < j; i++, j--) {
            float t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
    }
}

static float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

static void grey_plane(const float *x, size_t hw, uint32_t c, float *g)
{
    for (size_t i = 0; i < hw; i++)
        g[i] = c == 3 ? 0.299f * x[i] + 0.587f * x[hw + i] + 0.114f * x[2 * hw + i] : x[i];
}

/* brightness, contrast, saturation (torchvision's blends, fixed order). g: hw floats. */
static void jitter(float *x, uint32_t c, size_t hw, const dh__aug_params *p, dh__rng *r,
                   float *g)
{
    float fb = (float)unif(r, 1.0 - p->brightness, 1.0 + p->brightness);
    float fc = (float)unif(r, 1.0 - p->contrast, 1.0 + p->contrast);
    float fs = (float)unif(r, 1.0 - p->saturation, 1.0 + p->saturation);
    size_t n = (size_t)c * hw;
    for (size_t i = 0; i < n; i++) x[i] = clamp01(x[i] * fb);
    grey_plane(x, hw, c, g);
    double m = 0.0;
    for (size_t i = 0; i < hw; i++) m += g[i];
    float mean = (float)(m / (double)hw);
    for (size_t i = 0; i < n; i++) x[i] = clamp01((x[i] - mean) * fc + mean);
    if (c != 3) return;
    grey_plane(x, hw, c, g);
    for (uint32_t k = 0; k < 3; k++)
        for (size_t i = 0; i < hw; i++)
            x[k * hw + i] = clamp01((x[k * hw + i] - g[i]) * fs + g[i]);
}

/* torchvision GaussianBlur(3): separable 3-tap kernel exp(-x^2 / 2 sigma^2), reflect
 * padding, in place on each plane (t: one plane of scratch). */
static void blur3(float *x, uint32_t c, uint32_t h, uint32_t w, double sigma, float *t)
{
    double e = exp(-1.0 / (2 * sigma * sigma)), s = 1 + 2 * e;
    float w0 = (float)(1 / s), w1 = (float)(e / s);
    for (uint32_t k = 0; k < c; k++) {
        float *p = x + (size_t)k * h * w;
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t i = 0; i < w; i++) {
                uint32_t l = i ? i - 1 : (w > 1 ? 1 : 0), r = i + 1 < w ? i + 1 : (w > 1 ? i - 1 : 0);
                t[(size_t)y * w + i] = w0 * p[(size_t)y * w + i] + w1 * (p[(size_t)y * w + l] +
                                                                       p[(size_t)y * w + r]);
            }
        for (uint32_t y = 0; y < h; y++) {
            uint32_t u = y ? y - 1 : (h > 1 ? 1 : 0), d = y + 1 < h ? y + 1 : (h > 1 ? y - 1 : 0);
            for (uint32_t i = 0; i < w; i++)
                p[(size_t)y * w + i] = w0 * t[(size_t)y * w + i] +
                                       w1 * (t[(size_t)u * w + i] + t[(size_t)d * w + i]);
        }
    }
}

dh_status dh__augment(const uint8_t *img, uint32_t h, uint32_t w, uint32_t c,
                      const dh__aug_params *p, dh__rng *rng, dh__aug_scratch *s, float *out)
{
    size_t hw = (size_t)h * w, ohw = (size_t)p->out_h * p->out_w;
    DH_TRY(scratch_reserve(s, (hw > ohw ? hw : ohw) * c));
    for (uint32_t k = 0; k < c; k++) /* HWC uint8 -> CHW [0, 1] */
        for (size_t i = 0; i < hw; i++) s->a[k * hw + i] = (float)img[i * c + k] * (1.0f / 255);
    double box[4];
    crop_box(h, w, p, rng, box);
    if (box[0] == 0 && box[1] == 0 && box[2] == w && box[3] == h && p->out_h == h &&
        p->out_w == w)
        memcpy(out, s->a, hw * c * sizeof(float));
    else
        dh__resize_crop(s->a, c, h, w, box[0], box[1], box[2], box[3], p->out_h, p->out_w, out);
    if ((p->flags & DH_AUG_FLIP) && dh__rng_unif(rng) < p->flip_prob)
        flip(out, c, p->out_h, p->out_w);
    if (p->flags & DH_AUG_COLOR_JITTER) jitter(out, c, ohw, p, rng, s->b);
    if ((p->flags & DH_AUG_GRAYSCALE) && c == 3 && dh__rng_unif(rng) < p->gray_prob) {
        grey_plane(out, ohw, c, s->b);
        for (uint32_t k = 0; k < 3; k++) memcpy(out + k * ohw, s->b, ohw * sizeof(float));
    }
    /* draws only under the flag, so streams without it are unchanged */
    if ((p->flags & DH_AUG_BLUR) && dh__rng_unif(rng) < p->blur_prob)
        blur3(out, c, p->out_h, p->out_w, unif(rng, 0.1, 2.0), s->b);
    for (uint32_t k = 0; k < c; k++) {
        float m = p->mean[k], inv = p->inv_std[k];
        float *o = out + k * ohw;
        if (m == 0.0f && inv == 1.0f) continue;
        for (size_t i = 0; i < ohw; i++) o[i] = (o[i] - m) * inv;
    }
    return DH_OK;
}
