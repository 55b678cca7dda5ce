/* lic codec: the in-memory model — float transforms, integer probability path, CDF tables, gains —
 * built from a validated .licw file (docs/FORMAT.md, "Architecture lic-ctx1"). */
#ifndef LIC_CODEC_MODEL_H
#define LIC_CODEC_MODEL_H

#include <stdint.h>

#include "codec/licw.h"
#include "entropy/entropy_model.h"
#include "entropy/symbol_coder.h"
#include "transforms/ilayers.h"
#include "transforms/layers.h"

#define LIC_MAX_GROUPS 8
#define LIC_ARCH_NAME "lic-ctx1"

/* g_s upsampling variants (kv "gs_up"; the value is in the file: append-only). */
enum lic_gs_up {
    LIC_GS_UP_DECONV = 0, /* 5x5 stride-2 transposed conv */
    LIC_GS_UP_SUBPEL = 1, /* 3x3 conv to 4*cout channels, then pixel shuffle by 2 */
};

/* The integer context model of one channel group. */
typedef struct lic_group_model {
    int c0, size;            /* channels [c0, c0 + size) of y */
    lic_iconv_layer cc[2];   /* channel context from channels [0, c0); unused for group 0 */
    lic_iconv_layer sp;      /* spatial context: 5x5 over the group's anchors (zeros elsewhere) */
    lic_iconv_layer ep[3];   /* parameter network, 1x1 convs; ep[2] outputs size means + size scales */
} lic_group_model;

struct lic_model_arch {
    int N, M;                /* hyper-latent and latent channels */
    int C_h, C_cc, C_sp, C_ep;
    int n_groups;
    int gs_up;               /* enum lic_gs_up */
    int relu_slope_q8;       /* leaky ReLU slope in 1/256 (float layers use the same value) */
    int z_frac_bits;         /* z-hat is held in units of 2^-z_frac_bits */
    int yctx_frac_bits;      /* y-hat enters the context networks in units of 2^-yctx_frac_bits */
    int n_gains;
};

typedef struct lic_model_data {
    struct lic_model_arch arch;
    lic_conv_layer g_a[4];   /* 3->N, N->N, N->N, N->M; 5x5 stride 2 */
    lic_gdn_layer g_a_gdn[3];
    lic_conv_layer h_a[3];   /* M->N 3x3 s1, N->N 5x5 s2, N->N 5x5 s2; leaky ReLU after the first two */
    lic_conv_layer g_s[4];   /* M->N, N->N, N->N, N->3 (see gs_up) */
    lic_gdn_layer g_s_igdn[3];
    lic_iconv_layer h_s[3];  /* N->N T5x5 s2 relu, N->C_h T5x5 s2 relu, C_h->C_h 3x3 s1 */
    lic_group_model groups[LIC_MAX_GROUPS];
    lic_factorized_prior z_prior;  /* z: one CDF row and median per channel */
    lic_gaussian_conditional y_gc; /* y: CDF rows per scale level, thresholds */
    const float *gain;       /* [n_gains][M], applied to y by the encoder */
    const float *gain_inv;   /* [n_gains][M], applied to y-hat by the decoder */
} lic_model_data;

/* Builds `out` from a parsed file: checks the architecture keys, that every tensor exists with the
 * right dtype and shape, the integer layers (lic_iconv_validate) and CDF tables
 * (lic_cdf_table_validate). Pointers in `out` point into `file`, which must outlive it.
 * Returns 0 or LIC_EMODEL (and logs which check failed through `log`, may be NULL). */
int lic_model_data_build(lic_model_data *out, const lic_licw *file, const lic_logger *log);

#endif /* LIC_CODEC_MODEL_H */
