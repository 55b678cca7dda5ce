/* lic codec: the in-memory model built from a validated .licw file: op lists of the float transforms,
 * the coding schedule of the integer probability path, CDF tables and gains (docs/ARCHITECTURE.md,
 * "The network as data"). The architecture's builder (codec/arch_*.c) is the only code that knows
 * its layers. */
#ifndef LIC_CODEC_MODEL_H
#define LIC_CODEC_MODEL_H

#include <stdint.h>

#include "codec/licw.h"
#include "entropy/entropy_model.h"
#include "entropy/symbol_coder.h"
#include "transforms/ilayers.h"
#include "transforms/layers.h"
#include "transforms/oplist.h"

#define LIC_MAX_GROUPS 8

/* g_s upsampling variants (kv "gs_up"; the value is in the file: append-only). */
enum lic_gs_up {
    LIC_GS_UP_DECONV = 0, /* 5x5 stride-2 transposed conv */
    LIC_GS_UP_SUBPEL = 1, /* 3x3 conv to 4*cout channels, then pixel shuffle by 2 */
};

struct lic_model_arch {
    const char *name;        /* the architecture (key "arch"), a static string */
    int N, M;                /* hyper-latent and latent channels */
    int C_h, C_cc, C_sp, C_ep; /* C_cc: lic-ctx1 only */
    int n_groups;
    int group_size[LIC_MAX_GROUPS]; /* channels of y per group, in coding order; sum M */
    int gs_up;               /* enum lic_gs_up */
    int relu_slope_q8;       /* leaky ReLU slope in 1/256 (float layers use the same value) */
    int z_frac_bits;         /* z-hat is held in units of 2^-z_frac_bits */
    int yctx_frac_bits;      /* y-hat enters the context networks in units of 2^-yctx_frac_bits */
    int n_gains;
};

/* Capacities of a model's tables. lic-ctx1 with 8 groups needs 11 float convs, 6 GDNs, 51 integer
 * convs, 113 ops, 13 buffers and 18 steps. */
#define LIC_MAX_CONV 16
#define LIC_MAX_GDN 8
#define LIC_MAX_ICONV 64
#define LIC_MAX_OPS 160
#define LIC_MAX_BUFS 16
#define LIC_MAX_STEPS (2 * LIC_MAX_GROUPS + 4)

/* A contiguous range of md->ops. */
typedef struct lic_op_range {
    int first, count;
} lic_op_range;

/* One step of the coding schedule: run `ops`, then code (or only run, for LIC_STEP_RUN). */
enum lic_step_kind {
    LIC_STEP_CODE_Z = 0, /* all of z with the factorized prior, into io.zhat */
    LIC_STEP_RUN = 1,    /* ops only */
    LIC_STEP_CODE_Y = 2, /* channels [c0, c0 + c) of y at one checkerboard pass, Gaussian conditional */
};

typedef struct lic_code_step {
    enum lic_step_kind kind;
    lic_op_range ops;        /* run first */
    int stream;              /* 0: the z stream, 1: the y stream */
    int hyper;               /* 1: its time counts as hyper-prior time (lic_stats.t_hyper) */
    int pass;                /* CODE_Y: positions with (x + y) % 2 == pass */
    int c0, c;               /* CODE_Y: the channels coded */
    lic_view params;         /* CODE_Y: c means then c scales, 1/256 units (I32, scale 4) */
    lic_view anchors;        /* CODE_Y: where the decoded values go in context format as well; c = 0: nowhere */
} lic_code_step;

/* The buffers the engine and its callers know by role. */
typedef struct lic_model_io {
    lic_view x;              /* F32: the padded image, input of analysis */
    lic_view y;              /* F32: y' (analysis output) / y-hat (synthesis input), scale 4 */
    lic_view z;              /* F32: analysis output, scale 6 */
    lic_view x_out;          /* F32: synthesis output, scale 0 */
    lic_view zhat;           /* I32: z-hat, scale 6 */
    lic_view yq;             /* I32: y-hat' in 1/256 units, scale 4 */
    lic_view yctx;           /* I32: y-hat in the context networks' format (yctx_frac_bits), scale 4 */
} lic_model_io;

typedef struct lic_model_data {
    struct lic_model_arch arch;
    /* Layers, referenced by the ops; only the builder of an architecture indexes them. */
    lic_conv_layer conv[LIC_MAX_CONV];
    lic_gdn_layer gdn[LIC_MAX_GDN];
    lic_iconv_layer iconv[LIC_MAX_ICONV];
    int n_conv, n_gdn, n_iconv;
    /* The network as data (transforms/oplist.h): buffers, ops, the two float transforms, and the
     * schedule of the probability path (whose steps index ops as well). */
    lic_buf bufs[LIC_MAX_BUFS];
    int n_bufs;
    lic_op ops[LIC_MAX_OPS];
    int n_ops;
    lic_op_range analysis;   /* g_a, gain, h_a: io.x -> io.y, io.z */
    lic_op_range synthesis;  /* g_s: io.y -> io.x_out */
    lic_code_step steps[LIC_MAX_STEPS];
    int n_steps;
    lic_model_io io;
    lic_factorized_prior z_prior;  /* z: one CDF row and median per channel */
    lic_gaussian_conditional y_gc; /* y: CDF rows per scale level, thresholds */
    const float *gain;       /* [n_gains][M], applied to y by the encoder */
    const float *gain_inv;   /* [n_gains][M], applied to y-hat by the decoder */
} lic_model_data;

/* Builds `out` from a parsed file: checks the architecture keys, that every tensor exists with the
 * right dtype and shape, the integer layers (lic_iconv_validate), the CDF tables
 * (lic_cdf_table_validate) and every op (lic_op_check). Pointers in `out` point into `file`, which
 * must outlive it, and into `out` itself, which must not be moved or copied.
 * Returns 0 or LIC_EMODEL (and logs which check failed through `log`, may be NULL). */
int lic_model_data_build(lic_model_data *out, const lic_licw *file, const lic_logger *log);

#endif /* LIC_CODEC_MODEL_H */
