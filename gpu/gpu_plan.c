/* lic gpu: the device memory plan — tile grid, halo and buffer sizes for one padded image size.
 *
 * Pure host code, compiled with or without CUDA, so that CI tests it. The buffer walk below is the
 * contract with gpu/cuda/backend.c: the backend puts every layer output into the activation buffer
 * this walk assigns (checking the size at run time), so the plan's sizes are exact maxima. */
#include <string.h>

#include "gpu/gpu.h"

#define TILE_ALIGN 64 /* core tiles: whole latents of h_a's 1/64 grid, so tiling never splits a z */
#define DNN_MAX_ELEMS 0x7fffffffull /* cuDNN's legacy API takes no tensor of 2^31 elements or more */

static void upd(uint64_t *act, int i, uint64_t n)
{
    if (n > act[i])
        act[i] = n;
}

static int out_side(const lic_conv_layer *L, int in)
{
    return L->transposed ? in * L->stride : lic_conv_out_size(in, L->stride);
}

static uint64_t cnt(int c, int h, int w)
{
    return (uint64_t)c * (uint64_t)h * (uint64_t)w;
}

/* g_a on an h x w window: input in act[0], then ping-pong 1, 0, 1, 0 (y tile in act[0]). */
static void walk_analysis(const lic_gpu_model *m, int h, int w, uint64_t *act)
{
    upd(act, 0, cnt(3, h, w));
    int cur = 0;
    for (int i = 0; i < 4; i++) {
        h = out_side(&m->g_a[i], h);
        w = out_side(&m->g_a[i], w);
        upd(act, 1 - cur, cnt(m->g_a[i].cout, h, w));
        cur = 1 - cur;
    }
}

/* h_a on the whole latent (held in the y buffer): outputs in act[0], act[1], act[0]. */
static void walk_hyper(const lic_gpu_model *m, int h, int w, uint64_t *act)
{
    for (int i = 0; i < 3; i++) {
        h = out_side(&m->h_a[i], h);
        w = out_side(&m->h_a[i], w);
        upd(act, i == 1, cnt(m->h_a[i].cout, h, w));
    }
}

/* g_s on a th x tw latent window: input in act[0], ping-pong 1, 0, 1, 0; sub-pixel convs write their
 * wide output to act[2] and shuffle it into the ping-pong buffer. */
static void walk_synthesis(const lic_gpu_model *m, int h, int w, uint64_t *act)
{
    upd(act, 0, cnt(m->g_s[0].cin, h, w));
    int cur = 0;
    for (int i = 0; i < 4; i++) {
        const lic_conv_layer *L = &m->g_s[i];
        h = out_side(L, h);
        w = out_side(L, w);
        if (m->subpel) {
            upd(act, 2, cnt(L->cout, h, w));
            h *= 2, w *= 2;
            upd(act, 1 - cur, cnt(L->cout / 4, h, w));
        } else {
            upd(act, 1 - cur, cnt(L->cout, h, w));
        }
        cur = 1 - cur;
    }
}

static uint64_t conv_weights(const lic_conv_layer *L, int n, int elem_size)
{
    uint64_t b = 0;
    for (int i = 0; i < n; i++)
        b += cnt(L[i].cin, L[i].cout, L[i].k * L[i].k) * (uint64_t)elem_size + 4u * (uint64_t)L[i].cout;
    return b;
}

static uint64_t gdn_weights(const lic_gdn_layer *L, int n)
{
    uint64_t b = 0;
    for (int i = 0; i < n; i++)
        b += 4u * ((uint64_t)L[i].c + (uint64_t)L[i].c * (uint64_t)L[i].c);
    return b;
}

int lic_gpu_halo(const lic_gpu_model *m)
{
    /* g_a: an output o of a stride-s conv with padding p reads inputs o*s - p .. o*s + p, so if the
     * first d inputs next to a tile edge are wrong (zeros instead of the neighbour's pixels), the first
     * ceil((d + p) / s) outputs are. The window's own pixels are right: d starts at 0. */
    int da = 0;
    for (int i = 0; i < 4; i++) {
        int s = m->g_a[i].stride, p = m->g_a[i].k / 2;
        da = (da + p + s - 1) / s;
    }
    /* g_s: a transposed conv spreads each input over s*i - p .. s*i + p, so d wrong inputs make
     * s*d + p wrong outputs; a stride-1 conv adds p, a pixel shuffle doubles. In output pixels. */
    int ds = 0;
    for (int i = 0; i < 4; i++) {
        const lic_conv_layer *L = &m->g_s[i];
        int p = L->k / 2;
        if (m->subpel)
            ds = 2 * (ds * L->stride + p);
        else
            ds = ds * L->stride + p;
    }
    int lat = da > (ds + 15) / 16 ? da : (ds + 15) / 16;
    return 16 * (lat + 1);
}

