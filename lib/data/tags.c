/* lib/data/tags.c -- tag matrices for weak supervision: the dh_tags object and its
 * readers. NUS-WIDE matrices (AllTags1k.txt: one row of T 0/1 values per image, the
 * names in a tag list such as TagList1k.txt), MIRFlickr-25k per-image files
 * (DIR/tags1.txt ... tagsN.txt, one tag a line) and `path tag1 tag2 ...` lists.
 * Every count is bounded before it is used (images, vocabulary, name length) and
 * every error names the file and line. docs/data.md#tags. */
#include "data/tags.h"
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dh_tags_options_init(dh_tags_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->min_count = 1;
}

/* ---- the vocabulary hash ---- */

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static size_t slot_of(const dh__vocab *v, const char *key, size_t len)
{
    size_t m = v->cap - 1, s = (size_t)fnv(key, len) & m;
    while (v->keys[s] && !(strlen(v->keys[s]) == len && !memcmp(v->keys[s], key, len)))
        s = (s + 1) & m;
    return s;
}

uint32_t dh__vocab_find(const dh__vocab *v, const char *key, size_t len)
{
    if (!v->cap) return UINT32_MAX;
    size_t s = slot_of(v, key, len);
    return v->keys[s] ? v->ids[s] : UINT32_MAX;
}

static dh_status grow(dh__vocab *v)
{
    size_t cap = v->cap ? v->cap * 2 : 64;
    char **keys = dh__calloc(cap, sizeof *keys);
    uint32_t *ids = dh__calloc(cap, sizeof *ids);
    uint64_t *counts = dh__calloc(cap / 2, sizeof *counts);
    if (!keys || !ids || !counts) {
        dh__free(keys), dh__free(ids), dh__free(counts);
        return DH_E_NO_MEMORY;
    }
    dh__vocab nv = {keys, ids, counts, cap, v->n};
    for (size_t i = 0; i < v->cap; i++)
        if (v->keys[i]) {
            size_t s = slot_of(&nv, v->keys[i], strlen(v->keys[i]));
            keys[s] = v->keys[i], ids[s] = v->ids[i];
        }
    if (v->n) memcpy(counts, v->counts, v->n * sizeof *counts);
    dh__free(v->keys), dh__free(v->ids), dh__free(v->counts);
    *v = nv;
    return DH_OK;
}

dh_status dh__vocab_add(dh__vocab *v, const char *key, size_t len, uint32_t *id)
{
    if (v->cap) {
        size_t s = slot_of(v, key, len);
        if (v->keys[s]) return (*id = v->ids[s]), DH_OK;
    }
    if ((v->n + 1) * 2 > v->cap) DH_TRY(grow(v));
    size_t s = slot_of(v, key, len);
    char *k = dh__alloc(len + 1);
    if (!k) return DH_E_NO_MEMORY;
    memcpy(k, key, len), k[len] = '\0';
    v->keys[s] = k;
    v->ids[s] = (uint32_t)v->n;
    v->counts[v->n] = 0;
    *id = (uint32_t)v->n++;
    return DH_OK;
}

void dh__vocab_free(dh__vocab *v)
{
    for (size_t i = 0; i < v->cap; i++) dh__free(v->keys[i]);
    dh__free(v->keys), dh__free(v->ids), dh__free(v->counts);
    memset(v, 0, sizeof *v);
}

/* ---- the object ---- */

dh_status dh__tags_new(size_t n, uint32_t T, dh_tags **out)
{
    *out = NULL;
    size_t cells;
    if (!dh__mul_ok(n, T, &cells) || cells > ((size_t)1 << 32))
        return dh__set_error(DH_E_NO_MEMORY, "tags: %zu images x %u tags is too large (limit "
                             "2^32 cells)", n, T);
    dh_tags *t = dh__calloc(1, sizeof *t);
    if (!t) return DH_E_NO_MEMORY;
    t->n = n, t->T = T;
    t->M = dh__calloc(cells ? cells : 1, sizeof(float));
    t->names = dh__calloc(T ? T : 1, sizeof(char *));
    if (!t->M || !t->names) {
        dh_tags_free(t);
        return DH_E_NO_MEMORY;
    }
    *out = t;
    return DH_OK;
}

void dh_tags_free(dh_tags *t)
{
    if (!t) return;
    for (uint32_t i = 0; t->names && i < t->T; i++) dh__free(t->names[i]);
    dh__free(t->names);
    dh__free(t->M);
    dh__free(t);
}

