/* lib/data/imagelist.c -- image lists in the DeepHash-pytorch / HashNet format
 * (`path l1 ... lC` multi-hot, or `path class_id`), images decoded by stb_image on
 * demand and resized by stb_image_resize to a fixed stored size. A direct-mapped cache
 * bounded by bytes keeps decoded images; nothing else is held in memory. */
#include "data/data.h"

#include "io/io.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef DH_STB_IMPLEMENTATION
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#endif
#include <stb_image.h>
#include <stb_image_resize.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#define MAX_LABEL_COLS (1u << 16)
#define MAX_INFERRED_CLASSES (1u << 24)          /* class ids of lists without n_classes */
#define MAX_DENSE_LABELS ((size_t)64 << 20)      /* bytes, or 64 x the list's size */

struct dh__imagelist {
    dh__listfile lf;
    char *root; /* "" or "dir/" prefix for relative paths */
    char *root_real; /* DH_PATHS_CONFINED: the root with symlinks resolved, ending in '/';
                        NULL: any path */
    uint32_t h, w, c;
    int32_t resize_mode;
    size_t n_slots, img_bytes;
    int64_t *slot_tag; /* [n_slots] sample index held, -1 empty */
    uint8_t *slot_pix; /* [n_slots, img_bytes] */
    pthread_mutex_t mu;
};

/* ---- list parsing ---- */

void dh__listfile_free(dh__listfile *lf)
{
    if (!lf) return;
    dh__free(lf->paths);
    dh__free(lf->text);
    dh__free(lf->labels);
    dh__free(lf->class_ids);
    dh__free(lf->line_no);
    memset(lf, 0, sizeof *lf);
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* Split line s (NUL-terminated, modified in place) into tokens; returns the count. */
static size_t tokenize(char *s, char **tok, size_t max)
{
    size_t n = 0;
    while (*s) {
        while (is_space(*s)) *s++ = '\0';
        if (!*s) break;
        if (n < max) tok[n] = s;
        n++;
        while (*s && !is_space(*s)) s++;
    }
    return n;
}

static int parse_uint(const char *t, uint32_t *v)
{
    uint64_t x = 0;
    if (!*t) return 0;
    for (; *t; t++) {
        if (*t < '0' || *t > '9') return 0;
        x = x * 10 + (uint64_t)(*t - '0');
        if (x > (1u << 30)) return 0;
    }
    *v = (uint32_t)x;
    return 1;
}

typedef struct lparse {
    const char *name;
    int32_t fmt;   /* resolved DH_LABELS_* (AUTO until the first data line), -1 unlabelled */
    uint32_t cols; /* label columns per line for MULTIHOT */
    uint32_t max_id;
} lparse;

static dh_status parse_line(lparse *p, size_t line, char **tok, size_t nt, size_t row,
                            dh__listfile *lf)
{
    size_t nl = nt - 1;
    if (p->fmt == DH_LABELS_AUTO)
        p->fmt = nl == 0 ? -1 : nl == 1 ? DH_LABELS_CLASS_ID : DH_LABELS_MULTIHOT;
    if (p->fmt == -1 || p->fmt == DH_LABELS_CLASS_ID) {
        size_t want = p->fmt == -1 ? 0 : 1;
        if (nl != want)
            return dh__set_error(DH_E_FORMAT, "%s:%zu: expected a path%s, found %zu label "
                                 "fields", p->name, line, want ? " and one class id" : " only",
                                 nl);
        if (want && !parse_uint(tok[1], (uint32_t *)&lf->class_ids[row]))
            return dh__set_error(DH_E_FORMAT, "%s:%zu: class id '%s' is not a non-negative "
                                 "integer", p->name, line, tok[1]);
        if (want && (uint32_t)lf->class_ids[row] > p->max_id)
            p->max_id = (uint32_t)lf->class_ids[row];
        return DH_OK;
    }
    if (nl != p->cols)
        return dh__set_error(DH_E_FORMAT, "%s:%zu: %zu label columns, expected %u", p->name, line,
                             nl, p->cols);
    for (size_t k = 0; k < nl; k++) {
        if (strcmp(tok[1 + k], "0") != 0 && strcmp(tok[1 + k], "1") != 0)
            return dh__set_error(DH_E_FORMAT, "%s:%zu: label column %zu is '%s', not 0 or 1",
                                 p->name, line, k + 1, tok[1 + k]);
        lf->labels[row * p->cols + k] = tok[1 + k][0] == '1' ? 1.0f : 0.0f;
    }
    return DH_OK;
}

/* First data line's label field count (for sizing), or 0. */
static size_t first_fields(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && s[e] != '\n') e++;
        size_t k = i, nt = 0;
        while (k < e && is_space(s[k])) k++;
        if (k < e && s[k] != '#') {
            for (size_t q = k; q < e;) {
                while (q < e && is_space(s[q])) q++;
                if (q < e) nt++;
                while (q < e && !is_space(s[q])) q++;
            }
            return nt ? nt - 1 : 0;
        }
        i = e + 1;
    }
    return 0;
}

