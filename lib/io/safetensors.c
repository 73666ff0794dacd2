/* lib/io/safetensors.c -- strict safetensors parser.
 *
 * Layout: u64 little-endian N, then N bytes of JSON (UTF-8, may be padded with
 * spaces), then the data section. The JSON object maps tensor names to
 * {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} (offsets relative
 * to the data section) plus an optional "__metadata__" object of strings. Every
 * rule the reference implementation enforces is enforced here, and a few more
 * (unique names, integral numbers), each failing with DH_E_FORMAT and a message that
 * names the offset or tensor. The fuzz target tests/fuzz/fuzz_model_load.c drives it. */
#include "io/safetensors.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int32_t dtype;
    size_t size;
} dtypes[] = {
    {"F64", DH__ST_F64, 8}, {"F32", DH__ST_F32, 4}, {"F16", DH__ST_F16, 2},
    {"BF16", DH__ST_BF16, 2}, {"I64", DH__ST_I64, 8}, {"I32", DH__ST_I32, 4},
    {"I16", DH__ST_I16, 2}, {"I8", DH__ST_I8, 1}, {"U8", DH__ST_U8, 1}, {"BOOL", DH__ST_BOOL, 1},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

size_t dh__st_dtype_size(int32_t dtype)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].dtype == dtype) return dtypes[i].size;
    return 0;
}

const char *dh__st_dtype_name(int32_t dtype)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].dtype == dtype) return dtypes[i].name;
    return "?";
}

#define FMT_ERR(...) dh__set_error(DH_E_FORMAT, "safetensors: " __VA_ARGS__)

/* A JSON number that is a non-negative integer <= 2^53 (exactly representable). */
static int get_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static dh_status parse_shape(const cJSON *shape, dh__st_tensor *t)
{
    if (!cJSON_IsArray(shape))
        return FMT_ERR("tensor '%s': \"shape\" is missing or not an array", t->name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > DH__ST_MAX_DIMS)
        return FMT_ERR("tensor '%s': %d dimensions, at most %d supported", t->name, nd,
                       DH__ST_MAX_DIMS);
    t->ndim = nd;
    size_t numel = 1;
    for (int i = 0; i < nd; i++) {
        uint64_t d;
        if (!get_uint(cJSON_GetArrayItem(shape, i), &d) || d > ((uint64_t)1 << 40))
            return FMT_ERR("tensor '%s': shape[%d] is not an integer in 0..2^40", t->name, i);
        t->shape[i] = (int64_t)d;
        if (!dh__mul_ok(numel, (size_t)d, &numel))
            return FMT_ERR("tensor '%s': shape overflows", t->name);
    }
    t->numel = numel;
    return DH_OK;
}

static dh_status parse_entry(const cJSON *item, size_t data_len, dh__st_tensor *t)
{
    if (!cJSON_IsObject(item)) return FMT_ERR("tensor '%s': entry is not an object", t->name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dt)) return FMT_ERR("tensor '%s': \"dtype\" missing or not a string",
                                            t->name);
    for (size_t i = 0; i < N_DTYPES && !t->dtype; i++)
        if (!strcmp(dt->valuestring, dtypes[i].name)) t->dtype = dtypes[i].dtype;
    if (!t->dtype) return FMT_ERR("tensor '%s': unknown dtype \"%.16s\"", t->name, dt->valuestring);
    DH_TRY(parse_shape(cJSON_GetObjectItemCaseSensitive(item, "shape"), t));
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    uint64_t b, e;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        !get_uint(cJSON_GetArrayItem(off, 0), &b) || !get_uint(cJSON_GetArrayItem(off, 1), &e))
        return FMT_ERR("tensor '%s': \"data_offsets\" must be two non-negative integers",
                       t->name);
    if (b > e || e > data_len)
        return FMT_ERR("tensor '%s': data_offsets [%llu, %llu] outside the %zu-byte data section",
                       t->name, (unsigned long long)b, (unsigned long long)e, data_len);
    size_t want;
    if (!dh__mul_ok(t->numel, dh__st_dtype_size(t->dtype), &want) || want != e - b)
        return FMT_ERR("tensor '%s': %llu data bytes for %zu elements of %s", t->name,
                       (unsigned long long)(e - b), t->numel, dt->valuestring);
    t->offset = (size_t)b;
    t->nbytes = (size_t)(e - b);
    /* nothing but dtype, shape and data_offsets is allowed */
    for (const cJSON *c = item->child; c; c = c->next)
        if (strcmp(c->string, "dtype") && strcmp(c->string, "shape") &&
            strcmp(c->string, "data_offsets"))
            return FMT_ERR("tensor '%s': unexpected field \"%.32s\"", t->name, c->string);
    return DH_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A name that occurs twice in names[n] (sorting a copy: O(n log n)), or NULL. */
