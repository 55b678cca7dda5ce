/* lic util: logger plumbing. Messages are formatted into a bounded stack buffer (truncated if long):
 * logging never allocates, so it works when the allocator is what failed. */
#include "util/log.h"

#include <stdio.h>
#include <string.h>

#define LOG_MAX 512

void lic_vlog(const lic_logger *log, int level, const char *prefix, const char *fmt, va_list ap)
{
    if (!log || !log->callback || level > log->max_level)
        return;
    char msg[LOG_MAX];
    size_t n = 0;
    if (prefix) {
        n = strlen(prefix);
        if (n > LOG_MAX - 1)
            n = LOG_MAX - 1;
        memcpy(msg, prefix, n);
    }
    vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
    log->callback(log->opaque, level, msg);
}

void lic_log(const lic_logger *log, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lic_vlog(log, level, NULL, fmt, ap);
    va_end(ap);
}
