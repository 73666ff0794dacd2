/* lib/data/split.c -- standard retrieval protocols (docs/methods.md#splits, docs/data.md#protocols) and split builders:
 * per-class sampling, long-tail subsets (LTHNet), class-incremental sessions. All
 * randomness comes from the seed, so splits are reproducible; outputs list their
 * samples in index order. */
#include "data/data.h"
#include "data/tags.h"

#include <math.h>
#include <string.h>

typedef struct proto {
    const char *name;
    int64_t topk;
} proto;

static const proto PROTOCOLS[] = {
    {"fashion-mnist", 0}, {"cifar10", 0},      {"cifar10-1", 0},     {"cifar10-2", 0},
    {"nuswide21", 5000},  {"coco", 5000},      {"imagenet100", 1000},
    {"fashion-mnist-tags", 0}, /* fashion-mnist + generated tags on train (tags_synth.c) */
};
#define N_PROTOCOLS (sizeof PROTOCOLS / sizeof PROTOCOLS[0])

const char *dh_protocol_name(uint32_t i) { return i < N_PROTOCOLS ? PROTOCOLS[i].name : NULL; }

static const proto *find_protocol(const char *name)
{
    for (size_t i = 0; i < N_PROTOCOLS; i++)
        if (!strcmp(name, PROTOCOLS[i].name)) return &PROTOCOLS[i];
    return NULL;
}

dh_status dh_protocol_topk(const char *name, int64_t *topk)
{
    DH_CHECK_ARG(name != NULL && topk != NULL);
    const proto *p = find_protocol(name);
    if (!p) return dh__set_error(DH_E_NOT_FOUND, "unknown protocol '%s'", name);
    *topk = p->topk;
    return DH_OK;
}

/* ---- helpers ---- */

/* Subset of the flagged rows (flag[i] == want), in index order. */
static dh_status pick_flagged(const dh_dataset *ds, const uint8_t *flag, uint8_t want,
                              dh_dataset **out)
{
    size_t n = 0;
    for (size_t i = 0; i < ds->n; i++) n += flag[i] == want;
    int64_t *idx = dh__alloc(n * sizeof(int64_t) + 1);
    if (!idx) return DH_E_NO_MEMORY;
    for (size_t i = 0, k = 0; i < ds->n; i++)
        if (flag[i] == want) idx[k++] = (int64_t)i;
    dh_status st = dh__dataset_pick(ds, idx, n, ds->n_classes, NULL, out);
    dh__free(idx);
    return st;
}

static int64_t *permutation(size_t n, uint64_t seed, uint64_t salt)
{
    int64_t *p = dh__alloc(n * sizeof(int64_t) + 1);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) p[i] = (int64_t)i;
    dh__rng r = dh__rng_derive(seed, salt, 0, 0);
    dh__shuffle_i64(p, n, &r);
    return p;
}

static dh_status need_single_label(const dh_dataset *ds, const char *what)
{
    if (ds->n_classes == 0)
        return dh__set_error(DH_E_INVALID_ARG, "%s: the dataset has no labels", what);
    for (size_t i = 0; i < ds->n; i++)
        if (ds->class_ids[i] < 0)
            return dh__set_error(DH_E_INVALID_ARG, "%s needs single-label data; sample %zu has "
                                 "%s", what, i, "several or no positive labels");
    return DH_OK;
}

/* Walk a random order and mark up to quota[k] samples of each class with mark k
 * (k = 1, 2, ...: the first stage with room wins); unmarked stay 0. */
static dh_status mark_per_class(const dh_dataset *ds, uint64_t seed, const uint32_t *quota,
                                int stages, uint8_t *flag, const char *what)
{
    size_t C = ds->n_classes;
    int64_t *perm = permutation(ds->n, seed, 0x5EED);
    uint32_t *cnt = dh__calloc(C * (size_t)stages, sizeof(uint32_t));
    dh_status st = perm && cnt ? DH_OK : DH_E_NO_MEMORY;
    for (size_t t = 0; st == DH_OK && t < ds->n; t++) {
        size_t i = (size_t)perm[t], c = (size_t)ds->class_ids[i];
        for (int k = 0; k < stages; k++)
            if (cnt[c * (size_t)stages + (size_t)k] < quota[k]) {
                cnt[c * (size_t)stages + (size_t)k]++;
                flag[i] = (uint8_t)(k + 1);
                break;
            }
    }
    for (size_t c = 0; st == DH_OK && c < C; c++)
        for (int k = 0; k < stages; k++)
            if (cnt[c * (size_t)stages + (size_t)k] < quota[k]) {
                st = dh__set_error(DH_E_SHAPE, "%s: class %zu has too few samples (%u wanted "
                                   "per class in stage %d)", what, c, quota[k], k + 1);
                break;
            }
    dh__free(perm);
    dh__free(cnt);
    return st;
}