static const char *first_duplicate(const char *const *names, size_t n)
{
    if (n < 2) return NULL;
    const char **s = dh__calloc(n, sizeof *s);
    if (!s) return NULL; /* out of memory: skip the check rather than fail the parse */
    memcpy(s, names, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_str);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (!strcmp(s[i], s[i - 1])) dup = s[i];
    dh__free(s);
    return dup;
}

static dh_status parse_meta(const cJSON *meta, dh__safetensors *st)
{
    if (!cJSON_IsObject(meta)) return FMT_ERR("\"__metadata__\" is not an object");
    size_t n = (size_t)cJSON_GetArraySize(meta);
    st->meta_keys = dh__calloc(n ? n : 1, sizeof(char *));
    st->meta_vals = dh__calloc(n ? n : 1, sizeof(char *));
    if (!st->meta_keys || !st->meta_vals) return DH_E_NO_MEMORY;
    for (const cJSON *c = meta->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return FMT_ERR("__metadata__ value of \"%.64s\" is not a string", c->string);
        size_t k = st->n_meta++; /* counted first: dh__safetensors_free frees what succeeded */
        st->meta_keys[k] = dh__strdup(c->string);
        st->meta_vals[k] = dh__strdup(c->valuestring);
        if (!st->meta_keys[k] || !st->meta_vals[k]) return DH_E_NO_MEMORY;
    }
    const char *dup = first_duplicate((const char *const *)st->meta_keys, st->n_meta);
    if (dup) return FMT_ERR("__metadata__ key \"%.64s\" appears twice", dup);
    return DH_OK;
}

static int cmp_offset(const void *a, const void *b)
{
    const dh__st_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Sorted by offset, the tensors must tile the data section: no gap, no overlap. */
static dh_status check_layout(dh__safetensors *st, size_t data_len)
{
    qsort(st->t, st->n, sizeof *st->t, cmp_offset);
    size_t pos = 0;
    for (size_t i = 0; i < st->n; i++) {
        if (st->t[i].offset != pos)
            return FMT_ERR("tensor '%s' starts at data offset %zu, expected %zu (%s)",
                           st->t[i].name, st->t[i].offset, pos,
                           st->t[i].offset < pos ? "overlaps the previous tensor"
                                                 : "gap in the data section");
        pos += st->t[i].nbytes;
    }
    if (pos != data_len)
        return FMT_ERR("tensors cover %zu of the %zu bytes of the data section (file offset "
                       "%zu)", pos, data_len, st->data_start + pos);
    const char **names = dh__calloc(st->n ? st->n : 1, sizeof *names);
    if (!names) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < st->n; i++) names[i] = st->t[i].name;
    const char *dup = first_duplicate(names, st->n);
    dh_status s = dup ? FMT_ERR("tensor name '%.200s' appears twice", dup) : DH_OK;
    dh__free(names);
    return s;
}

static dh_status parse_tensors(const cJSON *root, const uint8_t *data, size_t data_len,
                               dh__safetensors *st)
{
    size_t n = (size_t)cJSON_GetArraySize(root);
    st->t = dh__calloc(n ? n : 1, sizeof *st->t);
    if (!st->t) return DH_E_NO_MEMORY;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!strcmp(c->string, "__metadata__")) {
            if (st->meta_keys) return FMT_ERR("\"__metadata__\" appears twice");
            DH_TRY(parse_meta(c, st));
            continue;
        }
        if (c->string[0] == '\0' || strlen(c->string) > 1024)
            return FMT_ERR("a tensor name is empty or longer than 1024 bytes");
        dh__st_tensor *t = &st->t[st->n++];
        t->name = dh__strdup(c->string);
        if (!t->name) return DH_E_NO_MEMORY;
        DH_TRY(parse_entry(c, data_len, t));
        t->data = data + t->offset;
    }
    return check_layout(st, data_len);
}

