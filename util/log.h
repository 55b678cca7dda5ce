/* lic util: formatting log messages into the configured lic_logger callback. The library never prints;
 * every module that has something to say (codec/, gpu/, the model builder) says it through here. */
#ifndef LIC_UTIL_LOG_H
#define LIC_UTIL_LOG_H

#include <stdarg.h>

#include "lic/common.h"

#if defined(__GNUC__)
#define LIC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LIC_PRINTF(a, b)
#endif

/* Formats and delivers one message; does nothing when log is NULL, has no callback, or level is above
 * log->max_level (so a silenced level costs no formatting). Messages longer than 511 bytes are cut. */
void lic_log(const lic_logger *log, int level, const char *fmt, ...) LIC_PRINTF(3, 4);

/* The same from a va_list, with `prefix` (e.g. "model: "; NULL for none) written before the message,
 * for modules whose error helpers take their own variable arguments. */
void lic_vlog(const lic_logger *log, int level, const char *prefix, const char *fmt, va_list ap)
    LIC_PRINTF(4, 0);

#endif /* LIC_UTIL_LOG_H */