dh_status dh_split_per_class(const dh_dataset *ds, uint32_t per_class, uint64_t seed,
                             dh_dataset **picked, dh_dataset **rest)
{
    DH_CHECK_ARG(picked != NULL);
    *picked = NULL;
    if (rest) *rest = NULL;
    DH_CHECK_ARG(ds != NULL);
    DH_TRY(need_single_label(ds, "dh_split_per_class"));
    uint8_t *flag = dh__calloc(ds->n + 1, 1);
    if (!flag) return DH_E_NO_MEMORY;
    dh_status st = mark_per_class(ds, seed, &per_class, 1, flag, "dh_split_per_class");
    if (st == DH_OK) st = pick_flagged(ds, flag, 1, picked);
    if (st == DH_OK && rest) st = pick_flagged(ds, flag, 0, rest);
    dh__free(flag);
    if (st != DH_OK) {
        dh_dataset_free(*picked);
        *picked = NULL;
    }
    return st;
}

/* ---- protocols ---- */

typedef struct outs {
    dh_dataset **train, **query, **db;
} outs;

static dh_status clone(const dh_dataset *ds, dh_dataset **out)
{
    int64_t *idx = dh__alloc(ds->n * sizeof(int64_t) + 1);
    if (!idx) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < ds->n; i++) idx[i] = (int64_t)i;
    dh_status st = dh__dataset_pick(ds, idx, ds->n, ds->n_classes, NULL, out);
    dh__free(idx);
    return st;
}

/* flag: 1 query, 2 train, 0 other. db_all: database = all but queries. */
static dh_status emit(const dh_dataset *u, const uint8_t *flag, int db_all, outs o)
{
    DH_TRY(pick_flagged(u, flag, 1, o.query));
    DH_TRY(pick_flagged(u, flag, 2, o.train));
    if (!db_all) return pick_flagged(u, flag, 0, o.db);
    uint8_t *f2 = dh__alloc(u->n + 1);
    if (!f2) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < u->n; i++) f2[i] = flag[i] == 1;
    dh_status st = pick_flagged(u, f2, 0, o.db);
    dh__free(f2);
    return st;
}

static dh_status split_cifar(const dh_dataset *u, uint64_t seed, int db_all, outs o)
{
    DH_TRY(need_single_label(u, "protocol cifar10"));
    uint8_t *flag = dh__calloc(u->n + 1, 1);
    if (!flag) return DH_E_NO_MEMORY;
    const uint32_t quota[2] = {100, 500};
    dh_status st = mark_per_class(u, seed, quota, 2, flag, "protocol cifar10");
    if (st == DH_OK) st = emit(u, flag, db_all, o);
    dh__free(flag);
    return st;
}

static dh_status split_random(const dh_dataset *u, uint64_t seed, size_t nq, size_t nt,
                              const char *name, outs o)
{
    if (u->n < nq + nt)
        return dh__set_error(DH_E_SHAPE, "protocol %s needs at least %zu samples, got %zu", name,
                             nq + nt, u->n);
    int64_t *perm = permutation(u->n, seed, 0x5EED);
    uint8_t *flag = dh__calloc(u->n + 1, 1);
    dh_status st = perm && flag ? DH_OK : DH_E_NO_MEMORY;
    for (size_t t = 0; st == DH_OK && t < nq + nt; t++) flag[perm[t]] = t < nq ? 1 : 2;
    if (st == DH_OK) st = emit(u, flag, 1, o);
    dh__free(perm);
    dh__free(flag);
    return st;
}

