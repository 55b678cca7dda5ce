/* lic transforms: picks the CPU kernel table at run time.
 *
 * __builtin_cpu_supports (GCC/Clang, x86) reads CPUID once and also checks that the OS saves the
 * wider registers (XCR0), so a "yes" means the instructions are safe to run. It is used only here: the
 * SIMD files are compiled with their own -m flags and are never entered without this check. */
#include "transforms/cpu/xf_cpu.h"

int lic_xf_cpu_has_avx512(void)
{
#if defined(LIC_XF_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int lic_xf_cpu_has_avx512vnni(void)
{
#if defined(LIC_XF_HAVE_AVX512VNNI) && (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

int lic_xf_cpu_has_avx2(void)
{
#if defined(LIC_XF_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

#ifndef LIC_XF_HAVE_AVX512
int lic_xf_kernels_init_avx512(lic_xf_kernels *k)
{
    (void)k;
    return LIC_EUNSUPPORTED;
}
#endif
#ifndef LIC_XF_HAVE_AVX2
int lic_xf_kernels_init_avx2(lic_xf_kernels *k)
{
    (void)k;
    return LIC_EUNSUPPORTED;
}
#endif

void lic_xf_kernels_select(lic_xf_kernels *k, enum lic_kernel_path want)
{
    lic_xf_kernels_init_ref(k);
    if (want != LIC_KERNELS_FAST)
        return;
    if (lic_xf_cpu_has_avx512() && lic_xf_kernels_init_avx512(k) == LIC_OK)
        return;
    if (lic_xf_cpu_has_avx2() && lic_xf_kernels_init_avx2(k) == LIC_OK)
        return;
    lic_xf_kernels_init_ref(k);
}
