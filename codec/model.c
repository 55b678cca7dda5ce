/* lic codec: building the in-memory model from a parsed .licw file (docs/FORMAT.md §1.2): the keys
 * every architecture shares, the checked reads of tensors into layers, buffers, ops and steps that the
 * architectures' builders (codec/arch_*.c) use, the entropy models and the gains. Every key is
 * range-checked and every tensor must exist with exactly the dtype and dims the architecture implies;
 * the integer layers, CDF tables, entropy models and ops are validated by their own modules, and the
 * remaining semantic rules (positive gains, GDN parameters) are checked here, so the pipeline can
 * trust everything it is given. */
#include "codec/model_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

#define MAX_CHANNELS 1024
#define NAME_LEN 64
/* CDF row offsets are bounded so that offset + length can never overflow int32 in the coder. */
#define MAX_CDF_OFFSET (1 << 30)

typedef lic_model_builder builder;

static const lic_model_arch_def ARCHS[] = {
    {"lic-ctx1", lic_arch_ctx1_build},
    {"lic-hp1", lic_arch_hp1_build},
};

#define fail lic_model_fail

int lic_model_fail(const builder *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lic_vlog(b->log, LIC_LOG_ERROR, "model: ", fmt, ap);
    va_end(ap);
    return LIC_EMODEL;
}

/* ---- keys ---- */

static int get_int(const builder *b, const char *key, int lo, int hi, int *out)
{
    const lic_licw_kv *kv = lic_licw_find_kv(b->file, key);
    if (!kv)
        return fail(b, "missing key '%s'", key);
    if (kv->type != LIC_KV_INT)
        return fail(b, "key '%s' is not an integer", key);
    if (kv->i < lo || kv->i > hi)
        return fail(b, "key '%s' = %lld out of range %d..%d", key, (long long)kv->i, lo, hi);
    *out = (int)kv->i;
    return 0;
}

/* Strict "a,b,c": decimal without sign, spaces or leading zeros, each 1..M, at most
 * LIC_MAX_GROUPS entries, summing to M. */
static int parse_groups(const builder *b, lic_model_data *m)
{
    const lic_licw_kv *kv = lic_licw_find_kv(b->file, "groups");
    if (!kv)
        return fail(b, "missing key 'groups'");
    if (kv->type != LIC_KV_STRING)
        return fail(b, "key 'groups' is not a string");
    const int M = m->arch.M;
    const char *s = kv->s;
    size_t n = kv->s_len, i = 0;
    int n_groups = 0, sum = 0;
    while (1) {
        size_t start = i;
        long v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i] - '0');
            if (v > M)
                return fail(b, "groups: entry larger than M = %d", M);
            i++;
        }
        if (i == start || (s[start] == '0'))
            return fail(b, "groups: malformed entry at byte %zu", start);
        if (n_groups == LIC_MAX_GROUPS)
            return fail(b, "groups: more than %d groups", LIC_MAX_GROUPS);
        m->arch.group_size[n_groups] = (int)v;
        n_groups++;
        sum += (int)v;
        if (sum > M)
            return fail(b, "groups: sum exceeds M = %d", M);
        if (i == n)
            break;
        if (s[i] != ',' || i + 1 == n)
            return fail(b, "groups: malformed separator at byte %zu", i);
        i++;
    }
    if (sum != M)
        return fail(b, "groups: sum %d != M = %d", sum, M);
    m->arch.n_groups = n_groups;
    return 0;
}

