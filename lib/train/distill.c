/* lib/train/distill.c -- distillation from a frozen teacher (learning without
 * forgetting, Li & Hoiem 2016, applied to hashing): incremental sessions without old
 * images keep the fine-tuned network close to the session-start network on the new
 * session's own batches, in code space (u) and/or feature space (f, the head's input).
 * The teacher runs in inference mode on exactly the student's (augmented) batch. */
#include <string.h>

#include "model/model.h"
#include "train/train_impl.h"

void dh__trainer_teacher_free(dh_trainer *t)
{
    dh_model_free(t->teacher);
    dh__free(t->Ut), dh__free(t->Ft), dh__free(t->dF);
    t->teacher = NULL;
    t->Ut = t->Ft = t->dF = NULL;
}

dh_status dh__trainer_set_teacher(dh_trainer *t, dh_model *src, double wc, double wf)
{
    DH_CHECK_ARG(t != NULL && src != NULL);
    DH_CHECK_ARG_MSG(wc >= 0 && wf >= 0 && wc < 1e12 && wf < 1e12, "distillation weights "
                     "%g, %g must be finite and >= 0", wc, wf);
    dh__trainer_teacher_free(t);
    if (wc == 0 && wf == 0) return DH_OK;
    size_t B = t->o.batch_size, K = dh_model_n_bits(src), D = 0;
    (void)dh__model_train_features(src, &D);
    DH_TRY(dh__model_clone(src, &t->teacher));
    t->Ut = dh__calloc(B * K + 1, sizeof(float));
    t->Ft = dh__calloc(B * D + 1, sizeof(float));
    t->dF = dh__calloc(B * D + 1, sizeof(float));
    if (!t->Ut || !t->Ft || !t->dF) {
        dh__trainer_teacher_free(t);
        return DH_E_NO_MEMORY;
    }
    t->distill_codes = wc;
    t->distill_features = wf;
    return DH_OK;
}

/* The teacher on the student's batch in inference mode: features f_t always (one
 * encoder pass serves both terms), codes u_t = head(meta(f_t)) when the code term is on;
 * the same computation as dh_model_encode_float without its per-call scratch. */
static dh_status teacher_forward(dh_trainer *t, size_t n)
{
    DH_TRY(dh__model_features(t->teacher, t->x, n, 0, t->Ft));
    if (!(t->distill_codes > 0)) return DH_OK;
    const float *hin = t->Ft;
    DH_TRY(dh__model_meta_forward(t->teacher, t->Ft, n, 0, &hin));
    return dh_head_forward(dh_model_head(t->teacher), hin, n, 0, t->Ut);
}

dh_status dh__trainer_distill(dh_trainer *t, size_t n, double *value, const float **dfeat)
{
    *dfeat = NULL;
    const size_t K = dh_model_n_bits(t->model);
    size_t D = 0;
    const float *f = dh__model_train_features(t->model, &D);
    DH_TRY(teacher_forward(t, n));
    double v = 0;
    if (t->distill_codes > 0) {
        const double s = t->distill_codes / ((double)n * (double)K);
        for (size_t i = 0; i < n * K; i++) {
            double d = (double)t->U[i] - t->Ut[i];
            v += s * d * d;
            t->dU[i] += (float)(2 * s * d);
        }
    }
    if (t->distill_features > 0) {
        const double s = t->distill_features / ((double)n * (double)D);
        for (size_t i = 0; i < n * D; i++) {
            double d = (double)f[i] - t->Ft[i];
            v += s * d * d;
            t->dF[i] = (float)(2 * s * d);
        }
        *dfeat = t->dF;
    }
    *value += v;
    return DH_OK;
}
