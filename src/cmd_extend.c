/* src/cmd_extend.c -- `dh extend`: one class-incremental session (docs/incremental.md).
 * Fine-tune a model on new items, append their codes to an index whose rows are never
 * rewritten, and extend the index's label file. Every output is first written to
 * PATH.extend-tmp and renamed only when all three were written. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_data.h"
#include "cli_labels.h"

static const char *CMD = "extend";

typedef struct ext_args {
    const char *model, *index, *labels, *data, *split, *method, *old_data, *optimizer, *codes;
    const char *out, *index_out, *labels_out, *encoder, *classes, *old_classes, *old_seed_s;
    uint32_t cls[2], old_cls[2], per_class, old_per_class, seed, old_seed, bits, epochs, batch;
    uint32_t threads, old_samples;
    int create;
    double lr, distill_codes, distill_features;
    int32_t new_codes, optim;
} ext_args;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: dh extend --model OLD.safetensors --index DB.dhi --index-labels DB_LABELS.npy\n"
        "                 --data SPEC -o NEW.safetensors [options]\n"
        "       dh extend --create --data SPEC -o MODEL --index-out DB.dhi --labels-out L.npy\n"
        "  One class-incremental session: fine-tune the model on the new items, append their\n"
        "  codes to the index (old rows are never rewritten, ids continue after the largest)\n"
        "  and append their labels to the label file. --create starts from a new model and an\n"
        "  empty index (session 0). Nothing is replaced unless the session succeeds.\n"
        "inputs:\n"
        "  --model FILE       the model of the previous session\n"
        "  --index FILE       its index (.dhi), loaded into memory and extended\n"
        "  --index-labels F   labels of the index's live rows in insertion order (.npy):\n"
        "                     [n] integer class ids or [n, C] 0/1 rows (fewer columns than the\n"
        "                     data's classes read as 0)\n"
        "  --data SPEC        the new items (as in 'dh train --help'); --split train|test\n"
        "                     (default train)\n"
        "  --classes A-B      keep only classes A..B (inclusive) of the data\n"
        "  --per-class N      then keep at most N random items of each class (--seed)\n"
        "  --old-data SPEC --old-classes A-B --old-per-class N --old-seed S\n"
        "                     also train on the index's own images (DIHN's reference protocol):\n"
        "                     selected as above (same --split; --old-seed defaults to --seed),\n"
        "                     they must be the index rows in the same order (count and\n"
        "                     labels are checked)\n"
        "  --old-samples M    train on M of those old images drawn at random (--seed) instead\n"
        "                     of all (every old code stays fixed)\n"
        "session:\n"
        "  --method NAME      loss (default dihn; dih, adsh, csq, ...: dh train --list-methods)\n"
        "  --codes auto|network|learned  codes of the new items (default auto: the loss's\n"
        "                     learned codes for dihn/adsh, else the network's)\n"
        "  --distill-codes W --distill-features W  distillation from the session-start model\n"
        "                     (default: the method's; dihn without --old-data: K^2/20, K^2)\n"
        "  --epochs N --lr X --batch-size B --optimizer sgd|adam|adamw|rmsprop\n"
        "                     (defaults: the method's recipe)\n"
        "  --seed S           sampling, shuffling and initialisation seed (default 1)\n"
        "  --bits K           --create: code length (default 64); else must equal the model's\n"
        "  --encoder SPEC     --create: smallcnn (default), mlp:D-H..., ... (as dh train)\n"
        "  --threads N        threads (default: all cores)\n"
        "  -v, --verbose      also the session's sizes and every epoch's line when stderr is\n"
        "                     not a terminal (on a terminal: a progress line by default)\n"
        "  -q, --quiet        errors only on stderr\n"
        "outputs:\n"
        "  -o, --out FILE     the fine-tuned model (required; may be --model)\n"
        "  --index-out FILE   the extended index (default: --index, replaced)\n"
        "  --labels-out FILE  old then new labels, same dtype and rank as --index-labels\n"
        "                     (default: --index-labels, replaced, unless --index-out is given:\n"
        "                     then it is required)\n");
}

static int parse_flags(int argc, char **argv, ext_args *a)
{
    const dh_cli_opt opts[] = {
        {"model", 0, DH_CLI_STR, &a->model, 0, 0}, {"index", 0, DH_CLI_STR, &a->index, 0, 0},
        {"index-labels", 0, DH_CLI_STR, &a->labels, 0, 0},
        {"data", 0, DH_CLI_STR, &a->data, 0, 0}, {"split", 0, DH_CLI_STR, &a->split, 0, 0},
        {"method", 0, DH_CLI_STR, &a->method, 0, 0},
        {"old-data", 0, DH_CLI_STR, &a->old_data, 0, 0},
        {"codes", 0, DH_CLI_STR, &a->codes, 0, 0},
        {"optimizer", 0, DH_CLI_STR, &a->optimizer, 0, 0},
        {"out", 'o', DH_CLI_STR, &a->out, 0, 0},
        {"index-out", 0, DH_CLI_STR, &a->index_out, 0, 0},
        {"labels-out", 0, DH_CLI_STR, &a->labels_out, 0, 0},
        {"encoder", 0, DH_CLI_STR, &a->encoder, 0, 0},
        {"classes", 0, DH_CLI_STR, &a->classes, 0, 0},
        {"old-classes", 0, DH_CLI_STR, &a->old_classes, 0, 0},
        {"old-seed", 0, DH_CLI_STR, &a->old_seed_s, 0, 0},
        {"per-class", 0, DH_CLI_U32, &a->per_class, 1, 0xFFFFFFFFu},
        {"old-per-class", 0, DH_CLI_U32, &a->old_per_class, 1, 0xFFFFFFFFu},
        {"old-samples", 0, DH_CLI_U32, &a->old_samples, 1, 0xFFFFFFFFu},
        {"seed", 0, DH_CLI_U32, &a->seed, 0, 0xFFFFFFFFu},
        {"bits", 0, DH_CLI_U32, &a->bits, 1, DH_MAX_BITS},
        {"epochs", 0, DH_CLI_U32, &a->epochs, 1, 1000000},
        {"batch-size", 0, DH_CLI_U32, &a->batch, 2, 65536},
        {"threads", 0, DH_CLI_U32, &a->threads, 1, 4096},
        {"lr", 0, DH_CLI_F64, &a->lr, 0, 1e6},
        {"distill-codes", 0, DH_CLI_F64, &a->distill_codes, 0, 1e11},
        {"distill-features", 0, DH_CLI_F64, &a->distill_features, 0, 1e11},
        {"create", 0, DH_CLI_SET, &a->create, 0, 0}};
    const dh_cli_spec spec = {CMD, usage, opts, sizeof opts / sizeof opts[0], NULL};
    return dh_cli_parse(&spec, argc, argv, a, NULL);
}

static int pick(const char *flag, const char *s, const char *const *names, int n, int32_t *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return (*out = i), 0;
    return dh_cli_usage_error(CMD, "%s: '%s' is not one of %s, %s, ...", flag, s, names[0],
                              names[1]);
}

static int parse(int argc, char **argv, ext_args *a)
{
    memset(a, 0, sizeof *a);
    a->split = "train";
    a->method = "dihn";
    a->codes = "auto";
    a->seed = 1;
    a->distill_codes = a->distill_features = -1;
    a->optim = -1;
    int rc = parse_flags(argc, argv, a);
    if (rc) return rc;
    if (!a->data || !a->out) return dh_cli_usage_error(CMD, "--data and -o are required");
    const char *files[] = {a->model, a->index, a->labels, a->out, a->index_out, a->labels_out};
    for (int i = 0; i < 6; i++)
        if (files[i] && !strcmp(files[i], "-"))
            return dh_cli_usage_error(CMD, "'-' (stdin/stdout) is not supported here: a session "
                                      "replaces its three files together, by name");
    const char *in[] = {a->model, a->index, a->labels}, *in_flag[] = {"--model", "--index",
                                                                       "--index-labels"};
    for (int i = 0; i < 3; i++) {
        if (!a->create && !in[i]) return dh_cli_usage_error(CMD, "%s is required", in_flag[i]);
        if (a->create && in[i])
            return dh_cli_usage_error(CMD, "%s and --create exclude each other", in_flag[i]);
    }
    if (a->create && (!a->index_out || !a->labels_out || a->old_data))
        return dh_cli_usage_error(CMD, "--create needs --index-out and --labels-out (and no "
                                  "--old-data)");
    if (!a->create && a->encoder) return dh_cli_usage_error(CMD, "--encoder needs --create");
    if (!a->labels_out && a->index_out)
        return dh_cli_usage_error(CMD, "--labels-out is required with --index-out");
    if (!a->index_out) a->index_out = a->index, a->labels_out = a->labels;
    if (!a->old_data && (a->old_classes || a->old_per_class || a->old_seed_s || a->old_samples))
        return dh_cli_usage_error(CMD, "--old-classes/--old-per-class/--old-seed/--old-samples "
                                       "need --old-data");
    if (strcmp(a->split, "train") && strcmp(a->split, "test"))
        return dh_cli_usage_error(CMD, "--split: '%s' is not train or test", a->split);
    a->old_seed = a->seed;
    const char *codes[] = {"auto", "network", "learned"};
    const char *optims[] = {"sgd", "adam", "adamw", "rmsprop"};
    const int32_t optim_ids[] = {DH_OPTIM_SGD, DH_OPTIM_ADAM, DH_OPTIM_ADAMW, DH_OPTIM_RMSPROP};
    if ((rc = pick("--codes", a->codes, codes, 3, &a->new_codes)) ||
        (a->optimizer && (rc = pick("--optimizer", a->optimizer, optims, 4, &a->optim))) ||
        (a->classes && (rc = dh_cli_parse_range(CMD, "--classes", a->classes, a->cls))) ||
        (a->old_classes && (rc = dh_cli_parse_range(CMD, "--old-classes", a->old_classes,
                                                     a->old_cls))) ||
        (a->old_seed_s &&
         (rc = dh_cli_u32(CMD, "--old-seed", a->old_seed_s, 0, 0xFFFFFFFFu, &a->old_seed))))
        return rc;
    if (a->optim >= 0) a->optim = optim_ids[a->optim];
    for (size_t i = 0; i < dh_loss_method_count(); i++)
        if (!strcmp(a->method, dh_loss_method_name(i))) return 0;
    return dh_cli_usage_error(CMD, "--method: unknown method '%s' (dh train --list-methods)",
                              a->method);
}

typedef struct ext_objs {
    dh_dataset *add, *old;
    dh_model *model;
    dh_index *index;
    dh_loss *loss;
    dh_cli_labels labels;
    void *rows; /* the labels file to write */
    int64_t shape[2];
} ext_objs;

