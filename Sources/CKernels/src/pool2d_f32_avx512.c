// FP32 pooling over one NHWC image, AVX-512: vectorized over channels, 64 channels (4 zmm) per
// pass with a masked 16-channel tail. Same semantics as pool2d_f32_scalar.c.
#include <math.h>
#include "ck_fp32.h"
#include "pool2d_f32_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx2")))

/// mode 0: max, 1: sum * scale.
static inline __attribute__((always_inline)) CK_T512 void ck_pool_pixel(int mode, size_t C,
    const float *input, const size_t *taps, size_t n, float scale, float *out) {
    const __m512 init = mode == 0 ? _mm512_set1_ps(-INFINITY) : _mm512_setzero_ps();
    const __m512 vs = _mm512_set1_ps(scale);
    size_t c = 0;
    for (; c + 64 <= C; c += 64) {
        __m512 a0 = init, a1 = init, a2 = init, a3 = init;
        for (size_t t = 0; t < n; t++) {
            const float *in = input + taps[t] + c;
            if (mode == 0) {
                a0 = _mm512_max_ps(a0, _mm512_loadu_ps(in));
                a1 = _mm512_max_ps(a1, _mm512_loadu_ps(in + 16));
                a2 = _mm512_max_ps(a2, _mm512_loadu_ps(in + 32));
                a3 = _mm512_max_ps(a3, _mm512_loadu_ps(in + 48));
            } else {
                a0 = _mm512_add_ps(a0, _mm512_loadu_ps(in));
                a1 = _mm512_add_ps(a1, _mm512_loadu_ps(in + 16));
                a2 = _mm512_add_ps(a2, _mm512_loadu_ps(in + 32));
                a3 = _mm512_add_ps(a3, _mm512_loadu_ps(in + 48));
            }
        }
        if (mode == 1) {
            a0 = _mm512_mul_ps(a0, vs); a1 = _mm512_mul_ps(a1, vs);
            a2 = _mm512_mul_ps(a2, vs); a3 = _mm512_mul_ps(a3, vs);
        }
        _mm512_storeu_ps(out + c, a0);
        _mm512_storeu_ps(out + c + 16, a1);
        _mm512_storeu_ps(out + c + 32, a2);
        _mm512_storeu_ps(out + c + 48, a3);
    }
    for (; c < C; c += 16) {
        const __mmask16 m = (C - c) >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c)) - 1u);
        __m512 a = init;
        for (size_t t = 0; t < n; t++) {
            const __m512 x = _mm512_maskz_loadu_ps(m, input + taps[t] + c);
            a = mode == 0 ? _mm512_max_ps(a, x) : _mm512_add_ps(a, x);
        }
        if (mode == 1) a = _mm512_mul_ps(a, vs);
        _mm512_mask_storeu_ps(out + c, m, a);
    }
}

static CK_T512 void ck_pool2d(int mode, const ck_pool2d_params *p, const float *input, float *output) {
    size_t stack_taps[64];
    const size_t ktaps = p->kernel_h * p->kernel_w;
    size_t *taps = stack_taps;
    if (ktaps > 64) {
        // Rare large windows: process tap lists in pieces is unnecessary; fall back to scalar.
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
            if (mode == 0) ck_pool_pixel(0, p->channels, input, taps, n, scale, out);
            else ck_pool_pixel(1, p->channels, input, taps, n, scale, out);
        }
}

CK_T512 void ck_maxpool2d_f32_nhwc__avx512(const ck_pool2d_params *p, const float *input, float *output) {
    ck_pool2d(0, p, input, output);
}

CK_T512 void ck_avgpool2d_f32_nhwc__avx512(const ck_pool2d_params *p, const float *input, float *output) {
    ck_pool2d(1, p, input, output);
}

CK_T512 void ck_global_avgpool_f32_nhwc__avx512(size_t pixels, size_t channels, const float *input, float *output) {
    const float scale = pixels ? 1.0f / (float)pixels : 0.0f;
    const __m512 vs = _mm512_set1_ps(scale);
    size_t c = 0;
    for (; c + 64 <= channels; c += 64) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *in = input + c;
        for (size_t i = 0; i < pixels; i++, in += channels) {
            a0 = _mm512_add_ps(a0, _mm512_loadu_ps(in));
            a1 = _mm512_add_ps(a1, _mm512_loadu_ps(in + 16));
            a2 = _mm512_add_ps(a2, _mm512_loadu_ps(in + 32));
            a3 = _mm512_add_ps(a3, _mm512_loadu_ps(in + 48));
        }
        _mm512_storeu_ps(output + c, _mm512_mul_ps(a0, vs));
        _mm512_storeu_ps(output + c + 16, _mm512_mul_ps(a1, vs));
        _mm512_storeu_ps(output + c + 32, _mm512_mul_ps(a2, vs));
        _mm512_storeu_ps(output + c + 48, _mm512_mul_ps(a3, vs));
    }
    for (; c < channels; c += 16) {
        const __mmask16 m = (channels - c) >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (channels - c)) - 1u);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        const float *in = input + c;
        size_t i = 0;
        for (; i + 2 <= pixels; i += 2, in += 2 * channels) {
            a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(m, in));
            a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(m, in + channels));
        }
        if (i < pixels) a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(m, in));
        _mm512_mask_storeu_ps(output + c, m, _mm512_mul_ps(_mm512_add_ps(a0, a1), vs));
    }
}

#else

void ck_maxpool2d_f32_nhwc__avx512(const ck_pool2d_params *p, const float *input, float *output) {
    ck_maxpool2d_f32_nhwc__scalar(p, input, output);
}
void ck_avgpool2d_f32_nhwc__avx512(const ck_pool2d_params *p, const float *input, float *output) {
    ck_avgpool2d_f32_nhwc__scalar(p, input, output);
}
void ck_global_avgpool_f32_nhwc__avx512(size_t pixels, size_t channels, const float *input, float *output) {
    ck_global_avgpool_f32_nhwc__scalar(pixels, channels, input, output);
}

#endif
