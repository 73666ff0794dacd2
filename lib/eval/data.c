/* lib/eval/data.c -- the inputs of an evaluation (dh__eval_data): codes as whole
 * uint64 words (caller memory or a padded copy), labels as normalised class ids or
 * multi-hot bit masks, checked against the options; dh__eval_query_labeled. */
#include "eval/eval.h"

#include <math.h>
#include <string.h>

/* Codes: caller memory when a row is whole words, else a zero-padded copy with the
 * padding bits of the last byte masked (K % 8 != 0: the kernels read whole words). */
static dh_status prepare_codes(dh__eval_data *d, const uint8_t *codes, size_t n, int slot,
                               const uint8_t **out, size_t *stride)
{
    const size_t bytes = dh_code_bytes(d->n_bits), wbytes = (size_t)d->words * 8;
    const uint8_t last = dh__code_last_mask(d->n_bits);
    if (bytes == wbytes && last == 0xFF) {
        *out = codes;
        *stride = bytes;
        return DH_OK;
    }
    size_t total;
    if (!dh__mul_ok(n, wbytes, &total))
        return dh__set_error(DH_E_NO_MEMORY, "dh_eval: %zu codes do not fit in memory", n);
    uint8_t *buf = dh__calloc(total, 1);
    if (!buf) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + i * wbytes, codes + i * bytes, bytes);
        buf[i * wbytes + bytes - 1] &= last;
    }
    d->owned[slot] = buf;
    *out = buf;
    *stride = wbytes;
    return DH_OK;
}

/* Class ids, checked against n_classes and copied with "no label" made distinct on the
 * two sides (queries -2, database -1), so that equality alone means relevance. */
static dh_status copy_ids(dh__eval_data *d, const int32_t *ids, size_t n, uint32_t n_classes,
                          int32_t none, int slot, const char *name, const int32_t **out)
{
    for (size_t i = 0; n_classes && i < n; i++)
        if (ids[i] >= 0 && (uint32_t)ids[i] >= n_classes)
            return dh__set_error(DH_E_INVALID_ARG,
                                 "dh_eval: %s[%zu] = %d is not below opts->n_classes = %u", name,
                                 i, ids[i], n_classes);
    int32_t *c = dh__calloc(n, sizeof(int32_t));
    if (!c) return DH_E_NO_MEMORY;
    d->owned[slot] = c;
    for (size_t i = 0; i < n; i++) c[i] = ids[i] >= 0 ? ids[i] : none;
    *out = c;
    return DH_OK;
}

/* Multi-hot rows -> bit masks of label_words uint64 per row. */
static dh_status pack_labels(dh__eval_data *d, const void *labels, size_t n, int32_t type,
                             uint32_t n_classes, int slot, const char *name,
                             const uint64_t **out)
{
    const size_t lw = d->label_words;
    size_t total;
    if (!dh__mul_ok(n, lw * 8, &total))
        return dh__set_error(DH_E_NO_MEMORY, "dh_eval: %s of %zu rows do not fit", name, n);
    uint64_t *m = dh__calloc(n * lw, sizeof(uint64_t));
    if (!m) return DH_E_NO_MEMORY;
    d->owned[slot] = m;
    for (size_t i = 0; i < n; i++) {
        uint64_t *row = m + i * lw;
        if (type == DH_LABELS_MULTIHOT_U8) {
            const uint8_t *src = (const uint8_t *)labels + i * n_classes;
            for (uint32_t c = 0; c < n_classes; c++)
                row[c / 64] |= (uint64_t)(src[c] != 0) << (c % 64);
            continue;
        }
        const float *src = (const float *)labels + i * n_classes;
        for (uint32_t c = 0; c < n_classes; c++) {
            if (isnan(src[c]))
                return dh__set_error(DH_E_INVALID_ARG, "dh_eval: %s[%zu, %u] is NaN", name, i,
                                     c);
            row[c / 64] |= (uint64_t)(src[c] > 0.0f) << (c % 64);
        }
    }
    *out = m;
    return DH_OK;
}

