// INT8 grouped convolution with few channels per group (RegNet, ResNeXt: 4-16 input channels and
// at most 16 output channels per group), AVX-512 VNNI: the s8 form of gconv2d_u8s8_impl.h on zmm.
// The GEMM kernels run such a layer group by group, with an im2col of a few bytes per tap and
// panels half empty (8 outputs in a 16-wide panel); here a tile of 16 output channels spans one
// or more whole groups, and for each tap the input bytes of those groups are loaded once (one
// masked load of at most 64 bytes) and permuted (vpermd) so that lane o holds 4 consecutive input
// channels of its own group, for one vpdpbusd with the packed weights (4 s8 per lane). Same
// accumulator and epilogue (u8s8_avx512_epilogue.h) as the scalar twin.
#include "gconv2d_u8s8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_INLINE static inline __attribute__((always_inline))
#define CK_DW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,bmi2")))
#include "u8s8_avx512_epilogue.h"

#define CK_G_T CK_DW_T
#define CK_G_VEC __m512i
#define CK_G_LANES 16
// The span's bytes by a masked load (never past the input).
#define CK_G_SPAN_T __mmask64
#define CK_G_SPAN(span) _bzhi_u64(~0ULL, (unsigned)(span))
#define CK_G_LOAD(p, sp, ok) ((void)(ok), _mm512_maskz_loadu_epi8((sp), (p)))
#define CK_G_LOAD_BYTES 64
#define CK_G_ZX(z) _mm512_set1_epi8((char)(z))
#define CK_G_PERM(idx, x) _mm512_permutexvar_epi32((idx), (x))
#define CK_G_STEP(acc, x, w) _mm512_dpbusd_epi32((acc), (x), (w))
#define CK_G_LOADV(p) _mm512_loadu_si512((p))
#define CK_G_EPI ck_dw8_epi
#define CK_G_EPI_AT(o, c, n) ck_dw8_epi_at((o), (c), (n))
#define CK_G_STORE(o, e, acc, output, at) ck_dw8_store_epi((o), (e), (acc), (output), (at))
#define CK_G_NAME ck_gconv2d_u8s8_nhwc__avx512vnni
#define CK_G_FORM ck_gconv_form__avx512vnni
#include "gconv2d_u8s8_impl.h"

#else
void ck_gconv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    (void)p; (void)input; (void)packed_weights; (void)bias; (void)out; (void)output; (void)pixel_begin; (void)pixel_end;
    __builtin_trap();   // never selected off x86 (only the x86 tables name it)
}
#endif