/* The index's own images: same rows, same order (count and labels checked). */
static int load_old(const ext_args *a, ext_objs *o)
{
    int rc = dh_cli_load_data(CMD, a->old_data, !strcmp(a->split, "test"), 0, &o->old);
    if (rc || (rc = dh_cli_select(CMD, "--old-classes", &o->old, a->old_classes ? a->old_cls : NULL,
                                  a->old_per_class, a->old_seed)))
        return rc;
    size_t n = dh_dataset_count(o->old), C = o->labels.C;
    if (n != o->labels.n || dh_dataset_n_classes(o->old) != C)
        return dh_cli_error(CMD, DH_EXIT_FAIL, "--old-data: %zu items of %u classes, the index "
                            "%zu rows of %zu classes", n, dh_dataset_n_classes(o->old),
                            o->labels.n, C);
    float *y = malloc((n * C + 1) * sizeof(float));
    dh_status st = y ? dh_dataset_get_labels(o->old, 0, n, y) : DH_E_NO_MEMORY;
    for (size_t i = 0; st == DH_OK && !rc && i < n; i++)
        if (memcmp(y + i * C, o->labels.hot + i * C, C * sizeof(float)))
            rc = dh_cli_error(CMD, DH_EXIT_FAIL, "--old-data item %zu's labels differ from index "
                              "row %zu's: the old images must be the index rows, in order", i, i);
    free(y);
    return st != DH_OK ? dh_cli_fail(CMD, st) : rc;
}