/* Keep the 21 most frequent label columns (ties: lower column) and the rows having one. */
static dh_status nus_top21(const dh_dataset *u, dh_dataset **out)
{
    size_t C = u->n_classes, K = 21;
    if (C <= K) return clone(u, out);
    double *freq = dh__calloc(C, sizeof(double));
    uint8_t *keep = dh__calloc(C, 1);
    int64_t *idx = dh__alloc(u->n * sizeof(int64_t) + 1);
    float *lab = dh__alloc(u->n * K * sizeof(float) + 1);
    dh_status st = freq && keep && idx && lab ? DH_OK : DH_E_NO_MEMORY;
    for (size_t i = 0; st == DH_OK && i < u->n * C; i++) freq[i % C] += u->labels[i];
    for (size_t k = 0; st == DH_OK && k < K; k++) {
        size_t best = C;
        for (size_t c = 0; c < C; c++)
            if (!keep[c] && (best == C || freq[c] > freq[best])) best = c;
        keep[best] = 1;
    }
    size_t n = 0;
    for (size_t i = 0; st == DH_OK && i < u->n; i++) {
        float *row = lab + n * K, any = 0.0f;
        for (size_t c = 0, k = 0; c < C; c++)
            if (keep[c]) row[k++] = u->labels[i * C + c], any += u->labels[i * C + c];
        if (any > 0.0f) idx[n++] = (int64_t)i;
    }
    if (st == DH_OK) st = dh__dataset_pick(u, idx, n, (uint32_t)K, lab, out);
    dh__free(freq), dh__free(keep), dh__free(idx), dh__free(lab);
    return st;
}

static dh_status split_nuswide(const dh_dataset *all, uint64_t seed, outs o)
{
    if (all->n_classes < 21)
        return dh__set_error(DH_E_INVALID_ARG, "protocol nuswide21 needs at least 21 label "
                             "columns, the dataset has %u", all->n_classes);
    dh_dataset *u;
    DH_TRY(nus_top21(all, &u));
    int64_t *perm = permutation(u->n, seed, 0x5EED);
    uint8_t *flag = dh__calloc(u->n + 1, 1);
    uint32_t cnt[2][21] = {{0}};
    dh_status st = perm && flag ? DH_OK : DH_E_NO_MEMORY;
    for (size_t t = 0; st == DH_OK && t < u->n; t++) {
        size_t i = (size_t)perm[t];
        const float *row = u->labels + i * 21;
        for (int stage = 0; stage < 2 && !flag[i]; stage++)
            for (size_t c = 0; c < 21; c++)
                if (row[c] > 0.0f && cnt[stage][c] < (stage ? 500u : 100u)) {
                    cnt[stage][c]++;
                    flag[i] = (uint8_t)(stage + 1);
                    break;
                }
    }
    for (size_t c = 0; st == DH_OK && c < 21; c++)
        if (cnt[0][c] < 100 || cnt[1][c] < 500)
            st = dh__set_error(DH_E_SHAPE, "protocol nuswide21: concept %zu (of the 21 kept) has "
                               "too few images for 100 query + 500 train", c);
    if (st == DH_OK) st = emit(u, flag, 1, o);
    dh__free(perm), dh__free(flag);
    dh_dataset_free(u);
    return st;
}

static dh_status run_protocol(const char *name, const dh_dataset *a, const dh_dataset *b,
                              const dh_dataset *u, uint64_t seed, outs o)
{
    if (!strcmp(name, "fashion-mnist") || !strcmp(name, "cifar10-2")) {
        if (!b)
            return dh__set_error(DH_E_INVALID_ARG, "protocol %s needs b = the test set", name);
        DH_TRY(clone(a, o.db));
        DH_TRY(clone(b, o.query));
        if (!strcmp(name, "cifar10-2")) return clone(a, o.train);
        return dh_split_per_class(a, 1000, seed, o.train, NULL);
    }
    if (!strcmp(name, "cifar10")) return split_cifar(u, seed, 0, o);
    if (!strcmp(name, "cifar10-1")) return split_cifar(u, seed, 1, o);
    if (!strcmp(name, "nuswide21")) return split_nuswide(u, seed, o);
    return split_random(u, seed, 5000, 10000, name, o);
}