size_t dh_tags_count(const dh_tags *t) { return t ? t->n : 0; }
uint32_t dh_tags_vocab_size(const dh_tags *t) { return t ? t->T : 0; }
const char *dh_tags_name(const dh_tags *t, uint32_t i) { return t && i < t->T ? t->names[i] : NULL; }

dh_status dh_tags_get(const dh_tags *t, size_t first, size_t count, float *out)
{
    DH_CHECK_ARG(t != NULL && (out != NULL || count == 0));
    DH_CHECK_ARG_MSG(first <= t->n && count <= t->n - first, "dh_tags_get: rows [%zu, %zu+%zu) "
                     "outside the %zu images", first, first, count, t->n);
    if (count) memcpy(out, t->M + first * t->T, count * t->T * sizeof(float));
    return DH_OK;
}

dh_status dh_dataset_attach_tags(dh_dataset *ds, const dh_tags *t)
{
    DH_CHECK_ARG(ds != NULL && t != NULL);
    if (t->n != ds->n)
        return dh__set_error(DH_E_SHAPE, "dh_dataset_attach_tags: %zu tag rows for a dataset "
                             "of %zu samples", t->n, ds->n);
    return dh_dataset_set_tags(ds, t->M, t->T);
}

/* ---- text helpers ---- */

typedef struct cursor {
    const char *p, *end;
    size_t line;
} cursor;

/* The next line [*s, *e) without its '\n' / "\r\n"; 0 at the end. */
static int next_line(cursor *c, const char **s, const char **e)
{
    if (c->p >= c->end) return 0;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    *s = c->p;
    *e = nl ? nl : c->end;
    c->p = nl ? nl + 1 : c->end;
    if (*e > *s && (*e)[-1] == '\r') (*e)--;
    c->line++;
    return 1;
}

static int is_space(char ch) { return ch == ' ' || ch == '\t'; }

/* Next whitespace-separated token of [*p, e); 0 when none is left. */
static int next_token(const char **p, const char *e, const char **ts, size_t *tl)
{
    while (*p < e && is_space(**p)) (*p)++;
    if (*p >= e) return 0;
    *ts = *p;
    while (*p < e && !is_space(**p)) (*p)++;
    *tl = (size_t)(*p - *ts);
    return 1;
}

static dh_status check_name(const char *s, size_t n, const char *name, size_t line)
{
    if (n > DH__TAGS_MAX_NAME)
        return dh__set_error(DH_E_FORMAT, "%s:%zu: tag '%.40s...' is longer than %d bytes", name,
                             line, s, DH__TAGS_MAX_NAME);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return dh__set_error(DH_E_FORMAT, "%s:%zu: control byte 0x%02x in a tag", name, line,
                                 (unsigned char)s[i]);
    return DH_OK;
}

static uint32_t max_tags(const dh_tags_options *o)
{
    return o->max_tags && o->max_tags < DH__TAGS_MAX_VOCAB ? o->max_tags : DH__TAGS_MAX_VOCAB;
}

static size_t max_images(const dh_tags_options *o)
{
    return o->max_images && o->max_images < DH__TAGS_MAX_IMAGES ? (size_t)o->max_images
                                                                 : DH__TAGS_MAX_IMAGES;
}

/* A tag-name list: one name a line, no blanks, no duplicates, at most max_tags. */
static dh_status parse_vocab(const char *text, size_t len, const dh_tags_options *o,
                             dh__vocab *v)
{
    cursor c = {text, text + len, 0};
    const char *s, *e;
    while (next_line(&c, &s, &e)) {
        while (s < e && is_space(*s)) s++;
        while (e > s && is_space(e[-1])) e--;
        if (s == e)
            return dh__set_error(DH_E_FORMAT, "tag list:%zu: empty line (one tag name a line)",
                                 c.line);
        DH_TRY(check_name(s, (size_t)(e - s), "tag list", c.line));
        if (v->n >= max_tags(o))
            return dh__set_error(DH_E_FORMAT, "tag list: more than %u tags (max_tags); the "
                                 "vocabulary is too large", max_tags(o));
        size_t before = v->n;
        uint32_t id;
        DH_TRY(dh__vocab_add(v, s, (size_t)(e - s), &id));
        if (v->n == before)
            return dh__set_error(DH_E_FORMAT, "tag list:%zu: tag '%.*s' repeats line %u", c.line,
                                 (int)(e - s > 60 ? 60 : e - s), s, id + 1);
    }
    if (!v->n) return dh__set_error(DH_E_FORMAT, "tag list: no tags");
    return DH_OK;
}