static size_t count_tokens(const char *s)
{
    size_t n = 0;
    while (*s) {
        while (is_space(*s)) s++;
        if (!*s) break;
        n++;
        while (*s && !is_space(*s)) s++;
    }
    return n;
}

static dh_status alloc_list(dh__listfile *lf, const char *text, size_t len, size_t cols)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    lf->text = dh__alloc(len + 1);
    lf->paths = dh__calloc(lines, sizeof(char *));
    lf->class_ids = dh__calloc(lines, sizeof(int32_t));
    lf->line_no = dh__calloc(lines, sizeof(size_t));
    lf->labels = cols ? dh__calloc(lines, cols * sizeof(float)) : NULL;
    if (!lf->text || !lf->paths || !lf->class_ids || !lf->line_no || (cols && !lf->labels))
        return DH_E_NO_MEMORY;
    memcpy(lf->text, text, len);
    lf->text[len] = '\0';
    return DH_OK;
}

/* Parse every line of lf->text into paths and labels. */
static dh_status parse_lines(lparse *p, dh__listfile *lf)
{
    char *s = lf->text, *tok[4];
    dh_status st = DH_OK;
    for (size_t line = 1; st == DH_OK && *s; line++) {
        char *e = strchr(s, '\n'), *next = e ? e + 1 : s + strlen(s);
        if (e) *e = '\0';
        size_t nt = count_tokens(s);
        char **toks = nt > 4 ? dh__alloc(nt * sizeof(char *)) : tok;
        if (!toks) return DH_E_NO_MEMORY;
        tokenize(s, toks, nt);
        if (nt > 0 && toks[0][0] != '#') {
            st = parse_line(p, line, toks, nt, lf->n, lf);
            if (st == DH_OK) lf->line_no[lf->n] = line, lf->paths[lf->n++] = toks[0];
        }
        if (toks != tok) dh__free(toks);
        s = next;
    }
    return st;
}

dh_status dh__imagelist_parse(const char *text, size_t len, const char *name,
                              int32_t label_format, uint32_t n_classes, dh__listfile *lf)
{
    memset(lf, 0, sizeof *lf);
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return dh__set_error(DH_E_FORMAT, "%s: list contains a NUL byte at offset %zu", name,
                             (size_t)(nul - text));
    size_t first = first_fields(text, len);
    int32_t fmt = label_format;
    if (fmt == DH_LABELS_AUTO && first > 0)
        fmt = first == 1 ? DH_LABELS_CLASS_ID : DH_LABELS_MULTIHOT;
    size_t cols = fmt == DH_LABELS_MULTIHOT ? (n_classes ? n_classes : first) : 0;
    if (cols > MAX_LABEL_COLS)
        return dh__set_error(DH_E_FORMAT, "%s: %zu label columns is too many", name, cols);
    lparse p = {name, fmt, (uint32_t)cols, 0};
    dh_status st = alloc_list(lf, text, len, cols);
    if (st == DH_OK) st = parse_lines(&p, lf);
    if (st == DH_OK && lf->n == 0) st = dh__set_error(DH_E_FORMAT, "%s: list has no images", name);
    if (st == DH_OK && p.fmt == DH_LABELS_CLASS_ID) {
        if (n_classes && p.max_id >= n_classes)
            st = dh__set_error(DH_E_FORMAT, "%s: class id %u is not below n_classes %u", name,
                               p.max_id, n_classes);
        lf->n_classes = n_classes ? n_classes : p.max_id + 1;
        /* Inferred from the largest id, the class count sizes a dense [n, C] label
         * matrix: refuse one far larger than the list itself justifies (a 10-byte line
         * "a 1073741824" would ask for 4 GiB). An explicit n_classes lifts the bound. */
        size_t dense = 0;
        if (st == DH_OK && !n_classes &&
            (p.max_id >= MAX_INFERRED_CLASSES ||
             !dh__mul_ok(lf->n, (size_t)lf->n_classes * sizeof(float), &dense) ||
             dense > (len > MAX_DENSE_LABELS / 64 ? len * 64 : MAX_DENSE_LABELS)))
            st = dh__set_error(DH_E_FORMAT, "%s: largest class id %u with %zu images needs a "
                               "%zu-byte label matrix, more than this %zu-byte list justifies "
                               "(ids must be below %u, labels at most max(64 MiB, 64 x the list "
                               "size); set n_classes to accept it)", name, p.max_id, lf->n,
                               dense, len, MAX_INFERRED_CLASSES);
    } else if (st == DH_OK && p.fmt == DH_LABELS_MULTIHOT) {
        lf->n_classes = p.cols;
        dh__free(lf->class_ids);
        lf->class_ids = NULL;
    } else if (st == DH_OK) { /* bare paths: unlabelled (class ids -1, zero label rows) */
        lf->n_classes = n_classes;
        dh__free(lf->class_ids);
        lf->class_ids = NULL;
    }
    if (st != DH_OK) dh__listfile_free(lf);
    return st;
}

