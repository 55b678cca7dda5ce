/* apps: shared CLI helpers. See cli_common.h. */
#define _XOPEN_SOURCE 700 /* realpath() */
#include "apps/cli_common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apps/image_io.h"

int app_exit_from_lic(int status)
{
    switch (status) {
    case LIC_OK: return APP_EXIT_OK;
    case LIC_EIO: return APP_EXIT_IO;
    case LIC_EBITSTREAM: return APP_EXIT_INVALID;
    case LIC_ELIMIT: return APP_EXIT_LIMIT;
    case LIC_EMODEL:
    case LIC_EMODEL_MISMATCH: return APP_EXIT_MODEL;
    default: return APP_EXIT_FAILURE; /* EINVAL (our bug), ENOMEM, EUNSUPPORTED, EBACKEND, EABI */
    }
}

int app_exit_from_img(int status)
{
    switch (status) {
    case APP_IMG_OK: return APP_EXIT_OK;
    case APP_IMG_EIO: return APP_EXIT_IO;
    case APP_IMG_ECORRUPT:
    case APP_IMG_EALPHA:
    case APP_IMG_EUNSUPPORTED: return APP_EXIT_INVALID; /* the file is not one we can use */
    case APP_IMG_ELIMIT: return APP_EXIT_LIMIT;
    default: return APP_EXIT_FAILURE;
    }
}

