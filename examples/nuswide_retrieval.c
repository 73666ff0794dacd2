/* examples/nuswide_retrieval.c -- NUS-WIDE (multi-label) retrieval from an image list.
 *
 *   nuswide_retrieval LIST ROOT [--weights resnet18.safetensors] [--method csq]
 *                     [--bits 64] [--epochs 20] [--size 224] [--small Q,T]
 *
 * LIST lines are "relative/path.jpg l1 ... lC" (multi-hot, DeepHash-pytorch's
 * format); ROOT is the image folder. The default is the `nuswide21` protocol
 * (21 most frequent concepts, 100 queries and 500 training images per concept,
 * database = all but the queries, mAP@5000) with resnet18; --weights imports
 * torchvision weights converted by scripts/torch2safetensors.py. --small Q,T uses
 * Q queries and T training images per concept, for miniature folders (CI). */
#include <string.h>

#include "example_util.h"

/* Per-concept quotas in a seeded order: an image goes to the first of its concepts
 * with query quota left, else to training if a concept has training quota left. */
static void small_split(const dh_dataset *all, uint32_t q_per, uint32_t t_per,
                        dh_dataset **train, dh_dataset **query, dh_dataset **db)
{
    size_t n = dh_dataset_count(all), C = dh_dataset_n_classes(all), nq = 0, nt = 0, nd = 0;
    float *y = malloc(n * C * sizeof(float));
    int64_t *qi = malloc(n * sizeof(int64_t)), *ti = malloc(n * sizeof(int64_t));
    int64_t *di = malloc(n * sizeof(int64_t));
    uint32_t *qleft = malloc(C * sizeof(uint32_t)), *tleft = malloc(C * sizeof(uint32_t));
    CHECK(dh_dataset_get_labels(all, 0, n, y));
    for (size_t c = 0; c < C; c++) qleft[c] = q_per, tleft[c] = t_per;
    for (size_t k = 0; k < n; k++) {
        size_t i = (k * 7919u) % n; /* a fixed permutation when n is not a multiple of 7919 */
        int placed = 0;
        for (size_t c = 0; c < C && !placed; c++)
            if (y[i * C + c] > 0 && qleft[c]) qleft[c]--, qi[nq++] = (int64_t)i, placed = 1;
        if (placed) continue;
        di[nd++] = (int64_t)i;
        for (size_t c = 0; c < C && !placed; c++)
            if (y[i * C + c] > 0 && tleft[c]) tleft[c]--, ti[nt++] = (int64_t)i, placed = 1;
    }
    CHECK(dh_dataset_subset(all, qi, nq, query));
    CHECK(dh_dataset_subset(all, ti, nt, train));
    CHECK(dh_dataset_subset(all, di, nd, db));
    free(y), free(qi), free(ti), free(di), free(qleft), free(tleft);
}

int main(int argc, char **argv)
{
    const char *usage = "LIST ROOT [--weights F] [--method M] [--bits K] [--epochs N] "
                        "[--size S] [--small Q,T]";
    example_help(argc, argv, usage);
    if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        fprintf(stderr, "usage: %s %s\n", argv[0], usage);
        return 2;
    }
    const char *weights = NULL, *method = "csq";
    uint32_t K = 64, epochs = 20, size = 224, small_q = 0, small_t = 0;
    for (int i = 3; i < argc; i += 2) {
        const char *v = example_value(argc, argv, i);
        if (!strcmp(argv[i], "--weights")) weights = v;
        else if (!strcmp(argv[i], "--method")) method = v;
        else if (!strcmp(argv[i], "--bits")) K = example_u32("--bits", v, 1, 4096);
        else if (!strcmp(argv[i], "--epochs")) epochs = example_u32("--epochs", v, 1, 100000);
        else if (!strcmp(argv[i], "--size")) size = example_u32("--size", v, 8, 4096);
        else if (!strcmp(argv[i], "--small")) example_pair(v, &small_q, &small_t);
        else return fprintf(stderr, "unknown option %s\n", argv[i]), 2;
    }

    /* images are decoded lazily and resized to size x size (bounded cache) */
    dh_imagelist_options lopt;
    dh_imagelist_options_init(&lopt);
    lopt.root = argv[2];
    lopt.height = lopt.width = size;
    dh_dataset *all, *train, *query, *db;
    CHECK(dh_dataset_load_imagelist(argv[1], &lopt, &all));
    uint64_t topk = 5000;
    if (small_q) small_split(all, small_q, small_t, &train, &query, &db);
    else CHECK(dh_protocol_split("nuswide21", all, NULL, 1, &train, &query, &db));
    printf("NUS-WIDE: %zu train, %zu query, %zu database images, %u concepts\n",
           dh_dataset_count(train), dh_dataset_count(query), dh_dataset_count(db),
           dh_dataset_n_classes(train));

    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = K;
    lo.n_classes = dh_dataset_n_classes(train);
    lo.n_train = dh_dataset_count(train);
    dh_loss *loss;
    CHECK(dh_loss_create(method, &lo, &loss));
    int32_t head;
    CHECK(dh_loss_head_hint(loss, &head, NULL));

    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "resnet18";
    mo.n_bits = K;
    mo.head = head;
    mo.in_channels = 3;
    mo.in_height = mo.in_width = (int32_t)size;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    for (int c = 0; c < 3; c++) mo.mean[c] = mean[c], mo.std[c] = std[c];
    dh_model *model;
    CHECK(dh_model_create(&mo, &model));
    if (weights) {
        uint32_t loaded, ignored;
        CHECK(dh_model_load_backbone(model, weights, 0, &loaded, &ignored));
        printf("loaded %u pretrained tensors from %s (%u ignored)\n", loaded, weights, ignored);
    }

    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = epochs;
    to.batch_size = 32;
    to.optimizer = DH_OPTIM_ADAM;
    to.lr = 1e-4;
    to.backbone_lr_mult = weights ? 0.1 : 1.0;
    to.augment = DH_AUG_FLIP;
    to.verbose = 1;
    dh_trainer *trainer;
    CHECK(dh_trainer_create(model, loss, train, &to, &trainer));
    CHECK(dh_trainer_run(trainer));

    double map = example_map(model, query, db, topk);
    printf("NUS-WIDE, resnet18 + %s, %u bits: mAP@%llu = %.4f\n", method, K,
           (unsigned long long)topk, map);

    dh_trainer_free(trainer);
    dh_model_free(model);
    dh_loss_free(loss);
    dh_dataset_free(train);
    dh_dataset_free(query);
    dh_dataset_free(db);
    dh_dataset_free(all);
    return 0;
}
