// The per-path kernel tables of ck_kernels.h, filled once from CPUID.
#include "ck_kernels.h"
#include "ck_cpu.h"
#include "conv2d_u8s8_gemm.h"
#include "gconv2d_u8s8_internal.h"
#include <pthread.h>

#if defined(__x86_64__)
#define CK_GEMM_NAME(isa) ck_q8_gemm_config__##isa.name[CK_Q8_WEIGHTS_S8]
#define CK_GEMM_NAMES(t, isa) for (int f = 0; f < 3; f++) (t)->gemm_u8s8_by_format[f] = ck_q8_gemm_config__##isa.name[f]
#define CK_GEMM_FORMATS(isa) ck_q8_gemm_formats(&ck_q8_gemm_config__##isa)
#else
#define CK_GEMM_NAME(isa) "scalar"
#define CK_GEMM_NAMES(t, isa) (void)0
#define CK_GEMM_FORMATS(isa) CK_Q8_ALL_FORMATS
#endif
#define CK_Q8_ALL_FORMATS (1u << CK_Q8_WEIGHTS_S8 | 1u << CK_Q8_WEIGHTS_SPLIT | 1u << CK_Q8_WEIGHTS_S16)

#if defined(__x86_64__)
/// The weight formats a configuration has microkernels for (the bitmask of ck_kernels).
static uint32_t ck_q8_gemm_formats(const ck_q8_gemm_config *c) {
    uint32_t bits = 0;
    for (int f = 0; f < 3; f++) if (c->mr[f] != 0) bits |= 1u << f;
    return bits;
}
#endif

static ck_kernels ck_tables[CK_ISA_COUNT];
static int ck_usable[CK_ISA_COUNT];
static pthread_once_t ck_tables_once = PTHREAD_ONCE_INIT;

/// The scalar twins: every entry of every table starts here.
static void ck_fill_scalar(ck_kernels *t) {
    t->conv2d_u8s8 = ck_conv2d_u8s8_nhwc__scalar;
    t->gemm_u8s8 = "scalar";
    for (int f = 0; f < 3; f++) t->gemm_u8s8_by_format[f] = "scalar";
    t->gemm_u8s8_8bit = CK_Q8_WEIGHTS_S8;
    t->gemm_u8s8_formats = CK_Q8_ALL_FORMATS;   // the scalar twin reads every format
    t->gemm_u8s8_segmented = 0;
    t->dwconv2d_u8s8 = ck_dwconv2d_u8s8_nhwc__scalar;
    t->gconv2d_u8s8 = NULL;
    t->qadd_u8 = ck_qadd_u8__scalar;
    t->qmul_u8 = ck_qmul_u8__scalar;
    t->quantize_u8 = ck_quantize_u8__scalar;
    t->quantize_channels_u8 = ck_quantize_channels_u8__scalar;
    t->requantize_u8 = ck_requantize_u8__scalar;
    t->maxpool2d_u8 = ck_maxpool2d_u8_nhwc__scalar;
    t->lookup_u8 = ck_lookup_u8__scalar;
    t->leaky_codes_u8 = ck_leaky_codes_u8__scalar;
    t->sum_pixels_u8 = ck_sum_pixels_u8__scalar;
    t->mean_pixels_u8 = ck_mean_pixels_u8__scalar;
    t->interleave2_u8 = ck_interleave2_u8__scalar;
    t->resize_bilinear_u8 = ck_resize_bilinear_u8__scalar;
    t->resample_rows_rgb8 = ck_resample_rows_rgb8__scalar;
    t->resample_column_u8 = ck_resample_column_u8__scalar;
    t->conv2d_f32 = ck_conv2d_f32_nhwc__scalar;
    t->dwconv2d_f32 = ck_dwconv2d_f32_nhwc__scalar;
    t->wino3x3_f32 = ck_wino3x3_f32_nhwc__scalar;
    t->maxpool2d_f32 = ck_maxpool2d_f32_nhwc__scalar;
    t->avgpool2d_f32 = ck_avgpool2d_f32_nhwc__scalar;
    t->global_avgpool_f32 = ck_global_avgpool_f32_nhwc__scalar;
    t->binary_f32 = ck_binary_f32__scalar;
    t->ew_chain_f32 = ck_ew_chain_f32__scalar;
    t->affine_f32 = ck_affine_f32__scalar;
    t->clamp_f32 = ck_clamp_f32__scalar;
    t->sigmoid_f32 = ck_sigmoid_f32__scalar;
    t->softmax_f32 = ck_softmax_f32__scalar;
    t->silu_f32 = ck_silu_f32__scalar;
    t->hardswish_f32 = ck_hardswish_f32__scalar;
    t->hardsigmoid_f32 = ck_hardsigmoid_f32__scalar;
    t->nchw_to_nhwc_f32 = ck_nchw_to_nhwc_f32__scalar;
    t->abs_stats_f32 = ck_abs_stats_f32__scalar;
    t->abs_histogram_f32 = ck_abs_histogram_f32__scalar;
}

