// e^t shared by the FP32 kernels with an exponential (sigmoid, SiLU, softmax): Cephes expf on t
// already clamped to [CK_EXP_LO, CK_EXP_HI]. The scalar form is the specification; the AVX2 and
// AVX-512 forms perform the same operations in the same order (fmaf <-> vfmadd, nearbyintf <->
// vroundps nearest, exponent bits by integer add), so they are bit-identical to it.
#ifndef CK_EXP_F32_INTERNAL_H
#define CK_EXP_F32_INTERNAL_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CK_EXP_HI 88.3762626647949f
#define CK_EXP_LO (-88.3762626647949f)
#define CK_LOG2E 1.44269504088896341f
#define CK_LN2_HI 0.693359375f
#define CK_LN2_LO (-2.12194440e-4f)
#define CK_P0 1.9875691500E-4f
#define CK_P1 1.3981999507E-3f
#define CK_P2 8.3334519073E-3f
#define CK_P3 4.1665795894E-2f
#define CK_P4 1.6666665459E-1f
#define CK_P5 5.0000001201E-1f

/// e^t (Cephes expf), for t already clamped to [CK_EXP_LO, CK_EXP_HI].
static inline float ck_exp_scalar(float t) {
    const float n = nearbyintf(t * CK_LOG2E);  // round half to even (default rounding mode)
    float r = fmaf(n, -CK_LN2_HI, t);
    r = fmaf(n, -CK_LN2_LO, r);
    const float r2 = r * r;
    float p = fmaf(CK_P0, r, CK_P1);
    p = fmaf(p, r, CK_P2);
    p = fmaf(p, r, CK_P3);
    p = fmaf(p, r, CK_P4);
    p = fmaf(p, r, CK_P5);
    p = fmaf(p, r2, r);
    p = p + 1.0f;
    // 2^n: n in [-127, 128]; split into two factors so that no exponent field overflows.
    const int32_t ni = (int32_t)n;
    const int32_t a = ni / 2, b = ni - a;
    int32_t ba = (a + 127) << 23, bb = (b + 127) << 23;
    float fa, fb;
    memcpy(&fa, &ba, 4); memcpy(&fb, &bb, 4);
    return (p * fa) * fb;
}

#if defined(__x86_64__)
#include <immintrin.h>

/// ck_exp_scalar on 8 lanes.
static inline __attribute__((target("avx2,fma"))) __m256 ck_exp8(__m256 t) {
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(CK_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-CK_LN2_HI), t);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-CK_LN2_LO), r);
    const __m256 r2 = _mm256_mul_ps(r, r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(CK_P0), r, _mm256_set1_ps(CK_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_P5));
    p = _mm256_fmadd_ps(p, r2, r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    const __m256i ni = _mm256_cvtps_epi32(n);
    // a = ni / 2 truncated toward zero, as C's integer division.
    const __m256i a = _mm256_srai_epi32(_mm256_add_epi32(ni, _mm256_srli_epi32(ni, 31)), 1);
    const __m256i b = _mm256_sub_epi32(ni, a);
    const __m256 fa = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(a, _mm256_set1_epi32(127)), 23));
    const __m256 fb = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, fa), fb);
}

/// ck_exp_scalar on 16 lanes.
static inline __attribute__((target("avx512f,avx512dq,avx2,fma"))) __m512 ck_exp16(__m512 t) {
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(CK_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-CK_LN2_HI), t);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-CK_LN2_LO), r);
    const __m512 r2 = _mm512_mul_ps(r, r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(CK_P0), r, _mm512_set1_ps(CK_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_P5));
    p = _mm512_fmadd_ps(p, r2, r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    const __m512i ni = _mm512_cvtps_epi32(n);
    const __m512i a = _mm512_srai_epi32(_mm512_add_epi32(ni, _mm512_srli_epi32(ni, 31)), 1);
    const __m512i b = _mm512_sub_epi32(ni, a);
    const __m512 fa = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(a, _mm512_set1_epi32(127)), 23));
    const __m512 fb = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(127)), 23));
    return _mm512_mul_ps(_mm512_mul_ps(p, fa), fb);
}
#endif
#endif
