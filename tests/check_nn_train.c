/* tests/check_nn_train.c -- end-to-end training sanity of the neural engine: smallcnn
 * plus a linear softmax classifier (written here), trained with libdh's SGD on a
 * 2,000-image Fashion-MNIST subset, must classify the 10,000 test images with more
 * than 80% accuracy after a few epochs. This exercises the whole training path
 * (plans, blocked layouts, BN with fused ReLU, pooling, linear, backward-weights,
 * gradient accumulation, optimizer) the way a user drives it; the layer-level
 * accuracy lives in check_nn_layers/fuse/golden.
 *
 * Needs Fashion-MNIST (dh_fashion_mnist_dir: $DH_FASHION_MNIST_DIR or Debian's
 * dataset-fashion-mnist); without it the learning test reports a skip and passes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "testutil.h"

#define N_TRAIN 2000
#define N_CLASSES 10
#define BATCH 64
#define EPOCHS 4
#define EVAL_CHUNK 500

static const float MEAN = 0.2860f, STD = 0.3530f; /* Fashion-MNIST pixel statistics */

typedef struct clf {
    size_t d;           /* feature dim */
    float *w, *gw;      /* [10, d] */
    float b[N_CLASSES], gb[N_CLASSES];
} clf;

/* Images [n, 1, 28, 28] normalised, and class ids, of samples first..first+n. */
static void load_floats(const dh_dataset *ds, size_t first, size_t n, float *x, int32_t *y)
{
    size_t per = dh_dataset_sample_size(ds);
    for (size_t i = 0; i < n; i++)
        ck_assert_dh_ok(dh_dataset_get_floats(ds, first + i, &MEAN, &STD, x + i * per));
    ck_assert_dh_ok(dh_dataset_get_class_ids(ds, first, n, y));
}

/* logits = F W^T + b for rows of f [n, d]. */
static void clf_logits(const clf *c, const float *f, size_t n, float *logits)
{
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < N_CLASSES; k++) {
            double s = c->b[k];
            for (size_t j = 0; j < c->d; j++) s += (double)f[i * c->d + j] * c->w[k * c->d + j];
            logits[i * N_CLASSES + k] = (float)s;
        }
}

/* Mean softmax cross-entropy over the batch; accumulates dW, db and writes dF. */
static double clf_loss_backward(clf *c, const float *f, const int32_t *y, size_t n, float *df)
{
    float logits[BATCH * N_CLASSES];
    clf_logits(c, f, n, logits);
    double loss = 0.0;
    memset(df, 0, n * c->d * sizeof *df);
    for (size_t i = 0; i < n; i++) {
        float *z = logits + i * N_CLASSES;
        double mx = z[0], sum = 0.0, p[N_CLASSES];
        for (int k = 1; k < N_CLASSES; k++) mx = z[k] > mx ? z[k] : mx;
        for (int k = 0; k < N_CLASSES; k++) sum += p[k] = exp(z[k] - mx);
        loss -= log(p[y[i]] / sum);
        for (int k = 0; k < N_CLASSES; k++) {
            double g = (p[k] / sum - (k == y[i])) / (double)n;
            c->gb[k] += (float)g;
            for (size_t j = 0; j < c->d; j++) {
                c->gw[k * c->d + j] += (float)(g * f[i * c->d + j]);
                df[i * c->d + j] += (float)(g * c->w[k * c->d + j]);
            }
        }
    }
    return loss / (double)n;
}

/* Accuracy of encoder + classifier on n samples of ds (inference mode). */
static double accuracy(dh_encoder *enc, const clf *c, const dh_dataset *ds, size_t n)
{
    size_t per = dh_dataset_sample_size(ds), hit = 0;
    float *x = malloc(EVAL_CHUNK * per * sizeof *x), *f = malloc(EVAL_CHUNK * c->d * sizeof *f);
    float *logits = malloc(EVAL_CHUNK * N_CLASSES * sizeof *logits);
    int32_t *y = malloc(EVAL_CHUNK * sizeof *y);
    ck_assert(x && f && logits && y);
    for (size_t s = 0; s < n; s += EVAL_CHUNK) {
        size_t m = n - s < EVAL_CHUNK ? n - s : EVAL_CHUNK;
        load_floats(ds, s, m, x, y);
        ck_assert_dh_ok(dh_encoder_forward(enc, x, m, 0, f));
        clf_logits(c, f, m, logits);
        for (size_t i = 0; i < m; i++) {
            int best = 0;
            for (int k = 1; k < N_CLASSES; k++)
                if (logits[i * N_CLASSES + k] > logits[i * N_CLASSES + best]) best = k;
            hit += best == y[i];
        }
    }
    free(x);
    free(f);
    free(logits);
    free(y);
    return (double)hit / (double)n;
}

/* SGD with momentum over the encoder's trainable tensors and the classifier. */
static dh_optimizer *make_optimizer(dh_encoder *enc, clf *c)
{
    dh_optimizer_options o;
    dh_optimizer_options_init(&o);
    o.type = DH_OPTIM_SGD;
    o.lr = 0.02;
    o.momentum = 0.9;
    o.weight_decay = 5e-4;
    o.apply_no_decay = 1;
    dh_optimizer *opt;
    ck_assert_dh_ok(dh_optimizer_create(&o, &opt));
    dh__param *ps;
    size_t np = dh__encoder_params(enc, &ps);
    for (size_t i = 0; i < np; i++)
        if (!ps[i].is_buffer)
            ck_assert_dh_ok(dh_optimizer_add_param(opt, ps[i].name, ps[i].data, ps[i].grad,
                                                   ps[i].n, DH_PARAM_GROUP_BACKBONE,
                                                   ps[i].no_decay ? DH_PARAM_NO_DECAY : 0));
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "clf.weight", c->w, c->gw, N_CLASSES * c->d,
                                           DH_PARAM_GROUP_LOSS, 0));
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "clf.bias", c->b, c->gb, N_CLASSES,
                                           DH_PARAM_GROUP_LOSS, DH_PARAM_NO_DECAY));
    return opt;
}

