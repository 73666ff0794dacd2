/* lib/data/finegrained_lists.c -- CUB-200-2011 and FGVC-Aircraft annotation files
 * converted to libdh image lists (`relative/path class_id`), so that those sets load
 * through dh_dataset_load_imagelist.
 *
 * CUB-200-2011 (<dir> = CUB_200_2011/):
 *   images.txt              "<id> <relative path under images/>"
 *   image_class_labels.txt  "<id> <class 1..200>"
 *   train_test_split.txt    "<id> <1 train | 0 test>"
 * FGVC-Aircraft 2013b (<dir> = fgvc-aircraft-2013b/data/):
 *   variants.txt | families.txt | manufacturers.txt   one class name per line (the class
 *                                                      id is the line's position)
 *   images_<level>_<split>.txt   "<image id> <class name, may contain spaces>"
 *   images/<image id>.jpg
 * Every malformed line is reported as "file:line: what". */
#include "data/data.h"

#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ID (1u << 24)

typedef struct text_buf {
    char *s;
    size_t len, cap;
} text_buf;

static dh_status tb_add(text_buf *t, const char *a, const char *b, const char *c, long cls)
{
    size_t need = strlen(a) + strlen(b) + strlen(c) + 24;
    if (t->len + need > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 4096) + need;
        char *s = dh__realloc(t->s, cap);
        if (!s) return DH_E_NO_MEMORY;
        t->s = s, t->cap = cap;
    }
    t->len += (size_t)snprintf(t->s + t->len, t->cap - t->len, "%s%s%s %ld\n", a, b, c, cls);
    return DH_OK;
}

/* Read <dir>/<name> into a NUL-terminated buffer. */
static dh_status read_text(const char *dir, const char *name, char **out, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    uint8_t *buf;
    size_t len;
    DH_TRY(dh__read_file(path, &buf, &len));
    char *s = dh__realloc(buf, len + 1);
    if (!s) {
        dh__free(buf);
        return DH_E_NO_MEMORY;
    }
    s[len] = '\0';
    *out = s;
    return DH_OK;
}

/* Next line of *cur (modified in place: '\n' and a trailing '\r' become NUL). */
static char *next_line(char **cur)
{
    if (!**cur) return NULL;
    char *line = *cur, *nl = strchr(line, '\n');
    if (nl) *nl = '\0', *cur = nl + 1;
    else *cur = line + strlen(line);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) line[--n] = 0;
    return line;
}

/* "<uint> <rest>": id in 1..MAX_ID, *rest = the text after the separating blanks. */
static int split_id(char *line, unsigned long *id, char **rest)
{
    char *end;
    if (line[0] < '0' || line[0] > '9') return 0;
    *id = strtoul(line, &end, 10);
    if (*id < 1 || *id > MAX_ID || (*end != ' ' && *end != '\t')) return 0;
    while (*end == ' ' || *end == '\t') end++;
    *rest = end;
    return *end != '\0';
}

/* ---- CUB ---- */

/* Images are kept in file order, then sorted by id: memory follows the number of lines,
 * never the largest id (a 20-byte images.txt naming id 16777216 must not allocate a
 * dense table of 2^24 entries; fuzz_finegrained_lists found that). */
typedef struct cub_img {
    unsigned long id;
    char *path;    /* into the images.txt text */
    size_t line;   /* in images.txt */
    int32_t cls;   /* class 1-based, 0 = none */
    int8_t train;  /* -1 none, 0 test, 1 train */
} cub_img;

typedef struct cub {
    cub_img *img;
    size_t n, cap;
} cub;

