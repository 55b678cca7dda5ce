/* apps: output files that never cost the user a file. See output.h. */
#define _XOPEN_SOURCE 700 /* realpath() */
#include "apps/output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/cli_common.h"

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

/* ".<name>.tmp-XXXXXX": what the temporary name adds to (a prefix of) the target's name. */
#define TMP_PREFIX "."
#define TMP_SUFFIX ".tmp-XXXXXX"
#define TMP_EXTRA (sizeof(TMP_PREFIX) - 1 + sizeof(TMP_SUFFIX) - 1)

int app_out_is_stdout(const char *path)
{
    return !strcmp(path, "-") || !strcmp(path, "/dev/stdout");
}

/* stat of a tool argument: "-" is standard input (is_input) or standard output. */
static int stat_arg(const char *path, int is_input, struct stat *st)
{
    if (!strcmp(path, "-"))
        return fstat(is_input ? STDIN_FILENO : STDOUT_FILENO, st);
    return stat(path, st);
}

int app_same_file(const char *in, const char *out)
{
    struct stat a, b;
    if (!in || !out || stat_arg(in, 1, &a) || stat_arg(out, 0, &b))
        return 0;
    /* Only a regular output file is truncated or replaced; a terminal or pipe that is both standard
     * input and output loses nothing. */
    return S_ISREG(b.st_mode) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The directory part of path ("." when it has none) in buf; returns buf, or NULL if too long. */
static char *dir_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(buf, size, ".") < (int)size ? buf : NULL;
    size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/x" -> "/" */
    if (n >= size)
        return NULL;
    memcpy(buf, path, n);
    buf[n] = '\0';
    return buf;
}

/* Whether this user may replace the regular file `path` (its target when it is a link) and create a
 * file next to it. Effective ids, as the writes will use: root passes, as it does with cp. */
static int check_replaceable(const char *path, int exists, char *msg, size_t msg_size)
{
    if (exists && faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0) {
        snprintf(msg, msg_size, "cannot write '%s': %s (the file is left as it is)", path, strerror(errno));
        return APP_EXIT_IO;
    }
    char dir[PATH_MAX];
    if (!dir_of(path, dir, sizeof(dir))) {
        snprintf(msg, msg_size, "cannot write '%s': %s", path, strerror(ENAMETOOLONG));
        return APP_EXIT_IO;
    }
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            snprintf(msg, msg_size, "cannot write '%s': the directory '%s' does not exist", path, dir);
        else
            snprintf(msg, msg_size, "cannot write '%s': cannot create files in '%s': %s", path, dir, strerror(errno));
        return APP_EXIT_IO;
    }
    return 0;
}

/* Classifies an output path: 1 written in place (stdout, device, FIFO), 0 a regular file to replace
 * or create (*real: malloc'd resolved path, *exists, *st), or an APP_EXIT_* code. */
static int classify(const char *path, char **real, int *exists, struct stat *st, char *msg, size_t msg_size)
{
    *real = NULL;
    *exists = 0;
    if (!*path) {
        snprintf(msg, msg_size, "the output file name is empty");
        return -APP_EXIT_USAGE;
    }
    if (app_out_is_stdout(path))
        return 1;
    if (stat(path, st) == 0) {
        if (S_ISDIR(st->st_mode)) {
            snprintf(msg, msg_size, "cannot write '%s': it is a directory", path);
            return -APP_EXIT_IO;
        }
        /* A device, FIFO or socket cannot be replaced atomically (and must never be renamed over). */
        if (!S_ISREG(st->st_mode))
            return 1;
        *exists = 1;
    } else if (errno != ENOENT) {
        snprintf(msg, msg_size, "cannot write '%s': %s", path, strerror(errno));
        return -APP_EXIT_IO;
    }
    /* A symbolic link is followed: the temporary file goes next to its target and the rename replaces
     * the target, not the link. A dangling link is refused rather than guessed at. */
    struct stat lst;
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        *real = realpath(path, NULL);
        if (!*real) {
            snprintf(msg, msg_size, "cannot resolve the symbolic link '%s': %s", path, strerror(errno));
            return -APP_EXIT_IO;
        }
    } else {
        *real = strdup(path);
        if (!*real) {
            snprintf(msg, msg_size, "out of memory");
            return -APP_EXIT_FAILURE;
        }
    }
    return 0;
}

int app_out_check(const char *path, const char *const *inputs, size_t n_inputs, char *msg, size_t msg_size)
{
    if (!*path) {
        snprintf(msg, msg_size, "the output file name is empty");
        return APP_EXIT_USAGE;
    }
    for (size_t i = 0; i < n_inputs; i++) {
        if (inputs[i] && app_same_file(inputs[i], path)) {
            snprintf(msg, msg_size, "the output '%s' is the input file '%s': choose another output name",
                     path, strcmp(inputs[i], "-") ? inputs[i] : "standard input");
            return APP_EXIT_USAGE;
        }
    }
    char *real;
    int exists;
    struct stat st;
    int r = classify(path, &real, &exists, &st, msg, msg_size);
    if (r)
        return r < 0 ? -r : 0;
    r = check_replaceable(real, exists, msg, msg_size);
    free(real);
    return r;
}

