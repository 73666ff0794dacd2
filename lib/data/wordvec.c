/* lib/data/wordvec.c -- word vectors for tag names, from the GloVe text format (`word
 * v1 ... vD` a line) or the word2vec text format (the same after a `V D` header line).
 * The file is streamed (GloVe files are gigabytes): only the rows of the tags' own
 * names are kept, each line is bounded (1 MB), every row must have D finite values.
 * docs/data.md#tags. */
#include "data/tags.h"
#include "io/io.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_BYTES (1u << 20)

typedef struct reader {
    int fd;
    char *buf, *line;
    size_t have, pos, lineno;
    int eof;
    const char *path;
} reader;

/* Next line into r->line (NUL-terminated, no newline); 0 at the end, -1 on error. */
static int read_line(reader *r, size_t *n)
{
    size_t m = 0;
    for (;;) {
        if (r->pos == r->have) {
            if (r->eof) break;
            ssize_t k = read(r->fd, r->buf, 65536);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) {
                dh__set_error(DH_E_IO, "%s: read failed", r->path);
                return -1;
            }
            if (k == 0) { r->eof = 1; break; }
            r->have = (size_t)k, r->pos = 0;
        }
        char ch = r->buf[r->pos++];
        if (ch == '\n') {
            r->lineno++;
            r->line[m] = '\0';
            if (m && r->line[m - 1] == '\r') r->line[--m] = '\0';
            *n = m;
            return 1;
        }
        if (m + 1 >= LINE_MAX_BYTES) {
            dh__set_error(DH_E_FORMAT, "%s:%zu: line longer than %u bytes (not a word-vector "
                          "text file?)", r->path, r->lineno + 1, LINE_MAX_BYTES);
            return -1;
        }
        if (ch == '\0') {
            dh__set_error(DH_E_FORMAT, "%s:%zu: NUL byte (binary word2vec files are not "
                          "supported; convert to the text format)", r->path, r->lineno + 1);
            return -1;
        }
        r->line[m++] = ch;
    }
    if (!m) return 0;
    r->lineno++;
    r->line[m] = '\0';
    *n = m;
    return 1;
}

static dh_status reader_open(reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->path = path;
    DH_TRY(dh__open_regular(path, &r->fd, NULL));
    r->buf = dh__alloc(65536);
    r->line = dh__alloc(LINE_MAX_BYTES);
    if (!r->buf || !r->line) return DH_E_NO_MEMORY;
    return DH_OK;
}

static void reader_close(reader *r)
{
    if (r->fd >= 0) close(r->fd);
    dh__free(r->buf), dh__free(r->line);
}

/* Count whitespace-separated tokens; *ints = 1 when there are exactly two integers. */
static size_t count_tokens(const char *s, int *ints)
{
    size_t n = 0;
    int all_int = 1;
    while (*s) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        n++;
        const char *b = s;
        while (*s && *s != ' ' && *s != '\t') {
            if (!isdigit((unsigned char)*s)) all_int = 0;
            s++;
        }
        if (s == b) all_int = 0;
    }
    *ints = (n == 2 && all_int);
    return n;
}

/* Dimension from the first line; *header = 1 for a word2vec `V D` line. */
static dh_status first_line(reader *r, uint32_t *dim, int *header)
{
    size_t n = 0;
    int k = read_line(r, &n);
    if (k < 0) return DH_E_FORMAT;
    if (k == 0) return dh__set_error(DH_E_FORMAT, "%s: empty word-vector file", r->path);
    int ints;
    size_t tok = count_tokens(r->line, &ints);
    if (ints) {
        char *e;
        unsigned long d = strtoul(strchr(r->line, ' ') ? strrchr(r->line, ' ') + 1 : r->line, &e, 10);
        if (d == 0 || d > 65536)
            return dh__set_error(DH_E_FORMAT, "%s:1: word2vec header gives dimension %lu (want "
                                 "1..65536)", r->path, d);
        *dim = (uint32_t)d, *header = 1;
        return DH_OK;
    }
    if (tok < 2 || tok - 1 > 65536)
        return dh__set_error(DH_E_FORMAT, "%s:1: %zu fields; want 'word v1 ... vD' (GloVe) or "
                             "a 'V D' header (word2vec text)", r->path, tok);
    *dim = (uint32_t)(tok - 1), *header = 0;
    return DH_OK;
}

dh_status dh_word_vectors_dim(const char *path, uint32_t *dim)
{
    DH_CHECK_ARG(path != NULL && dim != NULL);
    *dim = 0;
    reader r;
    dh_status st = reader_open(&r, path);
    int header = 0;
    if (st == DH_OK) st = first_line(&r, dim, &header);
    reader_close(&r);
    return st;
}