static int img_cmp(const void *a, const void *b)
{
    const cub_img *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static cub_img *cub_find(const cub *c, unsigned long id)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->img[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->n && c->img[lo].id == id ? &c->img[lo] : NULL;
}

static dh_status cub_ints(char *text, const char *file, cub *c, int which)
{
    char *cur = text, *line, *rest;
    for (size_t ln = 1; (line = next_line(&cur)); ln++) {
        unsigned long id;
        if (!line[0]) continue;
        char *end;
        cub_img *im = split_id(line, &id, &rest) ? cub_find(c, id) : NULL;
        if (!im)
            return dh__set_error(DH_E_FORMAT, "%s:%zu: expected '<image id> <value>' with an "
                                 "id listed in images.txt", file, ln);
        long v = strtol(rest, &end, 10);
        int bad = *end != '\0' || (which == 0 ? v < 1 || v > 65536 : v != 0 && v != 1);
        if (bad)
            return dh__set_error(DH_E_FORMAT, "%s:%zu: '%s' is not %s", file, ln, rest,
                                 which == 0 ? "a class number 1..65536" : "0 or 1");
        if (which == 0) im->cls = (int32_t)v;
        else im->train = (int8_t)v;
    }
    return DH_OK;
}

static dh_status cub_images(char *text, const char *file, cub *c)
{
    char *cur = text, *line, *rest;
    for (size_t ln = 1; (line = next_line(&cur)); ln++) {
        unsigned long id;
        if (!line[0]) continue;
        if (!split_id(line, &id, &rest) || strchr(rest, ' ') || strchr(rest, '\t'))
            return dh__set_error(DH_E_FORMAT, "%s:%zu: expected '<image id> <path without "
                                 "spaces>'", file, ln);
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 256;
            cub_img *p = dh__realloc(c->img, cap * sizeof *p);
            if (!p) return DH_E_NO_MEMORY;
            c->img = p, c->cap = cap;
        }
        c->img[c->n++] = (cub_img){.id = id, .path = rest, .line = ln, .cls = 0, .train = -1};
    }
    if (c->n == 0) return dh__set_error(DH_E_FORMAT, "%s: no images listed", file);
    qsort(c->img, c->n, sizeof *c->img, img_cmp);
    size_t dup = 0; /* the first line (in file order) that repeats an earlier id */
    for (size_t i = 1; i < c->n; i++)
        if (c->img[i].id == c->img[i - 1].id && (!dup || c->img[i].line < c->img[dup].line))
            dup = i;
    if (dup)
        return dh__set_error(DH_E_FORMAT, "%s:%zu: image id %lu appears twice", file,
                             c->img[dup].line, c->img[dup].id);
    return DH_OK;
}

static dh_status cub_list(const char *dir, int32_t split, text_buf *out, uint32_t *n_classes)
{
    char path[4200], *t_img = NULL, *t_cls = NULL, *t_split = NULL;
    cub c = {0};
    dh_status st = read_text(dir, "images.txt", &t_img, path, sizeof path);
    if (st == DH_OK) st = cub_images(t_img, path, &c);
    if (st == DH_OK) st = read_text(dir, "image_class_labels.txt", &t_cls, path, sizeof path);
    if (st == DH_OK) st = cub_ints(t_cls, path, &c, 0);
    if (st == DH_OK && split >= 0) st = read_text(dir, "train_test_split.txt", &t_split, path, sizeof path);
    if (st == DH_OK && split >= 0) st = cub_ints(t_split, path, &c, 1);
    int32_t max_cls = 0;
    for (size_t i = 0; st == DH_OK && i < c.n; i++) {
        const cub_img *im = &c.img[i];
        if (!im->cls || (split >= 0 && im->train < 0)) {
            st = dh__set_error(DH_E_FORMAT, "%s/%s: image id %lu has no entry", dir,
                               !im->cls ? "image_class_labels.txt" : "train_test_split.txt",
                               im->id);
            break;
        }
        max_cls = im->cls > max_cls ? im->cls : max_cls;
        if (split < 0 || im->train == (split == DH_SPLIT_TRAIN))
            st = tb_add(out, "images/", im->path, "", (long)im->cls - 1);
    }
    *n_classes = (uint32_t)max_cls;
    dh__free(c.img);
    dh__free(t_img), dh__free(t_cls), dh__free(t_split);
    return st;
}

/* ---- FGVC-Aircraft ---- */

/* Class names sorted for lookup (a name file or split file of many lines must cost
 * n log n, not n^2). */
typedef struct air_name {
    const char *name;
    size_t k;    /* class id: position in the name file */
    size_t line; /* in the name file */
} air_name;

