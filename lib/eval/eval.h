/* lib/eval/eval.h -- retrieval metrics from Hamming histograms (internal).
 *
 * Flow of one evaluation (engine.c):
 *   eval_api.c validates the options and builds a dh__eval_request (which metrics),
 *   data.c a dh__eval_data (codes as uint64 words, labels as class ids or bit masks);
 *   engine.c splits the queries into a fixed number of blocks, and for every query
 *   scan.c makes one pass over the database (distance, relevance, per-distance count,
 *   position of each relevant item inside its distance bucket); ties.c turns that
 *   profile into AP, hits at N, and PR points under either tie policy. Block sums are
 *   added in block order, so results never depend on the thread count. */
#ifndef DH_EVAL_H
#define DH_EVAL_H

#include "core/core.h"

/* ---- inputs (data.c) ------------------------------------------------------- */

enum { DH__REL_CLASS = 0, DH__REL_MASK = 1 };

/** Validated inputs. Codes are read as `words` uint64 per row, `stride` bytes apart
 *  (caller memory when rows are a whole number of words, else a padded copy). */
typedef struct dh__eval_data {
    uint32_t n_bits;
    uint32_t words;        /* ceil(n_bits / 64) */
    size_t n_queries, n_db;
    const uint8_t *q_codes, *db_codes;
    size_t q_stride, db_stride;
    int32_t rel_kind;      /* DH__REL_CLASS or DH__REL_MASK */
    uint32_t label_words;  /* DH__REL_MASK: uint64 words per label row */
    const int32_t *q_ids, *db_ids;    /* DH__REL_CLASS (copies; no label: -2 / -1) */
    const uint64_t *q_mask, *db_mask; /* DH__REL_MASK (owned copies) */
    void *owned[4];        /* freed by dh__eval_data_free */
} dh__eval_data;

/** Validate codes and labels and build `d` (see dh.h for the rules). */
dh_status dh__eval_data_init(dh__eval_data *d, const dh_eval_options *o,
                             const uint8_t *query_codes, const void *query_labels,
                             size_t n_queries, const uint8_t *db_codes, const void *db_labels,
                             size_t n_db);
void dh__eval_data_free(dh__eval_data *d);
/** Whether query q has at least one label. */
int dh__eval_query_labeled(const dh__eval_data *d, size_t q);

/* ---- what to compute, and the results ------------------------------------- */

typedef struct dh__eval_request {
    int want_map;
    uint64_t topk;          /* 0 = all */
    const uint64_t *ns;     /* [n_ns] cut-offs, any order */
    size_t n_ns;
    int want_pr;            /* PR curve by radius */
    int want_ball;
    uint32_t radius;
    int32_t ties, no_relevant;
    dh_eval_progress_fn progress;
    void *progress_user;
    int n_threads;
    /* From parts (parts.c): each query's profile is read from part_hist [nq, 2, K+1]
     * instead of scanning; under index-order ties AP and hits@N come from part_sums
     * [nq, n_ns + 2] (dh_eval_part_sums). NULL: scan the database. */
    const uint32_t *part_hist;
    const double *part_sums;
} dh__eval_request;

typedef struct dh__eval_result {
    double map;
    double *ap;                     /* [n_queries] or NULL */
    double *p_at_n, *r_at_n;        /* [n_ns] or NULL */
    double *pr_precision, *pr_recall; /* [n_bits + 1] or NULL */
    double ball_precision, ball_recall, ball_empty;
} dh__eval_result;

dh_status dh__eval_run(const dh__eval_data *d, const dh__eval_request *rq,
                       dh__eval_result *res);
/** Validate and copy the caller's options (read_options of eval_api.c). */
dh_status dh__eval_read_options(const char *fn, const dh_eval_options *opts,
                                dh_eval_options *o);
/** Queries' labels only (no codes, no database): enough for dh__eval_query_labeled. */
dh_status dh__eval_query_labels_init(dh__eval_data *d, const dh_eval_options *o,
                                     const void *query_labels, size_t n_queries);

/* ---- per-query pass (scan.c) ---------------------------------------------- */

/** One query against the whole database. cnt [n_bits + 1] must be zero on entry and
 *  receives the number of items at each distance. rel [n_db] receives, for each
 *  relevant item in database order, (distance << 32 | number of items at that distance
 *  that precede it in the database); entries past the count are scratch. Returns the
 *  number of relevant items R. */
typedef uint64_t (*dh__eval_scan_fn)(const dh__eval_data *d, size_t q, uint32_t *cnt,
                                     uint64_t *rel);
/* Targets of eval's fused loops: the core layer's (hamming_simd.h) plus AVX-512VL. */
#define DH__TGT_EVAL_AVX512VP \
    __attribute__((target("popcnt,avx2,avx512f,avx512vl,avx512bw,avx512vpopcntdq")))

/** The kernel for d's shape on the kernel set in use (dh__isa()). */
dh__eval_scan_fn dh__eval_scan_select(const dh__eval_data *d);
/** The AVX-512 (BW + VPOPCNTDQ) kernel for codes of one word and class-id or one-word
 *  labels, or NULL for other shapes (scan_avx512.c; the caller checks the CPU). */
dh__eval_scan_fn dh__eval_scan_avx512_w1(const dh__eval_data *d);
/** The portable kernel for any shape (a slow reference for tests). */
uint64_t dh__eval_scan_ref(const dh__eval_data *d, size_t q, uint32_t *cnt, uint64_t *rel);

/* ---- per-query metrics from a distance profile (ties.c) ------------------- */

/** A query's ranking in summary: cnt/rcnt [n_bits + 1] items and relevant items per
 *  distance; ranks [R] (index order only) the 1-based ranks of relevant items,
 *  ascending. */
typedef struct dh__eval_profile {
    uint32_t n_bits;
    uint64_t n_db;
    uint64_t R;
    const uint32_t *cnt, *rcnt;
    const uint32_t *ranks; /* NULL under DH_TIES_EXPECTED */
} dh__eval_profile;

/** AP@k (k = n_db for mAP over all). Sets *has_hits to whether any order puts a
 *  relevant item in the top k (R_k > 0); AP is 0 when it is 0. */
double dh__eval_ap(const dh__eval_profile *p, int32_t ties, uint64_t k, int *has_hits);
/** Relevant items among the first ns[i] of the ranking (expected value under
 *  DH_TIES_EXPECTED), for m cut-offs in ascending order; out [m]. */
void dh__eval_hits_at(const dh__eval_profile *p, int32_t ties, const uint64_t *ns, size_t m,
                      double *out);
/** sum_{s=0}^{m-1} 1/(base+1+s) and sum_{s=0}^{m-1} s/(base+1+s), accurately. */
void dh__eval_tie_sums(uint64_t base, uint64_t m, double *h, double *t);

#endif