void app_err(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void app_log_stderr(void *opaque, int level, const char *msg)
{
    (void)opaque;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    const char *name = level >= 0 && level <= 3 ? names[level] : "log";
    /* One fprintf per line: stdio locks the stream, so lines from library threads do not mix. */
    fprintf(stderr, "lic: %s: %s\n", name, msg ? msg : "");
}

/* ---- option parsing ----------------------------------------------------------------------------- */

void app_args_init(app_args *a, int argc, char **argv)
{
    a->argc = argc;
    a->argv = argv;
    a->i = 1;
    a->cluster = 0;
    a->positional = 0;
}

int app_next_opt(app_args *a, const app_opt *opts, const char **arg, char *msg, size_t msg_size)
{
    *arg = NULL;
    if (a->cluster) { /* continue "-abc" */
        const char *s = a->argv[a->i];
        char c = s[a->cluster];
        const app_opt *o = opts;
        while (o->long_name && o->short_name != c)
            o++;
        if (!o->long_name) {
            snprintf(msg, msg_size, "unknown option '-%c'", c);
            return APP_OPT_ERROR;
        }
        a->cluster++;
        if (o->has_arg) {
            if (s[a->cluster]) { /* -q75 */
                *arg = s + a->cluster;
            } else if (a->i + 1 < a->argc) { /* -q 75 */
                *arg = a->argv[++a->i];
            } else {
                snprintf(msg, msg_size, "option '-%c' needs an argument", c);
                return APP_OPT_ERROR;
            }
            a->cluster = 0;
            a->i++;
        } else if (!s[a->cluster]) {
            a->cluster = 0;
            a->i++;
        }
        return o->id;
    }
    if (a->i >= a->argc)
        return APP_OPT_END;
    const char *s = a->argv[a->i];
    if (a->positional || s[0] != '-' || s[1] == '\0') { /* "-" is stdin/stdout */
        *arg = s;
        a->i++;
        return APP_OPT_POSITIONAL;
    }
    if (s[1] != '-') {
        a->cluster = 1;
        return app_next_opt(a, opts, arg, msg, msg_size);
    }
    if (s[2] == '\0') { /* "--" */
        a->positional = 1;
        a->i++;
        return app_next_opt(a, opts, arg, msg, msg_size);
    }
    const char *name = s + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const app_opt *o = opts;
    while (o->long_name && (strlen(o->long_name) != len || strncmp(o->long_name, name, len)))
        o++;
    if (!o->long_name) {
        snprintf(msg, msg_size, "unknown option '--%.*s'", (int)len, name);
        return APP_OPT_ERROR;
    }
    a->i++;
    if (o->has_arg) {
        if (eq) {
            *arg = eq + 1;
        } else if (a->i < a->argc) {
            *arg = a->argv[a->i++];
        } else {
            snprintf(msg, msg_size, "option '--%s' needs an argument", o->long_name);
            return APP_OPT_ERROR;
        }
    } else if (eq) {
        snprintf(msg, msg_size, "option '--%s' takes no argument", o->long_name);
        return APP_OPT_ERROR;
    }
    return o->id;
}

int app_parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int app_parse_backend(const char *s, lic_backend_kind *out)
{
    if (!strcmp(s, "cpu"))
        *out = LIC_BACKEND_CPU;
    else if (!strcmp(s, "cuda"))
        *out = LIC_BACKEND_CUDA;
    else if (!strcmp(s, "auto"))
        *out = LIC_BACKEND_AUTO;
    else
        return -1;
    return 0;
}

int app_usage_error(const char *prog, const char *what)
{
    app_err(prog, "%s", what);
    fprintf(stderr, "Try '%s --help'.\n", prog);
    return APP_EXIT_USAGE;
}

double app_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- library options ---------------------------------------------------------------------------- */

int app_lib_opts_parse(app_lib_opts *o, int id, const char *arg, const char **bad)
{
    switch (id) {
    case APP_LIB_OPT_MODEL: o->model_path = arg; return 1;
    case APP_LIB_OPT_THREADS:
        if (app_parse_int(arg, 0, 1024, &o->threads)) {
            *bad = "--threads must be an integer from 0 to 1024";
            return -1;
        }
        return 1;
    case APP_LIB_OPT_MAX_MEMORY:
        /* 2^24 MB = 16 TiB: far above any real cap, and << 20 still fits in 64 bits. */
        if (app_parse_int(arg, 0, 1L << 24, &o->max_memory_mb)) {
            *bad = "--max-memory must be a number of megabytes from 0 to 16777216";
            return -1;
        }
        return 1;
    case APP_LIB_OPT_BACKEND:
        if (app_parse_backend(arg, &o->backend)) {
            *bad = "--backend must be cpu, cuda or auto";
            return -1;
        }
        return 1;
    default: return 0;
    }
}

int app_log_level(int verbose)
{
    return verbose >= 2 ? LIC_LOG_DEBUG : verbose ? LIC_LOG_INFO : LIC_LOG_WARN;
}

int app_lib_config(const char *prog, const app_lib_opts *o, int log_level, lic_config *cfg)
{
    int r = lic_config_init(cfg);
    if (r) {
        app_err(prog, "cannot initialize the library: %s", lic_strerror(r));
        return app_exit_from_lic(r);
    }
    cfg->n_threads = (int)o->threads;
    if (o->max_memory_mb >= 0)
        cfg->max_memory = (uint64_t)o->max_memory_mb << 20;
    cfg->backend = o->backend;
    cfg->logger.callback = app_log_stderr;
    cfg->logger.max_level = log_level;
    return APP_EXIT_OK;
}

int app_load_model(const char *prog, const app_lib_opts *o, const lic_config *cfg, lic_model **model)
{
    int r = o->model_path ? lic_model_load_file(model, o->model_path, cfg) : lic_model_load_default(model, cfg);
    if (!r)
        return APP_EXIT_OK;
    if (o->model_path)
        app_err(prog, "cannot load model '%s': %s", o->model_path, lic_strerror(r));
    else
        app_err(prog, "cannot load the built-in model: %s", lic_strerror(r));
    return app_exit_from_lic(r);
}

/* ---- atomic output ------------------------------------------------------------------------------ */

/* The temporary file being written, for the signal handler. The tools write one output at a time. */
static char g_tmp_path[4096];
static volatile sig_atomic_t g_tmp_live;

static void on_fatal_signal(int sig)
{
    if (g_tmp_live)
        unlink(g_tmp_path); /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void watch_tmp(const char *path)
{
    static int installed;
    if (!installed) {
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = on_fatal_signal;
            sigemptyset(&sa.sa_mask);
            sigaction(sigs[i], &sa, NULL);
        }
        installed = 1;
    }
    if (path && strlen(path) < sizeof(g_tmp_path)) {
        memcpy(g_tmp_path, path, strlen(path) + 1);
        g_tmp_live = 1;
    } else {
        g_tmp_live = 0;
    }
}

static void out_reset(app_out *o)
{
    free(o->target);
    free(o->tmp);
    memset(o, 0, sizeof(*o));
}

static int out_open_resolved(app_out *o, const char *path, char *msg, size_t msg_size)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(msg, msg_size, "cannot write '%s': is a directory", path);
            return APP_EXIT_IO;
        }
        /* A device or FIFO cannot be replaced atomically (and must never be renamed over). */
        o->f = fopen(path, "wb");
        if (!o->f) {
            snprintf(msg, msg_size, "cannot open '%s': %s", path, strerror(errno));
            return APP_EXIT_IO;
        }
        o->target = strdup(path);
        if (!o->target) {
            fclose(o->f);
            o->f = NULL;
            return APP_EXIT_FAILURE;
        }
        return 0;
    }
    /* "<dir>/.<name>.tmp-XXXXXX": same directory as the target, hidden, unique. */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dirlen;
    size_t n = strlen(path) + 16;
    o->target = strdup(path);
    o->tmp = malloc(n);
    if (!o->target || !o->tmp) {
        out_reset(o);
        snprintf(msg, msg_size, "out of memory");
        return APP_EXIT_FAILURE;
    }
    snprintf(o->tmp, n, "%.*s.%s.tmp-XXXXXX", (int)dirlen, path, base);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        snprintf(msg, msg_size, "cannot create a file next to '%s': %s", path, strerror(errno));
        out_reset(o);
        return APP_EXIT_IO;
    }
    watch_tmp(o->tmp);
    /* mkstemp makes 0600; give the result the mode a plain fopen() would have given it. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        snprintf(msg, msg_size, "cannot open '%s': %s", o->tmp, strerror(errno));
        close(fd);
        app_out_abort(o);
        return APP_EXIT_IO;
    }
    return 0;
}

void app_out_abort(app_out *o)
{
    if (o->f && o->f != stdout)
        fclose(o->f);
    if (o->tmp) {
        unlink(o->tmp);
        watch_tmp(NULL);
    }
    out_reset(o);
}

int app_out_commit(app_out *o, char *msg, size_t msg_size)
{
    if (!o->f) {
        snprintf(msg, msg_size, "no output open");
        return APP_EXIT_FAILURE;
    }
    const char *name = o->target ? o->target : "standard output";
    if (fflush(o->f) != 0 || ferror(o->f)) {
        snprintf(msg, msg_size, "cannot write '%s': %s", name, strerror(errno));
        app_out_abort(o);
        return APP_EXIT_IO;
    }
    if (o->f == stdout) {
        memset(o, 0, sizeof(*o));
        return 0;
    }
    /* fsync before rename: after a crash the target holds either the old or the new bytes. */
    if (o->tmp && fsync(fileno(o->f)) != 0 && errno != EINVAL) {
        snprintf(msg, msg_size, "cannot write '%s': %s", name, strerror(errno));
        app_out_abort(o);
        return APP_EXIT_IO;
    }
    FILE *f = o->f;
    o->f = NULL;
    if (fclose(f) != 0) {
        snprintf(msg, msg_size, "cannot write '%s': %s", name, strerror(errno));
        app_out_abort(o);
        return APP_EXIT_IO;
    }
    if (o->tmp && rename(o->tmp, o->target) != 0) {
        snprintf(msg, msg_size, "cannot replace '%s': %s", name, strerror(errno));
        app_out_abort(o);
        return APP_EXIT_IO;
    }
    if (o->tmp)
        watch_tmp(NULL);
    out_reset(o);
    return 0;
}

