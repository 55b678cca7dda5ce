/* lic-oplist: prints the op lists of a model file as the C builder makes them (codec/arch_*.c): the
 * float ranges (analysis: g_a, gain, h_a; synthesis: g_s), one line per op, then the coding schedule:
 * one line per step and, under it, one line per integer conv the step runs. Layers are named by their
 * .licw tensor prefix. Every op and step line ends with the buffer views it uses ("@" then
 * BUF C0 C SCALE per view: an op's input then output, a step's params then anchors), and the views the
 * engine knows by role come first. tests/python/arch_check.py compares the op order with the order in
 * which the Python model (train/lic_model.py) runs its layers, and the data flow through the views
 * (which op's output channels each op reads, at which scale) with the Python run's.
 *
 *   lic-oplist MODEL.licw
 *
 * Lines:
 *   arch NAME
 *   io ROLE VIEW                        (ROLE: x y z x_out zhat yq yctx)
 *   range analysis | range synthesis
 *   conv NAME CIN COUT K STRIDE TRANSPOSED | gdn NAME C INVERSE | leaky_relu SLOPE_Q8 | pixel_shuffle | gain
 *   step code_z | step run | step code_y C0 C PASS
 *   iconv NAME CIN COUT K STRIDE TRANSPOSED RELU OUT_BITS
 *   izero
 * where each op line ends with " @ IN OUT" and each step line with " @ PARAMS ANCHORS", and a VIEW is
 * "BUF C0 C SCALE".
 */
#include <stdio.h>
#include <string.h>

#include "codec/internal.h"
#include "lic/codec.h"

/* The tensor prefix of a layer: the name of the tensor whose data is `data` (its weight or beta),
 * less `suffix`. */
static int layer_name(const lic_licw *f, const void *data, const char *suffix, char *out, size_t cap)
{
    const size_t n = strlen(suffix);
    for (uint32_t i = 0; i < f->n_tensors; i++) {
        const lic_licw_tensor *t = &f->tensors[i];
        if (t->data == data && t->name_len > n && t->name_len - n < cap &&
            !memcmp(t->name + t->name_len - n, suffix, n)) {
            memcpy(out, t->name, t->name_len - n);
            out[t->name_len - n] = 0;
            return 0;
        }
    }
    fprintf(stderr, "lic-oplist: a layer without a tensor name\n");
    return -1;
}

static void print_view(const char *lead, lic_view v)
{
    printf("%s%d %d %d %d", lead, v.buf, v.c0, v.c, v.scale);
}

static void print_views(const char *lead, lic_view a, lic_view b)
{
    print_view(lead, a);
    print_view(" ", b);
    printf("\n");
}

/* The op's kind and layer, without a line end. Returns 0 or -1 (a layer whose tensor is not found). */
static int print_op_kind(const lic_licw *f, const lic_op *op)
{
    char name[64];
    switch (op->kind) {
    case LIC_OP_CONV:
        if (layer_name(f, op->conv->weight, ".weight", name, sizeof name))
            return -1;
        printf("conv %s %d %d %d %d %d", name, op->conv->cin, op->conv->cout, op->conv->k, op->conv->stride,
               op->conv->transposed);
        return 0;
    case LIC_OP_GDN:
        if (layer_name(f, op->gdn->beta, ".beta", name, sizeof name))
            return -1;
        printf("gdn %s %d %d", name, op->gdn->c, op->gdn->inverse);
        return 0;
    case LIC_OP_ICONV:
        if (layer_name(f, op->iconv->weight, ".weight", name, sizeof name))
            return -1;
        printf("iconv %s %d %d %d %d %d %d %d", name, op->iconv->cin, op->iconv->cout, op->iconv->k,
               op->iconv->stride, op->iconv->transposed, op->iconv->relu, op->iconv->out_bits);
        return 0;
    case LIC_OP_LEAKY_RELU:
        printf("leaky_relu %d", op->slope_q8);
        return 0;
    case LIC_OP_PIXEL_SHUFFLE:
        printf("pixel_shuffle");
        return 0;
    case LIC_OP_GAIN:
        printf("gain");
        return 0;
    case LIC_OP_IZERO:
        printf("izero");
        return 0;
    default:
        printf("op %d", (int)op->kind);
        return 0;
    }
}

/* One op and its views. Returns 0 or -1 (a layer whose tensor is not found). */
static int print_op(const lic_licw *f, const lic_op *op)
{
    if (print_op_kind(f, op))
        return -1;
    print_views(" @ ", op->in, op->out);
    return 0;
}

static int print_range(const lic_licw *f, const lic_model_data *md, const char *what, lic_op_range r)
{
    printf("range %s\n", what);
    for (int i = r.first; i < r.first + r.count; i++)
        if (print_op(f, &md->ops[i]))
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lic-oplist MODEL.licw\n");
        return 2;
    }
    lic_model *m = NULL;
    if (lic_model_load_file(&m, argv[1], NULL)) {
        fprintf(stderr, "lic-oplist: cannot load %s\n", argv[1]);
        return 1;
    }
    const lic_model_data *md = &m->data;
    int rc = 0;
    printf("arch %s\n", md->arch.name);
    const struct {
        const char *role;
        lic_view v;
    } io[] = {{"x", md->io.x},       {"y", md->io.y},   {"z", md->io.z},      {"x_out", md->io.x_out},
              {"zhat", md->io.zhat}, {"yq", md->io.yq}, {"yctx", md->io.yctx}};
    for (size_t i = 0; i < sizeof io / sizeof io[0]; i++) {
        printf("io %s", io[i].role);
        print_view(" ", io[i].v);
        printf("\n");
    }
    if (print_range(&m->file, md, "analysis", md->analysis) || print_range(&m->file, md, "synthesis", md->synthesis))
        rc = 1;
    for (int s = 0; s < md->n_steps && !rc; s++) {
        const lic_code_step *st = &md->steps[s];
        if (st->kind == LIC_STEP_CODE_Z)
            printf("step code_z");
        else if (st->kind == LIC_STEP_RUN)
            printf("step run");
        else
            printf("step code_y %d %d %d", st->c0, st->c, st->pass);
        print_views(" @ ", st->params, st->anchors);
        for (int i = st->ops.first; i < st->ops.first + st->ops.count && !rc; i++)
            if (print_op(&m->file, &md->ops[i]))
                rc = 1;
    }
    lic_model_release(&m);
    return rc;
}
