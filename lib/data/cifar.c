/* lib/data/cifar.c -- CIFAR-10 / CIFAR-100 binary batches. A CIFAR-10 record is 1 label
 * byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major 32x32); a CIFAR-100 record
 * is coarse label, fine label, then the same 3072 bytes. */
#include "data/data.h"

#include "io/io.h"

#include <string.h>

#define CIFAR_PIX 3072u

static size_t record_size(int32_t variant) { return variant == DH_CIFAR10 ? 3073u : 3074u; }

static uint32_t n_classes_of(int32_t variant)
{
    return variant == DH_CIFAR10 ? 10u : variant == DH_CIFAR100 ? 100u : 20u;
}

/* Sizes and label ranges of the records in buf[len], named `name` in messages. */
static dh_status check_records(const uint8_t *buf, size_t len, int32_t variant, const char *name)
{
    size_t rs = record_size(variant), n = len / rs;
    uint32_t C = n_classes_of(variant);
    size_t lab_off = variant == DH_CIFAR100 ? 1u : 0u;
    if (len % rs != 0)
        return dh__set_error(DH_E_FORMAT, "%s: %zu bytes is not a whole number of %zu-byte CIFAR "
                             "records (truncated record at offset %zu)", name, len, rs, n * rs);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = buf + i * rs;
        if (variant != DH_CIFAR10 && r[0] >= 20)
            return dh__set_error(DH_E_FORMAT, "%s: coarse label %u at offset %zu is not below 20",
                                 name, r[0], i * rs);
        if (r[lab_off] >= C)
            return dh__set_error(DH_E_FORMAT, "%s: label %u at offset %zu is not below %u", name,
                                 r[lab_off], i * rs + lab_off, C);
    }
    return DH_OK;
}

dh_status dh__cifar_parse(const uint8_t *buf, size_t len, int32_t variant, const char *name,
                          dh_dataset **out)
{
    *out = NULL;
    DH_TRY(check_records(buf, len, variant, name));
    size_t rs = record_size(variant), n = len / rs;
    size_t lab_off = variant == DH_CIFAR100 ? 1u : 0u;
    uint8_t *pix = dh__alloc_aligned(n * CIFAR_PIX + 1, 64);
    int32_t *ids = dh__alloc(n * sizeof(int32_t) + 1);
    dh_status st = DH_E_NO_MEMORY;
    if (pix && ids) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *r = buf + i * rs, *p = r + (rs - CIFAR_PIX);
            uint8_t *o = pix + i * CIFAR_PIX;
            ids[i] = r[lab_off];
            for (size_t k = 0; k < 1024; k++) { /* planar -> HWC */
                o[3 * k] = p[k];
                o[3 * k + 1] = p[1024 + k];
                o[3 * k + 2] = p[2048 + k];
            }
        }
        st = dh_dataset_from_images_ref(pix, n, 32, 32, 3, ids, NULL, n_classes_of(variant), out);
        if (st == DH_OK) (*out)->src->owned = pix, pix = NULL;
    }
    dh__free_aligned(pix);
    dh__free(ids);
    return st;
}

static dh_status append_file(const char *path, uint8_t **buf, size_t *len)
{
    uint8_t *b;
    size_t n;
    DH_TRY(dh__read_file(path, &b, &n));
    uint8_t *nb = dh__realloc(*buf, *len + n + 1);
    if (!nb) {
        dh__free(b);
        return DH_E_NO_MEMORY;
    }
    if (n) memcpy(nb + *len, b, n);
    dh__free(b);
    *buf = nb;
    *len += n;
    return DH_OK;
}

dh_status dh_dataset_load_cifar(const char *dir, int32_t variant, int32_t split,
                                dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(dir != NULL);
    DH_CHECK_ARG_MSG(variant == DH_CIFAR10 || variant == DH_CIFAR100 ||
                     variant == DH_CIFAR100_COARSE,
                     "dh_dataset_load_cifar: variant %d is not DH_CIFAR10, DH_CIFAR100 or "
                     "DH_CIFAR100_COARSE", variant);
    DH_CHECK_ARG_MSG(split == DH_SPLIT_TRAIN || split == DH_SPLIT_TEST,
                     "dh_dataset_load_cifar: split %d is not DH_SPLIT_TRAIN or _TEST", split);
    const char *names10[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                             "data_batch_4.bin", "data_batch_5.bin"};
    const char *test10[] = {"test_batch.bin"}, *train100[] = {"train.bin"},
               *test100[] = {"test.bin"};
    const char **names = variant == DH_CIFAR10 ? (split == DH_SPLIT_TRAIN ? names10 : test10)
                                               : (split == DH_SPLIT_TRAIN ? train100 : test100);
    size_t count = variant == DH_CIFAR10 && split == DH_SPLIT_TRAIN ? 5 : 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    dh_status st = DH_OK;
    char path[4200], label[4400];
    for (size_t k = 0; st == DH_OK && k < count; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        size_t before = len;
        st = append_file(path, &buf, &len);
        if (st == DH_OK) st = check_records(buf + before, len - before, variant, path);
    }
    snprintf(label, sizeof label, "%s/%s", dir, count > 1 ? "data_batch_*.bin" : names[0]);
    if (st == DH_OK) st = dh__cifar_parse(buf, len, variant, label, out);
    dh__free(buf);
    return st;
}
