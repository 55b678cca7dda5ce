/* lic: leaf header shared by every module — status codes, allocator and logger types, export macro.
 * Includes nothing but <stddef.h> and <stdint.h>, so entropy/ and transforms/ may include it. */
#ifndef LIC_COMMON_H
#define LIC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(LIC_BUILDING_LIBRARY) && defined(__GNUC__)
#define LIC_API __attribute__((visibility("default")))
#else
#define LIC_API
#endif

/* Status codes. Every public function returns 0 or one of these. The values are ABI: append-only,
 * never renumbered. */
enum lic_status {
    LIC_OK = 0,
    LIC_EINVAL = -1,          /* API misuse: NULL pointer, out-of-range argument or config */
    LIC_ENOMEM = -2,          /* an allocation failed */
    LIC_EIO = -3,             /* a file could not be opened, read or written */
    LIC_EBITSTREAM = -4,      /* corrupt or truncated .lic data */
    LIC_EMODEL = -5,          /* malformed or unsupported .licw model file */
    LIC_EMODEL_MISMATCH = -6, /* the stream was encoded with a different model */
    LIC_EUNSUPPORTED = -7,    /* feature or backend not built in, or not present on this machine */
    LIC_EBACKEND = -8,        /* device or runtime failure (CUDA) */
    LIC_EABI = -9,            /* the caller was compiled against an incompatible header */
    LIC_ELIMIT = -10,         /* the image exceeds a configured limit (side, pixels, memory) */
};

/* Returns a static, human-readable English description of a status code; never NULL. */
LIC_API const char *lic_strerror(int code);

/* Allocator hook. alloc returns memory aligned to `align` (a power of two, at most 4096) or NULL;
 * free accepts NULL. Both may be called from several threads at once. A zeroed struct selects the
 * library's default (aligned malloc). */
typedef struct lic_allocator {
    void *opaque;
    void *(*alloc)(void *opaque, size_t size, size_t align);
    void (*free)(void *opaque, void *ptr);
} lic_allocator;

/* Log levels, in increasing verbosity. */
enum lic_log_level {
    LIC_LOG_ERROR = 0,
    LIC_LOG_WARN = 1,
    LIC_LOG_INFO = 2,
    LIC_LOG_DEBUG = 3,
};

/* Logger hook. The library never prints: every message goes through this callback. `msg` is a
 * NUL-terminated line without a trailing newline, valid only during the call. The callback may be
 * called from several threads at once. A zeroed struct (callback NULL) discards every message. */
typedef struct lic_logger {
    void *opaque;
    void (*callback)(void *opaque, int level, const char *msg);
    int max_level; /* messages above this level are not formatted at all (0 = errors only) */
} lic_logger;

#endif /* LIC_COMMON_H */
