/* lic codec: the builders of the architectures with a hyperprior and a checkerboard context model
 * (docs/FORMAT.md §1.2, §1.3; docs/MODEL.md describes the layers):
 *
 *   lic-ctx1  g_a, h_a, g_s; integer h_s; per channel group a channel context from the groups before
 *             it (cc), a spatial context over the group's anchors (sp) and a parameter network (ep).
 *   lic-hp1   the same without the channel context: a group's parameters depend on h_s and its own
 *             anchors only. Its tensors are those of lic-ctx1 less cc.*, and C_cc is not a key.
 *
 * These functions are the only code that knows how many layers the networks have: they read the
 * layers, wire them into op lists over numbered buffers and write the coding schedule. The buffers
 * reproduce the engine's former fixed workspace (two ping-pong float buffers, y, and the integer
 * buffers of the probability path), so memory and results are as before. */
#include <stdio.h>

#include "codec/model_build.h"

#define NAME_LEN 64

/* Buffer ids of these architectures. */
typedef struct ctx_bufs {
    int f[2], y;                                    /* F32 */
    int yq, yctx, zhat, hs[2], ep_in, cc, anchors, ep[2], params; /* I32 */
} ctx_bufs;

static int make_bufs(lic_model_builder *b, ctx_bufs *k)
{
    int *f32[] = {&k->f[0], &k->f[1], &k->y};
    int *i32[] = {&k->yq, &k->yctx, &k->zhat, &k->hs[0], &k->hs[1], &k->ep_in, &k->cc, &k->anchors,
                  &k->ep[0], &k->ep[1], &k->params};
    int r = 0;
    for (size_t i = 0; !r && i < sizeof f32 / sizeof f32[0]; i++)
        r = lic_model_buf(b, LIC_BUF_F32, f32[i]);
    for (size_t i = 0; !r && i < sizeof i32 / sizeof i32[0]; i++)
        r = lic_model_buf(b, LIC_BUF_I32, i32[i]);
    return r;
}

static int op_conv(lic_model_builder *b, const lic_conv_layer *L, lic_view in, lic_view out)
{
    lic_op op = {.kind = LIC_OP_CONV, .conv = L, .in = in, .out = out};
    return lic_model_op(b, &op);
}

static int op_inplace(lic_model_builder *b, enum lic_op_kind kind, const lic_gdn_layer *g, int slope_q8,
                      lic_view v)
{
    lic_op op = {.kind = kind, .gdn = g, .slope_q8 = slope_q8, .in = v, .out = v};
    return lic_model_op(b, &op);
}

static int op_iconv(lic_model_builder *b, const lic_iconv_layer *L, lic_view in, lic_view out)
{
    lic_op op = {.kind = LIC_OP_ICONV, .iconv = L, .in = in, .out = out};
    return lic_model_op(b, &op);
}

/* A float conv layer read from the file and its op from `in` to a fresh view of `buf`. */
static int conv_layer(lic_model_builder *b, const char *name, int cin, int cout, int k, int stride,
                      int transposed, lic_view in, int buf, lic_view *out)
{
    const lic_conv_layer *L;
    int r = lic_model_float_conv(b, name, cin, cout, k, stride, transposed, &L);
    if (r)
        return r;
    int scale = stride == 1 ? in.scale : transposed ? in.scale - 1 : in.scale + 1;
    *out = lic_view_of(buf, 0, cout, scale);
    return op_conv(b, L, in, *out);
}

/* GDN (or IGDN) "<prefix><i>" over the view v, in place. */
static int gdn_layer(lic_model_builder *b, const char *prefix, int i, int inverse, lic_view v)
{
    char name[NAME_LEN];
    const lic_gdn_layer *g;
    snprintf(name, sizeof name, "%s%d", prefix, i);
    int r = lic_model_gdn(b, name, v.c, inverse, &g);
    return r ? r : op_inplace(b, LIC_OP_GDN, g, 0, v);
}

/* g_a (4 stride-2 5x5 convs, GDN after the first three), the gain, h_a (3x3 s1, then two 5x5 s2,
 * leaky ReLU after the first two). Buffers alternate as the former engine's did. */
