// INT8 small-group convolution, AVX-512 BW (no VNNI): the s16 form on zmm (16 output channels per
// vector, at most 32 input bytes per tile), exact for any 8-bit weights. See
// gconv2d_u8s8_impl.h.
#include "gconv2d_u8s8_internal.h"
#include "conv2d_u8s8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_INLINE static inline __attribute__((always_inline))
#define CK_DW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi2")))
#include "u8s8_avx512_epilogue.h"

#define CK_G_T CK_DW_T
#define CK_G_VEC __m512i
#define CK_G_LANES 16
// The span's bytes by a masked load (never past the input), widened to u16.
#define CK_G_SPAN_T __mmask32
#define CK_G_SPAN(span) _bzhi_u32(~0u, (unsigned)(span))
#define CK_G_LOAD(p, sp, ok) ((void)(ok), _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8((sp), (p))))
#define CK_G_LOAD_BYTES 32
#define CK_G_ZX(z) _mm512_set1_epi16((short)(z))
#define CK_G_PERM(idx, x) _mm512_permutexvar_epi32((idx), (x))
#define CK_G_STEP(acc, x, w) _mm512_add_epi32((acc), _mm512_madd_epi16((x), (w)))
#define CK_G_LOADV(p) _mm512_loadu_si512((p))
#define CK_G_EPI ck_dw8_epi
#define CK_G_EPI_AT(o, c, n) ck_dw8_epi_at((o), (c), (n))
#define CK_G_STORE(o, e, acc, output, at) ck_dw8_store_epi((o), (e), (acc), (output), (at))
#define CK_G_NAME ck_gconv2d_u8s8_nhwc__avx512bw
#define CK_G_FORM ck_gconv_form__avx512bw
#include "gconv2d_u8s8_impl.h"

#else
void ck_gconv2d_u8s8_nhwc__avx512bw(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    (void)p; (void)input; (void)packed_weights; (void)bias; (void)out; (void)output; (void)pixel_begin; (void)pixel_end;
    __builtin_trap();   // never selected off x86 (only the x86 tables name it)
}
#endif
