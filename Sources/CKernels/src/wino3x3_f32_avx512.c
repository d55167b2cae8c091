// Winograd F(2x2, 3x3) FP32 on the avx512 path: the transforms of wino3x3_f32_impl.h compiled
// for avx512 (vectorized across channels), the GEMM on the avx512 FP32 conv kernel.
#include "ck_fp32.h"
#if defined(__x86_64__)
#define CK_WINO_TARGET __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define CK_WINO_SUFFIX avx512
#define CK_WINO_GEMM ck_conv2d_f32_nhwc__avx512
#include "wino3x3_f32_impl.h"
#endif
