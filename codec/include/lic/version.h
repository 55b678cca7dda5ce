/* lic: library version and ABI version. */
#ifndef LIC_VERSION_H
#define LIC_VERSION_H

#define LIC_VERSION_MAJOR 0
#define LIC_VERSION_MINOR 1
#define LIC_VERSION_PATCH 0
#define LIC_VERSION_STRING "0.1.0"

/* Bumped in its major part whenever a public struct changes layout. lic_config_init() passes the
 * value the caller was compiled with; the library refuses a different major part with LIC_EABI. */
#define LIC_ABI_VERSION ((1u << 8) | 0u)

#endif /* LIC_VERSION_H */
