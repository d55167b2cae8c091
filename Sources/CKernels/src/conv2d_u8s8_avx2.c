// INT8 conv2d, AVX2 (no AVX-512): vpmaddubsw (u8 x s8 pair sums, SATURATING to s16) +
// vpmaddwd with ones + vpaddd on ymm. Exact for 7-bit weights |w| <= 63, and for any 8-bit
// weights packed split (CK_Q8_WEIGHTS_SPLIT: two halves within [-64, 64], each summed on its own)
// or widened (CK_Q8_WEIGHTS_S16: vpmaddwd, the default for 8-bit weights).
// 4 x 16 microkernels (conv2d_u8s8_avx2_impl.h) under the shared driver (conv2d_u8s8_gemm.c).
#include "ck_int8.h"
#include "conv2d_u8s8_gemm.h"
#include <string.h>

#if defined(__x86_64__)
#define CK_Q8_T __attribute__((target("avx2,fma")))
#define CK_Q8_STEP(c, a, b) _mm256_add_epi32((c), _mm256_madd_epi16(_mm256_maddubs_epi16((a), (b)), ones))
#define CK_Q8_ISA avx2
#define CK_Q8_QADD ck_qadd_u8__avx2
#include "conv2d_u8s8_avx2_impl.h"

void ck_conv2d_u8s8_nhwc__avx2(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    ck_q8_gemm_run(&ck_q8_gemm_config__avx2, p, input, packed_weights, bias, out, output, pixel_begin, pixel_end, scratch);
}
#else
void ck_conv2d_u8s8_nhwc__avx2(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    ck_conv2d_u8s8_nhwc__scalar(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end, scratch);
}
#endif
