/* examples/cifar10_retrieval.c -- CIFAR-10 retrieval from the binary batches.
 *
 *   cifar10_retrieval DIR [--encoder smallcnn|resnet18-cifar] [--weights FILE.safetensors]
 *                         [--method csq] [--bits 64] [--epochs 30] [--small Q,T]
 *
 * DIR holds data_batch_1..5.bin and test_batch.bin. The default is the standard
 * `cifar10` protocol (1,000 queries, 5,000 training images, 54,000 database images,
 * mAP@all). --small Q,T takes Q queries and T training images per class instead,
 * with the rest as database, for miniature folders (the CI test uses one).
 * --weights loads pretrained encoder weights by torchvision name. */
#include <string.h>

#include "example_util.h"

int main(int argc, char **argv)
{
    const char *usage = "CIFAR_DIR [--encoder E] [--weights F] [--method M] [--bits K] "
                        "[--epochs N] [--small Q,T]";
    example_help(argc, argv, usage);
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s %s\n", argv[0], usage);
        return 2;
    }
    const char *dir = argv[1], *encoder = "smallcnn", *weights = NULL, *method = "csq";
    uint32_t K = 64, epochs = 30, small_q = 0, small_t = 0;
    for (int i = 2; i < argc; i += 2) {
        const char *v = example_value(argc, argv, i);
        if (!strcmp(argv[i], "--encoder")) encoder = v;
        else if (!strcmp(argv[i], "--weights")) weights = v;
        else if (!strcmp(argv[i], "--method")) method = v;
        else if (!strcmp(argv[i], "--bits")) K = example_u32("--bits", v, 1, 4096);
        else if (!strcmp(argv[i], "--epochs")) epochs = example_u32("--epochs", v, 1, 100000);
        else if (!strcmp(argv[i], "--small")) example_pair(v, &small_q, &small_t);
        else return fprintf(stderr, "unknown option %s\n", argv[i]), 2;
    }

    dh_dataset *tr, *te, *train, *query, *db;
    CHECK(dh_dataset_load_cifar(dir, DH_CIFAR10, 0, &tr));
    CHECK(dh_dataset_load_cifar(dir, DH_CIFAR10, 1, &te));
    if (small_q) { /* per-class split of the union for miniature folders */
        dh_dataset *all, *rest;
        CHECK(dh_dataset_concat(tr, te, &all));
        CHECK(dh_split_per_class(all, small_q, 1, &query, &rest));
        CHECK(dh_split_per_class(rest, small_t, 1, &train, NULL));
        db = rest;
        dh_dataset_free(all);
    } else {
        CHECK(dh_protocol_split("cifar10", tr, te, 1, &train, &query, &db));
    }
    printf("CIFAR-10: %zu train, %zu query, %zu database images\n", dh_dataset_count(train),
           dh_dataset_count(query), dh_dataset_count(db));

    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = K;
    lo.n_classes = 10;
    lo.n_train = dh_dataset_count(train);
    dh_loss *loss;
    CHECK(dh_loss_create(method, &lo, &loss));
    int32_t head;
    CHECK(dh_loss_head_hint(loss, &head, NULL));

    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = encoder;
    mo.n_bits = K;
    mo.head = head;
    mo.in_channels = 3;
    mo.in_height = mo.in_width = 32;
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2470f, 0.2435f, 0.2616f};
    for (int c = 0; c < 3; c++) {
        mo.mean[c] = mean[c];
        mo.std[c] = std[c];
    }
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
    to.batch_size = 64;
    to.optimizer = DH_OPTIM_ADAM;
    to.lr = 1e-3;
    to.backbone_lr_mult = weights ? 0.1 : 1.0;
    to.augment = DH_AUG_RANDOM_CROP | DH_AUG_FLIP;
    to.verbose = 1;
    dh_trainer *trainer;
    CHECK(dh_trainer_create(model, loss, train, &to, &trainer));
    CHECK(dh_trainer_run(trainer));

    double map = example_map(model, query, db, 0);
    printf("CIFAR-10, %s + %s, %u bits: mAP@all = %.4f\n", encoder, method, K, map);

    dh_trainer_free(trainer);
    dh_model_free(model);
    dh_loss_free(loss);
    dh_dataset_free(train);
    dh_dataset_free(query);
    dh_dataset_free(db);
    dh_dataset_free(tr);
    dh_dataset_free(te);
    return 0;
}