static int parse_keys(const builder *b, lic_model_data *m, const lic_model_arch_def **def)
{
    struct lic_model_arch *a = &m->arch;
    const lic_licw_kv *kv = lic_licw_find_kv(b->file, "arch");
    if (!kv)
        return fail(b, "missing key 'arch'");
    *def = NULL;
    for (size_t i = 0; kv->type == LIC_KV_STRING && i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (kv->s_len == strlen(ARCHS[i].name) && memcmp(kv->s, ARCHS[i].name, kv->s_len) == 0)
            *def = &ARCHS[i];
    if (!*def)
        return fail(b, "unsupported architecture (expected 'lic-ctx1' or 'lic-hp1')");
    a->name = (*def)->name;
    kv = lic_licw_find_kv(b->file, "description");
    if (kv && kv->type != LIC_KV_STRING)
        return fail(b, "key 'description' is not a string");
    int r;
    if ((r = get_int(b, "N", 1, MAX_CHANNELS, &a->N)) || (r = get_int(b, "M", 1, MAX_CHANNELS, &a->M)) ||
        (r = get_int(b, "C_h", 1, MAX_CHANNELS, &a->C_h)) ||
        (r = get_int(b, "C_sp", 1, MAX_CHANNELS, &a->C_sp)) ||
        (r = get_int(b, "C_ep", 1, MAX_CHANNELS, &a->C_ep)) ||
        (r = get_int(b, "gs_up", LIC_GS_UP_DECONV, LIC_GS_UP_SUBPEL, &a->gs_up)) ||
        (r = get_int(b, "relu_slope_q8", 0, 255, &a->relu_slope_q8)) ||
        (r = get_int(b, "z_frac_bits", 0, 8, &a->z_frac_bits)) ||
        (r = get_int(b, "yctx_frac_bits", 0, 7, &a->yctx_frac_bits)) ||
        (r = get_int(b, "n_gains", 1, 64, &a->n_gains)))
        return r;
    return parse_groups(b, m);
}

int lic_model_get_int(const builder *b, const char *key, int lo, int hi, int *out)
{
    return get_int(b, key, lo, hi, out);
}

/* ---- tensors ---- */

static const char *dtype_name(int dtype)
{
    switch (dtype) {
    case LIC_DTYPE_F32: return "f32";
    case LIC_DTYPE_I16: return "i16";
    case LIC_DTYPE_I32: return "i32";
    default: return "?";
    }
}

/* Finds `name` and checks its dtype and dims exactly. */
static int get_tensor(const builder *b, const char *name, int dtype, int n_dims, const int64_t *dims,
                      const lic_licw_tensor **out)
{
    const lic_licw_tensor *t = lic_licw_find_tensor(b->file, name);
    if (!t)
        return fail(b, "missing tensor '%s'", name);
    if (t->dtype != dtype)
        return fail(b, "tensor '%s': dtype %s, expected %s", name, dtype_name(t->dtype), dtype_name(dtype));
    int same = t->n_dims == n_dims;
    for (int i = 0; same && i < n_dims; i++)
        same = t->dims[i] == dims[i];
    if (!same) {
        char want[64];
        int n = 0;
        for (int i = 0; i < n_dims; i++)
            n += snprintf(want + n, sizeof want - (size_t)n, "%s%lld", i ? "," : "", (long long)dims[i]);
        return fail(b, "tensor '%s': wrong dims, expected [%s]", name, want);
    }
    *out = t;
    return 0;
}

static int get1(const builder *b, const char *name, int dtype, int64_t d0, const lic_licw_tensor **out)
{
    const int64_t dims[1] = { d0 };
    return get_tensor(b, name, dtype, 1, dims, out);
}

static int get2(const builder *b, const char *name, int dtype, int64_t d0, int64_t d1,
                const lic_licw_tensor **out)
{
    const int64_t dims[2] = { d0, d1 };
    return get_tensor(b, name, dtype, 2, dims, out);
}

static int get4(const builder *b, const char *name, int dtype, int64_t d0, int64_t d1, int k,
                const lic_licw_tensor **out)
{
    const int64_t dims[4] = { d0, d1, k, k };
    return get_tensor(b, name, dtype, 4, dims, out);
}

/* Float conv: weight in PyTorch layout ([cout][cin] or, transposed, [cin][cout]) and bias [cout]. */
static int float_conv(const builder *b, const char *prefix, lic_conv_layer *L, int cin, int cout, int k,
                      int stride, int transposed)
{
    char name[NAME_LEN];
    const lic_licw_tensor *w, *bias;
    int r;
    snprintf(name, sizeof name, "%s.weight", prefix);
    if ((r = get4(b, name, LIC_DTYPE_F32, transposed ? cin : cout, transposed ? cout : cin, k, &w)))
        return r;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if ((r = get1(b, name, LIC_DTYPE_F32, cout, &bias)))
        return r;
    *L = (lic_conv_layer){ .cin = cin, .cout = cout, .k = k, .stride = stride, .transposed = transposed,
                           .weight = w->data, .bias = bias->data };
    return 0;
}

/* GDN / IGDN: beta > 0 keeps the denominator (or factor) positive, gamma >= 0 keeps it real.
 * Values are finite (the parser rejects NaN/Inf in every f32 tensor). */
static int gdn(const builder *b, const char *prefix, lic_gdn_layer *L, int c, int inverse)
{
    char name[NAME_LEN];
    const lic_licw_tensor *beta, *gamma;
    int r;
    snprintf(name, sizeof name, "%s.beta", prefix);
    if ((r = get1(b, name, LIC_DTYPE_F32, c, &beta)))
        return r;
    snprintf(name, sizeof name, "%s.gamma", prefix);
    if ((r = get2(b, name, LIC_DTYPE_F32, c, c, &gamma)))
        return r;
    const float *pb = beta->data, *pg = gamma->data;
    for (int i = 0; i < c; i++)
        if (!(pb[i] > 0.0f))
            return fail(b, "%s.beta[%d] is not > 0", prefix, i);
    for (int i = 0; i < c * c; i++)
        if (!(pg[i] >= 0.0f))
            return fail(b, "%s.gamma[%d] is negative", prefix, i);
    *L = (lic_gdn_layer){ .c = c, .inverse = inverse, .beta = pb, .gamma = pg };
    return 0;
}

/* Integer conv: i16 weight, i32 bias and shift [cout]; fields checked by lic_iconv_validate. */
static int int_conv(const builder *b, const char *prefix, lic_iconv_layer *L, int cin, int cout, int k,
                    int stride, int transposed, int relu, int out_bits)
{
    char name[NAME_LEN];
    const lic_licw_tensor *w, *bias, *shift;
    int r;
    snprintf(name, sizeof name, "%s.weight", prefix);
    if ((r = get4(b, name, LIC_DTYPE_I16, transposed ? cin : cout, transposed ? cout : cin, k, &w)))
        return r;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if ((r = get1(b, name, LIC_DTYPE_I32, cout, &bias)))
        return r;
    snprintf(name, sizeof name, "%s.shift", prefix);
    if ((r = get1(b, name, LIC_DTYPE_I32, cout, &shift)))
        return r;
    *L = (lic_iconv_layer){ .cin = cin, .cout = cout, .k = k, .stride = stride,
                            .transposed = transposed, .relu = relu,
                            .relu_slope_q8 = 0, .out_bits = out_bits,
                            .weight = w->data, .bias = bias->data, .shift = shift->data };
    return 0;
}

/* ---- the builders' interface (codec/model_build.h) ---- */

int lic_model_float_conv(builder *b, const char *prefix, int cin, int cout, int k, int stride, int transposed,
                         const lic_conv_layer **out)
{
    lic_model_data *m = b->m;
    if (m->n_conv == LIC_MAX_CONV)
        return fail(b, "more than %d float convolutions", LIC_MAX_CONV);
    int r = float_conv(b, prefix, &m->conv[m->n_conv], cin, cout, k, stride, transposed);
    if (r)
        return r;
    *out = &m->conv[m->n_conv++];
    return 0;
}

int lic_model_gdn(builder *b, const char *prefix, int c, int inverse, const lic_gdn_layer **out)
{
    lic_model_data *m = b->m;
    if (m->n_gdn == LIC_MAX_GDN)
        return fail(b, "more than %d GDN layers", LIC_MAX_GDN);
    int r = gdn(b, prefix, &m->gdn[m->n_gdn], c, inverse);
    if (r)
        return r;
    *out = &m->gdn[m->n_gdn++];
    return 0;
}

/* Builds the integer layer, sets the slope and runs the transforms module's validation. */
int lic_model_int_conv(builder *b, const char *prefix, int cin, int cout, int k, int stride, int transposed,
                       int relu, int out_bits, const lic_iconv_layer **out)
{
    lic_model_data *m = b->m;
    if (m->n_iconv == LIC_MAX_ICONV)
        return fail(b, "more than %d integer convolutions", LIC_MAX_ICONV);
    lic_iconv_layer *L = &m->iconv[m->n_iconv];
    int r = int_conv(b, prefix, L, cin, cout, k, stride, transposed, relu, out_bits);
    if (r)
        return r;
    L->relu_slope_q8 = relu ? m->arch.relu_slope_q8 : 0;
    if (lic_iconv_validate(L) != 0)
        return fail(b, "integer layer '%s' rejected (shift, sizes or accumulator range)", prefix);
    m->n_iconv++;
    *out = L;
    return 0;
}

int lic_model_buf(builder *b, enum lic_buf_type type, int *id)
{
    lic_model_data *m = b->m;
    if (m->n_bufs == LIC_MAX_BUFS)
        return fail(b, "more than %d buffers", LIC_MAX_BUFS);
    m->bufs[m->n_bufs] = (lic_buf){type, 0};
    *id = m->n_bufs++;
    return 0;
}

int lic_model_op(builder *b, const lic_op *op)
{
    lic_model_data *m = b->m;
    if (m->n_ops == LIC_MAX_OPS)
        return fail(b, "more than %d ops", LIC_MAX_OPS);
    if (lic_op_check(op, m->bufs, m->n_bufs) != 0) /* a builder's bug, or channel counts out of range */
        return fail(b, "op %d (kind %d) does not fit its buffers", m->n_ops, (int)op->kind);
    m->ops[m->n_ops++] = *op;
    return 0;
}

int lic_model_step(builder *b, lic_code_step step, int first)
{
    lic_model_data *m = b->m;
    if (m->n_steps == LIC_MAX_STEPS)
        return fail(b, "more than %d coding steps", LIC_MAX_STEPS);
    step.ops = (lic_op_range){first, m->n_ops - first};
    m->steps[m->n_steps++] = step;
    return 0;
}

/* A CDF table "<prefix>.cdf" [rows, L] with ".length" and ".offset" [rows]. rows < 0: any count
 * (returned through the table). */
static int cdf_table(const builder *b, const char *prefix, int rows, lic_cdf_table *t)
{
    char name[NAME_LEN];
    int r;
    snprintf(name, sizeof name, "%s.cdf", prefix);
    const lic_licw_tensor *cdf = lic_licw_find_tensor(b->file, name);
    if (!cdf)
        return fail(b, "missing tensor '%s'", name);
    if (cdf->n_dims != 2)
        return fail(b, "tensor '%s' is not 2-D", name);
    if (rows >= 0 && cdf->dims[0] != rows)
        return fail(b, "tensor '%s': %lld rows, expected %d", name, (long long)cdf->dims[0], rows);
    /* Row counts and widths are bounded by the file size only; keep them in int range. */
    if (cdf->dims[0] > 65536 || cdf->dims[1] > 65536)
        return fail(b, "tensor '%s' too large", name);
    const int n = (int)cdf->dims[0], stride = (int)cdf->dims[1];
    const lic_licw_tensor *len, *off;
    if ((r = get2(b, name, LIC_DTYPE_I32, n, stride, &cdf)))
        return r;
    snprintf(name, sizeof name, "%s.length", prefix);
    if ((r = get1(b, name, LIC_DTYPE_I32, n, &len)))
        return r;
    snprintf(name, sizeof name, "%s.offset", prefix);
    if ((r = get1(b, name, LIC_DTYPE_I32, n, &off)))
        return r;
    const int32_t *po = off->data;
    for (int i = 0; i < n; i++)
        if (po[i] < -MAX_CDF_OFFSET || po[i] > MAX_CDF_OFFSET)
            return fail(b, "%s.offset[%d] out of range", prefix, i);
    *t = (lic_cdf_table){ .cdf = cdf->data, .length = len->data, .offset = po, .n_cdfs = n, .stride = stride };
    if (lic_cdf_table_validate(t) != 0)
        return fail(b, "CDF table '%s' rejected (row lengths or non-monotone rows)", prefix);
    return 0;
}

static int build_entropy(const builder *b, lic_model_data *m)
{
    const struct lic_model_arch *a = &m->arch;
    const lic_licw_tensor *t;
    int r, bad;
    lic_factorized_prior *zp = &m->z_prior;
    if ((r = cdf_table(b, "entropy.z", a->N, &zp->cdf)))
        return r;
    if ((r = get1(b, "entropy.z.median", LIC_DTYPE_I32, a->N, &t)))
        return r;
    zp->median = t->data;
    zp->frac_bits = a->z_frac_bits;
    if (lic_factorized_prior_validate(zp, a->N, &bad) != 0)
        return fail(b, "entropy.z.median[%d] outside int16", bad);

    lic_gaussian_conditional *gc = &m->y_gc;
    if ((r = cdf_table(b, "entropy.y", -1, &gc->cdf)))
        return r;
    if (gc->cdf.n_cdfs < 2) /* the threshold tensor needs at least one entry */
        return fail(b, "entropy.y.cdf needs at least 2 rows");
    if ((r = get1(b, "entropy.y.scale_thresholds", LIC_DTYPE_I32, gc->cdf.n_cdfs - 1, &t)))
        return r;
    gc->thresholds = t->data;
    if (lic_gaussian_conditional_validate(gc, &bad) != 0)
        return fail(b, "entropy.y.scale_thresholds not strictly ascending at %d", bad);
    return 0;
}

static int build_gains(const builder *b, lic_model_data *m)
{
    const struct lic_model_arch *a = &m->arch;
    const char *names[2] = { "gain.y", "gain.y_inv" };
    const float *p[2];
    for (int j = 0; j < 2; j++) {
        const lic_licw_tensor *t;
        int r = get2(b, names[j], LIC_DTYPE_F32, a->n_gains, a->M, &t);
        if (r)
            return r;
        p[j] = t->data;
        for (int i = 0; i < a->n_gains * a->M; i++)
            if (!(p[j][i] > 0.0f)) /* finite already: the parser rejects NaN/Inf */
                return fail(b, "%s[%d] is not > 0", names[j], i);
    }
    m->gain = p[0];
    m->gain_inv = p[1];
    return 0;
}

/* The views the engine uses besides the ops: the io views and the coding steps' parameters and
 * anchors. Checked like the ops' views, and they size their buffers too. */
static int reserve_views(const builder *b, lic_model_data *m)
{
    const lic_view *f32[] = {&m->io.x, &m->io.y, &m->io.z, &m->io.x_out};
    const lic_view *i32[] = {&m->io.zhat, &m->io.yq, &m->io.yctx};
    int bad = 0;
    for (size_t i = 0; i < sizeof f32 / sizeof f32[0]; i++)
        bad |= lic_view_reserve(f32[i], m->bufs, m->n_bufs, LIC_BUF_F32);
    for (size_t i = 0; i < sizeof i32 / sizeof i32[0]; i++)
        bad |= lic_view_reserve(i32[i], m->bufs, m->n_bufs, LIC_BUF_I32);
    /* What the engine's coding loops rely on: y, y-hat', its context copy and the parameters share the
     * latent scale, z and z-hat the hyper-latent's, the z prior has a row per channel, and each step
     * codes channels of y with c means and c scales (and c anchors) at hand. */
    const lic_model_io *io = &m->io;
    bad |= io->y.scale != 4 || io->yq.scale != 4 || io->yctx.scale != 4 || io->y.c != m->arch.M ||
           io->yq.c != m->arch.M || io->yctx.c != m->arch.M || io->z.scale != 6 || io->zhat.scale != 6 ||
           io->z.c != io->zhat.c || io->zhat.c != m->arch.N || io->x.c != 3 || io->x.scale != 0 ||
           io->x_out.c != 3 || io->x_out.scale != 0 || io->z.buf == io->x.buf || io->x_out.buf == io->y.buf;
    for (int i = 0; i < m->n_steps; i++) {
        const lic_code_step *st = &m->steps[i];
        if (st->kind != LIC_STEP_CODE_Y)
            continue;
        bad |= st->pass < 0 || st->pass > 1 || st->c0 < 0 || st->c < 1 || st->c0 + st->c > m->arch.M ||
               st->params.c != 2 * st->c || st->params.scale != 4 ||
               (st->anchors.c && (st->anchors.c != st->c || st->anchors.scale != 4));
        bad |= lic_view_reserve(&st->params, m->bufs, m->n_bufs, LIC_BUF_I32);
        if (st->anchors.c)
            bad |= lic_view_reserve(&st->anchors, m->bufs, m->n_bufs, LIC_BUF_I32);
    }
    return bad ? fail(b, "the buffers or coding steps of '%s' are inconsistent", m->arch.name) : 0;
}

int lic_model_data_build(lic_model_data *out, const lic_licw *file, const lic_logger *log)
{
    if (!out || !file)
        return LIC_EINVAL;
    /* Built in place: ops point at the layers in `out`. */
    memset(out, 0, sizeof *out);
    builder b = { file, log, out };
    const lic_model_arch_def *def = NULL;
    int r;
    if ((r = parse_keys(&b, out, &def)) || (r = def->build(&b)) || (r = reserve_views(&b, out)) || (r = build_entropy(&b, out)) ||
        (r = build_gains(&b, out))) {
        memset(out, 0, sizeof *out);
        return r;
    }
    return 0;
}
