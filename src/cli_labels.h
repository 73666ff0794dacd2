/* src/cli_labels.h -- label files of the dh tool and class-based selection of samples.
 * A label file is a .npy array: [n] integer class ids (uint8, int8, int32, int64) or
 * [n, C'] multi-hot rows of any numeric dtype with 0/1 values (C' <= C: missing
 * trailing columns are classes the file predates and read as 0). */
#ifndef DH_CLI_LABELS_H
#define DH_CLI_LABELS_H
#include <stddef.h>
#include <stdint.h>

#include "dh.h"

typedef struct dh_cli_labels {
    dh_array *arr; /* the file as loaded */
    int32_t dtype; /* DH_DTYPE_* of the file */
    uint32_t ndim; /* 1: class ids, 2: multi-hot */
    size_t n;      /* rows */
    uint32_t C;    /* classes of `hot` */
    float *hot;    /* [n, C] float 0/1 */
} dh_cli_labels;

/** Print "dh <cmd>: <message>" and return `code`. */
int dh_cli_error(const char *cmd, int code, const char *fmt, ...);

/** Load a label file for C classes. Returns 0, or an exit code (message printed; a
 *  missing or unreadable file is DH_EXIT_IO, bad contents DH_EXIT_FAIL). */
int dh_cli_labels_load(const char *cmd, const char *path, uint32_t C, dh_cli_labels *out);
void dh_cli_labels_free(dh_cli_labels *l);

/** `old`'s rows followed by those of `add` (its class ids, or its label rows) in
 *  old's dtype and rank: *out (malloc'd) of shape [n + m] or [n + m, C] (shape[1]).
 *  An `old` with n = 0 and hot = NULL sets only the format. 0 or an exit code. */
int dh_cli_labels_concat(const char *cmd, const dh_cli_labels *old, const dh_dataset *add,
                         void **out, int64_t shape[2]);

/** Parse "A-B" (or "A") into first..last, inclusive; 0 or DH_EXIT_USAGE naming `flag`. */
int dh_cli_parse_range(const char *cmd, const char *flag, const char *s, uint32_t out[2]);

/** Replace *ds by its samples of classes range[0]..range[1] (range NULL: all; a usage
 *  error naming `flag` if past the data's classes), then keep at most per_class random
 *  samples of each class (0: all; seeded; single-label data). Kept samples stay in
 *  their order. Returns 0 or an exit code (message printed). */
int dh_cli_select(const char *cmd, const char *flag, dh_dataset **ds, const uint32_t *range,
                  uint32_t per_class, uint64_t seed);
#endif