static int name_cmp(const void *a, const void *b)
{
    const air_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->k < y->k ? -1 : x->k > y->k;
}

static const air_name *air_find(const air_name *names, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(names[mid].name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && !strcmp(names[lo].name, name) ? &names[lo] : NULL;
}

static dh_status air_names(const char *dir, const char *file, char **text, air_name **names,
                           size_t *n)
{
    char path[4200];
    DH_TRY(read_text(dir, file, text, path, sizeof path));
    size_t cap = 0;
    char *cur = *text, *line;
    *n = 0;
    for (size_t ln = 1; (line = next_line(&cur)); ln++) {
        if (!line[0]) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 128;
            air_name *p = dh__realloc(*names, cap * sizeof *p);
            if (!p) return DH_E_NO_MEMORY;
            *names = p;
        }
        (*names)[*n] = (air_name){.name = line, .k = *n, .line = ln};
        (*n)++;
    }
    if (*n == 0) return dh__set_error(DH_E_FORMAT, "%s: no class names", path);
    qsort(*names, *n, sizeof **names, name_cmp);
    size_t dup = 0; /* the first line (in file order) that repeats an earlier name */
    for (size_t i = 1; i < *n; i++)
        if (!strcmp((*names)[i].name, (*names)[i - 1].name) &&
            (!dup || (*names)[i].line < (*names)[dup].line))
            dup = i;
    if (dup)
        return dh__set_error(DH_E_FORMAT, "%s:%zu: class '%s' appears twice", path,
                             (*names)[dup].line, (*names)[dup].name);
    return DH_OK;
}

static dh_status air_split(const char *dir, const char *level, const char *split,
                           const air_name *names, size_t n_names, text_buf *out)
{
    char path[4200], file[128], *text = NULL;
    snprintf(file, sizeof file, "images_%s_%s.txt", level, split);
    DH_TRY(read_text(dir, file, &text, path, sizeof path));
    char *cur = text, *line;
    dh_status st = DH_OK;
    for (size_t ln = 1; st == DH_OK && (line = next_line(&cur)); ln++) {
        if (!line[0]) continue;
        char *sp = strchr(line, ' ');
        if (!sp || sp == line) {
            st = dh__set_error(DH_E_FORMAT, "%s:%zu: expected '<image id> <class name>'", path,
                               ln);
            break;
        }
        *sp = '\0';
        const char *name = sp + 1;
        const air_name *hit = air_find(names, n_names, name);
        if (!hit || strchr(line, '/') || strchr(line, '\t'))
            st = dh__set_error(DH_E_FORMAT, "%s:%zu: %s '%s' %s", path, ln,
                               !hit ? "class" : "image id", !hit ? name : line,
                               !hit ? "is not in the class-name file" : "is malformed");
        else
            st = tb_add(out, "images/", line, ".jpg", (long)hit->k);
    }
    dh__free(text);
    return st;
}

static dh_status air_list(const char *dir, int32_t format, const char *split, text_buf *out,
                          uint32_t *n_classes)
{
    static const char *const level[] = {"variant", "family", "manufacturer"};
    static const char *const names_file[] = {"variants.txt", "families.txt",
                                             "manufacturers.txt"};
    int li = format - DH_FINEGRAINED_AIRCRAFT_VARIANT;
    char *text = NULL;
    air_name *names = NULL;
    size_t n = 0;
    dh_status st = air_names(dir, names_file[li], &text, &names, &n);
    if (st == DH_OK && !strcmp(split, "trainval")) {
        st = air_split(dir, level[li], "train", names, n, out);
        if (st == DH_OK) st = air_split(dir, level[li], "val", names, n, out);
    } else if (st == DH_OK) {
        st = air_split(dir, level[li], split, names, n, out);
    }
    *n_classes = (uint32_t)n;
    dh__free(names), dh__free(text);
    return st;
}

/* ---- public ---- */

