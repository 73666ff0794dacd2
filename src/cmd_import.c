/* src/cmd_import.c -- `dh import`: build a libdh model from a trained network's weights
 * (a safetensors file written by scripts/torch2safetensors.py model, or any file with
 * libdh's tensor names) and save it as a libdh model file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "import"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: dh import WEIGHTS.safetensors -o MODEL.safetensors --encoder SPEC --bits K\n"
            "                 [--head tanh|scaled-tanh|sign|bn|identity] [--no-bias]\n"
            "                 [--input C,H,W] [--mean a[,b,c]] [--std a[,b,c]]\n"
            "                 [--strict | --allow-missing] [--backbone-only]\n"
            "\n"
            "  Create a model (encoder + K-bit head) and load its weights by tensor name:\n"
            "  the encoder's torchvision names, head.weight / head.bias, head.bn.* for a BN\n"
            "  head (convert a PyTorch state_dict with scripts/torch2safetensors.py model\n"
            "  --preset deephash-resnet|deephash-alexnet|orthohash|hash-layer). The saved\n"
            "  model encodes with `dh encode`, `dh search` and dh_model_load().\n"
            "\n"
            "  --strict          a file tensor the model does not have is an error\n"
            "  --allow-missing   model tensors absent from the file keep their (random) values\n"
            "  --backbone-only   load only the encoder (dh_model_load_backbone); the head\n"
            "                    keeps its initialisation\n"
            "  -o, --out FILE    the model ('-': stdout); WEIGHTS '-' is read from stdin\n"
            "  -q, --quiet       no summary line (stderr)\n"
            "  -h, --help        this text\n");
}

typedef struct import_args {
    const char *weights, *out, *encoder, *head;
    uint32_t bits, flags;
    int no_bias, backbone_only, have_input;
    uint32_t input[3];
    float mean[4], std[4];
    int n_mean, n_std;
} import_args;

static int parse_floats(const char *flag, const char *s, float *out, int *n)
{
    char buf[256];
    if (strlen(s) >= sizeof buf) return dh_cli_usage_error(CMD, "%s: value too long", flag);
    strcpy(buf, s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        double v = strtod(tok, &end);
        if (*n == 4 || *end || end == tok)
            return dh_cli_usage_error(CMD, "%s: '%s' is not a list of 1 to 4 numbers", flag, s);
        out[(*n)++] = (float)v;
    }
    return *n ? 0 : dh_cli_usage_error(CMD, "%s: empty list", flag);
}

static int on_option(void *user, const char *f, const char *v)
{
    import_args *a = user;
    if (!strcmp(f, "--input")) {
        unsigned c, h, w;
        char extra;
        if (sscanf(v, "%u,%u,%u%c", &c, &h, &w, &extra) != 3 || !c || !h || !w)
            return dh_cli_usage_error(CMD, "--input: '%s' is not C,H,W", v);
        a->input[0] = c, a->input[1] = h, a->input[2] = w, a->have_input = 1;
        return 0;
    }
    if (!strcmp(f, "--strict")) return a->flags |= DH_BACKBONE_STRICT, 0;
    if (!strcmp(f, "--allow-missing")) return a->flags |= DH_BACKBONE_ALLOW_MISSING, 0;
    if (!strcmp(f, "--mean")) return parse_floats(f, v, a->mean, &a->n_mean);
    return parse_floats(f, v, a->std, &a->n_std);
}

static int parse_args(int argc, char **argv, import_args *a)
{
    const dh_cli_opt opts[] = {
        {"out", 'o', DH_CLI_STR, &a->out, 0, 0},
        {"encoder", 0, DH_CLI_STR, &a->encoder, 0, 0},
        {"head", 0, DH_CLI_STR, &a->head, 0, 0},
        {"bits", 0, DH_CLI_U32, &a->bits, 1, 4096},
        {"input", 0, DH_CLI_CALL, NULL, 0, 0},
        {"mean", 0, DH_CLI_CALL, NULL, 0, 0},
        {"std", 0, DH_CLI_CALL, NULL, 0, 0},
        {"strict", 0, DH_CLI_CALL_NOARG, NULL, 0, 0},
        {"allow-missing", 0, DH_CLI_CALL_NOARG, NULL, 0, 0},
        {"no-bias", 0, DH_CLI_SET, &a->no_bias, 0, 0},
        {"backbone-only", 0, DH_CLI_SET, &a->backbone_only, 0, 0}};
    const dh_cli_spec spec = {CMD, usage, opts, sizeof opts / sizeof opts[0], on_option};
    int first = argc, rc = dh_cli_parse(&spec, argc, argv, a, &first);
    if (rc) return rc;
    if (first < argc) a->weights = argv[first];
    if (first + 1 < argc)
        return dh_cli_usage_error(CMD, "more than one weights file ('%s')", argv[first + 1]);
    if (!a->weights) return dh_cli_usage_error(CMD, "a weights file is required");
    if (!a->out) return dh_cli_usage_error(CMD, "-o MODEL.safetensors is required");
    if (!a->encoder) return dh_cli_usage_error(CMD, "--encoder is required");
    if (!a->bits) return dh_cli_usage_error(CMD, "--bits is required");
    if ((rc = dh_cli_stdin_path(CMD, "WEIGHTS", &a->weights)) ||
        (rc = dh_cli_stdout_path(CMD, "-o", &a->out)))
        return rc;
    return 0;
}

static int head_type(const char *s, int32_t *out)
{
    static const struct {
        const char *name;
        int32_t type;
    } heads[] = {{"identity", DH_HEAD_IDENTITY}, {"tanh", DH_HEAD_TANH},
                 {"scaled-tanh", DH_HEAD_SCALED_TANH}, {"sign", DH_HEAD_SIGN},
                 {"bn", DH_HEAD_BN}};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
        if (!strcmp(s, heads[i].name)) return *out = heads[i].type, 0;
    return dh_cli_usage_error(CMD, "--head: unknown head '%s'", s);
}

int dh_cmd_import(int argc, char **argv)
{
    import_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == DH_CLI_HELP ? DH_EXIT_OK : rc;
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = a.encoder;
    mo.n_bits = a.bits;
    if (a.head && head_type(a.head, &mo.head)) return DH_EXIT_USAGE;
    if (a.no_bias) mo.head_bias = 0;
    if (a.have_input) {
        mo.in_channels = a.input[0];
        mo.in_height = a.input[1];
        mo.in_width = a.input[2];
    }
    for (int c = 0; c < 4; c++) { /* one value: every channel */
        if (a.n_mean) mo.mean[c] = a.mean[c < a.n_mean ? c : a.n_mean - 1];
        if (a.n_std) mo.std[c] = a.std[c < a.n_std ? c : a.n_std - 1];
    }
    dh_model *m = NULL;
    uint32_t loaded = 0, ignored = 0;
    dh_status st = dh_model_create(&mo, &m);
    if (st == DH_OK)
        st = a.backbone_only ? dh_model_load_backbone(m, a.weights, a.flags, &loaded, &ignored)
                             : dh_model_load_weights(m, a.weights, a.flags, &loaded, &ignored);
    if (st == DH_OK) st = dh_model_save(m, a.out);
    dh_model_free(m);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    if (dh_cli_verbosity() > 0)
        fprintf(stderr, "dh import: %s: %u tensors loaded, %u in the file not used; wrote %s\n",
                a.weights, loaded, ignored, dh_cli_stdout_taken() ? "stdout" : a.out);
    return 0;
}
