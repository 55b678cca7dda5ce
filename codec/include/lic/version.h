/* lic: library version and ABI version.
 *
 * The library version is the project version in the top-level CMakeLists.txt (keep the two equal).
 * Before 1.0 the shared library's soname is MAJOR.MINOR: bump the minor part whenever a public
 * function is renamed, removed or changes its signature (0.2.0: lic_config_init_internal became
 * lic_config_init_abi, lic_model_free gave way to lic_model_retain/lic_model_release). */
#ifndef LIC_VERSION_H
#define LIC_VERSION_H

#define LIC_VERSION_MAJOR 0
#define LIC_VERSION_MINOR 2
#define LIC_VERSION_PATCH 0
#define LIC_VERSION_STRING "0.2.0"

/* Bumped in its major part whenever a public struct changes layout. lic_config_init() passes the
 * value the caller was compiled with; the library refuses a different major part with LIC_EABI. */
#define LIC_ABI_VERSION ((1u << 8) | 0u)

#endif /* LIC_VERSION_H */
