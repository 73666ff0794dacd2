/* examples/fashion_mnist_retrieval.c -- the Fashion-MNIST demo in public API only:
 * train smallcnn + a 64-bit GreedyHash head on 1,000 images per class, encode the 60,000
 * training images into an index, query with the 10,000 test images, print mAP.
 *
 *   fashion_mnist_retrieval [EPOCHS] [FASHION_MNIST_DIR]
 */
#include "example_util.h"

int main(int argc, char **argv)
{
    example_help(argc, argv, "[EPOCHS] [FASHION_MNIST_DIR]");
    uint32_t epochs = argc > 1 ? example_u32("EPOCHS", argv[1], 1, 100000) : 12, K = 64;
    const char *dir = argc > 2 ? argv[2] : NULL; /* NULL: the installed package */
    if (argc > 3) return fprintf(stderr, "usage: %s [EPOCHS] [FASHION_MNIST_DIR]\n", argv[0]), 2;

    /* 1. data: the fashion-mnist protocol (database = 60k train, queries = 10k test) */
    dh_dataset *train_all, *test, *train, *query, *db;
    CHECK(dh_dataset_load_fashion_mnist(dir, 0, &train_all));
    CHECK(dh_dataset_load_fashion_mnist(dir, 1, &test));
    CHECK(dh_protocol_split("fashion-mnist", train_all, test, 1, &train, &query, &db));

    /* 2. the loss decides the head's activation */
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = K;
    lo.n_classes = 10;
    lo.n_train = dh_dataset_count(train);
    dh_loss *loss;
    CHECK(dh_loss_create("greedyhash", &lo, &loss));
    int32_t head;
    CHECK(dh_loss_head_hint(loss, &head, NULL));

    /* 3. model: smallcnn encoder + K-bit head, inputs normalised like torchvision */
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "smallcnn";
    mo.n_bits = K;
    mo.head = head;
    mo.mean[0] = 0.2860f;
    mo.std[0] = 0.3530f;
    dh_model *model;
    CHECK(dh_model_create(&mo, &model));

    /* 4. train with Adam, progress on stderr */
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = epochs;
    to.batch_size = 64;
    to.optimizer = DH_OPTIM_ADAM;
    to.lr = 1e-3;
    to.verbose = 1;
    dh_trainer *trainer;
    CHECK(dh_trainer_create(model, loss, train, &to, &trainer));
    CHECK(dh_trainer_run(trainer));

    /* 5. encode the database into an index and the queries into codes */
    size_t nq = dh_dataset_count(query), nd = dh_dataset_count(db), cb = dh_code_bytes(K);
    uint8_t *qcodes = malloc(nq * cb), *dcodes = malloc(nd * cb);
    CHECK(dh_model_encode_dataset(model, db, dcodes, NULL));
    CHECK(dh_model_encode_dataset(model, query, qcodes, NULL));
    dh_index_options io;
    dh_index_options_init(&io);
    io.n_bits = K;
    dh_index *index;
    CHECK(dh_index_create(&io, &index));
    CHECK(dh_index_add(index, dcodes, nd));

    /* 6. the 5 nearest database images of the first query */
    int32_t dist[5];
    int64_t ids[5];
    CHECK(dh_index_search(index, qcodes, 1, 5, dist, ids));
    printf("query 0 neighbours:");
    for (int i = 0; i < 5; i++) printf(" %lld(d=%d)", (long long)ids[i], dist[i]);
    printf("\n");

    /* 7. mAP@all over all queries, labels as class ids */
    int32_t *ql = malloc(nq * sizeof(int32_t)), *dl = malloc(nd * sizeof(int32_t));
    CHECK(dh_dataset_get_class_ids(query, 0, nq, ql));
    CHECK(dh_dataset_get_class_ids(db, 0, nd, dl));
    dh_eval_options eo;
    dh_eval_options_init(&eo);
    eo.n_bits = K;
    double map;
    CHECK(dh_eval_map(&eo, qcodes, ql, nq, dcodes, dl, nd, &map, NULL));
    printf("Fashion-MNIST, smallcnn + GreedyHash, %u bits, %u epochs: mAP@all = %.4f\n", K, epochs, map);

    free(ql);
    free(dl);
    free(qcodes);
    free(dcodes);
    dh_index_free(index);
    dh_trainer_free(trainer);
    dh_model_free(model);
    dh_loss_free(loss);
    dh_dataset_free(train);
    dh_dataset_free(query);
    dh_dataset_free(db);
    dh_dataset_free(train_all);
    dh_dataset_free(test);
    return 0;
}