static int build_analysis(lic_model_builder *b, const ctx_bufs *k)
{
    lic_model_data *m = b->m;
    const int N = m->arch.N, M = m->arch.M, first = m->n_ops;
    char name[NAME_LEN];
    const int cin[4] = {3, N, N, N}, cout[4] = {N, N, N, M};
    lic_view cur = lic_view_of(k->f[0], 0, 3, 0);
    m->io.x = cur;
    int r;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "g_a.%d", i);
        if ((r = conv_layer(b, name, cin[i], cout[i], 5, 2, 0, cur, i == 3 ? k->y : k->f[(i + 1) & 1], &cur)))
            return r;
        if (i < 3 && (r = gdn_layer(b, "g_a.gdn", i, 0, cur)))
            return r;
    }
    m->io.y = cur;
    if ((r = op_inplace(b, LIC_OP_GAIN, NULL, 0, cur)))
        return r;
    const int hk[3] = {3, 5, 5}, hs[3] = {1, 2, 2}, hin[3] = {M, N, N};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "h_a.%d", i);
        if ((r = conv_layer(b, name, hin[i], N, hk[i], hs[i], 0, cur, k->f[(i + 1) & 1], &cur)))
            return r;
        if (i < 2 && (r = op_inplace(b, LIC_OP_LEAKY_RELU, NULL, m->arch.relu_slope_q8, cur)))
            return r;
    }
    m->io.z = cur;
    m->analysis = (lic_op_range){first, m->n_ops - first};
    return 0;
}

/* g_s: 4 layers M -> N -> N -> N -> 3, IGDN after the first three; each upsamples by 2 with a 5x5
 * stride-2 transposed conv, or (gs_up = subpel) a 3x3 conv to 4x the channels and a pixel shuffle. */
static int build_synthesis(lic_model_builder *b, const ctx_bufs *k)
{
    lic_model_data *m = b->m;
    const int N = m->arch.N, M = m->arch.M, first = m->n_ops;
    const int subpel = m->arch.gs_up == LIC_GS_UP_SUBPEL;
    char name[NAME_LEN];
    const int cin[4] = {M, N, N, N}, cout[4] = {N, N, N, 3};
    lic_view cur = m->io.y;
    int r;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "g_s.%d", i);
        if (subpel) {
            lic_view wide;
            if ((r = conv_layer(b, name, cin[i], 4 * cout[i], 3, 1, 0, cur, k->f[0], &wide)))
                return r;
            lic_view out = lic_view_of(k->f[1], 0, cout[i], cur.scale - 1);
            lic_op op = {.kind = LIC_OP_PIXEL_SHUFFLE, .in = wide, .out = out};
            if ((r = lic_model_op(b, &op)))
                return r;
            cur = out;
        } else if ((r = conv_layer(b, name, cin[i], cout[i], 5, 2, 1, cur, k->f[i & 1], &cur))) {
            return r;
        }
        if (i < 3 && (r = gdn_layer(b, "g_s.igdn", i, 1, cur)))
            return r;
    }
    m->io.x_out = cur;
    m->synthesis = (lic_op_range){first, m->n_ops - first};
    return 0;
}

/* Reads an integer layer and appends its op. */
static int iconv_layer(lic_model_builder *b, const char *name, int k, int stride, int transposed, int relu,
                       int out_bits, lic_view in, lic_view out)
{
    const lic_iconv_layer *L;
    int r = lic_model_int_conv(b, name, in.c, out.c, k, stride, transposed, relu, out_bits, &L);
    return r ? r : op_iconv(b, L, in, out);
}

/* The probability path: code z, run h_s into the first C_h channels of ep_in, then per group the
 * context networks and two checkerboard passes. ep_in holds [h_s | channel context | spatial context],
 * the input of the group's parameter network. */
