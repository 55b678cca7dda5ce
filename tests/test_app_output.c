/* Tests of apps/output.c: the output file never costs the user a file. The input is never the output
 * (same inode through symbolic and hard links), a target this user may not write is refused and left
 * untouched (checked as user nobody when the test runs as root, since root may write anything), an
 * existing target keeps its mode (and, as root, its owner), names up to NAME_MAX work, devices are written in place, and a
 * symbolic link stays a link. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "apps/cli_common.h"
#include "apps/output.h"

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "%s/lic-out-test.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir))
        return -1;
    return chmod(g_dir, 0777); /* world-writable without the sticky bit: the case */
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd);
}

static const char *path_in(const char *name)
{
    static char buf[2][600];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", g_dir, name);
    return buf[k];
}

static void put(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static char *get(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Number of entries in g_dir: a leftover temporary file shows up here. */
static int entries(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", g_dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static void test_same_file(void **state)
{
    (void)state;
    char a[512], b[512], s[512], h[512];
    snprintf(a, sizeof(a), "%s", path_in("a.png"));
    snprintf(b, sizeof(b), "%s", path_in("b.png"));
    snprintf(s, sizeof(s), "%s", path_in("sym.png"));
    snprintf(h, sizeof(h), "%s", path_in("hard.png"));
    put(a, "image", 0644);
    put(b, "other", 0644);
    unlink(s);
    unlink(h);
    assert_int_equal(symlink("a.png", s), 0);
    assert_int_equal(link(a, h), 0);
    assert_true(app_same_file(a, a));
    assert_true(app_same_file(a, s));
    assert_true(app_same_file(s, h));
    assert_false(app_same_file(a, b));
    assert_false(app_same_file(a, path_in("missing.png")));

    char msg[256] = "";
    const char *in[1] = {a};
    assert_int_equal(app_out_check(a, in, 1, msg, sizeof(msg)), APP_EXIT_USAGE);
    assert_non_null(strstr(msg, "input"));
    assert_int_equal(app_out_check(s, in, 1, msg, sizeof(msg)), APP_EXIT_USAGE);
    assert_int_equal(app_out_check(h, in, 1, msg, sizeof(msg)), APP_EXIT_USAGE);
    assert_int_equal(app_out_check(b, in, 1, msg, sizeof(msg)), 0);
    assert_int_equal(app_out_check("", in, 1, msg, sizeof(msg)), APP_EXIT_USAGE);
    assert_int_equal(app_out_check(g_dir, in, 1, msg, sizeof(msg)), APP_EXIT_IO);
    assert_int_equal(app_out_check(path_in("no/such/x.png"), in, 1, msg, sizeof(msg)), APP_EXIT_IO);
    assert_non_null(strstr(msg, "does not exist"));
    assert_string_equal(get(a), "image");
}

static void test_replace_keeps_mode(void **state)
{
    (void)state;
    char msg[256];
    const char *p = path_in("keep.lic");
    put(p, "old", 0640);
    int before = entries();
    assert_int_equal(app_out_write_all(p, "new bytes", 9, msg, sizeof(msg)), 0);
    assert_string_equal(get(p), "new bytes");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(entries(), before);
    /* Root may keep the owner too: a file of nobody's stays nobody's. */
    if (geteuid() == 0) {
        put(p, "old", 0600);
        assert_int_equal(chown(p, 65534, 65534), 0);
        assert_int_equal(app_out_write_all(p, "root's bytes", 12, msg, sizeof(msg)), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_uid, 65534);
        assert_int_equal(st.st_gid, 65534);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_string_equal(get(p), "root's bytes");
    }
    /* A new file gets the umask's mode, as fopen() would give it. */
    const char *q = path_in("new.lic");
    unlink(q);
    mode_t mask = umask(022);
    assert_int_equal(app_out_write_all(q, "x", 1, msg, sizeof(msg)), 0);
    umask(mask);
    assert_int_equal(stat(q, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
}

/* As nobody (when root) or as ourselves: a read-only file owned by someone else in a world-writable
 * directory must not be replaced, although the directory would allow the rename. */
static int try_write_as_user(const char *p, int drop)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (drop && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(100);
        char msg[256];
        int r = app_out_write_all(p, "replaced", 8, msg, sizeof(msg));
        _exit(r == APP_EXIT_IO && strstr(msg, "left as it is") ? 0 : 1 + r);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_unwritable_target_refused(void **state)
{
    (void)state;
    const char *p = path_in("readonly.png");
    put(p, "precious", 0444);
    int before = entries();
    const int root = geteuid() == 0;
    int r = try_write_as_user(p, root);
    if (r == 100)
        skip(); /* root, but setuid(nobody) failed: nothing honest to check */
    assert_int_equal(r, 0);
    assert_string_equal(get(p), "precious");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0444);
    assert_int_equal(entries(), before);
    /* The preflight check says the same before any work. */
    if (!root) {
        char msg[256];
        assert_int_equal(app_out_check(p, NULL, 0, msg, sizeof(msg)), APP_EXIT_IO);
    }
}

static void test_long_names(void **state)
{
    (void)state;
    char msg[256], name[300];
    for (size_t len = 240; len <= 255; len += 5) {
        memset(name, 'n', len);
        memcpy(name + len - 4, ".lic", 5);
        const char *p = path_in(name);
        put(p, "old", 0644);
        assert_int_equal(app_out_write_all(p, "new", 3, msg, sizeof(msg)), 0);
        assert_string_equal(get(p), "new");
        unlink(p);
        /* and when it does not exist yet */
        assert_int_equal(app_out_write_all(p, "new", 3, msg, sizeof(msg)), 0);
        assert_string_equal(get(p), "new");
        unlink(p);
    }
    memset(name, 'n', 256);
    name[256] = '\0';
    assert_int_equal(app_out_write_all(path_in(name), "x", 1, msg, sizeof(msg)), APP_EXIT_IO);
}

static void test_in_place_and_links(void **state)
{
    (void)state;
    char msg[256];
    assert_true(app_out_is_stdout("-"));
    assert_true(app_out_is_stdout("/dev/stdout"));
    assert_false(app_out_is_stdout("/dev/stdout2"));
    assert_false(app_out_is_stdout("out.png"));
    /* A device is written in place, never renamed over. */
    assert_int_equal(app_out_write_all("/dev/null", "abc", 3, msg, sizeof(msg)), 0);
    struct stat st;
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(app_out_check("/dev/null", NULL, 0, msg, sizeof(msg)), 0);
    /* A symbolic link stays a link; its target gets the bytes and keeps its mode. */
    const char *t = path_in("target.png");
    put(t, "old", 0600);
    const char *l = path_in("link.png");
    unlink(l);
    assert_int_equal(symlink("target.png", l), 0);
    assert_int_equal(app_out_write_all(l, "new", 3, msg, sizeof(msg)), 0);
    assert_int_equal(lstat(l, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(get(t), "new");
    assert_int_equal(stat(t, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* A dangling link is refused, and an empty name is a usage error. */
    const char *d = path_in("dangling.png");
    unlink(d);
    assert_int_equal(symlink("nowhere/x.png", d), 0);
    assert_int_equal(app_out_write_all(d, "x", 1, msg, sizeof(msg)), APP_EXIT_IO);
    assert_int_equal(app_out_write_all("", "x", 1, msg, sizeof(msg)), APP_EXIT_USAGE);
    /* A failed output leaves nothing behind. */
    int before = entries();
    app_out o;
    assert_int_equal(app_out_open(&o, path_in("aborted.png"), msg, sizeof(msg)), 0);
    fputs("partial", o.f);
    app_out_abort(&o);
    assert_int_equal(entries(), before);
    assert_int_equal(access(path_in("aborted.png"), F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_file),
        cmocka_unit_test(test_replace_keeps_mode),
        cmocka_unit_test(test_unwritable_target_refused),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_in_place_and_links),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
