// INT8 small-group convolution, AVX2: the s16 form on ymm (8 output channels per vector, at most
// 16 input bytes per tile), exact for any 8-bit weights. See gconv2d_u8s8_impl.h.
#include "gconv2d_u8s8_internal.h"
#include "conv2d_u8s8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_INLINE static inline __attribute__((always_inline))
#define CK_T256 __attribute__((target("avx2,fma")))
#include "u8s8_avx2_epilogue.h"

/// The tile's span (<= 16) bytes at p widened to u16: one 16-byte load when it stays inside the
/// input (ok), else only the span's bytes (the input's last pixel).
CK_INLINE CK_T256 __m256i ck_g16_load_avx2(const uint8_t *p, size_t span, int ok) {
    if (ok) return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
    uint8_t b[16] = {0};
    memcpy(b, p, span);
    return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)b));
}

#define CK_G_T CK_T256
#define CK_G_VEC __m256i
#define CK_G_LANES 8
#define CK_G_SPAN_T size_t
#define CK_G_SPAN(span) (span)
#define CK_G_LOAD(p, sp, ok) ck_g16_load_avx2((p), (sp), (ok))
#define CK_G_LOAD_BYTES 16
#define CK_G_ZX(z) _mm256_set1_epi16((short)(z))
#define CK_G_PERM(idx, x) _mm256_permutevar8x32_epi32((x), (idx))
#define CK_G_STEP(acc, x, w) _mm256_add_epi32((acc), _mm256_madd_epi16((x), (w)))
#define CK_G_LOADV(p) _mm256_loadu_si256((const __m256i *)(p))
#define CK_G_EPI ck_dw8_epi8
#define CK_G_EPI_AT(o, c, n) ck_dw8_epi8_at((o), (c), (n))
#define CK_G_STORE(o, e, acc, output, at) ck_dw8_store_epi8((o), (e), (acc), (output), (at))
#define CK_G_NAME ck_gconv2d_u8s8_nhwc__avx2
#define CK_G_FORM ck_gconv_form__avx2
#include "gconv2d_u8s8_impl.h"

#else
void ck_gconv2d_u8s8_nhwc__avx2(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    (void)p; (void)input; (void)packed_weights; (void)bias; (void)out; (void)output; (void)pixel_begin; (void)pixel_end;
    __builtin_trap();   // never selected off x86 (only the x86 tables name it)
}
#endif