/* The plan fits the budget and every tensor fits cuDNN. */
static int fits(const lic_gpu_plan *p, uint64_t budget)
{
    for (int i = 0; i < 3; i++)
        if (p->act_count[i] > DNN_MAX_ELEMS)
            return 0;
    return p->y_count <= DNN_MAX_ELEMS && p->tiles_y * p->tiles_x <= LIC_GPU_MAX_TILES && p->bytes <= budget;
}

static int model_ok(const lic_gpu_model *m)
{
    if (!m || !m->g_a || !m->h_a || !m->g_s || !m->g_a_gdn || !m->g_s_igdn)
        return 0;
    for (int i = 0; i < 4; i++) {
        const lic_conv_layer *a = &m->g_a[i], *s = &m->g_s[i];
        if (a->transposed || a->stride != 2 || a->k < 1 || a->k > 15 || a->cin < 1 || a->cout < 1)
            return 0;
        if (s->k < 1 || s->k > 15 || s->cin < 1 || s->cout < 1 || (m->subpel && (s->transposed || s->stride != 1 || s->cout % 4)) ||
            (!m->subpel && (!s->transposed || s->stride != 2)))
            return 0;
    }
    for (int i = 0; i < 3; i++) {
        const lic_conv_layer *h = &m->h_a[i];
        if (h->transposed || h->stride < 1 || h->stride > 2 || h->k < 1 || h->k > 15 || h->cin < 1 || h->cout < 1)
            return 0;
    }
    return m->g_a[0].cin == 3 && (m->subpel ? m->g_s[3].cout == 12 : m->g_s[3].cout == 3);
}

static void fill(const lic_gpu_model *m, int ph, int pw, int elem_size, int tile, int halo, lic_gpu_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->ph = ph, p->pw = pw, p->tile = tile, p->elem_size = elem_size;
    p->tiles_y = (ph + tile - 1) / tile;
    p->tiles_x = (pw + tile - 1) / tile;
    p->halo = p->tiles_y * p->tiles_x > 1 ? halo : 0;
    /* The largest window: a core plus a halo each side, clipped to the image. Buffer sizes grow with
     * each side, so this window bounds every other. */
    int wh = tile + 2 * p->halo < ph ? tile + 2 * p->halo : ph;
    int ww = tile + 2 * p->halo < pw ? tile + 2 * p->halo : pw;
    int lh = ph / 16, lw = pw / 16;
    walk_analysis(m, wh, ww, p->act_count);
    walk_hyper(m, lh, lw, p->act_count);
    walk_synthesis(m, wh / 16, ww / 16, p->act_count);
    if (!m->subpel)
        p->act_count[2] = 0;
    int M = m->g_a[3].cout;
    p->y_count = cnt(M, lh, lw);
    /* FP16 moves data through a float staging buffer (convert, then copy); FP32 copies directly. */
    if (elem_size != 4) {
        uint64_t s = cnt(3, wh, ww);
        if (p->y_count > s)
            s = p->y_count;
        p->staging_count = s; /* z (N_z x lh/4 x lw/4) is smaller than y */
    }
    p->weight_bytes = conv_weights(m->g_a, 4, elem_size) + conv_weights(m->h_a, 3, elem_size) +
                      conv_weights(m->g_s, 4, elem_size) + gdn_weights(m->g_a_gdn, 3) +
                      gdn_weights(m->g_s_igdn, 3) + 4u * (uint64_t)M;
    p->bytes = (uint64_t)elem_size * (p->act_count[0] + p->act_count[1] + p->act_count[2] + p->y_count) +
               4u * p->staging_count + p->weight_bytes;
}

int lic_gpu_plan_make(const lic_gpu_model *m, int ph, int pw, int elem_size, uint64_t budget, int force_tile,
                      lic_gpu_plan *plan)
{
    if (!plan)
        return LIC_EINVAL;
    memset(plan, 0, sizeof(*plan));
    if (!model_ok(m) || ph < 64 || pw < 64 || ph % 64 || pw % 64 || ph > (1 << 20) || pw > (1 << 20) ||
        (elem_size != 2 && elem_size != 4) || force_tile < 0 || force_tile % TILE_ALIGN)
        return LIC_EINVAL;
    int halo = lic_gpu_halo(m);
    if (force_tile) {
        fill(m, ph, pw, elem_size, force_tile, halo, plan);
        return fits(plan, UINT64_MAX) ? LIC_OK : LIC_ELIMIT;
    }
    static const int sides[] = {8192, 6144, 4096, 3072, 2048, 1536, 1024, 768, 512, 384, 256};
    int whole = ph > pw ? ph : pw;
    fill(m, ph, pw, elem_size, whole, halo, plan);
    if (fits(plan, budget))
        return LIC_OK;
    for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
        if (sides[i] >= whole)
            continue;
        fill(m, ph, pw, elem_size, sides[i], halo, plan);
        if (fits(plan, budget))
            return LIC_OK;
    }
    return LIC_ELIMIT;
}
