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

static int parse_args(int argc, char **argv, import_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = NULL;
        int r;
        if (!strcmp(f, "--strict")) a->flags |= DH_BACKBONE_STRICT;
        else if (!strcmp(f, "--allow-missing")) a->flags |= DH_BACKBONE_ALLOW_MISSING;
        else if (!strcmp(f, "--no-bias")) a->no_bias = 1;
        else if (!strcmp(f, "--backbone-only")) a->backbone_only = 1;
        else if ((r = dh_cli_flag(argc, argv, &i, "-o", &v)) != 0) {
            if (r < 0) return dh_cli_usage_error(CMD, "-o needs a value");
            a->out = v;
        } else if ((r = dh_cli_flag(argc, argv, &i, "--encoder", &v)) != 0) {
            if (r < 0) return dh_cli_usage_error(CMD, "--encoder needs a value");
            a->encoder = v;
        } else if ((r = dh_cli_flag(argc, argv, &i, "--head", &v)) != 0) {
            if (r < 0) return dh_cli_usage_error(CMD, "--head needs a value");
            a->head = v;
        } else if ((r = dh_cli_flag(argc, argv, &i, "--bits", &v)) != 0) {
            if (r < 0) return dh_cli_usage_error(CMD, "--bits needs a value");
            if (dh_cli_u32(CMD, "--bits", v, 1, 4096, &a->bits)) return DH_EXIT_USAGE;
        } else if ((r = dh_cli_flag(argc, argv, &i, "--input", &v)) != 0) {
            if (r < 0) return dh_cli_usage_error(CMD, "--input needs a value");
            unsigned c, h, w;
            char extra;
            if (sscanf(v, "%u,%u,%u%c", &c, &h, &w, &extra) != 3 || !c || !h || !w)
                return dh_cli_usage_error(CMD, "--input: '%s' is not C,H,W", v);
            a->input[0] = c, a->input[1] = h, a->input[2] = w, a->have_input = 1;
        } else if ((r = dh_cli_flag(argc, argv, &i, "--mean", &v)) != 0) {
            if (r < 0 || parse_floats("--mean", v, a->mean, &a->n_mean)) return DH_EXIT_USAGE;
        } else if ((r = dh_cli_flag(argc, argv, &i, "--std", &v)) != 0) {
            if (r < 0 || parse_floats("--std", v, a->std, &a->n_std)) return DH_EXIT_USAGE;
        } else if (f[0] == '-' && f[1]) {
            return dh_cli_usage_error(CMD, "unknown option '%s'", f);
        } else if (!a->weights) {
            a->weights = f;
        } else {
            return dh_cli_usage_error(CMD, "more than one weights file ('%s')", f);
        }
    }
    if (!a->weights) return dh_cli_usage_error(CMD, "a weights file is required");
    if (!a->out) return dh_cli_usage_error(CMD, "-o MODEL.safetensors is required");
    if (!a->encoder) return dh_cli_usage_error(CMD, "--encoder is required");
    if (!a->bits) return dh_cli_usage_error(CMD, "--bits is required");
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
    if (dh_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    import_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
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
    fprintf(stderr, "dh import: %s: %u tensors loaded, %u in the file not used; wrote %s\n",
            a.weights, loaded, ignored, a.out);
    return 0;
}
