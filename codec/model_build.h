/* lic codec: what the builders of the architectures (codec/arch_*.c) use to turn a parsed .licw into
 * a lic_model_data: checked reads of keys and tensors, layers appended to the model's pools, buffers,
 * ops (each checked by lic_op_check) and coding steps. Every function returns 0 or LIC_EMODEL, having
 * logged why the file is refused. */
#ifndef LIC_CODEC_MODEL_BUILD_H
#define LIC_CODEC_MODEL_BUILD_H

#include "codec/model.h"
#include "util/log.h"

typedef struct lic_model_builder {
    const lic_licw *file;
    const lic_logger *log;
    lic_model_data *m;
} lic_model_builder;

/* An architecture: its name (the "arch" key) and the function that builds its layers, op lists and
 * schedule. The common keys (sizes, groups), entropy models and gains are read before it runs. */
typedef struct lic_model_arch_def {
    const char *name;
    int (*build)(lic_model_builder *b);
} lic_model_arch_def;

int lic_arch_ctx1_build(lic_model_builder *b);
int lic_arch_hp1_build(lic_model_builder *b);

/* Logs "model: <message>" as an error and returns LIC_EMODEL. */
int lic_model_fail(const lic_model_builder *b, const char *fmt, ...) LIC_PRINTF(2, 3);

/* A key that must be an integer in lo..hi. */
int lic_model_get_int(const lic_model_builder *b, const char *key, int lo, int hi, int *out);

/* Layers read from tensors "<prefix>.weight", ".bias" (and ".shift" for integer layers) with exactly
 * the dims given, appended to the model's pools. */
int lic_model_float_conv(lic_model_builder *b, const char *prefix, int cin, int cout, int k, int stride,
                         int transposed, const lic_conv_layer **out);
int lic_model_gdn(lic_model_builder *b, const char *prefix, int c, int inverse, const lic_gdn_layer **out);
int lic_model_int_conv(lic_model_builder *b, const char *prefix, int cin, int cout, int k, int stride,
                       int transposed, int relu, int out_bits, const lic_iconv_layer **out);

/* A new buffer of the given type; its size follows from the views of the ops that use it. */
int lic_model_buf(lic_model_builder *b, enum lic_buf_type type, int *id);
/* Appends a checked op. */
int lic_model_op(lic_model_builder *b, const lic_op *op);
/* Appends a step whose ops are those appended since op index `first`. */
int lic_model_step(lic_model_builder *b, lic_code_step step, int first);

static inline lic_view lic_view_of(int buf, int c0, int c, int scale)
{
    lic_view v = {buf, c0, c, scale};
    return v;
}

#endif /* LIC_CODEC_MODEL_BUILD_H */
