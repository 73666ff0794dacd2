/* src/cli_data.c -- data-set specs of the dh tool (see cli_data.h). */
#include "cli_data.h"

#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Split "a:b:c" into at most 3 fields (copied into buf). */
static int fields(const char *spec, char *buf, size_t cap, char *f[3])
{
    snprintf(buf, cap, "%s", spec);
    int n = 0;
    f[0] = f[1] = f[2] = NULL;
    for (char *p = buf; n < 3;) {
        f[n++] = p;
        char *c = strchr(p, ':');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static dh_status load(const char *spec, int32_t split, uint32_t size, dh_dataset **out)
{
    char buf[4096], *f[3];
    int n = fields(spec, buf, sizeof buf, f);
    *out = NULL;
    if (!strcmp(f[0], "fashion-mnist")) return dh_dataset_load_fashion_mnist(n > 1 ? f[1] : NULL, split, out);
    if (!strcmp(f[0], "cifar10") && n > 1) return dh_dataset_load_cifar(f[1], DH_CIFAR10, split, out);
    if (!strcmp(f[0], "cifar100") && n > 1) return dh_dataset_load_cifar(f[1], DH_CIFAR100, split, out);
    if (!strcmp(f[0], "cifar100-coarse") && n > 1)
        return dh_dataset_load_cifar(f[1], DH_CIFAR100_COARSE, split, out);
    if (!strcmp(f[0], "idx") && n == 3) return dh_dataset_load_idx(f[1], f[2], out);
    if (!strcmp(f[0], "npy") && n > 1) return dh_dataset_load_npy(f[1], n > 2 ? f[2] : NULL, out);
    if (!strcmp(f[0], "list") && n > 1) {
        dh_imagelist_options o;
        dh_imagelist_options_init(&o);
        if (n > 2) o.root = f[2];
        if (size) o.height = o.width = size;
        return dh_dataset_load_imagelist(f[1], &o, out);
    }
    return DH_E_NOT_FOUND - 1000; /* marker: unknown spec (never a libdh code) */
}

static int report(const char *cmd, const char *spec, dh_status st)
{
    if (st == DH_E_NOT_FOUND - 1000)
        return dh_cli_usage_error(cmd, "'%s' is not a data spec (fashion-mnist[:DIR], "
                                  "cifar10:DIR, cifar100:DIR, cifar100-coarse:DIR, "
                                  "idx:IMAGES:LABELS, list:LIST[:ROOT], npy:FEATURES[:LABELS])",
                                  spec);
    return dh_cli_fail(cmd, st);
}

int dh_cli_load_data(const char *cmd, const char *spec, int32_t split, uint32_t size,
                     dh_dataset **out)
{
    dh_status st = load(spec, split, size, out);
    return st == DH_OK ? 0 : report(cmd, spec, st);
}

int dh_cli_load_protocol(const char *cmd, const char *spec, const char *protocol, uint64_t seed,
                         uint32_t size, dh_dataset **train, dh_dataset **query, dh_dataset **db)
{
    dh_dataset *a = NULL, *b = NULL;
    dh_status st = load(spec, 0, size, &a);
    if (st == DH_OK && (strncmp(spec, "fashion-mnist", 13) == 0 || strncmp(spec, "cifar", 5) == 0))
        st = load(spec, 1, size, &b);
    if (st == DH_OK) st = dh_protocol_split(protocol, a, b, seed, train, query, db);
    dh_dataset_free(a);
    dh_dataset_free(b);
    return st == DH_OK ? 0 : report(cmd, spec, st);
}

dh_dataset **dh_cli_part(const char *name, dh_dataset **train, dh_dataset **query,
                         dh_dataset **db)
{
    if (!strcmp(name, "train")) return train;
    if (!strcmp(name, "query")) return query;
    if (!strcmp(name, "database") || !strcmp(name, "db")) return db;
    return NULL;
}
