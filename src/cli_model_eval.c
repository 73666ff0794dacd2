/* src/cli_model_eval.c -- encoding a data set with the progress line (dh encode, search,
 * eval), and `dh eval --model M --data SPEC --protocol P`: encode a protocol's queries and
 * database with a model into temporary .npy files that the codes-based evaluation then
 * reads (training builds only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_data.h"

dh_status dh_cli_encode_rows(dh_model *m, const dh_dataset *ds, size_t at, size_t c,
                             int64_t *idx, uint8_t *codes, float *u)
{
    for (size_t r = 0; r < c; r++) idx[r] = (int64_t)(at + r);
    dh_dataset *sub = NULL;
    dh_status st = dh_dataset_subset(ds, idx, c, &sub);
    if (st == DH_OK) st = dh_model_encode_dataset(m, sub, codes, u);
    dh_dataset_free(sub);
    return st;
}

dh_status dh_cli_encode_chunks(dh_model *m, const dh_dataset *ds, uint8_t *codes, float *u,
                               dh_cli_progress *p, size_t base)
{
    const size_t n = dh_dataset_count(ds), chunk = 2048, cb = dh_code_bytes(dh_model_n_bits(m));
    const size_t K = dh_model_n_bits(m);
    if (n <= chunk) {
        dh_status st = dh_model_encode_dataset(m, ds, codes, u);
        dh_cli_progress_update(p, base + n);
        return st;
    }
    int64_t *idx = malloc(chunk * sizeof *idx);
    if (!idx) return DH_E_NO_MEMORY;
    dh_status st = DH_OK;
    for (size_t at = 0; st == DH_OK && at < n; at += chunk) {
        size_t c = n - at < chunk ? n - at : chunk;
        st = dh_cli_encode_rows(m, ds, at, c, idx, codes + at * cb, u ? u + at * K : NULL);
        dh_cli_progress_update(p, base + at + c);
    }
    free(idx);
    return st;
}

static dh_status save_part(dh_model *m, const dh_dataset *ds, const char *codes_path,
                           const char *labels_path, dh_cli_progress *p, size_t base)
{
    uint32_t K = dh_model_n_bits(m);
    size_t n = dh_dataset_count(ds), cb = dh_code_bytes(K), C = dh_dataset_n_classes(ds);
    uint8_t *codes = malloc(n * cb + 1);
    float *y = malloc((n * C + 1) * sizeof(float));
    dh_status st = (codes && y) ? dh_cli_encode_chunks(m, ds, codes, NULL, p, base)
                                : DH_E_NO_MEMORY;
    int64_t cshape[2] = {(int64_t)n, (int64_t)cb}, lshape[2] = {(int64_t)n, (int64_t)C};
    if (st == DH_OK) st = dh_npy_save(codes_path, DH_DTYPE_UINT8, 2, cshape, codes);
    if (st == DH_OK) st = dh_dataset_get_labels(ds, 0, n, y);
    if (st == DH_OK) st = dh_npy_save(labels_path, DH_DTYPE_FLOAT32, 2, lshape, y);
    free(codes);
    free(y);
    return st;
}

int dh_cli_eval_model_inputs(const char *cmd, const char *model, const char *data,
                             const char *protocol, uint32_t seed, char dir[64],
                             char paths[4][128], uint64_t *topk)
{
    snprintf(dir, 64, "/tmp/dh-eval-XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "dh %s: cannot create a temporary folder\n", cmd);
        dir[0] = '\0';
        return DH_EXIT_IO;
    }
    const char *names[4] = {"q_codes.npy", "db_codes.npy", "q_labels.npy", "db_labels.npy"};
    for (int i = 0; i < 4; i++) snprintf(paths[i], 128, "%s/%s", dir, names[i]);
    dh_dataset *train = NULL, *query = NULL, *db = NULL;
    int rc = dh_cli_load_protocol(cmd, data, protocol, seed, 0, &train, &query, &db);
    dh_model *m = NULL;
    dh_status st = DH_OK;
    if (!rc) st = dh_model_load(model, &m);
    dh_cli_progress p;
    size_t nq = rc ? 0 : dh_dataset_count(query), nd = rc ? 0 : dh_dataset_count(db);
    dh_cli_progress_start(&p, cmd, "samples encoded", nq + nd);
    if (!rc && st == DH_OK) st = save_part(m, query, paths[0], paths[2], &p, 0);
    if (!rc && st == DH_OK) st = save_part(m, db, paths[1], paths[3], &p, nq);
    if (p.shown) fprintf(stderr, "\r\033[K"); /* eval's own line follows */
    int64_t k = 0;
    if (!rc && st == DH_OK && dh_protocol_topk(protocol, &k) == DH_OK && !*topk)
        *topk = (uint64_t)k;
    if (!rc && st != DH_OK) rc = dh_cli_fail(cmd, st);
    dh_model_free(m);
    dh_dataset_free(train);
    dh_dataset_free(query);
    dh_dataset_free(db);
    return rc;
}

void dh_cli_eval_model_cleanup(const char dir[64], char paths[4][128])
{
    if (!dir[0]) return;
    for (int i = 0; i < 4; i++) unlink(paths[i]);
    rmdir(dir);
}
