/* lib/model/encode_dataset.c -- a model over a whole dh_dataset: the loader options that
 * match the model's input (size, normalisation, centre crop) and dh_model_encode_dataset. */
#include "model/model.h"

/* Loader options matching the model's input: size and normalisation. */
dh_status dh__model_loader_options(dh_model *m, const dh_dataset *ds, dh_loader_options *lo)
{
    const dh_model_options *mo = dh_model_get_options(m);
    int64_t shape[3] = {0, 0, 0};
    int32_t nd = dh_model_input_shape(m, shape);
    if (dh_dataset_is_image(ds)) {
        if (nd != 3 || (int64_t)dh_dataset_channels(ds) != shape[0])
            return dh__set_error(DH_E_SHAPE, "the dataset's images have %u channels, the model "
                                 "expects input %s with %lld", dh_dataset_channels(ds),
                                 nd == 3 ? "CHW" : "rows", (long long)shape[0]);
        lo->out_height = (uint32_t)shape[1];
        lo->out_width = (uint32_t)shape[2];
        if (dh_dataset_height(ds) != lo->out_height || dh_dataset_width(ds) != lo->out_width)
            lo->augment |= DH_AUG_CENTER_CROP;
        for (int c = 0; c < 4; c++) {
            lo->mean[c] = mo->mean[c];
            lo->std[c] = mo->std[c];
        }
    } else {
        size_t want = nd == 1 ? (size_t)shape[0] : (size_t)(shape[0] * shape[1] * shape[2]);
        if (dh_dataset_sample_size(ds) != want)
            return dh__set_error(DH_E_SHAPE, "the dataset's rows have %zu values, the model "
                                 "expects %zu", dh_dataset_sample_size(ds), want);
    }
    return DH_OK;
}

dh_status dh_model_encode_dataset(dh_model *m, const dh_dataset *ds, uint8_t *out_codes,
                                  float *out_u)
{
    DH_CHECK_ARG(m != NULL && ds != NULL && (out_codes || out_u));
    dh_loader_options lo;
    dh_loader_options_init(&lo);
    lo.batch_size = 256;
    lo.shuffle = 0;
    DH_TRY(dh__model_loader_options(m, ds, &lo));
    dh_loader *ld = NULL;
    DH_TRY(dh_loader_create(ds, &lo, &ld));
    size_t sl = dh_loader_sample_floats(ld), K = dh_model_n_bits(m), cb = dh_code_bytes((uint32_t)K);
    float *x = dh__alloc(dh_loader_batch_floats(ld) * sizeof(float));
    dh_status st = x ? DH_OK : DH_E_NO_MEMORY;
    size_t done = 0, total = dh_dataset_count(ds);
    while (st == DH_OK && done < total) {
        size_t n = 0;
        st = dh_loader_next(ld, x, NULL, NULL, NULL, NULL, &n);
        if (st != DH_OK || n == 0) break;
        st = dh_model_encode_float(m, x, n, sl, out_codes ? out_codes + done * cb : NULL,
                                   out_u ? out_u + done * K : NULL);
        done += n;
    }
    if (st == DH_OK && done != total)
        st = dh__set_error(DH_E_INTERNAL, "dh_model_encode_dataset: loader gave %zu of %zu",
                           done, total);
    dh__free(x);
    dh_loader_free(ld);
    return st;
}

