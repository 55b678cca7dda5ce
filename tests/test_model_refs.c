/* Tests of the model's reference count through the public API: lic_model_retain/lic_model_release
 * with a model shared by two encoders, released in different orders. Whether the model is freed is
 * seen through a counting allocator in lic_config.allocator: it is freed exactly when the live block
 * count returns to zero after the last reference goes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lic/codec.h"

#define TINY_MODEL "testdata/models/tiny.licw"

/* Counts live blocks. Each block carries a header with the offset back to the malloc'd base, so the
 * caller's alignment is kept and the free can find the base. */
typedef struct live_counter {
    atomic_long live;
} live_counter;

static void *counting_alloc(void *opaque, size_t size, size_t align)
{
    live_counter *c = opaque;
    if (align < sizeof(void *))
        align = sizeof(void *);
    void *base = NULL;
    if (posix_memalign(&base, align, size + align) != 0)
        return NULL;
    uint8_t *p = (uint8_t *)base + align;
    memcpy(p - sizeof(void *), &base, sizeof(void *));
    atomic_fetch_add(&c->live, 1);
    return p;
}

static void counting_free(void *opaque, void *p)
{
    live_counter *c = opaque;
    if (!p)
        return;
    void *base;
    memcpy(&base, (uint8_t *)p - sizeof(void *), sizeof(void *));
    atomic_fetch_sub(&c->live, 1);
    free(base);
}

static lic_config counted_config(live_counter *c)
{
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.allocator.opaque = c;
    cfg.allocator.alloc = counting_alloc;
    cfg.allocator.free = counting_free;
    cfg.n_threads = 1;
    cfg.backend = LIC_BACKEND_CPU;
    return cfg;
}

/* Encodes a small image with `enc`: proves the model behind it is still usable. */
static void encode_one(lic_encoder *enc)
{
    enum { W = 40, H = 24 };
    uint8_t px[W * H * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 7 + i / 13);
    lic_image img = {W, H, LIC_PIXFMT_RGB8, px, W * 3};
    uint8_t *bits = NULL;
    size_t n = 0;
    assert_int_equal(lic_encode(enc, &img, 50, &bits, &n), 0);
    assert_true(n > 0);
    lic_free(bits);
}

static lic_model *load_counted(live_counter *c, lic_config *cfg)
{
    *cfg = counted_config(c);
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, TINY_MODEL, cfg), 0);
    assert_non_null(m);
    assert_true(atomic_load(&c->live) > 0);
    return m;
}

/* retain returns its argument; release clears the caller's pointer and is safe on NULL. */
static void test_retain_release_basics(void **state)
{
    (void)state;
    live_counter c = {0};
    lic_config cfg;
    lic_model *m = load_counted(&c, &cfg);
    assert_ptr_equal(lic_model_retain(m), m);
    assert_null(lic_model_retain(NULL));
    lic_model *second = m;
    lic_model_release(&m);
    assert_null(m);
    assert_true(atomic_load(&c.live) > 0); /* `second` still holds a reference */
    lic_model_info info;
    assert_int_equal(lic_model_get_info(second, &info), 0);
    lic_model_release(&second);
    assert_null(second);
    assert_int_equal(atomic_load(&c.live), 0);
    lic_model_release(&second); /* *m == NULL */
    lic_model_release(NULL);
}

/* The caller shares the model with two encoders and drops its references first: the encoders keep
 * the model alive, and the last close frees it. */
static void test_caller_releases_first(void **state)
{
    (void)state;
    live_counter c = {0};
    lic_config cfg;
    lic_model *m = load_counted(&c, &cfg);
    lic_model *shared = lic_model_retain(m); /* e.g. handed to another part of the caller */
    lic_encoder *a = NULL, *b = NULL;
    assert_int_equal(lic_encoder_open(&a, m, &cfg), 0);
    assert_int_equal(lic_encoder_open(&b, shared, &cfg), 0);
    lic_model_release(&m);
    lic_model_release(&shared);
    encode_one(a);
    lic_encoder_close(&a);
    encode_one(b); /* b's reference alone keeps the model */
    lic_encoder_close(&b);
    assert_int_equal(atomic_load(&c.live), 0);
}

/* The encoders close first, in the other order: the caller's references keep the model until the
 * last of them is released. */
static void test_encoders_close_first(void **state)
{
    (void)state;
    live_counter c = {0};
    lic_config cfg;
    lic_model *m = load_counted(&c, &cfg);
    lic_model *shared = lic_model_retain(m);
    lic_encoder *a = NULL, *b = NULL;
    assert_int_equal(lic_encoder_open(&a, m, &cfg), 0);
    assert_int_equal(lic_encoder_open(&b, m, &cfg), 0);
    lic_encoder_close(&b);
    lic_encoder_close(&a);
    long with_model = atomic_load(&c.live);
    assert_true(with_model > 0);
    lic_model_release(&shared);
    assert_int_equal(atomic_load(&c.live), with_model); /* m still holds one */
    lic_encoder *again = NULL;
    assert_int_equal(lic_encoder_open(&again, m, &cfg), 0);
    encode_one(again);
    lic_encoder_close(&again);
    lic_model_release(&m);
    assert_int_equal(atomic_load(&c.live), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retain_release_basics),
        cmocka_unit_test(test_caller_releases_first),
        cmocka_unit_test(test_encoders_close_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
