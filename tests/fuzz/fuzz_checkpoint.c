/* tests/fuzz/fuzz_checkpoint.c -- the trainer checkpoint loader (lib/train/checkpoint.c):
 * the input is a checkpoint image resumed into a small trainer (MLP 8-16, 8 bits,
 * HashNet, 16 rows in 2 batches). A refused checkpoint must leave every model tensor as
 * it was (resuming is all or nothing; checked here); an accepted one is resumed again
 * through the file path and dh_trainer_run trains the remaining epochs (at most 2),
 * which must not crash whatever counters the file held. Seeds: corpus/checkpoint/,
 * written by gen_checkpoint_corpus.py. Run (libFuzzer build, -DDH_FUZZ=ON):
 *   TMPDIR=/dev/shm build-fuzz/tests/fuzz_checkpoint -runs=1000000 DIR tests/fuzz/corpus/checkpoint */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "train/train_impl.h"

enum { N = 16, D = 8, C = 2 };

static dh_dataset *g_ds;
static dh_model *g_m;
static dh_loss *g_loss;
static dh_trainer *g_t;
static char g_path[300];

static void setup(void)
{
    static float x[N * D];
    static int32_t y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % C;
        for (int d = 0; d < D; d++) x[i * D + d] = (float)((i * 7 + d * 3) % 11) / 11.0f - 0.5f;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%s/dh_fuzz_ckpt_%ld.ckpt", tmp && tmp[0] ? tmp : "/tmp",
             (long)getpid());
    dh_set_num_threads(1);
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "mlp:8-16";
    mo.n_bits = 8;
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = 8;
    lo.n_classes = C;
    lo.n_train = N;
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = 2;
    to.batch_size = 8;
    to.checkpoint_path = g_path;
    to.resume = 1;
    to.keep_best = 0;
    int32_t act = 0;
    dh_status st = dh_dataset_from_features(x, N, D, y, NULL, C, &g_ds);
    if (st == DH_OK) st = dh_loss_create("hashnet", &lo, &g_loss);
    if (st == DH_OK) st = dh_loss_head_hint(g_loss, &act, NULL);
    mo.head = act;
    if (st == DH_OK) st = dh_model_create(&mo, &g_m);
    if (st == DH_OK) st = dh_trainer_create(g_m, g_loss, g_ds, &to, &g_t);
    if (st != DH_OK) {
        fprintf(stderr, "fuzz_checkpoint: setup failed: %s\n", dh_last_error());
        abort();
    }
}

/* FNV-1a over every model tensor. */
static uint64_t params_hash(void)
{
    dh__model_param *mp;
    size_t nm = dh__model_params(g_m, &mp);
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < nm; i++) {
        const uint8_t *b = (const uint8_t *)mp[i].p.data;
        for (size_t j = 0; j < mp[i].p.n * sizeof(float); j++) h = (h ^ b[j]) * 1099511628211u;
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_t) setup();
    uint64_t before = params_hash();
    dh_status st = dh__checkpoint_resume_buffer(g_t, data, size);
    if (getenv("DH_FUZZ_VERBOSE")) /* to see what each seed exercises */
        fprintf(stderr, "resume: %d %s\n", st, st == DH_OK ? "" : dh_last_error());
    if (st != DH_OK) {
        if (params_hash() != before) {
            fprintf(stderr, "fuzz_checkpoint: a refused checkpoint changed the model (%s)\n",
                    dh_last_error());
            abort();
        }
        return 0;
    }
    FILE *f = fopen(g_path, "wb");
    if (!f) return 0;
    size_t w = fwrite(data, 1, size, f);
    fclose(f);
    if (w == size) { /* resumes from the file, trains, saves */
        st = dh_trainer_run(g_t);
        if (getenv("DH_FUZZ_VERBOSE"))
            fprintf(stderr, "run: %d %s\n", st, st == DH_OK ? "" : dh_last_error());
    }
    unlink(g_path);
    return 0;
}