static dh_status names_from_vocab(const dh__vocab *v, dh_tags *t)
{
    for (size_t i = 0; i < v->cap; i++)
        if (v->keys[i] && !(t->names[v->ids[i]] = dh__strdup(v->keys[i]))) return DH_E_NO_MEMORY;
    return DH_OK;
}

/* ---- NUS-WIDE matrix ---- */

dh_status dh__tags_parse_matrix(const char *text, size_t len, const char *vocab, size_t vlen,
                                const char *name, const dh_tags_options *o, dh_tags **out)
{
    *out = NULL;
    if (!vocab)
        return dh__set_error(DH_E_INVALID_ARG, "%s: a tag matrix needs its tag list "
                             "(dh_tags_options.vocabulary, e.g. TagList1k.txt)", name);
    dh__vocab v = {0};
    dh_status st = parse_vocab(vocab, vlen, o, &v);
    size_t rows = 0;
    for (size_t i = 0; i < len; i++) rows += text[i] == '\n';
    if (len && text[len - 1] != '\n') rows++;
    if (st == DH_OK && rows > max_images(o))
        st = dh__set_error(DH_E_FORMAT, "%s: %zu rows, more than max_images %zu", name, rows,
                           max_images(o));
    dh_tags *t = NULL;
    if (st == DH_OK) st = dh__tags_new(rows, (uint32_t)v.n, &t);
    if (st == DH_OK) st = names_from_vocab(&v, t);
    cursor c = {text, text + len, 0};
    const char *s, *e;
    const size_t T = v.n;
    while (st == DH_OK && next_line(&c, &s, &e)) {
        float *row = t->M + (c.line - 1) * T;
        const char *p = s, *ts;
        size_t tl, k = 0;
        while (next_token(&p, e, &ts, &tl)) {
            if (tl != 1 || (ts[0] != '0' && ts[0] != '1')) {
                st = dh__set_error(DH_E_FORMAT, "%s:%zu: value %zu is '%.*s', not 0 or 1", name,
                                   c.line, k + 1, (int)(tl > 20 ? 20 : tl), ts);
                break;
            }
            if (k < T) row[k] = ts[0] == '1' ? 1.0f : 0.0f;
            k++;
        }
        if (st == DH_OK && k == 0)
            st = dh__set_error(DH_E_FORMAT, "%s:%zu: empty line (an image without tags is a "
                               "row of %zu zeros)", name, c.line, T);
        else if (st == DH_OK && k != T)
            st = dh__set_error(DH_E_FORMAT, "%s:%zu: %zu values, the tag list has %zu tags",
                               name, c.line, k, T);
    }
    if (st == DH_OK && rows == 0) st = dh__set_error(DH_E_FORMAT, "%s: no rows", name);
    dh__vocab_free(&v);
    if (st != DH_OK) return dh_tags_free(t), st;
    *out = t;
    return DH_OK;
}

/* ---- word lists (MIRFlickr files, `path tag ...` lists) ---- */

/* Per-image word ids into a vocabulary of every word seen (deduplicated per image). */
typedef struct wordrows {
    size_t n, cap, nw, wcap;
    size_t *start; /* [n + 1] */
    uint32_t *w;
    size_t *line;  /* per word: its line (for unknown-tag messages) */
} wordrows;

static void wordrows_free(wordrows *r)
{
    dh__free(r->start), dh__free(r->w), dh__free(r->line);
    memset(r, 0, sizeof *r);
}

static dh_status wordrows_begin(wordrows *r, size_t limit, const char *name)
{
    if (r->n >= limit)
        return dh__set_error(DH_E_FORMAT, "%s: more than max_images %zu images", name, limit);
    if (r->n + 2 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        size_t *s = dh__realloc(r->start, cap * sizeof *s);
        if (!s) return DH_E_NO_MEMORY;
        r->start = s, r->cap = cap;
    }
    if (r->n == 0) r->start[0] = 0;
    r->start[++r->n] = r->nw;
    return DH_OK;
}