/* One epoch over a shuffled order; returns the mean batch loss. */
static double train_epoch(dh_encoder *enc, clf *c, dh_optimizer *opt, const float *x,
                          const int32_t *y, size_t per, uint64_t *rng)
{
    static size_t order[N_TRAIN];
    static float xb[BATCH * 28 * 28], f[BATCH * 512], df[BATCH * 512];
    int32_t yb[BATCH];
    for (size_t i = 0; i < N_TRAIN; i++) order[i] = i;
    for (size_t i = N_TRAIN - 1; i > 0; i--) {
        size_t j = (size_t)(dh_test_rand(rng) % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    double sum = 0.0;
    int steps = 0;
    for (size_t s = 0; s + BATCH <= N_TRAIN; s += BATCH) { /* the partial batch is dropped */
        for (size_t i = 0; i < BATCH; i++) {
            memcpy(xb + i * per, x + order[s + i] * per, per * sizeof *xb);
            yb[i] = y[order[s + i]];
        }
        ck_assert_dh_ok(dh_optimizer_zero_grad(opt));
        ck_assert_dh_ok(dh_encoder_forward(enc, xb, BATCH, 1, f));
        double loss = clf_loss_backward(c, f, yb, BATCH, df);
        ck_assert_msg(isfinite(loss), "loss is %g at step %d", loss, steps);
        ck_assert_dh_ok(dh_encoder_backward(enc, df, NULL));
        ck_assert_dh_ok(dh_optimizer_step(opt));
        sum += loss;
        steps++;
    }
    return sum / steps;
}

START_TEST(test_nn_train_smallcnn_fashion_mnist)
{
    char dir[4096];
    if (dh_fashion_mnist_dir(dir, sizeof dir) != DH_OK) {
        fprintf(stderr, "check_nn_train: Fashion-MNIST not installed; learning test skipped\n");
        return;
    }
    dh_dataset *tr, *te;
    ck_assert_dh_ok(dh_dataset_load_fashion_mnist(NULL, DH_SPLIT_TRAIN, &tr));
    ck_assert_dh_ok(dh_dataset_load_fashion_mnist(NULL, DH_SPLIT_TEST, &te));
    size_t per = dh_dataset_sample_size(tr);
    ck_assert_uint_eq(per, 28 * 28);
    float *x = malloc(N_TRAIN * per * sizeof *x);
    int32_t *y = malloc(N_TRAIN * sizeof *y);
    ck_assert(x && y);
    load_floats(tr, 0, N_TRAIN, x, y);

    dh_encoder_options eo;
    dh_encoder_options_init(&eo);
    eo.seed = 7;
    dh_encoder *enc;
    ck_assert_dh_ok(dh_encoder_create("smallcnn", &eo, &enc));
    clf c = {.d = dh_encoder_feature_dim(enc)};
    c.w = calloc(N_CLASSES * c.d, sizeof *c.w);
    c.gw = calloc(N_CLASSES * c.d, sizeof *c.gw);
    ck_assert(c.w && c.gw);
    uint64_t rng = 12345;
    for (size_t i = 0; i < N_CLASSES * c.d; i++) /* nn.Linear's U(-1/sqrt(d), 1/sqrt(d)) */
        c.w[i] = (float)(((double)(dh_test_rand(&rng) >> 11) * 0x1.0p-53 * 2.0 - 1.0) /
                         sqrt((double)c.d));
    dh_optimizer *opt = make_optimizer(enc, &c);

    double acc0 = accuracy(enc, &c, te, 2000), first = 0.0, last = 0.0;
    for (int e = 0; e < EPOCHS; e++) {
        last = train_epoch(enc, &c, opt, x, y, per, &rng);
        if (e == 0) first = last;
    }
    double acc = accuracy(enc, &c, te, dh_dataset_count(te));
    fprintf(stderr, "check_nn_train: test accuracy %.4f (untrained %.4f), loss %.3f -> %.3f\n",
            acc, acc0, first, last);
    ck_assert_msg(last < 0.8 * first, "training loss went %.4f -> %.4f", first, last);
    ck_assert_msg(acc > 0.80, "test accuracy %.4f after %d epochs on %d images", acc, EPOCHS,
                  N_TRAIN);
    ck_assert_msg(acc > acc0 + 0.3, "accuracy %.4f barely above the untrained %.4f", acc, acc0);

    dh_optimizer_free(opt);
    dh_encoder_free(enc);
    dh_dataset_free(tr);
    dh_dataset_free(te);
    free(c.w);
    free(c.gw);
    free(x);
    free(y);
}
END_TEST

static Suite *dh__nn_train_suite(void)
{
    Suite *s = suite_create("dh__nn_train");
    TCase *t = tcase_create("Learning");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, test_nn_train_smallcnn_fashion_mnist);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(dh__nn_train_suite()); }