/* Parse "word v1 ... vD" in place: *word points into line, vals receives D floats. */
static dh_status parse_row(reader *r, uint32_t D, char **word, float *vals)
{
    char *s = r->line;
    while (*s == ' ' || *s == '\t') s++;
    *word = s;
    while (*s && *s != ' ' && *s != '\t') s++;
    if (*s) *s++ = '\0';
    for (uint32_t k = 0; k < D; k++) {
        while (*s == ' ' || *s == '\t') s++;
        char *e;
        errno = 0;
        float v = strtof(s, &e);
        if (e == s)
            return dh__set_error(DH_E_FORMAT, "%s:%zu: '%.40s' has %u values, want %u", r->path,
                                 r->lineno, *word, k, D);
        if (!isfinite(v))
            return dh__set_error(DH_E_FORMAT, "%s:%zu: value %u of '%.40s' is not finite",
                                 r->path, r->lineno, k + 1, *word);
        vals[k] = v;
        s = e;
    }
    while (*s == ' ' || *s == '\t') s++;
    if (*s)
        return dh__set_error(DH_E_FORMAT, "%s:%zu: '%.40s' has more than %u values", r->path,
                             r->lineno, *word, D);
    return DH_OK;
}

dh_status dh_word_vectors_load(const char *path, const dh_tags *tags, uint32_t dim, float *out,
                               uint32_t *n_found)
{
    DH_CHECK_ARG(path != NULL && tags != NULL && out != NULL);
    if (n_found) *n_found = 0;
    const uint32_t T = tags->T;
    dh__vocab v = {0}, low = {0}; /* exact names; lower-cased names -> first tag */
    dh_status st = DH_OK;
    uint8_t *found = dh__calloc(T + 1, 1);
    float *vals = dh__alloc(((size_t)dim + 1) * sizeof(float));
    if (!found || !vals) st = DH_E_NO_MEMORY;
    /* low_tag[lower-case id]: first tag of that lower-cased name, tag_next: the next */
    uint32_t *low_tag = dh__alloc(((size_t)T + 1) * sizeof *low_tag);
    uint32_t *tag_next = dh__alloc(((size_t)T + 1) * sizeof *tag_next);
    if (!low_tag || !tag_next) st = DH_E_NO_MEMORY;
    for (uint32_t i = 0; st == DH_OK && i < T; i++) {
        uint32_t id;
        size_t len = strlen(tags->names[i]);
        st = dh__vocab_add(&v, tags->names[i], len, &id);
        char lw[DH__TAGS_MAX_NAME + 1];
        if (len > DH__TAGS_MAX_NAME) continue;
        for (size_t q = 0; q <= len; q++) lw[q] = (char)tolower((unsigned char)tags->names[i][q]);
        size_t before = low.n;
        if (st == DH_OK) st = dh__vocab_add(&low, lw, len, &id);
        if (st != DH_OK) break;
        tag_next[i] = UINT32_MAX;
        if (low.n > before) {
            low_tag[id] = i;
        } else { /* append to the chain */
            uint32_t t = low_tag[id];
            while (tag_next[t] != UINT32_MAX) t = tag_next[t];
            tag_next[t] = i;
        }
    }
    reader r;
    memset(&r, 0, sizeof r);
    r.fd = -1;
    if (st == DH_OK) st = reader_open(&r, path);
    uint32_t D = 0;
    int header = 0;
    if (st == DH_OK) st = first_line(&r, &D, &header);
    if (st == DH_OK && D != dim)
        st = dh__set_error(DH_E_SHAPE, "%s: vectors have %u values, the caller asked for %u "
                           "(dh_word_vectors_dim)", path, D, dim);
    if (st == DH_OK) memset(out, 0, (size_t)T * D * sizeof(float));
    if (st == DH_OK && !header) r.pos = 0, r.have = 0, r.eof = 0, r.lineno = 0,
                                (void)lseek(r.fd, 0, SEEK_SET);
    uint32_t nf = 0;
    size_t n;
    int k;
    while (st == DH_OK && (k = read_line(&r, &n)) != 0) {
        if (k < 0) { st = DH_E_FORMAT; break; }
        if (n == 0) continue;
        char *word;
        st = parse_row(&r, D, &word, vals);
        if (st != DH_OK) break;
        /* a tag takes the first row of its exact name (found 2), else the first row
         * of its lower-cased name (found 1) */
        size_t wl = strlen(word);
        uint32_t id = dh__vocab_find(&v, word, wl);
        if (id != UINT32_MAX && found[id] < 2) {
            nf += found[id] == 0;
            found[id] = 2;
            memcpy(out + (size_t)id * D, vals, D * sizeof(float));
        }
        int lower = 1;
        for (const char *q = word; *q; q++) lower &= !isupper((unsigned char)*q);
        uint32_t lid = lower ? dh__vocab_find(&low, word, wl) : UINT32_MAX;
        for (uint32_t t = lid == UINT32_MAX ? UINT32_MAX : low_tag[lid]; t != UINT32_MAX;
             t = tag_next[t])
            if (!found[t]) {
                found[t] = 1, nf++;
                memcpy(out + (size_t)t * D, vals, D * sizeof(float));
            }
    }
    reader_close(&r);
    dh__vocab_free(&v);
    dh__vocab_free(&low);
    dh__free(found), dh__free(vals), dh__free(low_tag), dh__free(tag_next);
    if (st == DH_OK && n_found) *n_found = nf;
    return st;
}