static int load_inputs(const ext_args *a, ext_objs *o)
{
    dh_status st = DH_OK;
    if (!a->create && (st = dh_model_load(a->model, &o->model)) == DH_OK)
        st = dh_index_load(a->index, &o->index);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    uint32_t K = a->create ? (a->bits ? a->bits : 64) : dh_model_n_bits(o->model);
    if (!a->create && (dh_index_n_bits(o->index) != K || (a->bits && a->bits != K)))
        return dh_cli_error(CMD, a->bits && a->bits != K ? DH_EXIT_USAGE : DH_EXIT_FAIL,
                            "code lengths differ: --bits %u, model %u, index %u", a->bits, K,
                            dh_index_n_bits(o->index));
    int rc = dh_cli_load_data(CMD, a->data, !strcmp(a->split, "test"), 0, &o->add);
    if (rc || (rc = dh_cli_select(CMD, "--classes", &o->add, a->classes ? a->cls : NULL,
                                  a->per_class, a->seed)))
        return rc;
    uint32_t C = dh_dataset_n_classes(o->add);
    if (!dh_dataset_count(o->add) || !C)
        return dh_cli_error(CMD, DH_EXIT_FAIL, "--data: no labelled items selected");
    if (a->create) {
        int multi = dh_dataset_is_multilabel(o->add);
        o->labels.dtype = multi ? DH_DTYPE_FLOAT32 : DH_DTYPE_INT32;
        o->labels.ndim = multi ? 2 : 1;
        o->labels.C = C;
        dh_index_options io;
        dh_index_options_init(&io);
        io.n_bits = K;
        if ((st = dh_index_create(&io, &o->index)) != DH_OK) return dh_cli_fail(CMD, st);
    } else if ((rc = dh_cli_labels_load(CMD, a->labels, C, &o->labels))) {
        return rc;
    } else if (o->labels.n != dh_index_count(o->index)) {
        return dh_cli_error(CMD, DH_EXIT_FAIL, "--index-labels %s has %zu rows, the index %s "
                            "%zu live rows", a->labels, o->labels.n, a->index,
                            dh_index_count(o->index));
    }
    if (a->old_data && (rc = load_old(a, o))) return rc;
    return dh_cli_labels_concat(CMD, &o->labels, o->add, &o->rows, o->shape);
}

