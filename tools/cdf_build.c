/* lic tools: offline construction of quantized CDF rows (see tools/cdf_build.h). Double precision,
 * libm allowed: nothing here runs inside the codec, whose tables come from the model file. */
#include "tools/cdf_build.h"

#include <math.h>
#include <stdlib.h>

#define CDF_TOTAL 65536           /* 2^16: the coder's frequency precision */
#define GAUSS_TAIL_MULT 6.109     /* -Phi^-1(1e-9 / 2): symbols beyond center carry < 1e-9 mass */

typedef struct rem_entry {
    double rem;
    int idx;
} rem_entry;

/* Largest remainder first, ties to the lowest index. */
static int cmp_rem(const void *pa, const void *pb)
{
    const rem_entry *a = pa, *b = pb;
    if (a->rem != b->rem)
        return a->rem > b->rem ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Max-heap of symbol indices keyed by (freq descending, index ascending). */
static int heap_above(const int32_t *freq, int a, int b)
{
    return freq[a] > freq[b] || (freq[a] == freq[b] && a < b);
}

static void heap_sift_down(int *heap, int size, const int32_t *freq, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, top = i;
        if (l < size && heap_above(freq, heap[l], heap[top]))
            top = l;
        if (r < size && heap_above(freq, heap[r], heap[top]))
            top = r;
        if (top == i)
            return;
        int t = heap[i];
        heap[i] = heap[top];
        heap[top] = t;
        i = top;
    }
}

int lic_cdf_from_pmf(const double *pmf, int n, double tail, int32_t *cdf)
{
    if (!pmf || !cdf || n < 1 || n > CDF_TOTAL - 1) /* n + 1 symbols, each needs a count */
        return -1;
    const int ns = n + 1; /* symbols: the n values and the escape */
    double total = 0.0;
    for (int i = 0; i < ns; i++) {
        const double p = i < n ? pmf[i] : tail;
        if (!isfinite(p) || p < 0.0)
            return -1;
        total += p;
    }
    if (!isfinite(total))
        return -1;

    int32_t *freq = malloc((size_t)ns * sizeof(*freq));
    rem_entry *rem = malloc((size_t)ns * sizeof(*rem));
    int *heap = malloc((size_t)ns * sizeof(*heap));
    if (!freq || !rem || !heap) {
        free(freq);
        free(rem);
        free(heap);
        return -1;
    }
    /* 1. Scale to 65536 counts: floor, then hand the missing counts to the largest remainders
     *    (ties to the lowest index), so the sum is exact and each count is within 1 of p * 65536
     *    (largest-remainder rounding). All-zero input: uniform. */
    int64_t sum = 0;
    for (int i = 0; i < ns; i++) {
        const double p = i < n ? pmf[i] : tail;
        const double q = total > 0.0 ? p / total * CDF_TOTAL : (double)CDF_TOTAL / ns;
        const double f = floor(q);
        freq[i] = (int32_t)f;
        rem[i] = (rem_entry){ q - f, i };
        sum += freq[i];
    }
    qsort(rem, (size_t)ns, sizeof(*rem), cmp_rem);
    /* 0 <= deficit < ns up to a few ulps of slack, which the modulo and the loop below absorb. */
    int64_t deficit = CDF_TOTAL - sum;
    for (int64_t k = 0; k < deficit; k++)
        freq[rem[k % ns].idx]++;

    /* 2. Every zero-frequency symbol (and any excess from rounding slack) is paid for by the
     *    currently largest count (ties to the lowest index). Always possible: ns <= 65536 symbols
     *    share 65536 counts, so some count exceeds 1 while a symbol has 0. The heap holds only the
     *    non-zero counts: a symbol raised from 0 to 1 never donates, since the top stays > 1 while
     *    any zero remains. */
    int hs = 0;
    for (int i = 0; i < ns; i++)
        if (freq[i] > 0)
            heap[hs++] = i;
    for (int i = hs / 2; i-- > 0;)
        heap_sift_down(heap, hs, freq, i);
    for (int64_t k = deficit; k < 0; k++) {
        freq[heap[0]]--;
        heap_sift_down(heap, hs, freq, 0);
    }
    for (int i = 0; i < ns; i++) {
        if (freq[i] > 0)
            continue;
        freq[heap[0]]--;
        freq[i] = 1;
        heap_sift_down(heap, hs, freq, 0);
    }
    cdf[0] = 0;
    for (int i = 0; i < ns; i++)
        cdf[i + 1] = cdf[i] + freq[i];
    free(freq);
    free(rem);
    free(heap);
    return 0;
}

/* Standard normal CDF, accurate in both tails (erfc rather than 1 - erf). */
static double std_normal_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

int lic_cdf_gaussian_row(double scale, int32_t *cdf, int32_t *offset)
{
    if (!cdf || !offset || !isfinite(scale) || scale <= 0.0)
        return -1;
    const double cd = ceil(scale * GAUSS_TAIL_MULT);
    if (cd > (CDF_TOTAL - 2) / 2) /* 2 * center + 2 symbols must fit 65536 counts */
        return -1;
    const int center = (int)cd;
    const int n = 2 * center + 1;
    double *pmf = malloc((size_t)n * sizeof(*pmf));
    if (!pmf)
        return -1;
    for (int i = 0; i < n; i++) {
        const double k = fabs((double)(i - center));
        pmf[i] = std_normal_cdf((0.5 - k) / scale) - std_normal_cdf((-0.5 - k) / scale);
    }
    /* The rest of the mass: both tails beyond +-(center + 0.5), computed directly rather than as
     * 1 - sum(pmf) to avoid cancellation. */
    const double tail = 2.0 * std_normal_cdf(-(center + 0.5) / scale);
    const int err = lic_cdf_from_pmf(pmf, n, tail, cdf);
    free(pmf);
    if (err)
        return -1;
    *offset = -center;
    return n + 2;
}

void lic_cdf_scale_table(double *scales, int n, double smin, double smax)
{
    if (!scales || n < 1)
        return;
    if (n == 1) {
        scales[0] = smin;
        return;
    }
    const double a = log(smin), b = log(smax);
    for (int i = 0; i < n; i++)
        scales[i] = exp(a + (b - a) * i / (n - 1));
    scales[0] = smin; /* exact endpoints */
    scales[n - 1] = smax;
}
