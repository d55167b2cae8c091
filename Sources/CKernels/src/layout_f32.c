// NCHW -> NHWC of one float image (see ck_fp32.h).
#include <string.h>
#include "ck_fp32.h"

void ck_nchw_to_nhwc_f32__scalar(const float *src, size_t channels, size_t pixels, float *dst) {
    if (channels <= 16) {
        // Few channels: contiguous writes, one read stream per channel.
        for (size_t p = 0; p < pixels; p++)
            for (size_t c = 0; c < channels; c++) dst[p * channels + c] = src[c * pixels + p];
    } else {
        ck_transpose_f32(channels, pixels, src, dst);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f")))
void ck_nchw_to_nhwc_f32__avx512(const float *src, size_t channels, size_t pixels, float *dst) {
    if (channels != 3) {
        ck_nchw_to_nhwc_f32__scalar(src, channels, pixels, dst);
        return;
    }
    const float *r = src, *g = src + pixels, *b = src + 2 * pixels;
    // Output vector k holds floats 16k..16k+15 of (r0 g0 b0 r1 g1 b1 ...) over 16 pixels: first
    // r and g interleaved by one permute, then b merged by a second (indices >= 16 pick the
    // second operand).
    const __m512i rg0 = _mm512_setr_epi32(0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 5);
    const __m512i x0 = _mm512_setr_epi32(0, 1, 16, 3, 4, 17, 6, 7, 18, 9, 10, 19, 12, 13, 20, 15);
    const __m512i rg1 = _mm512_setr_epi32(21, 0, 6, 22, 0, 7, 23, 0, 8, 24, 0, 9, 25, 0, 10, 26);
    const __m512i x1 = _mm512_setr_epi32(0, 21, 2, 3, 22, 5, 6, 23, 8, 9, 24, 11, 12, 25, 14, 15);
    const __m512i rg2 = _mm512_setr_epi32(0, 11, 27, 0, 12, 28, 0, 13, 29, 0, 14, 30, 0, 15, 31, 0);
    const __m512i x2 = _mm512_setr_epi32(26, 1, 2, 27, 4, 5, 28, 7, 8, 29, 10, 11, 30, 13, 14, 31);
    size_t p = 0;
    for (; p + 16 <= pixels; p += 16) {
        const __m512 vr = _mm512_loadu_ps(r + p), vg = _mm512_loadu_ps(g + p), vb = _mm512_loadu_ps(b + p);
        float *o = dst + 3 * p;
        _mm512_storeu_ps(o, _mm512_permutex2var_ps(_mm512_permutex2var_ps(vr, rg0, vg), x0, vb));
        _mm512_storeu_ps(o + 16, _mm512_permutex2var_ps(_mm512_permutex2var_ps(vr, rg1, vg), x1, vb));
        _mm512_storeu_ps(o + 32, _mm512_permutex2var_ps(_mm512_permutex2var_ps(vr, rg2, vg), x2, vb));
    }
    for (; p < pixels; p++) {
        dst[3 * p] = r[p];
        dst[3 * p + 1] = g[p];
        dst[3 * p + 2] = b[p];
    }
}
#else
void ck_nchw_to_nhwc_f32__avx512(const float *src, size_t channels, size_t pixels, float *dst) {
    ck_nchw_to_nhwc_f32__scalar(src, channels, pixels, dst);
}
#endif

void ck_transpose_f32(size_t rows, size_t cols, const float *src, float *dst) {
    enum { T = 16 };
    if (rows == 1 || cols == 1) {
        for (size_t i = 0; i < rows * cols; i++) dst[i] = src[i];
        return;
    }
    for (size_t r0 = 0; r0 < rows; r0 += T) {
        const size_t r1 = r0 + T < rows ? r0 + T : rows;
        for (size_t c0 = 0; c0 < cols; c0 += T) {
            const size_t c1 = c0 + T < cols ? c0 + T : cols;
            for (size_t c = c0; c < c1; c++)
                for (size_t r = r0; r < r1; r++) dst[c * rows + r] = src[r * cols + c];
        }
    }
}

void ck_copy_rows_f32(size_t rows, size_t n, const float *src, size_t src_stride, float *dst, size_t dst_stride) {
    for (size_t r = 0; r < rows; r++) memcpy(dst + r * dst_stride, src + r * src_stride, n * sizeof(float));
}

void ck_channel_shuffle_f32(size_t pixels, size_t groups, size_t channels_per_group, const float *src, float *dst) {
    const size_t c = groups * channels_per_group;
    if (groups == 2) {
        const size_t h = channels_per_group;
        for (size_t p = 0; p < pixels; p++, src += c, dst += c)
            for (size_t j = 0; j < h; j++) {
                dst[2 * j] = src[j];
                dst[2 * j + 1] = src[h + j];
            }
        return;
    }
    for (size_t p = 0; p < pixels; p++, src += c, dst += c)
        for (size_t i = 0; i < groups; i++)
            for (size_t j = 0; j < channels_per_group; j++) dst[j * groups + i] = src[i * channels_per_group + j];
}