static int build(const ext_args *a, ext_objs *o)
{
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = dh_index_n_bits(o->index);
    lo.n_classes = o->labels.C;
    size_t n_old_train = dh_dataset_count(o->old);
    if (a->old_samples && a->old_samples < n_old_train) n_old_train = a->old_samples;
    lo.n_train = dh_dataset_count(o->add) + n_old_train;
    lo.seed = a->seed;
    dh_status st = dh_loss_create(a->method, &lo, &o->loss);
    if (st != DH_OK || !a->create) return st == DH_OK ? 0 : dh_cli_fail(CMD, st);
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = a->encoder ? a->encoder : "smallcnn";
    mo.n_bits = lo.n_bits;
    mo.seed = a->seed;
    if (dh_dataset_is_image(o->add)) mo.in_channels = (int32_t)dh_dataset_channels(o->add);
    if ((st = dh_loss_head_hint(o->loss, &mo.head, NULL)) == DH_OK)
        st = dh_model_create(&mo, &o->model);
    return st == DH_OK ? 0 : dh_cli_fail(CMD, st);
}

/* All three files to PATH.extend-tmp, then renamed: a failure replaces nothing. */
static int write_outputs(const ext_args *a, ext_objs *o)
{
    const char *dst[3] = {a->out, a->index_out, a->labels_out};
    char tmp[3][4200];
    for (int i = 0; i < 3; i++)
        if (snprintf(tmp[i], sizeof tmp[i], "%s.extend-tmp", dst[i]) >= (int)sizeof tmp[i])
            return dh_cli_usage_error(CMD, "output path too long: %s", dst[i]);
    dh_status st = dh_model_save(o->model, tmp[0]);
    if (st == DH_OK) st = dh_index_save(o->index, tmp[1]);
    if (st == DH_OK)
        st = dh_npy_save(tmp[2], o->labels.dtype, o->labels.ndim, o->shape, o->rows);
    int rc = st == DH_OK ? 0 : dh_cli_fail(CMD, st);
    for (int i = 0; i < 3; i++) {
        if (!rc && rename(tmp[i], dst[i]) != 0)
            rc = dh_cli_error(CMD, DH_EXIT_IO, "cannot rename %s to %s", tmp[i], dst[i]);
        if (rc) remove(tmp[i]);
    }
    return rc;
}

