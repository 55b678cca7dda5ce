/* lic transforms: planar tensors (batch 1, CHW) for the float transforms and the integer probability path. */
#ifndef LIC_TRANSFORMS_TENSOR_H
#define LIC_TRANSFORMS_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "lic/common.h"

/* Float activations of g_a / h_a / g_s: c planes of h rows of w floats, contiguous.
 * The tensor does not own data: buffers come from a workspace sized once per image size. */
typedef struct lic_tensor {
    int c, h, w;
    float *data;
} lic_tensor;

/* Rows [row0, row0 + rows) of a c x h x w float tensor, held in a buffer such as a ring of rows of a
 * band-by-band run (codec/tiles.c): row y of channel ch is at data + ch * plane + (size_t)(y - row0) * w.
 * Rows outside [0, h) are the zero padding of the layers; rows inside [0, h) that are not held are
 * never read. A whole tensor is the band {c, h, w, 0, h, h * w, data}. */
typedef struct lic_band {
    int c, h, w;
    int row0, rows;
    size_t plane; /* floats from one channel's rows to the next's, at least rows * w */
    float *data;  /* row row0 of channel 0 */
} lic_band;

/* Integer activations of the probability path. Values are stored as int32 so that the final layers
 * can hold their wider outputs; hidden layers keep them in int16 range (see lic_iconv_layer). */
typedef struct lic_itensor {
    int c, h, w;
    int32_t *data;
} lic_itensor;

static inline size_t lic_tensor_count(int c, int h, int w)
{
    return (size_t)c * (size_t)h * (size_t)w;
}

/* Output side of a stride-s, k x k convolution with padding k/2: ceil(in / s). */
static inline int lic_conv_out_size(int in, int stride)
{
    return (in + stride - 1) / stride;
}

#endif /* LIC_TRANSFORMS_TENSOR_H */