static dh_status check_split(int32_t format, const char *split, int32_t *cub_split)
{
    if (format == DH_FINEGRAINED_CUB) {
        *cub_split = !strcmp(split, "train") ? DH_SPLIT_TRAIN
                   : !strcmp(split, "test")  ? DH_SPLIT_TEST
                   : !strcmp(split, "all")   ? -1 : -2;
        DH_CHECK_ARG_MSG(*cub_split != -2, "CUB-200-2011 split '%s' is not train, test or all",
                         split);
        return DH_OK;
    }
    DH_CHECK_ARG_MSG(!strcmp(split, "train") || !strcmp(split, "val") ||
                         !strcmp(split, "trainval") || !strcmp(split, "test"),
                     "FGVC-Aircraft split '%s' is not train, val, trainval or test", split);
    return DH_OK;
}

static dh_status make_list(int32_t format, const char *dir, const char *split, text_buf *t,
                           uint32_t *n_classes, size_t *n)
{
    DH_CHECK_ARG(dir != NULL && dir[0] != '\0' && split != NULL);
    DH_CHECK_ARG_MSG(format >= DH_FINEGRAINED_CUB &&
                         format <= DH_FINEGRAINED_AIRCRAFT_MANUFACTURER,
                     "fine-grained list format %d is not a DH_FINEGRAINED_* value", (int)format);
    int32_t cs = 0;
    DH_TRY(check_split(format, split, &cs));
    dh_status st = format == DH_FINEGRAINED_CUB ? cub_list(dir, cs, t, n_classes)
                                                : air_list(dir, format, split, t, n_classes);
    size_t lines = 0;
    for (size_t i = 0; st == DH_OK && i < t->len; i++) lines += t->s[i] == '\n';
    if (st == DH_OK && lines == 0)
        st = dh__set_error(DH_E_FORMAT, "%s: split '%s' has no images", dir, split);
    if (n) *n = lines;
    return st;
}

dh_status dh_finegrained_write_list(int32_t format, const char *dir, const char *split,
                                    const char *out_list, uint32_t *out_n_classes, size_t *out_n)
{
    DH_CHECK_ARG(out_list != NULL && out_list[0] != '\0');
    text_buf t = {0};
    uint32_t nc = 0;
    size_t n = 0;
    dh_status st = make_list(format, dir, split, &t, &nc, &n);
    dh__atomic_file af;
    if (st == DH_OK && (st = dh__atomic_open(&af, out_list)) == DH_OK) {
        st = dh__atomic_write(&af, t.s, t.len);
        if (st == DH_OK) st = dh__atomic_commit(&af);
        else dh__atomic_abort(&af);
    }
    dh__free(t.s);
    if (st != DH_OK) return st;
    if (out_n_classes) *out_n_classes = nc;
    if (out_n) *out_n = n;
    return DH_OK;
}

/* The list goes to a private temporary file that dh_dataset_load_imagelist reads
 * (the dataset keeps the parsed list in memory, so the file is removed at once). */
dh_status dh_dataset_load_finegrained(int32_t format, const char *dir, const char *split,
                                      const dh_imagelist_options *opts, dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_imagelist_options"));
    text_buf t = {0};
    uint32_t nc = 0;
    dh_status st = make_list(format, dir, split, &t, &nc, NULL);
    const char *tmpdir = getenv("TMPDIR");
    char path[4200];
    snprintf(path, sizeof path, "%s/libdh-list-XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
    int fd = st == DH_OK ? mkstemp(path) : -1;
    if (st == DH_OK && fd < 0)
        st = dh__set_error(DH_E_IO, "dh_dataset_load_finegrained: cannot create a temporary "
                           "list file in %s", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
    if (fd >= 0) {
        size_t done = 0;
        while (done < t.len) {
            ssize_t w = write(fd, t.s + done, t.len - done);
            if (w <= 0) break;
            done += (size_t)w;
        }
        close(fd);
        if (done < t.len)
            st = dh__set_error(DH_E_IO, "dh_dataset_load_finegrained: writing the temporary "
                               "list %s failed", path);
        o.root = dir;
        o.label_format = DH_LABELS_CLASS_ID;
        if (o.n_classes == 0) o.n_classes = nc;
        if (st == DH_OK) st = dh_dataset_load_imagelist(path, &o, out);
        unlink(path);
    }
    dh__free(t.s);
    return st;
}