int app_out_open(app_out *o, const char *path, char *msg, size_t msg_size)
{
    memset(o, 0, sizeof(*o));
    if (!strcmp(path, "-")) {
        o->f = stdout;
        return 0;
    }
    /* A symbolic link is followed: the temporary file goes next to its target and the rename replaces
     * the target, not the link. */
    struct stat lst;
    if (lstat(path, &lst) != 0 || !S_ISLNK(lst.st_mode))
        return out_open_resolved(o, path, msg, msg_size);
    char *real = realpath(path, NULL);
    if (!real) {
        snprintf(msg, msg_size, "cannot resolve the symbolic link '%s': %s", path, strerror(errno));
        return APP_EXIT_IO;
    }
    int r = out_open_resolved(o, real, msg, msg_size);
    free(real);
    return r;
}

int app_out_write_all(const char *path, const void *data, size_t size, char *msg, size_t msg_size)
{
    app_out o;
    int r = app_out_open(&o, path, msg, msg_size);
    if (r)
        return r;
    if (size && fwrite(data, 1, size, o.f) != size) {
        snprintf(msg, msg_size, "cannot write '%s': %s", strcmp(path, "-") ? path : "standard output",
                 strerror(errno));
        app_out_abort(&o);
        return APP_EXIT_IO;
    }
    return app_out_commit(&o, msg, msg_size);
}

void app_print_coding_stats(const char *prog, const lic_stats *st)
{
    fprintf(stderr, "%s: streams: z %zu bytes, y %zu bytes; %llu symbols, symbols hash %016llx, params hash %016llx\n",
            prog, st->stream_bytes[0], st->stream_bytes[1], (unsigned long long)st->n_symbols,
            (unsigned long long)st->symbols_hash, (unsigned long long)st->params_hash);
}
