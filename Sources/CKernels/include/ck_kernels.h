// The kernel table of each instruction-set path, in the manner of XNNPACK's hardware config:
// one struct of function pointers per path, filled once from CPUID on first use. The Swift
// kernels call through it and never name an ISA variant themselves, so adding a path means
// writing its kernels (and microkernels) and filling one table here (src/kernels.c).
#ifndef CK_KERNELS_H
#define CK_KERNELS_H
#include "ck_fp32.h"
#include "ck_histogram.h"
#include "ck_int8.h"

#ifdef __cplusplus
extern "C" {
#endif

/// The paths, best first (the order of the Swift `ISA` enum).
typedef enum {
    CK_ISA_AVX512VNNI = 0,  // AVX-512 with vpdpbusd (Ice Lake, Zen 4)
    CK_ISA_AVX512 = 1,      // AVX-512 BW without VNNI (Skylake-SP): vpmaddubsw for INT8
    CK_ISA_AVXVNNI = 2,     // AVX2 with the VEX vpdpbusd (Alder Lake, Zen 5)
    CK_ISA_AVX2 = 3,        // AVX2 + FMA (Haswell, Zen 1-3)
    CK_ISA_SCALAR = 4,      // the scalar twins: the specification
    CK_ISA_COUNT = 5
} ck_isa;

typedef void (*ck_conv2d_u8s8_fn)(const ck_conv2d_u8s8_params *p, const uint8_t *input, const void *packed_weights,
    const int32_t *bias, const ck_u8s8_output *out, void *output, size_t pixel_begin, size_t pixel_end, void *scratch);
typedef void (*ck_conv2d_u8s8_noscratch_fn)(const ck_conv2d_u8s8_params *p, const uint8_t *input, const void *packed_weights,
    const int32_t *bias, const ck_u8s8_output *out, void *output, size_t pixel_begin, size_t pixel_end);

/// What one path runs for each operation (every entry set, except where noted).
typedef struct {
    const char *name;               // the path ("avx512vnni", ...)
    // INT8
    ck_conv2d_u8s8_fn conv2d_u8s8;  // dense and grouped (GEMM driver + this path's microkernels)
    const char *gemm_u8s8;          // the GEMM's full-tile microkernel, e.g. "qu8s8_gemm_14x32c4__avx512vnni"
    const char *gemm_u8s8_by_format[3]; // the same per weight format (CK_Q8_WEIGHTS_*; NULL: not read)
    int32_t gemm_u8s8_8bit;         // how the GEMM packs 8-bit weights (CK_Q8_WEIGHTS_*; 7-bit ones stay S8)
    uint32_t gemm_u8s8_formats;     // bit f set: the GEMM reads weight format f
    int32_t gemm_u8s8_segmented;    // the segmented_rows this path packs with (ck_conv2d_u8s8_params)
    ck_conv2d_u8s8_noscratch_fn dwconv2d_u8s8;
    ck_conv2d_u8s8_noscratch_fn gconv2d_u8s8;  // few channels per group; NULL where the path has none
    ck_gconv_form gconv_form;       // its weight layout (ck_gconv2d_u8s8_pack_weights)
    void (*qadd_u8)(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi, uint8_t *out,
        size_t n);
    void (*qmul_u8)(const uint8_t *a, int32_t za, const uint8_t *b, int32_t zb, size_t b_stride, float m, int32_t zy,
        int32_t offset, int32_t lo, int32_t hi, uint8_t *out, size_t pixels, size_t channels);
    void (*quantize_u8)(const float *x, float scale, int32_t zero_point, uint8_t *out, size_t n);
    void (*quantize_channels_u8)(const float *x, const float *scales, int32_t zero_point, uint8_t *out, size_t pixels, size_t channels);
    void (*requantize_u8)(const uint8_t *x, int32_t zero_in, float m, int32_t zero_out, uint8_t *out, size_t n);
    void (*maxpool2d_u8)(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output);
    void (*lookup_u8)(const uint8_t *x, const uint8_t *table, uint8_t *out, size_t n);
    void (*leaky_codes_u8)(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase);
    void (*sum_pixels_u8)(const uint8_t *x, size_t pixels, size_t channels, int32_t *sums);
    void (*mean_pixels_u8)(const uint8_t *x, size_t pixels, size_t channels, int32_t zero_in, float m, int32_t zero_out, uint8_t *out);
    void (*interleave2_u8)(const uint8_t *a, const uint8_t *b, uint8_t *out, size_t n);
    void (*resize_bilinear_u8)(const ck_resize_bilinear_u8_params *p, const uint8_t *input, uint8_t *output);
    void (*resample_rows_rgb8)(const ck_resample_rows_params *p, const uint8_t *src, uint8_t *out);
    void (*resample_column_u8)(const uint8_t *src, size_t stride, const int32_t *weights, size_t taps, size_t n, uint8_t *out);
    // FP32
    void (*conv2d_f32)(const ck_conv2d_f32_params *p, const float *input, const float *packed_weights, const float *bias,
        const float *residual, float *output, size_t pixel_begin, size_t pixel_end, float *scratch);
    void (*dwconv2d_f32)(const ck_conv2d_f32_params *p, const float *input, const float *packed_weights, const float *bias,
        const float *residual, float *output, size_t pixel_begin, size_t pixel_end);
    void (*wino3x3_f32)(const ck_conv2d_f32_params *p, const float *input, const float *packed_weights, const float *bias,
        const float *residual, float *output, size_t pixel_begin, size_t pixel_end, float *scratch);
    void (*maxpool2d_f32)(const ck_pool2d_params *p, const float *input, float *output);
    void (*avgpool2d_f32)(const ck_pool2d_params *p, const float *input, float *output);
    void (*global_avgpool_f32)(size_t pixels, size_t channels, const float *input, float *output);
    void (*binary_f32)(int op, size_t rows, size_t n, const float *a, size_t ra, size_t sa, const float *b, size_t rb,
        size_t sb, float *y);
    void (*ew_chain_f32)(size_t n, const float *x, const ck_ew_instr *prog, size_t len, float *y);
    void (*affine_f32)(size_t n, const float *x, const float *scale, size_t ss, const float *shift, size_t st, float *y);
    void (*clamp_f32)(size_t n, const float *x, float lo, float hi, float *y);
    void (*sigmoid_f32)(size_t n, const float *x, float *y);
    void (*softmax_f32)(const float *x, float *y, size_t outer, size_t n, size_t inner);
    void (*silu_f32)(size_t n, const float *x, float *y);
    void (*hardswish_f32)(size_t n, const float *x, float *y);
    void (*hardsigmoid_f32)(size_t n, float alpha, float beta, const float *x, float *y);
    void (*nchw_to_nhwc_f32)(const float *src, size_t channels, size_t pixels, float *dst);
    // Calibration statistics
    void (*abs_stats_f32)(const float *x, size_t n, ck_abs_stats *out);
    void (*abs_histogram_f32)(const float *x, size_t n, int exponent, int bits, int64_t *bins);
} ck_kernels;

/// The table of `isa`, or NULL when this CPU (or OS) cannot run the path.
const ck_kernels *ck_kernels_for(ck_isa isa);

#ifdef __cplusplus
}
#endif
#endif
