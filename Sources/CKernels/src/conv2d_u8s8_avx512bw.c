// INT8 conv2d, AVX-512 BW (Skylake-SP class, no VNNI): the microkernel's 4-deep dot product
// is vpmaddubsw (u8 x s8 pair sums, SATURATING to s16) + vpmaddwd with ones (pairs -> s32)
// + vpaddd. Exact for 7-bit weights |w| <= 63 (pair sums <= 2 * 255 * 63 = 32130), and for any
// 8-bit weights packed split (CK_Q8_WEIGHTS_SPLIT: two halves within [-64, 64], each its own
// step) or widened (CK_Q8_WEIGHTS_S16: vpmaddwd, the default for 8-bit weights).
// Microkernels up to 12 x 32 (24 accumulators + weights, broadcast, temporaries and the ones
// vector fit the 32 zmm; conv2d_u8s8_avx512_impl.h) under the shared driver (conv2d_u8s8_gemm.c).
#include "ck_int8.h"
#include "conv2d_u8s8_gemm.h"

#if defined(__x86_64__)
#define CK_Q8_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi2")))
#define CK_Q8_STEP(c, a, b) _mm512_add_epi32((c), _mm512_madd_epi16(_mm512_maddubs_epi16((a), (b)), ones))
#define CK_Q8_MRMAX 12
#define CK_Q8_MR_S16 12
#define CK_Q8_ISA avx512bw
#define CK_Q8_QADD ck_qadd_u8__avx512
#include "conv2d_u8s8_avx512_impl.h"

void ck_conv2d_u8s8_nhwc__avx512bw(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    ck_q8_gemm_run(&ck_q8_gemm_config__avx512bw, p, input, packed_weights, bias, out, output, pixel_begin, pixel_end, scratch);
}
#else
void ck_conv2d_u8s8_nhwc__avx512bw(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    ck_conv2d_u8s8_nhwc__scalar(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end, scratch);
}
#endif
