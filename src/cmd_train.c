/* src/cmd_train.c -- `dh train`: train an encoder + hash head with a loss on a data
 * set or protocol and save the model (safetensors). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_mpi.h"
#include "cli_data.h"
#include "cli_tags.h"
#include "cmd_train_knobs.h"

static const char *CMD = "train";
static volatile sig_atomic_t g_stop;

typedef struct train_args {
    const char *data, *protocol, *encoder, *method, *out, *checkpoint, *backbone, *optimizer;
    const char *schedule, *augment, *mean, *std, *features, *feature_source, *supervision;
    dh_cli_tag_args tg; /* weak supervision: src/cli_tags.h */
    dh_cli_knobs kn;    /* recipe and augmentation knobs: src/cmd_train_knobs.h */
    uint32_t bits, epochs, batch, seed, eval_every, threads, size, warmup;
    int resume, quiet, meta, list;
    uint32_t eval_topk, clusters, refresh;
    char encoder_buf[32];
    double lr, momentum, weight_decay, quant, margin, scale, tau, backbone_mult;
} train_args;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: dh train --data SPEC -o MODEL.safetensors [options]\n"
        "  Train an encoder + K-bit hash head with a deep-hashing loss.\n"
        "data:\n"
        "  --data SPEC        fashion-mnist[:DIR], cifar10:DIR, cifar100:DIR, idx:IMG:LBL,\n"
        "                     list:LIST[:ROOT], npy:FEATURES[:LABELS]\n"
        "  --protocol NAME    split by a retrieval protocol (fashion-mnist, cifar10, cifar10-1,\n"
        "                     cifar10-2, nuswide21, coco, imagenet100): train on its training\n"
        "                     part, validate on its queries vs database\n"
        "  --size S           image lists: decode at S x S (default: the encoder's input)\n"
        "model and loss:\n"
        "  --encoder SPEC     smallcnn (default for images), alexnet, resnet18, resnet18-cifar,\n"
        "                     mlp:D-H1-... (feature rows; default mlp:D-512), pixels (the\n"
        "                     input itself; default of lsh/pcah/itq)\n"
        "  --bits K           code length, 1..4096 (default 64)\n"
        "  --method NAME      loss (default csq); --list-methods lists them\n"
        "  --backbone FILE    pretrained encoder weights (safetensors, torchvision names)\n"
        "  --mean a,b,c --std a,b,c   input normalisation on pixel/255 (default 0 and 1)\n"
        "  --quant-weight X --margin X --scale X   loss hyper-parameters (method's defaults)\n"
        "  --tau T            temperature (cibhash NT-Xent, sprch, dualproxy)\n"
        "  --meta-embedding   LTHNet's dynamic meta-embedding (class-centroid memory mixed\n"
        "                     into the features; for long-tailed data, with --method lthnet)\n"
        "unsupervised methods (cibhash, bihalf, ssdh, kmeans, sgh; lsh, pcah, itq): labels\n"
        "  are never read (--protocol only validates); lsh/pcah/itq fit the head in closed\n"
        "  form on the encoder's features (default encoder: pixels, the input itself)\n"
        "  --clusters K       kmeans: number of pseudo classes (default 10)\n"
        "  --features FILE    ssdh/kmeans/bihalf/sgh: per-sample features [n, d] .npy\n"
        "                     (default: the input rows)\n"
        "  --feature-source input|model   features from the input rows (default) or the\n"
        "                     model's own encoder, refreshed every --refresh N epochs\n"
        "weak supervision (tags; labels then serve evaluation only):\n"
        "  --protocol fashion-mnist-tags   fashion-mnist split + generated tags on train\n"
        "  --tag-keep P --tag-noise Q      keep each class tag w.p. P, add a wrong tag per\n"
        "                     class tag w.p. Q (defaults 0.5, 0.2)\n"
        "  --tags FILE        tags of the whole data set (row i = sample i), read before the\n"
        "                     protocol splits it; --tag-format matrix|files|list (default\n"
        "                     list: 'path tag ...'; matrix: NUS-WIDE AllTags1k.txt, needs\n"
        "                     --tag-list TagList1k.txt; files: MIRFlickr folder of tagsN.txt)\n"
        "  --tag-list FILE    tag names, one a line  --skip-unknown-tags  ignore others\n"
        "  --tag-vectors FILE word vectors (GloVe / word2vec text) for wdht/tagrefine\n"
        "                     (default: embeddings from the tags' co-occurrence)\n"
        "  --supervision labels|tags   tags: any supervised method learns from the tags as\n"
        "                     multi-hot labels (the tags-as-labels baseline); wdht and\n"
        "                     tagrefine always learn from tags\n"
        "optimisation:\n"
        "  every option below defaults to the method's recipe (docs/recipes.md)\n"
        "  --recipe NAME      default, reference (issue 14's PyTorch recipe), paper, or the\n"
        "                     method's own (hashnet: dhp)\n"
        "  --recipe-setting scratch|pretrained|auto   table rows to use (default auto:\n"
        "                     pretrained with --backbone, alexnet or resnet18)\n"
        "  --show-recipe      print the resolved recipe (with these flags) and exit; needs\n"
        "                     no --data (input size from --size, --data or the encoder)\n"
        "  --epochs N --batch-size B --lr X\n"
        "  --optimizer sgd|adam|adamw|rmsprop --momentum X --weight-decay X\n"
        "  --decay-scope all|weights   tensors weight decay touches (weights: not biases or\n"
        "                     norm layers)\n"
        "  --schedule constant|step|cosine  --lr-floor X (cosine floor, fraction of lr)\n"
        "  --warmup EPOCHS    --backbone-lr-mult X  learning-rate multiplier of the encoder\n"
        "  --augment LIST     comma list of crop,resized-crop,flip,jitter,gray,blur, or none\n"
        "                     (recipes: crop,flip; cibhash: resized-crop,flip,jitter,gray,blur)\n"
        "  --crop-padding N   crop's zero padding (default 2*floor(min(H,W)/16): 2 at 28,\n"
        "                     4 at 32; inputs >= 128 use resized-crop instead of crop)\n"
        "  --crop-scale MIN,MAX --crop-ratio MIN,MAX   resized-crop area and aspect ranges\n"
        "                     (default 0.08,1 and 0.75,1.333)\n"
        "  --flip-prob P --gray-prob P --blur-prob P   (defaults 0.5, 0.2, 0.5)\n"
        "  --jitter B,C,S     colour-jitter brightness, contrast, saturation (default 0.4)\n"
        "  --seed S           shuffling/augmentation/initialisation seed (default 1)\n"
        "  --eval-every N     validate every N epochs (needs --protocol); best weights kept\n"
        "  --eval-topk K      validation mAP@K (default: the protocol's)\n"
        "  --checkpoint FILE  write a checkpoint every epoch (atomic)\n"
        "  --resume           continue from --checkpoint if it exists\n"
        "  --threads N        threads (default: all cores)\n"
        "  -q, --quiet        no progress or epoch lines   -h, --help  this text\n"
        "  -o, --out FILE     where to save the trained model (required)\n"
        "Ctrl-C stops after the current batch; the last checkpoint stays intact.\n");
}