/* ---- decoding and the cache ---- */

static void full_path(const dh__imagelist *l, const char *p, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", p[0] == '/' ? "" : l->root, p);
}

/* DH_PATHS_CONFINED after the names were checked: `path` with every symlink resolved
 * (into out[PATH_MAX], the name that is then opened) must still lie under the root, so
 * a symlink inside the root cannot lead elsewhere. NULL root_real: nothing to do. */
static dh_status resolve_confined(const dh__imagelist *l, char *path, size_t cap)
{
    if (!l->root_real) return DH_OK;
    char real[PATH_MAX];
    if (!realpath(path, real))
        return dh__set_error(errno == ENOENT ? DH_E_NOT_FOUND : DH_E_IO,
                             "image '%s': %s", path, strerror(errno));
    size_t n = strlen(l->root_real);
    if (strncmp(real, l->root_real, n) != 0)
        return dh__set_error(DH_E_FORMAT, "image '%s' resolves to '%s', outside the list's "
                             "root '%s' (a symlink; path_policy is DH_PATHS_CONFINED)", path,
                             real, l->root_real);
    snprintf(path, cap, "%s", real);
    return DH_OK;
}

/* Resize pix (w0 x h0 x c) to l's stored size per resize_mode into out. */
static dh_status fit(const dh__imagelist *l, const uint8_t *pix, int w0, int h0, uint8_t *out,
                     const char *path)
{
    int x0 = 0, y0 = 0, cw = w0, ch = h0;
    if (l->resize_mode == DH_RESIZE_SHORTER_CROP) {
        /* the largest centred region with the target aspect ratio */
        if ((int64_t)w0 * l->h > (int64_t)h0 * l->w) cw = (int)((int64_t)h0 * l->w / l->h);
        else ch = (int)((int64_t)w0 * l->h / l->w);
        if (cw < 1) cw = 1;
        if (ch < 1) ch = 1;
        x0 = (w0 - cw) / 2, y0 = (h0 - ch) / 2;
    }
    const uint8_t *start = pix + ((size_t)y0 * (size_t)w0 + (size_t)x0) * l->c;
    if (!stbir_resize_uint8(start, cw, ch, w0 * (int)l->c, out, (int)l->w, (int)l->h, 0,
                            (int)l->c))
        return dh__set_error(DH_E_NO_MEMORY, "%s: resizing %dx%d to %ux%u failed", path, w0, h0,
                             l->w, l->h);
    return DH_OK;
}

static dh_status decode(const dh__imagelist *l, size_t j, uint8_t *out)
{
    char path[4608];
    full_path(l, l->lf.paths[j], path, sizeof path);
    int w0, h0, c0, fd;
    dh_status ost = resolve_confined(l, path, sizeof path);
    if (ost == DH_OK) ost = dh__open_regular(path, &fd, NULL); /* a FIFO must not hang */
    if (ost != DH_OK) return dh__error_prefix("image %zu", j), ost;
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        return dh__set_error(DH_E_IO, "image %zu '%s': %s", j, path, strerror(errno));
    }
    uint8_t *pix = stbi_load_from_file(fp, &w0, &h0, &c0, (int)l->c);
    fclose(fp);
    if (!pix) {
        return dh__set_error(DH_E_FORMAT, "image %zu '%s': cannot decode (%s)", j, path,
                             stbi_failure_reason() ? stbi_failure_reason() : "unknown");
    }
    dh_status st = DH_OK;
    if ((uint32_t)w0 == l->w && (uint32_t)h0 == l->h) memcpy(out, pix, l->img_bytes);
    else st = fit(l, pix, w0, h0, out, path);
    stbi_image_free(pix);
    return st;
}