dh_status dh_protocol_split(const char *name, const dh_dataset *a, const dh_dataset *b,
                            uint64_t seed, dh_dataset **train, dh_dataset **query,
                            dh_dataset **database)
{
    DH_CHECK_ARG(train != NULL && query != NULL && database != NULL);
    *train = *query = *database = NULL;
    DH_CHECK_ARG(name != NULL && a != NULL);
    if (!find_protocol(name)) {
        dh__set_error(DH_E_NOT_FOUND, "unknown protocol '%s' (known: fashion-mnist, "
                      "fashion-mnist-tags, cifar10, cifar10-1, cifar10-2, nuswide21, coco, "
                      "imagenet100)", name);
        return DH_E_NOT_FOUND;
    }
    dh_dataset *u = NULL;
    if (b && strncmp(name, "fashion-mnist", 13) && strcmp(name, "cifar10-2"))
        DH_TRY(dh_dataset_concat(a, b, &u));
    outs o = {train, query, database};
    int tags = !strcmp(name, "fashion-mnist-tags"); /* the fashion-mnist split + tags */
    dh_status st = run_protocol(tags ? "fashion-mnist" : name, a, b, u ? u : a, seed, o);
    dh_dataset_free(u);
    if (st == DH_OK && tags) { /* docs/data.md#tags: default keep 0.5, noise 0.2 */
        dh_tags *t = NULL;
        st = dh__tags_fashion(*train, 0.5, 0.2, seed, &t);
        if (st == DH_OK) st = dh_dataset_attach_tags(*train, t);
        dh_tags_free(t);
    }
    if (st != DH_OK) {
        dh_dataset_free(*train), dh_dataset_free(*query), dh_dataset_free(*database);
        *train = *query = *database = NULL;
    }
    return st;
}

/* ---- split builders ---- */

dh_status dh_split_longtail(const dh_dataset *ds, double imbalance, uint32_t max_per_class,
                            uint64_t seed, dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(ds != NULL);
    DH_CHECK_ARG_MSG(imbalance >= 1.0 && imbalance <= 1e6, "dh_split_longtail: imbalance %g "
                     "must be in [1, 1e6]", imbalance);
    DH_TRY(need_single_label(ds, "dh_split_longtail"));
    size_t C = ds->n_classes;
    uint32_t *have = dh__calloc(C, sizeof(uint32_t)), *quota = dh__calloc(C, sizeof(uint32_t));
    uint8_t *flag = dh__calloc(ds->n + 1, 1);
    int64_t *perm = permutation(ds->n, seed, 0x7A11);
    dh_status st = have && quota && flag && perm ? DH_OK : DH_E_NO_MEMORY;
    for (size_t i = 0; st == DH_OK && i < ds->n; i++) have[ds->class_ids[i]]++;
    uint32_t nmax = max_per_class;
    for (size_t c = 0; st == DH_OK && !max_per_class && c < C; c++)
        if (c == 0 || have[c] < nmax) nmax = have[c];
    for (size_t c = 0; st == DH_OK && c < C; c++) {
        double e = C > 1 ? -(double)c / (double)(C - 1) : 0.0;
        quota[c] = (uint32_t)floor((double)nmax * pow(imbalance, e));
        if (quota[c] < 1) quota[c] = 1;
        if (quota[c] > have[c])
            st = dh__set_error(DH_E_SHAPE, "dh_split_longtail: class %zu has %u samples, needs "
                               "%u", c, have[c], quota[c]);
    }
    for (size_t t = 0; st == DH_OK && t < ds->n; t++) {
        size_t i = (size_t)perm[t], c = (size_t)ds->class_ids[i];
        if (quota[c]) quota[c]--, flag[i] = 1;
    }
    if (st == DH_OK) st = pick_flagged(ds, flag, 1, out);
    dh__free(have), dh__free(quota), dh__free(flag), dh__free(perm);
    return st;
}

dh_status dh_split_classes(const dh_dataset *ds, uint32_t first_class, uint32_t n_classes,
                           dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(ds != NULL);
    if (n_classes == 0 || first_class >= ds->n_classes || n_classes > ds->n_classes - first_class)
        return dh__set_error(DH_E_INVALID_ARG, "dh_split_classes: classes [%u, %u + %u) are not "
                             "within the dataset's %u", first_class, first_class, n_classes,
                             ds->n_classes);
    uint8_t *flag = dh__calloc(ds->n + 1, 1);
    if (!flag) return DH_E_NO_MEMORY;
    size_t C = ds->n_classes;
    for (size_t i = 0; i < ds->n; i++)
        for (size_t c = first_class; c < (size_t)first_class + n_classes; c++)
            if (ds->labels[i * C + c] > 0.0f) flag[i] = 1;
    dh_status st = pick_flagged(ds, flag, 1, out);
    dh__free(flag);
    return st;
}
