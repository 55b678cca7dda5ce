/* lic gpu: recognising the op lists the CUDA transforms implement (gpu/gpu.h). Pure host code, built
 * with or without CUDA. The CUDA context runs whole transforms of one shape (g_a of four stride-2
 * convs with GDN, the gain, h_a of three convs with leaky ReLU, g_s of four upsampling layers with
 * IGDN); any other list is LIC_EUNSUPPORTED and the engine runs it on the CPU. */
#include "gpu/gpu.h"

/* Matches ops[*i] against kind; advances *i. */
static const lic_op *next(const lic_op *ops, int n, int *i, enum lic_op_kind kind)
{
    if (*i >= n || ops[*i].kind != kind)
        return NULL;
    return &ops[(*i)++];
}

static int match_analysis(const lic_op *ops, int n, lic_gpu_layers *L, float *slope)
{
    int i = 0;
    const lic_op *op;
    for (int l = 0; l < 4; l++) {
        if (!(op = next(ops, n, &i, LIC_OP_CONV)))
            return 0;
        L->g_a[l] = *op->conv;
        if (l < 3) {
            if (!(op = next(ops, n, &i, LIC_OP_GDN)))
                return 0;
            L->g_a_gdn[l] = *op->gdn;
        }
    }
    if (!next(ops, n, &i, LIC_OP_GAIN))
        return 0;
    for (int l = 0; l < 3; l++) {
        if (!(op = next(ops, n, &i, LIC_OP_CONV)))
            return 0;
        L->h_a[l] = *op->conv;
        if (l < 2) {
            /* the context has one slope for both */
            if (!(op = next(ops, n, &i, LIC_OP_LEAKY_RELU)) || (l == 1 && (float)op->slope_q8 / 256.0f != *slope))
                return 0;
            *slope = (float)op->slope_q8 / 256.0f;
        }
    }
    return i == n;
}

static int match_synthesis(const lic_op *ops, int n, lic_gpu_layers *L, int *subpel)
{
    int i = 0;
    *subpel = n > 1 && ops[1].kind == LIC_OP_PIXEL_SHUFFLE;
    const lic_op *op;
    for (int l = 0; l < 4; l++) {
        if (!(op = next(ops, n, &i, LIC_OP_CONV)))
            return 0;
        L->g_s[l] = *op->conv;
        if (*subpel && !next(ops, n, &i, LIC_OP_PIXEL_SHUFFLE))
            return 0;
        if (l < 3) {
            if (!(op = next(ops, n, &i, LIC_OP_GDN)))
                return 0;
            L->g_s_igdn[l] = *op->gdn;
        }
    }
    return i == n;
}

int lic_gpu_model_from_ops(const lic_op *analysis, int n_analysis, const lic_op *synthesis, int n_synthesis,
                           lic_gpu_layers *layers, lic_gpu_model *out)
{
    float slope = 0.0f;
    int subpel = 0;
    if (!match_analysis(analysis, n_analysis, layers, &slope) ||
        !match_synthesis(synthesis, n_synthesis, layers, &subpel))
        return LIC_EUNSUPPORTED;
    *out = (lic_gpu_model){layers->g_a, layers->g_a_gdn, layers->h_a, layers->g_s, layers->g_s_igdn, subpel, slope};
    return LIC_OK;
}
