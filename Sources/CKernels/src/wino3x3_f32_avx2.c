// Winograd F(2x2, 3x3) FP32 on the avx2 path: the transforms of wino3x3_f32_impl.h compiled
// for avx2 (vectorized across channels), the GEMM on the avx2 FP32 conv kernel.
#include "ck_fp32.h"
#if defined(__x86_64__)
#define CK_WINO_TARGET __attribute__((target("avx2,fma")))
#define CK_WINO_SUFFIX avx2
#define CK_WINO_GEMM ck_conv2d_f32_nhwc__avx2
#include "wino3x3_f32_impl.h"
#endif