static dh_status prepare_labels(dh__eval_data *d, const dh_eval_options *o,
                                const void *query_labels, const void *db_labels)
{
    if (o->label_type == DH_LABELS_CLASS_I32) {
        d->rel_kind = DH__REL_CLASS;
        DH_TRY(copy_ids(d, query_labels, d->n_queries, o->n_classes, -2, 2, "query_labels",
                        &d->q_ids));
        return copy_ids(d, db_labels, d->n_db, o->n_classes, -1, 3, "db_labels", &d->db_ids);
    }
    d->rel_kind = DH__REL_MASK;
    d->label_words = (o->n_classes + 63) / 64;
    DH_TRY(pack_labels(d, query_labels, d->n_queries, o->label_type, o->n_classes, 2,
                       "query_labels", &d->q_mask));
    return pack_labels(d, db_labels, d->n_db, o->label_type, o->n_classes, 3, "db_labels",
                       &d->db_mask);
}

void dh__eval_data_free(dh__eval_data *d)
{
    for (int i = 0; i < 4; i++) dh__free(d->owned[i]);
    memset(d->owned, 0, sizeof d->owned);
}

dh_status dh__eval_data_init(dh__eval_data *d, const dh_eval_options *o,
                             const uint8_t *query_codes, const void *query_labels,
                             size_t n_queries, const uint8_t *db_codes, const void *db_labels,
                             size_t n_db)
{
    memset(d, 0, sizeof *d);
    DH_CHECK_ARG_MSG(query_codes && db_codes, "dh_eval: %s is NULL",
                     query_codes ? "db_codes" : "query_codes");
    DH_CHECK_ARG_MSG(query_labels && db_labels, "dh_eval: %s is NULL",
                     query_labels ? "db_labels" : "query_labels");
    DH_CHECK_ARG_MSG(n_queries >= 1, "dh_eval: n_queries is 0");
    DH_CHECK_ARG_MSG(n_db >= 1 && n_db <= UINT32_MAX,
                     "dh_eval: n_db = %zu; it must be in 1..4294967295", n_db);
    d->n_bits = o->n_bits;
    d->words = (o->n_bits + 63) / 64;
    d->n_queries = n_queries;
    d->n_db = n_db;
    dh_status st;
    DH_TRY_GOTO(prepare_codes(d, query_codes, n_queries, 0, &d->q_codes, &d->q_stride), fail);
    DH_TRY_GOTO(prepare_codes(d, db_codes, n_db, 1, &d->db_codes, &d->db_stride), fail);
    DH_TRY_GOTO(prepare_labels(d, o, query_labels, db_labels), fail);
    return DH_OK;
fail:
    dh__eval_data_free(d);
    return st;
}

dh_status dh__eval_query_labels_init(dh__eval_data *d, const dh_eval_options *o,
                                     const void *query_labels, size_t n_queries)
{
    memset(d, 0, sizeof *d);
    DH_CHECK_ARG_MSG(query_labels != NULL, "dh_eval: query_labels is NULL");
    DH_CHECK_ARG_MSG(n_queries >= 1, "dh_eval: n_queries is 0");
    d->n_bits = o->n_bits;
    d->words = (o->n_bits + 63) / 64;
    d->n_queries = n_queries;
    dh_status st = DH_OK;
    if (o->label_type == DH_LABELS_CLASS_I32) {
        d->rel_kind = DH__REL_CLASS;
        st = copy_ids(d, query_labels, n_queries, o->n_classes, -2, 2, "query_labels",
                      &d->q_ids);
    } else {
        d->rel_kind = DH__REL_MASK;
        d->label_words = (o->n_classes + 63) / 64;
        st = pack_labels(d, query_labels, n_queries, o->label_type, o->n_classes, 2,
                         "query_labels", &d->q_mask);
    }
    if (st != DH_OK) dh__eval_data_free(d);
    return st;
}

int dh__eval_query_labeled(const dh__eval_data *d, size_t q)
{
    if (d->rel_kind == DH__REL_CLASS) return d->q_ids[q] >= 0;
    for (uint32_t w = 0; w < d->label_words; w++)
        if (d->q_mask[q * d->label_words + w]) return 1;
    return 0;
}