static dh_status parse_header(const uint8_t *buf, size_t len, size_t *hlen)
{
    if (len < 8) return FMT_ERR("%zu bytes, too short for the 8-byte header length", len);
    uint64_t n = dh__le64(buf);
    if (n < 2 || n > DH__ST_MAX_HEADER)
        return FMT_ERR("header length %llu at offset 0 is outside 2..%llu",
                       (unsigned long long)n, (unsigned long long)DH__ST_MAX_HEADER);
    if (n > len - 8)
        return FMT_ERR("header length %llu at offset 0 runs past the end of the %zu-byte file "
                       "(truncated?)", (unsigned long long)n, len);
    if (buf[8] != '{') return FMT_ERR("header at offset 8 does not start with '{'");
    *hlen = (size_t)n;
    return DH_OK;
}

dh_status dh__safetensors_parse(const uint8_t *buf, size_t len, dh__safetensors *out)
{
    memset(out, 0, sizeof *out);
    if (!buf && len) return dh__set_error(DH_E_INVALID_ARG, "safetensors: NULL buffer");
    size_t hlen = 0;
    DH_TRY(parse_header(buf, len, &hlen));
    const char *json = (const char *)buf + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, hlen, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= json && at <= json + hlen ? (size_t)(at - json) + 8 : 8;
        return FMT_ERR("malformed JSON header near file offset %zu", off);
    }
    dh_status st = DH_OK;
    for (const char *p = end; p < json + hlen && st == DH_OK; p++)
        if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
            st = FMT_ERR("unexpected byte 0x%02x after the JSON header at file offset %zu",
                         (unsigned)(uint8_t)*p, (size_t)(p - json) + 8);
    if (st == DH_OK && !cJSON_IsObject(root)) st = FMT_ERR("header is not a JSON object");
    out->data_start = 8 + hlen;
    if (st == DH_OK) st = parse_tensors(root, buf + 8 + hlen, len - 8 - hlen, out);
    cJSON_Delete(root);
    if (st != DH_OK) dh__safetensors_free(out);
    return st;
}

void dh__safetensors_free(dh__safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) dh__free(st->t[i].name);
    if (st->meta_keys)
        for (size_t i = 0; i < st->n_meta; i++) dh__free(st->meta_keys[i]);
    if (st->meta_vals)
        for (size_t i = 0; i < st->n_meta; i++) dh__free(st->meta_vals[i]);
    dh__free(st->meta_keys);
    dh__free(st->meta_vals);
    dh__free(st->t);
    memset(st, 0, sizeof *st);
}

const dh__st_tensor *dh__safetensors_find(const dh__safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (!strcmp(st->t[i].name, name)) return &st->t[i];
    return NULL;
}

const char *dh__safetensors_meta(const dh__safetensors *st, const char *key)
{
    for (size_t i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta_keys[i], key)) return st->meta_vals[i];
    return NULL;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0) {
        float f = ldexpf((float)man, -24); /* zero or subnormal */
        return sign ? -f : f;
    }
    if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 112u) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void dh__st_to_float(const dh__st_tensor *t, float *out)
{
    const uint8_t *p = t->data;
    for (size_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case DH__ST_F32: {
            uint32_t b = dh__le32(p + 4 * i);
            memcpy(&out[i], &b, 4);
            break;
        }
        case DH__ST_F64: {
            uint64_t b = dh__le64(p + 8 * i);
            double d;
            memcpy(&d, &b, 8);
            out[i] = (float)d;
            break;
        }
        case DH__ST_F16: out[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case DH__ST_BF16: {
            uint32_t b = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &b, 4);
            break;
        }
        case DH__ST_I64: out[i] = (float)(int64_t)dh__le64(p + 8 * i); break;
        case DH__ST_I32: out[i] = (float)(int32_t)dh__le32(p + 4 * i); break;
        case DH__ST_I16: out[i] = (float)(int16_t)(p[2 * i] | p[2 * i + 1] << 8); break;
        case DH__ST_I8: out[i] = (float)(int8_t)p[i]; break;
        default: out[i] = (float)p[i]; break; /* U8, BOOL */
        }
    }
}