static int build_schedule(lic_model_builder *b, const ctx_bufs *k, int with_cc)
{
    lic_model_data *m = b->m;
    const struct lic_model_arch *a = &m->arch;
    const int N = a->N, M = a->M, C_h = a->C_h, C_cc = with_cc ? a->C_cc : 0, C_sp = a->C_sp, C_ep = a->C_ep;
    char name[NAME_LEN];
    int r;
    m->io.zhat = lic_view_of(k->zhat, 0, N, 6);
    m->io.yq = lic_view_of(k->yq, 0, M, 4);
    m->io.yctx = lic_view_of(k->yctx, 0, M, 4);
    lic_code_step z = {.kind = LIC_STEP_CODE_Z, .stream = 0, .hyper = 1};
    if ((r = lic_model_step(b, z, m->n_ops)))
        return r;

    int first = m->n_ops;
    lic_view t0 = lic_view_of(k->hs[0], 0, N, 5), t1 = lic_view_of(k->hs[1], 0, C_h, 4);
    if ((r = iconv_layer(b, "h_s.0", 5, 2, 1, 1, 16, m->io.zhat, t0)) ||
        (r = iconv_layer(b, "h_s.1", 5, 2, 1, 1, 16, t0, t1)) ||
        (r = iconv_layer(b, "h_s.2", 3, 1, 0, 0, 16, t1, lic_view_of(k->ep_in, 0, C_h, 4))))
        return r;
    lic_code_step run = {.kind = LIC_STEP_RUN, .stream = 1, .hyper = 1};
    if ((r = lic_model_step(b, run, first)))
        return r;

    for (int g = 0, c0 = 0; g < a->n_groups; c0 += a->group_size[g], g++) {
        const int size = a->group_size[g], cc = g > 0 ? C_cc : 0, n_in = C_h + cc + C_sp;
        first = m->n_ops;
        if (cc) {
            lic_view tmp = lic_view_of(k->cc, 0, C_cc, 4);
            snprintf(name, sizeof name, "cc.%d.0", g);
            if ((r = iconv_layer(b, name, 3, 1, 0, 1, 16, lic_view_of(k->yctx, 0, c0, 4), tmp)))
                return r;
            snprintf(name, sizeof name, "cc.%d.1", g);
            if ((r = iconv_layer(b, name, 3, 1, 0, 1, 16, tmp, lic_view_of(k->ep_in, C_h, C_cc, 4))))
                return r;
        }
        const lic_view anchors = lic_view_of(k->anchors, 0, size, 4);
        lic_op zero = {.kind = LIC_OP_IZERO, .out = anchors};
        if ((r = lic_model_op(b, &zero)))
            return r;
        /* The layers are read once; pass 1 appends the same ops again. */
        const lic_iconv_layer *sp, *ep[3];
        const int ep_out[3] = {C_ep, C_ep, 2 * size};
        snprintf(name, sizeof name, "sp.%d.0", g);
        if ((r = lic_model_int_conv(b, name, size, C_sp, 5, 1, 0, 0, 16, &sp)))
            return r;
        for (int i = 0; i < 3; i++) { /* 1x1 convs; the last gives means and scales, 24-bit */
            snprintf(name, sizeof name, "ep.%d.%d", g, i);
            if ((r = lic_model_int_conv(b, name, i ? C_ep : n_in, ep_out[i], 1, 1, 0, i < 2, i < 2 ? 16 : 24,
                                        &ep[i])))
                return r;
        }
        const lic_view params = lic_view_of(k->params, 0, 2 * size, 4);
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1)
                first = m->n_ops;
            lic_view e0 = lic_view_of(k->ep[0], 0, C_ep, 4), e1 = lic_view_of(k->ep[1], 0, C_ep, 4);
            if ((r = op_iconv(b, sp, anchors, lic_view_of(k->ep_in, C_h + cc, C_sp, 4))) ||
                (r = op_iconv(b, ep[0], lic_view_of(k->ep_in, 0, n_in, 4), e0)) ||
                (r = op_iconv(b, ep[1], e0, e1)) || (r = op_iconv(b, ep[2], e1, params)))
                return r;
            lic_code_step y = {.kind = LIC_STEP_CODE_Y, .stream = 1, .pass = pass, .c0 = c0, .c = size,
                               .params = params, .anchors = pass == 0 ? anchors : lic_view_of(0, 0, 0, 4)};
            if ((r = lic_model_step(b, y, first)))
                return r;
        }
    }
    return 0;
}

static int build(lic_model_builder *b, int with_cc)
{
    ctx_bufs k;
    int r = make_bufs(b, &k);
    if (!r && with_cc)
        r = lic_model_get_int(b, "C_cc", 1, 1024, &b->m->arch.C_cc);
    if (!r)
        r = build_analysis(b, &k);
    if (!r)
        r = build_synthesis(b, &k);
    if (!r)
        r = build_schedule(b, &k, with_cc);
    return r;
}

int lic_arch_ctx1_build(lic_model_builder *b)
{
    return build(b, 1);
}

int lic_arch_hp1_build(lic_model_builder *b)
{
    return build(b, 0);
}
