/* lic-oplist: prints the coding schedule of a model file as the C builder makes it (codec/arch_*.c):
 * one line per step and, under it, one line per integer conv the step runs, named by its .licw
 * tensor prefix. tests/python/test_oplist.py compares it with the Python model's layer table and the
 * order in which its integer path runs the layers (train/lic_model.py).
 *
 *   lic-oplist MODEL.licw
 *
 * Lines:
 *   arch NAME
 *   step code_z | step run | step code_y C0 C PASS
 *   iconv NAME CIN COUT K STRIDE TRANSPOSED RELU OUT_BITS
 */
#include <stdio.h>
#include <string.h>

#include "codec/internal.h"
#include "lic/codec.h"

/* The tensor prefix of an integer layer: the name of the tensor whose data is its weight. */
static int layer_name(const lic_licw *f, const lic_iconv_layer *L, char *out, size_t cap)
{
    for (uint32_t i = 0; i < f->n_tensors; i++) {
        const lic_licw_tensor *t = &f->tensors[i];
        const size_t suffix = sizeof ".weight" - 1;
        if (t->data == (const void *)L->weight && t->name_len > suffix && t->name_len - suffix < cap &&
            !memcmp(t->name + t->name_len - suffix, ".weight", suffix)) {
            memcpy(out, t->name, t->name_len - suffix);
            out[t->name_len - suffix] = 0;
            return 0;
        }
    }
    return -1;
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
    for (int s = 0; s < md->n_steps && !rc; s++) {
        const lic_code_step *st = &md->steps[s];
        if (st->kind == LIC_STEP_CODE_Z)
            printf("step code_z\n");
        else if (st->kind == LIC_STEP_RUN)
            printf("step run\n");
        else
            printf("step code_y %d %d %d\n", st->c0, st->c, st->pass);
        for (int i = st->ops.first; i < st->ops.first + st->ops.count; i++) {
            const lic_op *op = &md->ops[i];
            if (op->kind != LIC_OP_ICONV)
                continue;
            const lic_iconv_layer *L = op->iconv;
            char name[64];
            if (layer_name(&m->file, L, name, sizeof name)) {
                fprintf(stderr, "lic-oplist: an integer layer without a tensor name\n");
                rc = 1;
                break;
            }
            printf("iconv %s %d %d %d %d %d %d %d\n", name, L->cin, L->cout, L->k, L->stride, L->transposed,
                   L->relu, L->out_bits);
        }
    }
    lic_model_release(m);
    return rc;
}
