// INT8 depthwise conv2d, AVX-512 VNNI: each tap is one vpdpwssd (acc + x * w + 0 * 0 on the
// dword halves; the non-saturating form, so wrapping int32 like the scalar twin). The body is
// dwconv2d_u8s8_avx512_impl.h.
#include "ck_int8.h"
#include "conv2d_u8s8_internal.h"

#if defined(__x86_64__)
#define CK_DW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma")))
#define CK_DW_STEP(acc, x, w) _mm512_dpwssd_epi32((acc), (x), (w))
#define CK_DW_FN ck_dwconv2d_u8s8_nhwc__avx512vnni
#include "dwconv2d_u8s8_avx512_impl.h"
#else
void ck_dwconv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    ck_dwconv2d_u8s8_nhwc__scalar(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end);
}
#endif