static int list_methods(void)
{
    for (size_t i = 0; i < dh_loss_method_count(); i++) printf("%s\n", dh_loss_method_name(i));
    return 0;
}

static int parse_floats(const char *s, float out[4])
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    for (char *tok = strtok(buf, ","); tok && n < 4; tok = strtok(NULL, ",")) {
        char *end;
        out[n++] = strtof(tok, &end);
        if (*end) return -1;
    }
    for (int i = n; i < 4 && n > 0; i++) out[i] = out[n - 1];
    return n > 0 ? 0 : -1;
}

static int augment_flags(const char *s, uint32_t *out)
{
    *out = DH_AUG_RECIPE; /* no --augment: the recipe's */
    if (!s) return 0;
    *out = 0;
    if (!strcmp(s, "none")) return 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (!strcmp(t, "crop")) *out |= DH_AUG_RANDOM_CROP;
        else if (!strcmp(t, "resized-crop")) *out |= DH_AUG_RESIZED_CROP;
        else if (!strcmp(t, "flip")) *out |= DH_AUG_FLIP;
        else if (!strcmp(t, "jitter")) *out |= DH_AUG_COLOR_JITTER;
        else if (!strcmp(t, "gray")) *out |= DH_AUG_GRAYSCALE;
        else if (!strcmp(t, "blur")) *out |= DH_AUG_BLUR;
        else return dh_cli_usage_error(CMD, "--augment: unknown augmentation '%s'", t);
    }
    return 0;
}

