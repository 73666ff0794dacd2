/* lib/loss/proxy.c -- SPRCH: pair + proxy contrastive hashing with self-paced
 * weights (docs/methods.md#sprch). The loss owns the proxies p_c = tanh(W[:, c] + b)
 * (an nn.Linear(C, K) applied to the identity), trained by the optimizer. */
#include <string.h>

#include "loss/loss.h"

static void sprch_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->tau = 0.3;
    o->n_epochs = 100;
    o->variant = 0;
}

static dh_status sprch_create(dh_loss *L)
{
    float *W, *b;
    DH_TRY(dh__loss_add_tensor(L, "proxy.weight", 0, 2, L->K, L->C, &W));
    DH_TRY(dh__loss_add_tensor(L, "proxy.bias", 0, 1, L->K, 0, &b));
    L->t[0].no_decay = 0;
    const double a = 1.0 / sqrt((double)L->C); /* nn.Linear(C, K) default bounds */
    for (size_t i = 0; i < (size_t)L->K * L->C; i++)
        W[i] = (float)((2 * dh__splitmix64_unif(&L->rng) - 1) * a);
    for (size_t k = 0; k < L->K; k++) b[k] = (float)((2 * dh__splitmix64_unif(&L->rng) - 1) * a);
    return DH_OK;
}

typedef struct sp_ctx {
    double tau, delta;
    int mode; /* 0 pair + proxy, 1 pair only, 2 proxy only */
} sp_ctx;

/* One anchor: accumulate P, N with weights; then write dL/ds into Gs, Gr. */
static double sp_row(const sp_ctx *x, const float *s, const float *S, size_t B, const float *r,
                     const float *y, size_t C, float *Gs, float *Gr, double scale)
{
    double pc = 0, yc = 0;
    for (size_t j = 0; j < B; j++) pc += S[j];
    for (size_t c = 0; c < C; c++) yc += y[c];
    const double nc = (double)C - yc;
    double lp = yc > 0 ? pc / yc : 0, ln = nc > 0 ? ((double)B - pc) / nc : 0;
    if (x->mode == 2) lp = yc > 0 ? 1 : 0, ln = nc > 0 ? 1 : 0;
    const double wpair = x->mode == 2 ? 0 : 1, wprox = x->mode == 1 ? 0 : 1;
    double P = 0, N = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t j = 0; j < B + C; j++) {
            int is_pair = j < B;
            double v = is_pair ? s[j] : r[j - B], pos = is_pair ? S[j] : y[j - B];
            double lam = is_pair ? wpair : wprox * (pos > 0.5 ? lp : ln);
            double om = pos > 0.5 ? exp(-(1 + v) * x->delta / 4) : exp((v - 1) * x->delta);
            double a = lam * om * exp(v / x->tau);
            if (pass == 0) {
                if (pos > 0.5) P += a;
                else N += a;
                continue;
            }
            double g = a / x->tau * (1 / (P + N) - (pos > 0.5 ? 1 / P : 0)) * scale;
            if (is_pair) Gs[j] = (float)g;
            else Gr[j - B] = (float)g;
        }
        if (pass == 0 && P <= 0) return 0; /* no positive at all: the row is skipped */
    }
    return log(P + N) - log(P);
}

static dh_status sprch_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K, C = L->C;
    const float *W = L->t[0].data, *bias = L->t[1].data;
    float *Uh = dh__alloc(B * K * sizeof(float)), *Pr = dh__alloc(C * K * sizeof(float));
    float *Ph = dh__alloc(C * K * sizeof(float)), *s = dh__alloc(B * B * sizeof(float));
    float *S = dh__alloc(B * B * sizeof(float)), *r = dh__alloc(B * C * sizeof(float));
    float *Gs = dh__calloc(B * B, sizeof(float)), *Gr = dh__calloc(B * C, sizeof(float));
    float *dP = dh__alloc(C * K * sizeof(float));
    double *nu = dh__alloc(B * sizeof(double)), *np = dh__alloc(C * sizeof(double));
    dh_status st = DH_E_NO_MEMORY;
    if (!Uh || !Pr || !Ph || !s || !S || !r || !Gs || !Gr || !dP || !nu || !np) goto done;
    for (size_t c = 0; c < C; c++)
        for (size_t k = 0; k < K; k++) Pr[c * K + k] = tanhf(W[k * C + c] + bias[k]);
    dh__row_normalise(b->U, B, K, Uh, nu);
    dh__row_normalise(Pr, C, K, Ph, np);
    dh__gemm_nt(B, B, K, 1.0f, Uh, Uh, 0.0f, s);
    dh__gemm_nt(B, C, K, 1.0f, Uh, Ph, 0.0f, r);
    dh__loss_similarity(b->Y, B, b->Y, B, C, S);
    int32_t E3 = L->o.n_epochs / 3, e = (L->epoch < 0 ? 0 : L->epoch) + 1;
    sp_ctx x = {L->o.tau, E3 > 0 && e <= E3 ? (double)e / E3 : 1.0, L->o.variant};
    double v = 0;
    for (size_t i = 0; i < B; i++)
        v += sp_row(&x, s + i * B, S + i * B, B, r + i * C, b->Y + i * C, C, Gs + i * B,
                    Gr + i * C, 1.0 / (double)B);
    memset(b->dU, 0, B * K * sizeof(float));
    DH_TRY_GOTO(dh__loss_sym_grad(Gs, Uh, B, K, 1.0f, b->dU), done);
    dh__gemm_nn(B, C, K, 1.0f, Gr, Ph, 1.0f, b->dU);
    dh__gemm_tn(B, C, K, 1.0f, Gr, Uh, 0.0f, dP);
    dh__row_normalise_back(Uh, nu, B, K, b->dU);
    dh__row_normalise_back(Ph, np, C, K, dP);
    float *dW = L->t[0].grad, *db = L->t[1].grad;
    for (size_t c = 0; c < C; c++)
        for (size_t k = 0; k < K; k++) {
            double p = Pr[c * K + k], g = (1 - p * p) * dP[c * K + k];
            dW[k * C + c] = (float)g;
            db[k] += (float)g;
        }
    *value = v / (double)B;
    st = DH_OK;
done:
    dh__free(Uh), dh__free(Pr), dh__free(Ph), dh__free(s), dh__free(S), dh__free(r);
    dh__free(Gs), dh__free(Gr), dh__free(dP), dh__free(nu), dh__free(np);
    return st;
}

const dh__loss_method dh__loss_sprch = {
    .name = "sprch",
    .summary = "Self-Paced Relational Contrastive Hashing (Wang et al., AAAI 2023)",
    .head = DH_LOSS_HEAD_TANH,
    .defaults = sprch_defaults,
    .create = sprch_create,
    .fb = sprch_fb,
};
