// INT8 small-group convolution, AVX-512 BW (no VNNI): the s16 form on zmm (16 output channels per
// vector, at most 32 input bytes per tile), exact for any 8-bit weights. See
// gconv2d_u8s8_s16_impl.h.
#include "gconv2d_u8s8_internal.h"
#include "conv2d_u8s8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_INLINE static inline __attribute__((always_inline))
#define CK_DW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi2")))
#include "u8s8_avx512_epilogue.h"

/// One pixel's 16 lanes (n of them channels) at output element at, channels [c, c + n).
CK_INLINE CK_DW_T void ck_g16_store_avx512(const ck_u8s8_output *o, __m512i acc, void *output, size_t at, size_t c, size_t n) {
    const __mmask16 m = ck_dw8_mask(n);
    const size_t esize = o->mode == CK_U8S8_OUT_U8 ? 1 : 4;
    ck_dw8_store(o, acc, _mm512_maskz_loadu_ps(m, o->scale + c), (char *)output + at * esize, m, n == 16);
}

#define CK_G_T CK_DW_T
#define CK_G_VEC __m512i
#define CK_G_LANES 16
// The span's bytes by a masked load (never past the input), widened to u16.
#define CK_G_LOAD(p, span, ok) ((void)(ok), _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(_bzhi_u32(~0u, (unsigned)(span)), (p))))
#define CK_G_PERM(idx, x) _mm512_permutexvar_epi32((idx), (x))
#define CK_G_MADD _mm512_madd_epi16
#define CK_G_ADD _mm512_add_epi32
#define CK_G_LOADV(p) _mm512_loadu_si512((p))
#define CK_G_SET1_16 _mm512_set1_epi16
#define CK_G_STORE(o, acc, output, at, c, n) ck_g16_store_avx512((o), (acc), (output), (at), (c), (n))
#define CK_G_NAME ck_gconv2d_u8s8_nhwc__avx512bw
#define CK_G_FORM ck_gconv_form__avx512bw
#include "gconv2d_u8s8_s16_impl.h"

#else
void ck_gconv2d_u8s8_nhwc__avx512bw(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    (void)p; (void)input; (void)packed_weights; (void)bias; (void)out; (void)output; (void)pixel_begin; (void)pixel_end;
    __builtin_trap();   // never selected off x86 (only the x86 tables name it)
}
#endif
