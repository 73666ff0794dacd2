/* src/cli_data.h -- data-set specs on the command line:
 *   fashion-mnist[:DIR]        the packaged IDX files (or DIR)
 *   cifar10:DIR | cifar100:DIR | cifar100-coarse:DIR   binary batches
 *   idx:IMAGES:LABELS          any IDX pair (raw or .gz)
 *   list:LIST[:ROOT]           image list "path l1 .. lC" or "path class"
 *   npy:FEATURES[:LABELS]      feature rows (+ labels) from .npy files
 * A spec with a train/test distinction (fashion-mnist, cifar) loads the requested
 * split; others give the same set for both. */
#ifndef DH_CLI_DATA_H
#define DH_CLI_DATA_H
#include "dh.h"

/** split: 0 train, 1 test. size: image lists are stored at size x size (0: 256).
 *  Returns 0 or an exit code (the message is printed, prefixed "dh <cmd>"). */
int dh_cli_load_data(const char *cmd, const char *spec, int32_t split, uint32_t size,
                     dh_dataset **out);

/** Load the spec's train and test sets and split them with `protocol` into
 *  train/query/database (dh_protocol_split). Returns as dh_cli_load_data. */
int dh_cli_load_protocol(const char *cmd, const char *spec, const char *protocol, uint64_t seed,
                         uint32_t size, dh_dataset **train, dh_dataset **query, dh_dataset **db);

/** Part of a protocol by name: "train", "query", "database"; NULL if unknown. */
dh_dataset **dh_cli_part(const char *name, dh_dataset **train, dh_dataset **query,
                         dh_dataset **db);
#endif