static int run(const ext_args *a, ext_objs *o)
{
    int rc = load_inputs(a, o);
    if (rc || (rc = build(a, o))) return rc;
    size_t n_old = dh_index_count(o->index), n_new = dh_dataset_count(o->add);
    const int verbose = dh_cli_verbosity();
    if (verbose > 1)
        fprintf(stderr, "dh extend: %s, %u bits, %u classes: %zu index rows + %zu new items%s\n",
                a->method, dh_index_n_bits(o->index), o->labels.C, n_old, n_new,
                o->old ? " (training on the old images too)" : "");
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = a->epochs;
    to.batch_size = a->batch;
    to.lr = a->lr;
    to.optimizer = a->optim;
    to.seed = a->seed;
    to.verbose = verbose > 1 || (verbose && isatty(fileno(stderr))); /* progress + epoch lines */
    dh_incremental_options io;
    dh_incremental_options_init(&io);
    io.new_codes = a->new_codes; /* auto, network, learned = DH_INCR_CODES_* 0, 1, 2 */
    io.distill_codes = a->distill_codes;
    io.distill_features = a->distill_features;
    io.old_samples = a->old_samples;
    int64_t first = 0;
    double t0 = dh_cli_now();
    dh_status st = dh_incremental_session(o->model, o->loss, o->add, o->index, o->labels.hot,
                                          o->old, &to, &io, &first);
    double dt = dh_cli_now() - t0;
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    dh_model_set_metadata(o->model, "extend.method", a->method);
    dh_model_set_metadata(o->model, "extend.data", a->data);
    if (a->classes) dh_model_set_metadata(o->model, "extend.classes", a->classes);
    if ((rc = write_outputs(a, o))) return rc;
    fprintf(dh_cli_report(), "extended %s: %zu rows + %zu new (ids %lld..%lld) in %.1f s; model %s, labels %s\n",
           a->index_out, n_old, n_new, (long long)first, (long long)first + (long long)n_new - 1,
           dt, a->out, a->labels_out);
    return 0;
}

int dh_cmd_extend(int argc, char **argv)
{
    ext_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc == DH_CLI_HELP ? DH_EXIT_OK : rc;
    if (a.threads) dh_set_num_threads(a.threads);
    ext_objs o;
    memset(&o, 0, sizeof o);
    rc = run(&a, &o);
    dh_loss_free(o.loss);
    dh_model_free(o.model);
    dh_index_free(o.index);
    dh_dataset_free(o.add);
    dh_dataset_free(o.old);
    dh_cli_labels_free(&o.labels);
    free(o.rows);
    return rc;
}