/// The 256-bit kernels (AVX2 + FMA), shared by both 256-bit paths.
static void ck_fill_avx2(ck_kernels *t) {
    ck_fill_scalar(t);
    t->conv2d_u8s8 = ck_conv2d_u8s8_nhwc__avx2;
    t->gemm_u8s8_8bit = CK_Q8_WEIGHTS_S16;   // vpmaddwd: see docs/benchmarks.md for split vs s16
    t->gemm_u8s8_formats = CK_GEMM_FORMATS(avx2);
    t->dwconv2d_u8s8 = ck_dwconv2d_u8s8_nhwc__avx2;
    t->gconv2d_u8s8 = ck_gconv2d_u8s8_nhwc__avx2;
    t->gconv_form = ck_gconv_form__avx2;
    t->qadd_u8 = ck_qadd_u8__avx2;
    t->qmul_u8 = ck_qmul_u8__avx2;
    t->quantize_u8 = ck_quantize_u8__avx2;
    t->quantize_channels_u8 = ck_quantize_channels_u8__avx2;
    t->requantize_u8 = ck_requantize_u8__avx2;
    t->lookup_u8 = ck_lookup_u8__avx2;
    t->leaky_codes_u8 = ck_leaky_codes_u8__avx2;
    t->maxpool2d_u8 = ck_maxpool2d_u8_nhwc__avx2;
    t->sum_pixels_u8 = ck_sum_pixels_u8__avx2;
    t->mean_pixels_u8 = ck_mean_pixels_u8__avx2;
    t->interleave2_u8 = ck_interleave2_u8__avx2;
    t->resize_bilinear_u8 = ck_resize_bilinear_u8__avx2;
    t->resample_rows_rgb8 = ck_resample_rows_rgb8__avx2;
    t->resample_column_u8 = ck_resample_column_u8__avx2;
    t->conv2d_f32 = ck_conv2d_f32_nhwc__avx2;
    t->dwconv2d_f32 = ck_dwconv2d_f32_nhwc__avx2;
    t->wino3x3_f32 = ck_wino3x3_f32_nhwc__avx2;
    t->maxpool2d_f32 = ck_maxpool2d_f32_nhwc__avx2;
    t->avgpool2d_f32 = ck_avgpool2d_f32_nhwc__avx2;
    t->binary_f32 = ck_binary_f32__avx2;
    t->ew_chain_f32 = ck_ew_chain_f32__avx2;
    t->affine_f32 = ck_affine_f32__avx2;
    t->clamp_f32 = ck_clamp_f32__avx2;
    t->sigmoid_f32 = ck_sigmoid_f32__avx2;
    t->softmax_f32 = ck_softmax_f32__avx2;
    t->silu_f32 = ck_silu_f32__avx2;
    t->hardswish_f32 = ck_hardswish_f32__avx2;
    t->hardsigmoid_f32 = ck_hardsigmoid_f32__avx2;
}

/// The 512-bit kernels shared by both AVX-512 paths (the 256-bit ones where none is wider).
static void ck_fill_avx512(ck_kernels *t, uint32_t features) {
    ck_fill_avx2(t);
    t->dwconv2d_u8s8 = ck_dwconv2d_u8s8_nhwc__avx512;
    t->gconv2d_u8s8 = ck_gconv2d_u8s8_nhwc__avx512bw;
    t->gconv_form = ck_gconv_form__avx512bw;
    t->qadd_u8 = ck_qadd_u8__avx512;
    t->qmul_u8 = ck_qmul_u8__avx512;
    t->quantize_u8 = ck_quantize_u8__avx512;
    t->requantize_u8 = ck_requantize_u8__avx512;
    t->maxpool2d_u8 = ck_maxpool2d_u8_nhwc__avx512;
    t->mean_pixels_u8 = ck_mean_pixels_u8__avx512;
    if (features & CK_CPU_AVX512VBMI) t->lookup_u8 = ck_lookup_u8__avx512vbmi;
    t->leaky_codes_u8 = ck_leaky_codes_u8__avx512;
    t->conv2d_f32 = ck_conv2d_f32_nhwc__avx512;
    t->dwconv2d_f32 = ck_dwconv2d_f32_nhwc__avx512;
    t->wino3x3_f32 = ck_wino3x3_f32_nhwc__avx512;
    t->maxpool2d_f32 = ck_maxpool2d_f32_nhwc__avx512;
    t->avgpool2d_f32 = ck_avgpool2d_f32_nhwc__avx512;
    t->global_avgpool_f32 = ck_global_avgpool_f32_nhwc__avx512;
    t->binary_f32 = ck_binary_f32__avx512;
    t->ew_chain_f32 = ck_ew_chain_f32__avx512;
    t->affine_f32 = ck_affine_f32__avx512;
    t->clamp_f32 = ck_clamp_f32__avx512;
    t->sigmoid_f32 = ck_sigmoid_f32__avx512;
    t->softmax_f32 = ck_softmax_f32__avx512;
    t->silu_f32 = ck_silu_f32__avx512;
    t->hardswish_f32 = ck_hardswish_f32__avx512;
    t->hardsigmoid_f32 = ck_hardsigmoid_f32__avx512;
    t->nchw_to_nhwc_f32 = ck_nchw_to_nhwc_f32__avx512;
    t->abs_stats_f32 = ck_abs_stats_f32__avx512;
    t->abs_histogram_f32 = ck_abs_histogram_f32__avx512;
}