dh_status dh__imagelist_get(dh__imagelist *l, size_t j, uint8_t *out)
{
    size_t slot = l->n_slots ? j % l->n_slots : 0;
    if (l->n_slots) {
        pthread_mutex_lock(&l->mu);
        int hit = l->slot_tag[slot] == (int64_t)j;
        if (hit) memcpy(out, l->slot_pix + slot * l->img_bytes, l->img_bytes);
        pthread_mutex_unlock(&l->mu);
        if (hit) return DH_OK;
    }
    DH_TRY(decode(l, j, out));
    if (l->n_slots) {
        pthread_mutex_lock(&l->mu);
        memcpy(l->slot_pix + slot * l->img_bytes, out, l->img_bytes);
        l->slot_tag[slot] = (int64_t)j;
        pthread_mutex_unlock(&l->mu);
    }
    return DH_OK;
}

void dh__imagelist_destroy(dh__imagelist *l)
{
    if (!l) return;
    dh__listfile_free(&l->lf);
    dh__free(l->root);
    dh__free(l->root_real);
    dh__free(l->slot_tag);
    dh__free_aligned(l->slot_pix);
    pthread_mutex_destroy(&l->mu);
    dh__free(l);
}

/* ---- public loader ---- */

void dh_imagelist_options_init(dh_imagelist_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->label_format = DH_LABELS_AUTO;
    opts->height = opts->width = 256;
    opts->channels = 3;
    opts->resize_mode = DH_RESIZE_SHORTER_CROP;
    opts->cache_bytes = (uint64_t)256 << 20;
    opts->check_files = 1;
}

static dh_status check_opts(const dh_imagelist_options *o)
{
    DH_CHECK_ARG_MSG(o->height > 0 && o->width > 0 && o->height <= 16384 && o->width <= 16384,
                     "dh_dataset_load_imagelist: image size %ux%u must be 1..16384", o->height,
                     o->width);
    DH_CHECK_ARG_MSG(o->channels == 1 || o->channels == 3,
                     "dh_dataset_load_imagelist: channels %u must be 1 or 3", o->channels);
    DH_CHECK_ARG_MSG(o->label_format >= DH_LABELS_AUTO && o->label_format <= DH_LABELS_CLASS_ID,
                     "dh_dataset_load_imagelist: unknown label_format %d", o->label_format);
    DH_CHECK_ARG_MSG(o->resize_mode == DH_RESIZE_SHORTER_CROP ||
                     o->resize_mode == DH_RESIZE_STRETCH,
                     "dh_dataset_load_imagelist: unknown resize_mode %d", o->resize_mode);
    DH_CHECK_ARG_MSG(o->path_policy == DH_PATHS_ANY || o->path_policy == DH_PATHS_CONFINED,
                     "dh_dataset_load_imagelist: path_policy %u is not DH_PATHS_ANY or "
                     "DH_PATHS_CONFINED", o->path_policy);
    return DH_OK;
}

static char *root_of(const char *list_path, const char *root)
{
    const char *dir = root;
    size_t n;
    if (!dir) {
        const char *slash = strrchr(list_path, '/');
        n = slash ? (size_t)(slash - list_path) + 1 : 0;
        dir = list_path;
    } else {
        n = strlen(dir);
    }
    char *r = dh__alloc(n + 2);
    if (!r) return NULL;
    memcpy(r, dir, n);
    if (n && r[n - 1] != '/') r[n++] = '/';
    r[n] = '\0';
    return r;
}

/* DH_PATHS_CONFINED: the root's real path, '/'-terminated (symlinks resolved). */
static dh_status real_root(dh__imagelist *l)
{
    char real[PATH_MAX];
    if (!realpath(l->root[0] ? l->root : ".", real))
        return dh__set_error(errno == ENOENT ? DH_E_NOT_FOUND : DH_E_IO,
                             "image list root '%s': %s", l->root[0] ? l->root : ".",
                             strerror(errno));
    size_t n = strlen(real);
    if (!(l->root_real = dh__alloc(n + 2))) return DH_E_NO_MEMORY;
    memcpy(l->root_real, real, n + 1);
    if (n == 0 || real[n - 1] != '/') l->root_real[n] = '/', l->root_real[n + 1] = '\0';
    return DH_OK;
}