/* The recipe/augmentation flags parse in src/cmd_train_knobs.c: each one is handed to
 * dh_cli_knobs_parse() as a two-word argv. Every flag of train's usage text must be in
 * this table (test_cli_conventions.py checks). */
static const char *const KNOB_FLAGS[] = {"recipe", "recipe-setting", "crop-scale", "crop-ratio",
                                         "jitter", "decay-scope", "flip-prob", "gray-prob",
                                         "blur-prob", "lr-floor", "crop-padding"};

static int on_option(void *user, const char *f, const char *v)
{
    train_args *a = user;
    if (!strcmp(f, "--skip-unknown-tags")) return a->tg.skip_unknown = 1, 0;
    if (!strcmp(f, "--show-recipe")) return a->kn.show = 1, 0;
    char *av[3] = {(char *)f, (char *)v, NULL};
    int i = 0, matched = 0, rc = dh_cli_knobs_parse(CMD, 2, av, &i, &a->kn, &matched);
    if (!rc && !matched) return dh_cli_usage_error(CMD, "unknown option '%s'", f);
    return rc;
}

static int parse(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    a->method = "csq";
    a->bits = 64;
    a->seed = 1;
    a->momentum = a->weight_decay = a->quant = a->margin = a->scale = a->tau = NAN;
    a->tg.keep = a->tg.noise = NAN;
    dh_cli_knobs_init(&a->kn);
    const dh_cli_opt base[] = {
        {"data", 0, DH_CLI_STR, &a->data, 0, 0}, {"protocol", 0, DH_CLI_STR, &a->protocol, 0, 0},
        {"encoder", 0, DH_CLI_STR, &a->encoder, 0, 0}, {"method", 0, DH_CLI_STR, &a->method, 0, 0},
        {"out", 'o', DH_CLI_STR, &a->out, 0, 0},
        {"checkpoint", 0, DH_CLI_STR, &a->checkpoint, 0, 0},
        {"backbone", 0, DH_CLI_STR, &a->backbone, 0, 0},
        {"optimizer", 0, DH_CLI_STR, &a->optimizer, 0, 0},
        {"schedule", 0, DH_CLI_STR, &a->schedule, 0, 0},
        {"augment", 0, DH_CLI_STR, &a->augment, 0, 0}, {"mean", 0, DH_CLI_STR, &a->mean, 0, 0},
        {"std", 0, DH_CLI_STR, &a->std, 0, 0}, {"features", 0, DH_CLI_STR, &a->features, 0, 0},
        {"feature-source", 0, DH_CLI_STR, &a->feature_source, 0, 0},
        {"supervision", 0, DH_CLI_STR, &a->supervision, 0, 0},
        {"tags", 0, DH_CLI_STR, &a->tg.tags, 0, 0}, {"tag-format", 0, DH_CLI_STR, &a->tg.format, 0, 0},
        {"tag-list", 0, DH_CLI_STR, &a->tg.vocab, 0, 0},
        {"tag-vectors", 0, DH_CLI_STR, &a->tg.vectors, 0, 0},
        {"bits", 0, DH_CLI_U32, &a->bits, 1, DH_MAX_BITS},
        {"epochs", 0, DH_CLI_U32, &a->epochs, 1, 1000000},
        {"batch-size", 0, DH_CLI_U32, &a->batch, 2, 65536},
        {"seed", 0, DH_CLI_U32, &a->seed, 0, 0xFFFFFFFFu},
        {"eval-every", 0, DH_CLI_U32, &a->eval_every, 1, 1000000},
        {"eval-topk", 0, DH_CLI_U32, &a->eval_topk, 1, 0xFFFFFFFFu},
        {"threads", 0, DH_CLI_U32, &a->threads, 1, 4096},
        {"size", 0, DH_CLI_U32, &a->size, 8, 4096},
        {"warmup", 0, DH_CLI_U32, &a->warmup, 0, 1000000},
        {"clusters", 0, DH_CLI_U32, &a->clusters, 2, 65536},
        {"refresh", 0, DH_CLI_U32, &a->refresh, 0, 1000000},
        {"lr", 0, DH_CLI_F64, &a->lr, 0, 1e6}, {"momentum", 0, DH_CLI_F64, &a->momentum, 0, 1e6},
        {"weight-decay", 0, DH_CLI_F64, &a->weight_decay, 0, 1e6},
        {"quant-weight", 0, DH_CLI_F64, &a->quant, 0, 1e6},
        {"margin", 0, DH_CLI_F64, &a->margin, 0, 1e6}, {"scale", 0, DH_CLI_F64, &a->scale, 0, 1e6},
        {"tau", 0, DH_CLI_F64, &a->tau, 1e-6, 1e6},
        {"backbone-lr-mult", 0, DH_CLI_F64, &a->backbone_mult, 0, 1e6},
        {"tag-keep", 0, DH_CLI_F64, &a->tg.keep, 0, 1e6},
        {"tag-noise", 0, DH_CLI_F64, &a->tg.noise, 0, 1e6},
        {"resume", 0, DH_CLI_SET, &a->resume, 0, 0},
        {"meta-embedding", 0, DH_CLI_SET, &a->meta, 0, 0},
        {"list-methods", 0, DH_CLI_SET, &a->list, 0, 0},
        {"skip-unknown-tags", 0, DH_CLI_CALL_NOARG, NULL, 0, 0},
        {"show-recipe", 0, DH_CLI_CALL_NOARG, NULL, 0, 0}};
    enum { NB = sizeof base / sizeof base[0], NK = sizeof KNOB_FLAGS / sizeof KNOB_FLAGS[0] };
    dh_cli_opt opts[NB + NK];
    memcpy(opts, base, sizeof base);
    for (size_t k = 0; k < NK; k++) opts[NB + k] = (dh_cli_opt){KNOB_FLAGS[k], 0, DH_CLI_CALL, NULL, 0, 0};
    const dh_cli_spec spec = {CMD, usage, opts, NB + NK, on_option};
    int rc = dh_cli_parse(&spec, argc, argv, a, NULL);
    if (rc || a->list) return rc;
    a->quiet = dh_cli_verbosity() == 0;
    if (!a->data && !a->kn.show) return dh_cli_usage_error(CMD, "--data is required");
    if (!a->out && !a->kn.show) return dh_cli_usage_error(CMD, "-o/--out is required");
    if (a->resume && !a->checkpoint) return dh_cli_usage_error(CMD, "--resume needs --checkpoint");
    if (a->feature_source && strcmp(a->feature_source, "input") && strcmp(a->feature_source, "model"))
        return dh_cli_usage_error(CMD, "--feature-source: '%s' is not input or model",
                                  a->feature_source);
    if (a->supervision && strcmp(a->supervision, "labels") && strcmp(a->supervision, "tags"))
        return dh_cli_usage_error(CMD, "--supervision: '%s' is not labels or tags",
                                  a->supervision);
    return 0;
}