static void ck_fill_tables(void) {
    const uint32_t f = ck_cpu_features();
    const uint32_t avx2 = CK_CPU_AVX2 | CK_CPU_FMA;
    const uint32_t avx512 = avx2 | CK_CPU_AVX512F | CK_CPU_AVX512BW | CK_CPU_AVX512VL;

    ck_kernels *t = &ck_tables[CK_ISA_AVX512VNNI];
    ck_fill_avx512(t, f);
    t->name = "avx512vnni";
    t->conv2d_u8s8 = ck_conv2d_u8s8_nhwc__avx512vnni;
    t->gemm_u8s8 = CK_GEMM_NAME(avx512vnni);
    CK_GEMM_NAMES(t, avx512vnni);
    t->gemm_u8s8_8bit = CK_Q8_WEIGHTS_S8;
    t->gemm_u8s8_formats = CK_GEMM_FORMATS(avx512vnni);
    t->gemm_u8s8_segmented = 1;   // one vpdpbusd per 4 k: the padded K costs less than the gather
    t->dwconv2d_u8s8 = ck_dwconv2d_u8s8_nhwc__avx512vnni;
    t->gconv2d_u8s8 = ck_gconv2d_u8s8_nhwc__avx512vnni;
    t->gconv_form = ck_gconv_form__avx512vnni;
    ck_usable[CK_ISA_AVX512VNNI] = (f & (avx512 | CK_CPU_AVX512VNNI)) == (avx512 | CK_CPU_AVX512VNNI);

    t = &ck_tables[CK_ISA_AVX512];
    ck_fill_avx512(t, f);
    t->name = "avx512";
    t->conv2d_u8s8 = ck_conv2d_u8s8_nhwc__avx512bw;
    t->gemm_u8s8 = CK_GEMM_NAME(avx512bw);
    CK_GEMM_NAMES(t, avx512bw);
    t->gemm_u8s8_8bit = CK_Q8_WEIGHTS_S16;    // vpmaddwd: see docs/benchmarks.md for split vs s16
    t->gemm_u8s8_formats = CK_GEMM_FORMATS(avx512bw);
    ck_usable[CK_ISA_AVX512] = (f & avx512) == avx512;

    t = &ck_tables[CK_ISA_AVXVNNI];
    ck_fill_avx2(t);
    t->name = "avxvnni";
    t->conv2d_u8s8 = ck_conv2d_u8s8_nhwc__avxvnni;
    t->gemm_u8s8 = CK_GEMM_NAME(avxvnni);
    CK_GEMM_NAMES(t, avxvnni);
    t->gemm_u8s8_8bit = CK_Q8_WEIGHTS_S8;
    t->gemm_u8s8_formats = CK_GEMM_FORMATS(avxvnni);
    t->gemm_u8s8_segmented = 1;   // one vpdpbusd per 4 k: the padded K costs less than the gather
    ck_usable[CK_ISA_AVXVNNI] = (f & (avx2 | CK_CPU_AVXVNNI)) == (avx2 | CK_CPU_AVXVNNI);

    t = &ck_tables[CK_ISA_AVX2];
    ck_fill_avx2(t);
    t->name = "avx2";
    t->gemm_u8s8 = CK_GEMM_NAME(avx2);
    CK_GEMM_NAMES(t, avx2);
    ck_usable[CK_ISA_AVX2] = (f & avx2) == avx2;

    t = &ck_tables[CK_ISA_SCALAR];
    ck_fill_scalar(t);
    t->name = "scalar";
    ck_usable[CK_ISA_SCALAR] = 1;
}

const ck_kernels *ck_kernels_for(ck_isa isa) {
    pthread_once(&ck_tables_once, ck_fill_tables);
    if ((unsigned)isa >= CK_ISA_COUNT || !ck_usable[isa]) return NULL;
    return &ck_tables[isa];
}
