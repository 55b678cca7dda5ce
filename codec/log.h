/* lic codec: formatting log messages into the configured lic_logger callback. */
#ifndef LIC_CODEC_LOG_H
#define LIC_CODEC_LOG_H

#include "lic/common.h"

#if defined(__GNUC__)
#define LIC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LIC_PRINTF(a, b)
#endif

/* Formats and delivers one message; does nothing when log is NULL, has no callback, or level is above
 * log->max_level. */
void lic_log(const lic_logger *log, int level, const char *fmt, ...) LIC_PRINTF(3, 4);

#endif /* LIC_CODEC_LOG_H */