static int optimizer_type(const char *s, int32_t *out)
{
    if (!s) return (*out = -1), 0;
    const char *names[] = {"sgd", "adam", "adamw", "rmsprop"};
    const int32_t types[] = {DH_OPTIM_SGD, DH_OPTIM_ADAM, DH_OPTIM_ADAMW, DH_OPTIM_RMSPROP};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return (*out = types[i]), 0;
    return dh_cli_usage_error(CMD, "--optimizer: '%s' is not sgd, adam, adamw or rmsprop", s);
}

static int schedule_type(const char *s, int32_t *out)
{
    if (!s) return (*out = -1), 0;
    if (!strcmp(s, "constant")) return (*out = DH_SCHED_CONSTANT), 0;
    if (!strcmp(s, "step")) return (*out = DH_SCHED_STEP), 0;
    if (!strcmp(s, "cosine")) return (*out = DH_SCHED_COSINE), 0;
    return dh_cli_usage_error(CMD, "--schedule: '%s' is not constant, step or cosine", s);
}

static void on_sigint(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int32_t on_progress(const dh_train_progress *p, void *user)
{
    (void)p;
    (void)user;
    return g_stop ? 1 : 0;
}

typedef struct train_objs {
    dh_dataset *train, *query, *db;
    dh_model *model;
    dh_loss *loss;
    dh_trainer *trainer;
    dh_tags *tags;
} train_objs;

/* --features FILE.npy: [n, d] rows of any numeric dtype for the loss's feature bank. */
static dh_status load_features(const char *path, dh_loss *loss)
{
    dh_array *arr = NULL;
    dh_status st = dh_npy_load(path, &arr);
    if (st != DH_OK) return st;
    if (dh_array_ndim(arr) != 2) {
        dh_array_free(arr);
        char msg[600];
        snprintf(msg, sizeof msg, "--features %.500s: want a 2-D array [n, d]", path);
        return dh_set_error(DH_E_SHAPE, msg);
    }
    size_t n = (size_t)dh_array_dim(arr, 0), d = (size_t)dh_array_dim(arr, 1);
    float *F = malloc(n * d * sizeof(float) + 1);
    st = F ? dh_array_to_float32(arr, F, n * d) : DH_E_NO_MEMORY;
    if (st == DH_OK) st = dh_loss_set_features(loss, F, n, d);
    free(F);
    dh_array_free(arr);
    return st;
}

/* The loss hyper-parameter flags (--quant-weight, --margin, --tau, --scale) and the
 * method knobs into `lo`, for training and for --show-recipe alike. */
static int loss_flags(const train_args *a, const char *encoder, dh_loss_options *lo)
{
    if (!isnan(a->quant)) lo->quant_weight = a->quant;
    if (!isnan(a->margin)) lo->margin = a->margin;
    if (!isnan(a->tau)) lo->tau = a->tau;
    if (!isnan(a->scale)) lo->scale = a->scale;
    return dh_cli_knobs_loss(CMD, &a->kn, a->method, encoder, a->backbone != NULL, lo);
}

static int build_model(train_args *a, train_objs *o)
{
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = a->bits;
    lo.n_classes = dh_dataset_n_classes(o->train);
    lo.n_train = dh_dataset_count(o->train);
    lo.seed = a->seed;
    uint32_t flags = dh_loss_method_flags(a->method);
    if (flags & DH_LOSS_FLAG_UNSUPERVISED) { /* n_classes: k of kmeans (0: default), else unused */
        lo.n_classes = a->clusters;
        if (a->feature_source && !strcmp(a->feature_source, "model")) lo.variant = 1;
        if (a->refresh) lo.update_every = (int32_t)a->refresh;
    }
    int by_tags = dh_loss_method_tag_flags(a->method) || (a->supervision && !strcmp(a->supervision, "tags"));
    if (by_tags) { /* the loss's classes are the tags (docs/methods.md#weak) */
        lo.n_classes = dh_dataset_n_tags(o->train);
        if (!lo.n_classes)
            return dh_cli_usage_error(CMD, "--method %s%s learns from tags: give --tags FILE or "
                                      "--protocol fashion-mnist-tags", a->method,
                                      dh_loss_method_tag_flags(a->method) ? "" : " --supervision tags");
    }
    if (!a->encoder && !(flags & DH_LOSS_FLAG_SHALLOW) && !dh_dataset_is_image(o->train)) {
        /* feature rows (npy:...): a one-hidden-layer MLP unless told otherwise */
        snprintf(a->encoder_buf, sizeof a->encoder_buf, "mlp:%zu-512",
                 dh_dataset_sample_size(o->train));
        a->encoder = a->encoder_buf;
    }
    if (!a->encoder) a->encoder = (flags & DH_LOSS_FLAG_SHALLOW) ? "pixels" : "smallcnn";
    if (!strcmp(a->encoder, "pixels") && !dh_dataset_is_image(o->train)) {
        snprintf(a->encoder_buf, sizeof a->encoder_buf, "pixels:%zu",
                 dh_dataset_sample_size(o->train));
        a->encoder = a->encoder_buf;
    }
    int krc = loss_flags(a, a->encoder, &lo);
    if (krc) return krc;
    dh_status st = dh_loss_create(a->method, &lo, &o->loss);
    int32_t act = DH_LOSS_HEAD_TANH;
    if (st == DH_OK) st = dh_loss_head_hint(o->loss, &act, NULL);
    if (st == DH_OK && a->features) st = load_features(a->features, o->loss);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    if (a->tg.vectors && !o->tags)
        return dh_cli_usage_error(CMD, "--tag-vectors needs tags (--tags or fashion-mnist-tags)");
    int rc;
    if (a->tg.vectors && (rc = dh_cli_tags_vectors(CMD, a->tg.vectors, o->tags, o->loss)))
        return rc;
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = a->encoder;
    mo.n_bits = a->bits;
    mo.head = act;
    mo.seed = a->seed;
    if (dh_dataset_is_image(o->train)) {
        mo.in_channels = (int32_t)dh_dataset_channels(o->train);
        if (a->size) mo.in_height = mo.in_width = (int32_t)a->size;
    }
    if ((a->mean && parse_floats(a->mean, mo.mean)) || (a->std && parse_floats(a->std, mo.std)))
        return dh_cli_usage_error(CMD, "--mean/--std: expected comma-separated numbers");
    if ((st = dh_model_create(&mo, &o->model)) != DH_OK) return dh_cli_fail(CMD, st);
    if (a->meta && (st = dh_model_add_meta_embedding(o->model, lo.n_classes)) != DH_OK)
        return dh_cli_fail(CMD, st);
    if (a->backbone) {
        uint32_t loaded = 0, ignored = 0;
        st = dh_model_load_backbone(o->model, a->backbone, 0, &loaded, &ignored);
        if (st != DH_OK) return dh_cli_fail(CMD, st);
        if (!a->quiet)
            fprintf(stderr, "dh train: %u backbone tensors loaded from %s (%u ignored)\n", loaded,
                    a->backbone, ignored);
    }
    return 0;
}

/* The trainer options the flags ask for (recipe fields left at default). */
static int trainer_flags(const train_args *a, dh_trainer_options *to)
{
    int rc;
    dh_trainer_options_init(to);
    if ((rc = optimizer_type(a->optimizer, &to->optimizer))) return rc;
    if ((rc = schedule_type(a->schedule, &to->schedule))) return rc;
    if ((rc = augment_flags(a->augment, &to->augment))) return rc;
    if ((rc = dh_cli_knobs_trainer(CMD, &a->kn, a->backbone != NULL, to))) return rc;
    to->epochs = a->epochs;
    to->batch_size = a->batch;
    to->lr = a->lr;
    if (!isnan(a->momentum)) to->momentum = a->momentum;
    if (!isnan(a->weight_decay)) to->weight_decay = a->weight_decay;
    to->backbone_lr_mult = a->backbone_mult;
    to->warmup_epochs = a->warmup;
    return 0;
}

/* --show-recipe: the recipe a run with these flags would use, without reading data
 * (the input size from --size, else the data set's name, else the encoder's). */
static int show_recipe(const train_args *a)
{
    dh_trainer_options to;
    int rc = trainer_flags(a, &to);
    if (rc) return rc;
    const char *enc = a->encoder ? a->encoder : "smallcnn", *from = "--size";
    uint32_t size = a->size;
    const char *d = a->protocol ? a->protocol : (a->data ? a->data : "");
    if (!size && (!strncmp(enc, "mlp", 3) || !strncmp(enc, "pixels", 6))) from = "feature rows";
    else if (!size && (!strncmp(d, "fashion-mnist", 13) || !strncmp(d, "idx:", 4)))
        size = 28, from = "28x28 data";
    else if (!size && !strncmp(d, "cifar", 5)) size = 32, from = "32x32 data";
    else if (!size) {
        size = !strcmp(enc, "alexnet") || !strcmp(enc, "resnet18") ? 224 : !strcmp(enc, "smallcnn") ? 28 : 32;
        from = "the encoder's usual input; --size S to choose";
    }
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    if ((rc = loss_flags(a, enc, &lo))) return rc;
    return dh_cli_knobs_show(CMD, &a->kn, a->method, enc, a->backbone != NULL, size, from, &to,
                             &lo);
}

static int build_trainer(const train_args *a, train_objs *o)
{
    dh_trainer_options to;
    int rc = trainer_flags(a, &to);
    if (rc) return rc;
    to.seed = a->seed;
    to.eval_every = a->eval_every;
    to.checkpoint_path = a->checkpoint;
    to.resume = a->resume;
    to.verbose = !a->quiet && dh_cli_mpi_rank() == 0;
    to.callback = on_progress;
    if (a->supervision && !strcmp(a->supervision, "tags")) to.supervision = DH_SUPERVISION_TAGS;
    int64_t topk = 0;
    if (a->protocol && dh_protocol_topk(a->protocol, &topk) == DH_OK) to.eval_topk = (uint64_t)topk;
    if (a->eval_topk) to.eval_topk = a->eval_topk;
    dh_status st = dh_trainer_create(o->model, o->loss, o->train, &to, &o->trainer);
    if (st == DH_OK && o->query) st = dh_trainer_set_validation(o->trainer, o->query, o->db);
    /* under mpirun: data parallel over every rank (src/cli_mpi.c); each rank loaded the
     * same data and built the same trainer, and rank 0 writes checkpoints and the model */
    if (dh_cli_mpi_agree(st != DH_OK) != 0) return st == DH_OK ? DH_EXIT_FAIL : dh_cli_fail(CMD, st);
    if (dh_cli_mpi_active()) st = dh_cli_mpi_trainer(o->trainer);
    return st == DH_OK ? 0 : dh_cli_mpi_fail(CMD, st);
}

static int run(train_args *a, train_objs *o)
{
    int rc;
    if (dh_cli_tags_wanted(&a->tg, a->protocol))
        rc = dh_cli_tags_load(CMD, a->data, a->protocol, a->seed, a->size, &a->tg, &o->train,
                              &o->query, &o->db, &o->tags);
    else if (a->protocol)
        rc = dh_cli_load_protocol(CMD, a->data, a->protocol, a->seed, a->size, &o->train,
                                  &o->query, &o->db);
    else rc = dh_cli_load_data(CMD, a->data, 0, a->size, &o->train);
    if (rc || (rc = build_model(a, o)) || (rc = build_trainer(a, o))) return rc;
    if (!a->quiet && dh_cli_mpi_rank() == 0)
        fprintf(stderr, "dh train: %s + %s, %u bits, %zu training samples, %u threads\n",
                a->encoder, a->method, a->bits, dh_dataset_count(o->train), dh_get_num_threads());
    dh_trainer_options ro = {.struct_size = sizeof ro};
    if (!a->quiet && dh_cli_mpi_rank() == 0 && dh_trainer_get_options(o->trainer, &ro) == DH_OK)
        fprintf(stderr, "dh train: recipe %s/%s/%s: %u epochs, batch %u, lr %g, weight decay %g "
                "(--show-recipe for all)\n", a->method,
                ro.recipe_setting == DH_RECIPE_PRETRAINED ? "pretrained" : "scratch", ro.recipe,
                ro.epochs, ro.batch_size, ro.lr, ro.weight_decay);
    signal(SIGINT, on_sigint);
    dh_status st = dh_trainer_run(o->trainer);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    dh_model_set_metadata(o->model, "train.method", a->method);
    dh_model_set_metadata(o->model, "train.data", a->data);
    if (a->protocol) dh_model_set_metadata(o->model, "train.protocol", a->protocol);
    if (dh_cli_mpi_rank() != 0) return 0; /* the model is the same on every rank */
    if ((st = dh_model_save(o->model, a->out)) != DH_OK) return dh_cli_fail(CMD, st);
    dh_train_progress p = {.struct_size = sizeof p};
    dh_trainer_get_progress(o->trainer, &p);
    printf("saved %s (final epoch loss %.4f", a->out, p.loss);
    if (!isnan(p.best_map)) printf(", best validation mAP %.4f at epoch %d", p.best_map, p.best_epoch + 1);
    printf(")\n");
    return 0;
}

int dh_cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc == DH_CLI_HELP ? DH_EXIT_OK : rc;
    if (a.list) return list_methods();
    if (a.kn.show) return show_recipe(&a);
    if (a.threads) dh_set_num_threads(a.threads);
    train_objs o;
    memset(&o, 0, sizeof o);
    rc = run(&a, &o);
    dh_trainer_free(o.trainer);
    dh_loss_free(o.loss);
    dh_model_free(o.model);
    dh_dataset_free(o.train);
    dh_dataset_free(o.query);
    dh_dataset_free(o.db);
    dh_tags_free(o.tags);
    return rc;
}
