#include "ck_histogram.h"
#include <math.h>

void ck_abs_stats_f32__scalar(const float *x, size_t n, ck_abs_stats *out) {
    float m = 0.0f;
    int64_t nf = 0, z = 0, neg = 0;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) { nf++; continue; }
        if (v == 0.0f) { z++; continue; }
        if (v < 0.0f) neg++;
        float a = fabsf(v);
        if (a > m) m = a;
    }
    out->max_abs = m;
    out->non_finite = nf;
    out->zeros = z;
    out->negatives = neg;
}

void ck_abs_histogram_f32__scalar(const float *x, size_t n, int exponent, int bits, int64_t *bins) {
    const float scale = ldexpf(1.0f, bits - exponent);
    const int32_t last = (1 << bits) - 1;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v) || v == 0.0f) continue;
        int32_t idx = (int32_t)(fabsf(v) * scale);
        if (idx > last) idx = last;  /* unreachable when the caller's contract holds */
        bins[idx]++;
    }
}
