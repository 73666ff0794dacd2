/* lib/data/data.h -- datasets, sources, splits, augmentation and loaders (internal). */
#ifndef DH_DATA_H
#define DH_DATA_H

#include "core/core.h"
#include "core/rng.h"
#include "data/npy.h"

#include <stdatomic.h>

/** Fisher-Yates shuffle of v[n]. */
void dh__shuffle_i64(int64_t *v, size_t n, dh__rng *r);

/* ---- sources: the pixel / feature storage shared by datasets ---- */
enum { DH__SRC_IMAGES = 1, DH__SRC_FEATURES = 2, DH__SRC_LIST = 3, DH__SRC_CONCAT = 4 };

typedef struct dh__source dh__source;
typedef struct dh__imagelist dh__imagelist;

typedef struct dh__part {
    dh__source *src;
    int64_t *map; /* NULL: identity */
    size_t n, offset;
} dh__part;

struct dh__source {
    atomic_int refs;
    int kind;
    int is_image;
    uint32_t height, width, channels, dim; /* dim: values per sample */
    size_t n;
    const uint8_t *pixels; /* DH__SRC_IMAGES: [n, h, w, c] */
    const float *feats;    /* DH__SRC_FEATURES: [n, dim] */
    void *owned;           /* freed with the source (copied arrays) */
    dh__imagelist *list;   /* DH__SRC_LIST, read and freed through its own functions
                            * (set by imagelist.c, so dataset.c needs nothing of it): */
    dh_status (*list_get)(dh__imagelist *l, size_t j, uint8_t *out);
    void (*list_destroy)(dh__imagelist *l);
    dh__part parts[2];     /* DH__SRC_CONCAT */
};

dh__source *dh__source_new(int kind); /* refs = 1; NULL + message on failure */
void dh__source_retain(dh__source *s);
void dh__source_release(dh__source *s);
/** Sample j of the source as uint8 HWC (images) into out[h*w*c]. */
dh_status dh__source_image(dh__source *s, size_t j, uint8_t *out);
/** Sample j of a feature source into out[dim]. */
dh_status dh__source_features(dh__source *s, size_t j, float *out);

/* ---- datasets ---- */
struct dh_dataset {
    dh__source *src;
    int64_t *map; /* [n] indices into src, or NULL for identity (n == src->n) */
    size_t n;
    uint32_t n_classes, n_tags;
    float *labels;      /* [n, n_classes] 0/1, NULL if n_classes == 0 */
    int32_t *class_ids; /* [n] */
    float *tags;        /* [n, n_tags] or NULL */
    int multilabel;
};

static inline int64_t dh__ds_src_index(const dh_dataset *ds, size_t i)
{
    return ds->map ? ds->map[i] : (int64_t)i;
}

/** A dataset over `src` (takes the reference) with n_classes labels; labels and class
 *  ids zeroed/-1. */
dh_status dh__dataset_new(dh__source *src, size_t n, uint32_t n_classes, dh_dataset **out);
/** Set labels from class ids [n] or multi-hot rows [n, C] (one of them non-NULL, or
 *  neither). Validates ranges / 0-1 values; `what` names the input in messages. */
dh_status dh__dataset_set_labels(dh_dataset *ds, const int32_t *class_ids, const float *labels,
                                 const char *what);
/** Subset with new label columns: if `labels` is non-NULL it is [n, n_classes] for the
 *  picked rows; otherwise the rows are copied from ds. */
dh_status dh__dataset_pick(const dh_dataset *ds, const int64_t *idx, size_t n,
                           uint32_t n_classes, const float *labels, dh_dataset **out);

/* ---- formats ---- */
/** Read a whole file, inflating it if it starts with the gzip magic. */
dh_status dh__read_maybe_gzip(const char *path, uint8_t **out, size_t *out_len);
/** Parse an IDX image + label pair held in memory. */
dh_status dh__idx_parse(const uint8_t *img, size_t img_len, const char *img_name,
                        const uint8_t *lab, size_t lab_len, const char *lab_name,
                        dh_dataset **out);
/** Parse CIFAR records (a concatenation of batch files) held in memory. */
dh_status dh__cifar_parse(const uint8_t *buf, size_t len, int32_t variant, const char *name,
                          dh_dataset **out);

/** Parsed image list: paths and labels, no images touched. */
typedef struct dh__listfile {
    size_t n;
    uint32_t n_classes;
    char **paths;       /* [n] into `text` */
    char *text;         /* owned copy of the list text */
    float *labels;      /* [n, n_classes] */
    int32_t *class_ids; /* [n] or NULL (multi-hot) */
    size_t *line_no;    /* [n] 1-based line of each entry, for messages */
} dh__listfile;
dh_status dh__imagelist_parse(const char *text, size_t len, const char *name,
                              int32_t label_format, uint32_t n_classes, dh__listfile *out);
void dh__listfile_free(dh__listfile *lf);
dh_status dh__imagelist_get(dh__imagelist *l, size_t j, uint8_t *out);
void dh__imagelist_destroy(dh__imagelist *l);

/** The options a loader runs with (defaults and output size filled in); tests and the
 *  trainer's checks read them. */
const dh_loader_options *dh__loader_options(const dh_loader *L);

/* ---- augmentation (lib/data/augment.c) ---- */
typedef struct dh__aug_params {
    uint32_t flags, out_h, out_w, pad;
    float flip_prob, scale_min, scale_max, ratio_min, ratio_max;
    float brightness, contrast, saturation, gray_prob, resize_ratio, blur_prob;
    float mean[4], inv_std[4];
} dh__aug_params;

/** Scratch sized for one image: call with the source and output sizes. */
typedef struct dh__aug_scratch {
    float *a, *b;
    size_t cap;
} dh__aug_scratch;
void dh__aug_scratch_free(dh__aug_scratch *s);

/** Augment one HWC uint8 image (h x w x c) into CHW float out[c * out_h * out_w],
 *  drawing all randomness from `rng`. */
dh_status dh__augment(const uint8_t *img, uint32_t h, uint32_t w, uint32_t c,
                      const dh__aug_params *p, dh__rng *rng, dh__aug_scratch *s, float *out);

/** Bilinear resize of the crop (x0, y0, cw, ch) (floats, may extend past the image:
 *  zero there) of a CHW float image to out_h x out_w. */
void dh__resize_crop(const float *src, uint32_t c, uint32_t h, uint32_t w, double x0, double y0,
                     double cw, double ch, uint32_t out_h, uint32_t out_w, float *dst);

#endif
