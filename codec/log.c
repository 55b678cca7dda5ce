/* lic codec: logger plumbing. Messages are formatted into a bounded stack buffer (truncated if long). */
#include "codec/log.h"

#include <stdarg.h>
#include <stdio.h>

void lic_log(const lic_logger *log, int level, const char *fmt, ...)
{
    if (!log || !log->callback || level > log->max_level)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log->callback(log->opaque, level, msg);
}
