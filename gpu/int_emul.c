/* lic gpu: the host emulation of the integer kernels (gpu/int_host.h). The loops below are the CUDA
 * launches of gpu/cuda/int_kernels.cu written out: the same grids (lic_gpu_iconv_grid,
 * lic_gpu_ypass_grid), every block, every thread of a block, each calling the kernel's `*_thread`
 * function of gpu/int_kernels.h. Threads of a launch write disjoint outputs and read only inputs, so
 * running them one after the other gives the device's result. */
#include "gpu/int_host.h"

int lic_gpu_emul_iconv(const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out, unsigned max_blocks)
{
    lic_gpu_iconv_args a;
    int ret = lic_gpu_iconv_args_make(L, in, out, &a);
    if (ret < 0)
        return ret;
    const lic_gpu_int_grid g = lic_gpu_iconv_grid(&a, max_blocks);
    for (unsigned by = 0; by < g.gy; by++)
        for (unsigned bx = 0; bx < g.gx; bx++)
            for (unsigned tx = 0; tx < LIC_GPU_INT_BLOCK; tx++)
                lic_gpu_iconv_thread(&a, bx, by, tx, g.gx);
    return LIC_OK;
}

int lic_gpu_emul_ypass(const lic_gpu_ypass_args *a, unsigned max_blocks)
{
    int ret = lic_gpu_ypass_args_check(a);
    if (ret < 0)
        return ret;
    const lic_gpu_int_grid g = lic_gpu_ypass_grid(a, max_blocks);
    for (unsigned by = 0; by < g.gy; by++)
        for (unsigned bx = 0; bx < g.gx; bx++)
            for (unsigned tx = 0; tx < LIC_GPU_INT_BLOCK; tx++)
                lic_gpu_ypass_thread(a, bx, by, tx, g.gx);
    return LIC_OK;
}