/* ---- atomic output ------------------------------------------------------------------------------ */

/* The temporary file being written, for the signal handler. The tools write one output at a time. */
static char g_tmp_path[PATH_MAX];
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
    g_tmp_live = 0;
    if (path && strlen(path) < sizeof(g_tmp_path)) {
        memcpy(g_tmp_path, path, strlen(path) + 1);
        g_tmp_live = 1;
    }
}

static void out_reset(app_out *o)
{
    free(o->target);
    free(o->tmp);
    memset(o, 0, sizeof(*o));
}

/* Gives the temporary file what the replaced file had: owner and group where the process may set
 * them, and the permission bits (set-id bits only when the owner could be kept too). A new file gets
 * what fopen() would have given it. */
static void copy_attributes(int fd, int exists, const struct stat *st)
{
    if (!exists) {
        mode_t mask = umask(0);
        umask(mask);
        (void)fchmod(fd, 0666 & ~mask);
        return;
    }
    mode_t mode = st->st_mode & 07777;
    if (fchown(fd, st->st_uid, st->st_gid) != 0) {
        mode &= ~(mode_t)(S_ISUID | S_ISGID);
        (void)fchown(fd, (uid_t)-1, st->st_gid); /* a group the user belongs to can still be kept */
    }
    (void)fchmod(fd, mode);
}

/* Creates "<dir>/.<name>.tmp-XXXXXX" next to `real`, the name cut short so that it stays within the
 * file system's name limit however long the target's name is. */
static int open_tmp(app_out *o, const char *real, int exists, const struct stat *st, char *msg, size_t msg_size)
{
    const char *slash = strrchr(real, '/');
    size_t dirlen = slash ? (size_t)(slash - real) + 1 : 0;
    const char *base = real + dirlen;
    char dir[PATH_MAX];
    long name_max = dir_of(real, dir, sizeof(dir)) ? pathconf(dir, _PC_NAME_MAX) : -1;
    if (name_max <= 0 || name_max > NAME_MAX)
        name_max = NAME_MAX;
    size_t keep = strlen(base);
    if (keep + TMP_EXTRA > (size_t)name_max)
        keep = (size_t)name_max > TMP_EXTRA ? (size_t)name_max - TMP_EXTRA : 0;
    size_t n = dirlen + TMP_EXTRA + keep + 1;
    o->tmp = malloc(n);
    if (!o->tmp) {
        snprintf(msg, msg_size, "out of memory");
        return APP_EXIT_FAILURE;
    }
    snprintf(o->tmp, n, "%.*s" TMP_PREFIX "%.*s" TMP_SUFFIX, (int)dirlen, real, (int)keep, base);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        snprintf(msg, msg_size, "cannot create a temporary file next to '%s': %s", o->target, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        return APP_EXIT_IO;
    }
    watch_tmp(o->tmp);
    copy_attributes(fd, exists, st);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        snprintf(msg, msg_size, "cannot open '%s': %s", o->tmp, strerror(errno));
        close(fd);
        return APP_EXIT_IO;
    }
    return 0;
}

int app_out_open(app_out *o, const char *path, char *msg, size_t msg_size)
{
    memset(o, 0, sizeof(*o));
    if (app_out_is_stdout(path)) {
        o->f = stdout;
        return 0;
    }
    char *real;
    int exists;
    struct stat st;
    int r = classify(path, &real, &exists, &st, msg, msg_size);
    if (r < 0)
        return -r;
    if (r == 1) { /* a device or FIFO: written in place */
        o->target = strdup(path);
        o->f = o->target ? fopen(path, "wb") : NULL;
        if (!o->f) {
            snprintf(msg, msg_size, "cannot open '%s': %s", path, o->target ? strerror(errno) : "out of memory");
            out_reset(o);
            return o->target ? APP_EXIT_IO : APP_EXIT_FAILURE;
        }
        return 0;
    }
    o->target = real;
    if ((r = check_replaceable(real, exists, msg, msg_size)) || (r = open_tmp(o, real, exists, &st, msg, msg_size))) {
        app_out_abort(o);
        return r;
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

int app_out_write_all(const char *path, const void *data, size_t size, char *msg, size_t msg_size)
{
    app_out o;
    int r = app_out_open(&o, path, msg, msg_size);
    if (r)
        return r;
    if (size && fwrite(data, 1, size, o.f) != size) {
        snprintf(msg, msg_size, "cannot write '%s': %s", o.target ? o.target : "standard output", strerror(errno));
        app_out_abort(&o);
        return APP_EXIT_IO;
    }
    return app_out_commit(&o, msg, msg_size);
}