/* DH_PATHS_CONFINED: no absolute path, no ".." component */
static dh_status check_confined(const dh__listfile *lf, const char *list_path)
{
    for (size_t i = 0; i < lf->n; i++) {
        const char *p = lf->paths[i];
        int bad = p[0] == '/';
        for (const char *c = p; !bad && *c; c = strchr(c, '/') ? strchr(c, '/') + 1 : "")
            bad = c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0');
        if (bad)
            return dh__set_error(DH_E_FORMAT, "%s:%zu: path '%.200s' leaves the list's root "
                                 "(absolute or with \"..\"; path_policy is "
                                 "DH_PATHS_CONFINED)", list_path, lf->line_no[i], p);
    }
    return DH_OK;
}

static dh_status check_images(const dh__imagelist *l, const char *list_path)
{
    char path[4608];
    struct stat sb;
    for (size_t i = 0; i < l->lf.n; i++) {
        full_path(l, l->lf.paths[i], path, sizeof path);
        dh_status st = resolve_confined(l, path, sizeof path);
        if (st == DH_E_FORMAT) return dh__error_prefix("%s:%zu", list_path, l->lf.line_no[i]), st;
        if (st == DH_OK && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) continue;
        return dh__set_error(DH_E_NOT_FOUND, "%s:%zu: image '%s' is missing or not a file",
                             list_path, l->lf.line_no[i], path);
    }
    return DH_OK;
}

static dh_status make_list_source(dh__imagelist *l, const dh_imagelist_options *o,
                                  dh__source **out)
{
    l->h = o->height, l->w = o->width, l->c = o->channels, l->resize_mode = o->resize_mode;
    l->img_bytes = (size_t)l->h * l->w * l->c;
    size_t slots = (size_t)(o->cache_bytes / l->img_bytes);
    l->n_slots = slots < l->lf.n ? slots : l->lf.n;
    if (l->n_slots) {
        l->slot_tag = dh__alloc(l->n_slots * sizeof(int64_t));
        l->slot_pix = dh__alloc_aligned(l->n_slots * l->img_bytes, 64);
        if (!l->slot_tag || !l->slot_pix) return DH_E_NO_MEMORY;
        for (size_t i = 0; i < l->n_slots; i++) l->slot_tag[i] = -1;
    }
    dh__source *s = dh__source_new(DH__SRC_LIST);
    if (!s) return DH_E_NO_MEMORY;
    s->is_image = 1, s->height = l->h, s->width = l->w, s->channels = l->c, s->n = l->lf.n;
    s->list = l, s->list_get = dh__imagelist_get, s->list_destroy = dh__imagelist_destroy;
    *out = s;
    return DH_OK;
}

dh_status dh_dataset_load_imagelist(const char *list_path, const dh_imagelist_options *opts,
                                    dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(list_path != NULL);
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_imagelist_options"));
    DH_TRY(check_opts(&o));
    uint8_t *text;
    size_t len;
    DH_TRY(dh__read_file(list_path, &text, &len));
    dh__imagelist *l = dh__calloc(1, sizeof *l);
    dh_status st = l ? DH_OK : DH_E_NO_MEMORY;
    if (l) pthread_mutex_init(&l->mu, NULL);
    if (st == DH_OK)
        st = dh__imagelist_parse((const char *)text, len, list_path, o.label_format, o.n_classes,
                                 &l->lf);
    dh__free(text);
    if (st == DH_OK && o.path_policy == DH_PATHS_CONFINED) st = check_confined(&l->lf, list_path);
    if (st == DH_OK && !(l->root = root_of(list_path, o.root))) st = DH_E_NO_MEMORY;
    if (st == DH_OK && o.path_policy == DH_PATHS_CONFINED) st = real_root(l);
    if (st == DH_OK && o.check_files) st = check_images(l, list_path);
    dh__source *src = NULL;
    if (st == DH_OK) st = make_list_source(l, &o, &src);
    if (st != DH_OK) {
        dh__imagelist_destroy(l);
        return st;
    }
    dh_dataset *ds;
    DH_TRY(dh__dataset_new(src, l->lf.n, l->lf.n_classes, &ds));
    st = dh__dataset_set_labels(ds, l->lf.class_ids, l->lf.labels, list_path);
    if (st != DH_OK) {
        dh_dataset_free(ds);
        return st;
    }
    *out = ds;
    return DH_OK;
}
