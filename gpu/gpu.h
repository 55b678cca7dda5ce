/* lic gpu: the only header of gpu/ that other modules see. Without CUDA (LIC_CUDA=OFF, or AUTO with no
 * toolkit found) gpu/stub.c implements it: no devices, every request LIC_EUNSUPPORTED. */
#ifndef LIC_GPU_GPU_H
#define LIC_GPU_GPU_H

#include "lic/common.h"

/* Number of usable CUDA devices; 0 when CUDA is not built in, or there is no driver or GPU. Never
 * prints and never fails. */
int lic_gpu_device_count(void);

/* 1 when the library was built with the CUDA backend. */
int lic_gpu_built_in(void);

#endif /* LIC_GPU_GPU_H */
