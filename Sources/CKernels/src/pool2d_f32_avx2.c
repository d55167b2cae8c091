// FP32 max/average pooling over one NHWC image, AVX2: vectorized over channels, 32 channels
// (4 ymm) per pass with a masked 8-channel tail; taps in the scalar twin's order, so max is
// identical and sums are added in the same order. Same semantics as pool2d_f32_scalar.c.
#include <math.h>
#include "ck_fp32.h"
#include "pool2d_f32_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T2 __attribute__((target("avx2,fma")))

/// mode 0: max (the scalar twin's `in > out` keeps out on NaN; max_ps(in, out) does the same), 1: sum * scale.
static inline __attribute__((always_inline)) CK_T2 void ck_pool_pixel2(int mode, size_t C, const float *input,
    const size_t *taps, size_t n, float scale, float *out) {
    const __m256 init = mode == 0 ? _mm256_set1_ps(-INFINITY) : _mm256_setzero_ps();
    const __m256 vs = _mm256_set1_ps(scale);
    size_t c = 0;
    for (; c + 32 <= C; c += 32) {
        __m256 a0 = init, a1 = init, a2 = init, a3 = init;
        for (size_t t = 0; t < n; t++) {
            const float *in = input + taps[t] + c;
            if (mode == 0) {
                a0 = _mm256_max_ps(_mm256_loadu_ps(in), a0);
                a1 = _mm256_max_ps(_mm256_loadu_ps(in + 8), a1);
                a2 = _mm256_max_ps(_mm256_loadu_ps(in + 16), a2);
                a3 = _mm256_max_ps(_mm256_loadu_ps(in + 24), a3);
            } else {
                a0 = _mm256_add_ps(a0, _mm256_loadu_ps(in));
                a1 = _mm256_add_ps(a1, _mm256_loadu_ps(in + 8));
                a2 = _mm256_add_ps(a2, _mm256_loadu_ps(in + 16));
                a3 = _mm256_add_ps(a3, _mm256_loadu_ps(in + 24));
            }
        }
        if (mode == 1) { a0 = _mm256_mul_ps(a0, vs); a1 = _mm256_mul_ps(a1, vs); a2 = _mm256_mul_ps(a2, vs); a3 = _mm256_mul_ps(a3, vs); }
        _mm256_storeu_ps(out + c, a0);
        _mm256_storeu_ps(out + c + 8, a1);
        _mm256_storeu_ps(out + c + 16, a2);
        _mm256_storeu_ps(out + c + 24, a3);
    }
    for (; c < C; c += 8) {
        const size_t rest = C - c;
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(rest >= 8 ? 8 : rest)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 a = init;
        for (size_t t = 0; t < n; t++) {
            const __m256 x = _mm256_maskload_ps(input + taps[t] + c, m);
            a = mode == 0 ? _mm256_max_ps(x, a) : _mm256_add_ps(a, x);
        }
        if (mode == 1) a = _mm256_mul_ps(a, vs);
        _mm256_maskstore_ps(out + c, m, a);
    }
}

static CK_T2 void ck_pool2d_avx2(int mode, const ck_pool2d_params *p, const float *input, float *output) {
    size_t taps[64];
    const size_t ktaps = p->kernel_h * p->kernel_w;
    if (ktaps > 64) {
        if (mode == 0) ck_maxpool2d_f32_nhwc__scalar(p, input, output);
        else ck_avgpool2d_f32_nhwc__scalar(p, input, output);
        return;
    }
    for (size_t oy = 0; oy < p->out_h; oy++)
        for (size_t ox = 0; ox < p->out_w; ox++) {
            const size_t n = ck_pool_taps(p, oy, ox, taps);
            const size_t count = p->count_include_pad ? ktaps : n;
            const float scale = count ? 1.0f / (float)count : 0.0f;
            float *out = output + (oy * p->out_w + ox) * p->channels;
            if (mode == 0) ck_pool_pixel2(0, p->channels, input, taps, n, scale, out);
            else ck_pool_pixel2(1, p->channels, input, taps, n, scale, out);
        }
}

CK_T2 void ck_maxpool2d_f32_nhwc__avx2(const ck_pool2d_params *p, const float *input, float *output) { ck_pool2d_avx2(0, p, input, output); }
CK_T2 void ck_avgpool2d_f32_nhwc__avx2(const ck_pool2d_params *p, const float *input, float *output) { ck_pool2d_avx2(1, p, input, output); }

#else
void ck_maxpool2d_f32_nhwc__avx2(const ck_pool2d_params *p, const float *input, float *output) { ck_maxpool2d_f32_nhwc__scalar(p, input, output); }
void ck_avgpool2d_f32_nhwc__avx2(const ck_pool2d_params *p, const float *input, float *output) { ck_avgpool2d_f32_nhwc__scalar(p, input, output); }
#endif
