/* lic transforms: which CPU kernels may run, decided once per process and restricted by a mask.
 *
 * __builtin_cpu_supports (GCC/Clang, x86) reads CPUID and also checks that the OS saves the wider
 * registers (XCR0), so a "yes" means the instructions are safe to run. It is used only here: the SIMD
 * files are compiled with their own -m flags and are never entered without this check. */
#include <stdatomic.h>

#include "transforms/cpu/xf_cpu.h"

/* Bit set in the cache once CPUID has been read, so that 0 can mean "not yet". */
#define FEAT_DETECTED (1u << 31)

static unsigned probe_features(void)
{
    unsigned f = 0;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
#if defined(LIC_XF_HAVE_AVX2)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        f |= LIC_XF_FEAT_AVX2;
#endif
#if defined(LIC_XF_HAVE_AVX512) || defined(LIC_XF_HAVE_AVX512VNNI)
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl");
#endif
#if defined(LIC_XF_HAVE_AVX512)
    if (avx512 && __builtin_cpu_supports("fma"))
        f |= LIC_XF_FEAT_AVX512;
#endif
#if defined(LIC_XF_HAVE_AVX512VNNI)
    if (avx512 && __builtin_cpu_supports("avx512vnni"))
        f |= LIC_XF_FEAT_AVX512VNNI;
#endif
#endif
    return f;
}

/* The CPU does not change while the process runs, so its answer is cached: every integer layer call
 * and every context creation asks, and CPUID is slow (it serializes, and traps in some VMs). Threads
 * that race on the first call compute the same value; the relaxed atomic only makes that race defined. */
unsigned lic_xf_cpu_features(void)
{
    static atomic_uint cache;
    unsigned f = atomic_load_explicit(&cache, memory_order_relaxed);
    if (!f) {
        f = probe_features() | FEAT_DETECTED;
        atomic_store_explicit(&cache, f, memory_order_relaxed);
    }
    return f & ~FEAT_DETECTED;
}

int lic_xf_cpu_has_avx512(void)
{
    return (lic_xf_cpu_features() & LIC_XF_FEAT_AVX512) != 0;
}

int lic_xf_cpu_has_avx512vnni(void)
{
    return (lic_xf_cpu_features() & LIC_XF_FEAT_AVX512VNNI) != 0;
}

int lic_xf_cpu_has_avx2(void)
{
    return (lic_xf_cpu_features() & LIC_XF_FEAT_AVX2) != 0;
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

void lic_xf_kernels_select(lic_xf_kernels *k, enum lic_kernel_path want, unsigned features)
{
    lic_xf_kernels_init_ref(k);
    if (want != LIC_KERNELS_FAST)
        return;
    unsigned usable = features & lic_xf_cpu_features();
    if ((usable & LIC_XF_FEAT_AVX512) && lic_xf_kernels_init_avx512(k) == LIC_OK)
        return;
    if ((usable & LIC_XF_FEAT_AVX2) && lic_xf_kernels_init_avx2(k) == LIC_OK)
        return;
    lic_xf_kernels_init_ref(k);
}