/* Add a word to the current (last) image unless it has it already. */
static dh_status wordrows_add(wordrows *r, dh__vocab *all, const char *s, size_t n,
                              const char *name, size_t line)
{
    DH_TRY(check_name(s, n, name, line));
    size_t before = all->n;
    if (before >= ((size_t)1 << 20) && dh__vocab_find(all, s, n) == UINT32_MAX)
        return dh__set_error(DH_E_FORMAT, "%s:%zu: more than 2^20 distinct tags; the "
                             "vocabulary is too large (give a tag list)", name, line);
    uint32_t id;
    DH_TRY(dh__vocab_add(all, s, n, &id));
    for (size_t k = r->start[r->n - 1]; k < r->nw; k++)
        if (r->w[k] == id) return DH_OK;
    if (r->nw + 1 > r->wcap) {
        size_t cap = r->wcap ? r->wcap * 2 : 4096;
        uint32_t *w = dh__realloc(r->w, cap * sizeof *w);
        if (!w) return DH_E_NO_MEMORY;
        r->w = w;
        size_t *l = dh__realloc(r->line, cap * sizeof *l);
        if (!l) return DH_E_NO_MEMORY;
        r->line = l, r->wcap = cap;
    }
    r->w[r->nw] = id, r->line[r->nw] = line;
    r->nw++;
    r->start[r->n] = r->nw;
    all->counts[id]++;
    return DH_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Build the tags from the rows: vocabulary given (map, unknown policy) or built
 * (words used by >= min_count images, sorted by name). */
static dh_status wordrows_finish(wordrows *r, dh__vocab *all, const char *vocab, size_t vlen,
                                 const char *name, const dh_tags_options *o, dh_tags **out)
{
    dh__vocab v = {0};
    dh_status st = DH_OK;
    uint32_t *map = dh__alloc((all->n + 1) * sizeof *map);
    if (!map) return DH_E_NO_MEMORY;
    if (vocab) {
        st = parse_vocab(vocab, vlen, o, &v);
        for (size_t i = 0; st == DH_OK && i < all->cap; i++)
            if (all->keys[i])
                map[all->ids[i]] = dh__vocab_find(&v, all->keys[i], strlen(all->keys[i]));
    } else {
        char **keep = dh__alloc((all->n + 1) * sizeof *keep);
        size_t nk = 0, minc = o->min_count ? o->min_count : 1;
        if (!keep) st = DH_E_NO_MEMORY;
        for (size_t i = 0; st == DH_OK && i < all->cap; i++)
            if (all->keys[i] && all->counts[all->ids[i]] >= minc) keep[nk++] = all->keys[i];
        if (st == DH_OK && nk > max_tags(o))
            st = dh__set_error(DH_E_FORMAT, "%s: %zu distinct tags (used by >= %zu images), more "
                               "than max_tags %u; raise min_count or give a tag list", name, nk,
                               minc, max_tags(o));
        if (st == DH_OK && nk == 0)
            st = dh__set_error(DH_E_FORMAT, "%s: no tag is used by >= %zu images", name, minc);
        if (st == DH_OK) qsort(keep, nk, sizeof *keep, cmp_str);
        for (size_t i = 0; st == DH_OK && i < nk; i++) {
            uint32_t id;
            st = dh__vocab_add(&v, keep[i], strlen(keep[i]), &id);
        }
        for (size_t i = 0; st == DH_OK && i < all->cap; i++)
            if (all->keys[i])
                map[all->ids[i]] = dh__vocab_find(&v, all->keys[i], strlen(all->keys[i]));
        dh__free(keep);
    }
    dh_tags *t = NULL;
    if (st == DH_OK && r->n == 0) st = dh__set_error(DH_E_FORMAT, "%s: no images", name);
    if (st == DH_OK) st = dh__tags_new(r->n, (uint32_t)v.n, &t);
    if (st == DH_OK) st = names_from_vocab(&v, t);
    for (size_t i = 0; st == DH_OK && i < r->n; i++)
        for (size_t k = r->start[i]; k < r->start[i + 1]; k++) {
            uint32_t id = map[r->w[k]];
            if (id != UINT32_MAX) {
                t->M[i * v.n + id] = 1.0f;
            } else if (vocab && o->unknown != DH_TAGS_UNKNOWN_SKIP) {
                const char *word = NULL;
                for (size_t s = 0; s < all->cap && !word; s++)
                    if (all->keys[s] && all->ids[s] == r->w[k]) word = all->keys[s];
                st = dh__set_error(DH_E_FORMAT, "%s:%zu: tag '%.60s' is not in the tag list "
                                   "(dh_tags_options.unknown = DH_TAGS_UNKNOWN_SKIP ignores it)",
                                   name, r->line[k], word ? word : "?");
                break;
            }
        }
    dh__free(map);
    dh__vocab_free(&v);
    if (st != DH_OK) return dh_tags_free(t), st;
    *out = t;
    return DH_OK;
}

dh_status dh__tags_parse_list(const char *text, size_t len, const char *vocab, size_t vlen,
                              const char *name, const dh_tags_options *o, dh_tags **out)
{
    *out = NULL;
    wordrows r = {0};
    dh__vocab all = {0};
    cursor c = {text, text + len, 0};
    const char *s, *e;
    dh_status st = DH_OK;
    while (st == DH_OK && next_line(&c, &s, &e)) {
        const char *p = s, *ts;
        size_t tl;
        if (!next_token(&p, e, &ts, &tl)) {
            st = dh__set_error(DH_E_FORMAT, "%s:%zu: empty line (want 'path tag1 tag2 ...')",
                               name, c.line);
            break;
        }
        if (memchr(s, '\0', (size_t)(e - s))) {
            st = dh__set_error(DH_E_FORMAT, "%s:%zu: NUL byte", name, c.line);
            break;
        }
        st = wordrows_begin(&r, max_images(o), name);
        while (st == DH_OK && next_token(&p, e, &ts, &tl))
            st = wordrows_add(&r, &all, ts, tl, name, c.line);
    }
    if (st == DH_OK) st = wordrows_finish(&r, &all, vocab, vlen, name, o, out);
    wordrows_free(&r);
    dh__vocab_free(&all);
    return st;
}

/* MIRFlickr: DIR/tags1.txt, DIR/tags2.txt, ... up to the first missing number. */
static dh_status load_files(const char *dir, const char *vocab, size_t vlen,
                            const dh_tags_options *o, dh_tags **out)
{
    wordrows r = {0};
    dh__vocab all = {0};
    dh_status st = DH_OK;
    size_t dl = strlen(dir);
    char *path = dh__alloc(dl + 40), fname[40];
    if (!path) return DH_E_NO_MEMORY;
    for (size_t i = 1; st == DH_OK; i++) {
        snprintf(path, dl + 40, "%s/tags%zu.txt", dir, i);
        snprintf(fname, sizeof fname, "tags%zu.txt", i);
        uint8_t *buf = NULL;
        size_t len = 0;
        FILE *probe = fopen(path, "rb");
        if (!probe) break; /* the first missing number ends the set */
        fclose(probe);
        st = dh__read_file(path, &buf, &len);
        if (st == DH_OK) st = wordrows_begin(&r, max_images(o), dir);
        cursor c = {(const char *)buf, (const char *)buf + len, 0};
        const char *s, *e;
        while (st == DH_OK && next_line(&c, &s, &e)) {
            while (s < e && is_space(*s)) s++;
            while (e > s && is_space(e[-1])) e--;
            if (s == e) continue; /* blank lines carry no tag */
            for (const char *q = s; q < e && st == DH_OK; q++)
                if (is_space(*q))
                    st = dh__set_error(DH_E_FORMAT, "%s/%s:%zu: '%.*s' has a space (one tag a "
                                       "line)", dir, fname, c.line, (int)(e - s > 60 ? 60 : e - s), s);
            if (st == DH_OK) st = wordrows_add(&r, &all, s, (size_t)(e - s), fname, c.line);
        }
        dh__free(buf);
    }
    dh__free(path);
    if (st == DH_OK && r.n == 0)
        st = dh__set_error(DH_E_NOT_FOUND, "%s: no tags1.txt (MIRFlickr layout: DIR/tags1.txt "
                           "... tagsN.txt)", dir);
    if (st == DH_OK) st = wordrows_finish(&r, &all, vocab, vlen, dir, o, out);
    wordrows_free(&r);
    dh__vocab_free(&all);
    return st;
}

dh_status dh_tags_load(const char *path, const dh_tags_options *opts, dh_tags **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(path != NULL);
    dh_tags_options o;
    dh_tags_options_init(&o);
    if (opts) DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_tags_options"));
    if (o.format < DH_TAGS_MATRIX || o.format > DH_TAGS_LIST)
        return dh__set_error(DH_E_INVALID_ARG, "dh_tags_load: format %d is not DH_TAGS_MATRIX, "
                             "DH_TAGS_FILES or DH_TAGS_LIST", o.format);
    uint8_t *voc = NULL, *buf = NULL;
    size_t vlen = 0, len = 0;
    dh_status st = DH_OK;
    if (o.vocabulary) st = dh__read_file(o.vocabulary, &voc, &vlen);
    if (st == DH_OK && o.format == DH_TAGS_FILES) {
        st = load_files(path, (const char *)voc, vlen, &o, out);
    } else if (st == DH_OK) {
        st = dh__read_file(path, &buf, &len);
        if (st == DH_OK && o.format == DH_TAGS_MATRIX)
            st = dh__tags_parse_matrix((const char *)buf, len, (const char *)voc, vlen, path, &o,
                                       out);
        else if (st == DH_OK)
            st = dh__tags_parse_list((const char *)buf, len, (const char *)voc, vlen, path, &o,
                                     out);
    }
    dh__free(voc);
    dh__free(buf);
    return st;
}
