// INT8 (u8 activations x s8 weights) microkernels for Octet. Bit-exact with the Swift
// specification in OctetRuntime/Int8/Int8Arithmetic.swift and Int8Kernels.swift:
//
//   acc[p][o] = bias[o] + sum over in-image taps and input channels of (x - z_x) * w   (int32, wrapping)
//   u8 output:    q = clamp(rne((float)acc * M[o]) + z_y, lo, hi), stored as (uint8_t)q
//   float output: y = clamp((float)acc * S[o], fmin, fmax)
//
// rne is round-half-to-even (what cvtps2dq does under the default MXCSR). Where the Swift
// conversion would trap (|rne(acc * M)| >= 2^31 or NaN), these kernels produce INT32_MIN
// (the cvtps2dq "integer indefinite"), then add z_y (wrapping) and clamp.
//
// Activations are NHWC (one image per call), pixel strides as in ck_fp32.h. Every SIMD
// variant has a `__scalar` twin with identical results; the scalar twin is the specification.
// Variants:
//   __avx512vnni  vpdpbusd (u8 x s8 -> s32, 4 products per lane). Any s8 weights.
//   __avx512bw    vpmaddubsw (u8 x s8 -> saturating s16 pair sums) + vpmaddwd(1) -> s32.
//   __avx2        the same on ymm.
//   __avxvnni     VEX vpdpbusd on ymm (AVX-VNNI: Alder Lake and later, Zen 5). Any s8 weights.
//   A vpmaddubsw pair sum is exact for 7-bit weights (-63 <= w <= 63: at most 2 * 255 * 63 =
//   32130 < 32767); with 8-bit weights a pair can saturate (255 * 128 * 2 = 65280). So the
//   vpmaddubsw paths run 8-bit weights in one of two exact forms (weight_format): split into
//   two halves within [-64, 64] (each pair sum at most 32640, both halves summed: twice the
//   multiplies), or widened to 16 bits and multiplied by vpmaddwd against the activations
//   zero-extended in registers (the default on both: 1.2-1.3x the split form, measured by
//   scripts/kernels/run.sh). The scalar twin reads every format.
#ifndef CK_INT8_H
#define CK_INT8_H
#include <stddef.h>
#include <stdint.h>
#include "ck_fp32.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Geometry of one 2-D convolution over a single NHWC u8 image (same meaning as
/// ck_conv2d_f32_params): input pixel (y, x) channel c lives at input[(y * in_w + x) *
/// in_pixel_stride + c]; output pixel p = oy * out_w + ox, channel k at
/// output[p * out_pixel_stride + k] (elements: bytes for u8 output, floats for float output).
typedef struct {
    size_t in_h, in_w;
    size_t in_pixel_stride;      // >= groups * cin_per_group
    size_t out_h, out_w;
    size_t out_pixel_stride;     // >= groups * cout_per_group
    size_t kernel_h, kernel_w;
    size_t stride_h, stride_w;
    size_t dilation_h, dilation_w;
    size_t pad_top, pad_left;    // bottom/right padding is implied by out_h/out_w
    size_t groups, cin_per_group, cout_per_group;
    int32_t input_zero_point;    // z_x, 0..255
    /// Dense/grouped kernels: how the weights are packed (CK_Q8_WEIGHTS_*).
    int32_t weight_format;
    /// Dense kernels: nonzero lets K be laid out in kernel rows padded to 4 bytes where that
    /// layout applies (a 3-channel stem: conv2d_u8s8_internal.h), so the rows are read in place;
    /// the packing and every call must agree. The paths that gain set it (ck_kernels'
    /// gemm_u8s8_segmented: the VNNI ones); any path reads either layout.
    int32_t segmented_rows;
} ck_conv2d_u8s8_params;

enum { CK_U8S8_OUT_U8 = 0, CK_U8S8_OUT_F32 = 1 };

/// Packed weight formats of the dense/grouped kernels.
enum {
    /// s8 as they are (the VNNI paths; 7-bit weights on the vpmaddubsw paths).
    CK_Q8_WEIGHTS_S8 = 0,
    /// Two halves w = hi + lo, hi = w >> 1 and lo = w - hi (both within [-64, 64]), as two panel
    /// sets (hi at the usual place, lo at ck_conv2d_u8s8_split_offset): vpmaddubsw sums u8 x hi
    /// and u8 x lo pairs without saturating (2 * 255 * 64 < 32768).
    CK_Q8_WEIGHTS_SPLIT = 1,
    /// s16 pairs for vpmaddwd: each 4-k step of a panel holds the (k0, k1) pairs of its columns,
    /// then the (k2, k3) pairs (twice the bytes of the s8 panels).
    CK_Q8_WEIGHTS_S16 = 2,
};

/// A residual Add fused into a u8 output (oneDNN's "sum post-op"): the requantized code q of each
/// output is added to the u8 code r at the same index of `residual` (laid out like the output)
/// with ONNX Runtime's QLinearAdd formula, exactly as ck_qadd_u8 would on the two tensors:
///   out = clamp(rne(fma(a, ma, fma(b, mb, c))), lo, hi), (a, b) = (q, r), or (r, q) if conv_is_b.
/// Dense and grouped kernels, scalar and AVX-512 variants only (not AVX2, not depthwise).
typedef struct {
    const uint8_t *residual;
    float ma, mb, c;
    int32_t lo, hi;
    int conv_is_b;
} ck_u8s8_residual_add;

/// Output stage. scale has one entry per output channel (groups * cout_per_group): the
/// requantization multiplier M (CK_U8S8_OUT_U8) or the dequantization scale S (CK_U8S8_OUT_F32).
typedef struct {
    int mode;                    // CK_U8S8_OUT_U8 or CK_U8S8_OUT_F32
    const float *scale;
    int32_t zero_point, lo, hi;  // u8 mode: z_y and the clamp (Relu: lo = z_y)
    float fmin, fmax;            // float mode clamp (-INFINITY / INFINITY for none)
    const ck_u8s8_residual_add *add; // u8 mode: a fused residual Add, or NULL
} ck_u8s8_output;

/// Bytes of the packed weights (same for every ISA variant; twice the panels when split or s16).
size_t ck_conv2d_u8s8_packed_weights_size(const ck_conv2d_u8s8_params *p);
/// With CK_Q8_WEIGHTS_SPLIT: where the lo panels start (bytes from the packed weights' start).
size_t ck_conv2d_u8s8_split_offset(const ck_conv2d_u8s8_params *p);
/// Packs s8 weights laid out [groups * cout_per_group][kernel_h][kernel_w][cin_per_group]
/// (the Swift executor's layout) into the VNNI panel layout, with per-output-channel weight sums
/// (for the zero-point compensation). `packed` must be 64-byte aligned.
void ck_conv2d_u8s8_pack_weights(const ck_conv2d_u8s8_params *p, const int8_t *weights_ohwi, void *packed);
/// Bytes of scratch one thread needs for one call (any pixel range, any variant).
size_t ck_conv2d_u8s8_scratch_size(const ck_conv2d_u8s8_params *p);

/// Output pixels [pixel_begin, pixel_end). bias (int32, groups * cout_per_group) may be NULL.
/// Threads may call concurrently on disjoint pixel ranges, each with its own scratch.
void ck_conv2d_u8s8_nhwc__scalar(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch);
void ck_conv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch);
/// Any s8 weights: 7-bit ones as they are, others packed split or s16 (see above).
void ck_conv2d_u8s8_nhwc__avx512bw(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch);
/// AVX-VNNI (VEX vpdpbusd on ymm): any s8 weights as they are. Same driver as __avx2.
void ck_conv2d_u8s8_nhwc__avxvnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch);
/// Any s8 weights: 7-bit ones as they are, others packed split or s16 (see above).
void ck_conv2d_u8s8_nhwc__avx2(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch);

/// Grouped convolution with few channels per group (RegNet, ResNeXt), one output channel per
/// lane as in depthwise instead of a GEMM per group: groups >= 2, 4, 8, 12 or 16 input channels and
/// at most 16 output channels per group, every tile of `lanes` consecutive output channels reading
/// at most 4 * lanes input bytes (s8 form) or 2 * lanes (s16 form), plain weight format
/// (ck_gconv2d_u8s8_supported). Weights [C_out][kh][kw][cin] s8, any values. Exact against
/// ck_conv2d_u8s8_nhwc__scalar (same accumulator, same epilogue); no scratch, no fused residual
/// Add. The packing follows the path's form (ck_kernels.gconv_form): `lanes` output channels per
/// vector, each lane taking per step one dword of 4 s8 weights (vpdpbusd on the input bytes:
/// avx512vnni) or, with `s16`, of 2 s16 weights (vpmaddwd on the input widened to u16, exact for
/// any 8-bit weights: avx512, avx2).
typedef struct { uint32_t lanes; uint32_t s16; } ck_gconv_form;
int ck_gconv2d_u8s8_supported(const ck_gconv_form *f, const ck_conv2d_u8s8_params *p);
size_t ck_gconv2d_u8s8_packed_weights_size(const ck_gconv_form *f, const ck_conv2d_u8s8_params *p);
void ck_gconv2d_u8s8_pack_weights(const ck_gconv_form *f, const ck_conv2d_u8s8_params *p, const int8_t *weights, void *packed);
void ck_gconv2d_u8s8_nhwc__avx512bw(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end);
void ck_gconv2d_u8s8_nhwc__avx2(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end);
void ck_gconv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end);

/// Depthwise: groups == channels, cin_per_group == cout_per_group == 1. Weights [C][kh][kw] s8.
/// Any s8 weights on every variant (no 7-bit restriction). No scratch.
size_t ck_dwconv2d_u8s8_packed_weights_size(const ck_conv2d_u8s8_params *p);
void ck_dwconv2d_u8s8_pack_weights(const ck_conv2d_u8s8_params *p, const int8_t *weights_chw, void *packed);
void ck_dwconv2d_u8s8_nhwc__scalar(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end);
void ck_dwconv2d_u8s8_nhwc__avx512(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end);
void ck_dwconv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end);
void ck_dwconv2d_u8s8_nhwc__avx2(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end);

/// Quantized Add, ONNX Runtime's float-multiply formula (see Int8Arithmetic.swift):
/// out[i] = clamp(rne(fma(a[i], ma, fma(b[i], mb, c))), lo, hi), every fma exactly rounded, so all
/// variants are bit-identical. Out-of-range or NaN results convert to INT32_MIN (vcvtps2dq) and
/// clamp to lo.
void ck_qadd_u8__scalar(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi,
    uint8_t *out, size_t n);
void ck_qadd_u8__avx512(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi,
    uint8_t *out, size_t n);
void ck_qadd_u8__avx2(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi,
    uint8_t *out, size_t n);

/// Float -> u8: out = clamp(rne(x / scale) + zero_point, 0, 255) computed in float, NaN -> zero_point
/// (QuantParams.quantize). Division, not a reciprocal multiply, as ONNX QuantizeLinear specifies.
void ck_quantize_u8__scalar(const float *x, float scale, int32_t zero_point, uint8_t *out, size_t n);
void ck_quantize_u8__avx512(const float *x, float scale, int32_t zero_point, uint8_t *out, size_t n);
void ck_quantize_u8__avx2(const float *x, float scale, int32_t zero_point, uint8_t *out, size_t n);

/// ck_quantize_u8 with a scale per channel: x is `pixels` rows of `channels` floats (NHWC), channel
/// c quantized with scales[c] and the one zero point (NNCF's per-channel depthwise inputs).
void ck_quantize_channels_u8__scalar(const float *x, const float *scales, int32_t zero_point, uint8_t *out, size_t pixels, size_t channels);
void ck_quantize_channels_u8__avx2(const float *x, const float *scales, int32_t zero_point, uint8_t *out, size_t pixels, size_t channels);

/// u8 -> u8 with new parameters: out = clamp(rne((x - zero_in) * m) + zero_out, 0, 255), the
/// product in float, INT32_MIN on overflow as vcvtps2dq (Int8Arithmetic.requantize).
void ck_requantize_u8__scalar(const uint8_t *x, int32_t zero_in, float m, int32_t zero_out, uint8_t *out, size_t n);
void ck_requantize_u8__avx512(const uint8_t *x, int32_t zero_in, float m, int32_t zero_out, uint8_t *out, size_t n);
void ck_requantize_u8__avx2(const uint8_t *x, int32_t zero_in, float m, int32_t zero_out, uint8_t *out, size_t n);

/// Max pooling of u8 codes over one NHWC image (ck_pool2d_params of ck_fp32.h; count_include_pad
/// unused): each output is the max over the window's taps inside the image, 0 for a window
/// entirely in the padding (the max is order-free, so every variant is exact).
void ck_maxpool2d_u8_nhwc__scalar(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output);
void ck_maxpool2d_u8_nhwc__avx512(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output);
void ck_maxpool2d_u8_nhwc__avx2(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output);

/// out[i] = table[x[i]]: an element-wise function of one quantized tensor as a 256-entry table.
/// The VBMI variant looks up 64 codes at a time (two vpermi2b over the table's halves); the AVX2
/// one 32 at a time with one vpshufb per 16-entry row of the table.
void ck_lookup_u8__scalar(const uint8_t *x, const uint8_t *table, uint8_t *out, size_t n);
void ck_lookup_u8__avx512vbmi(const uint8_t *x, const uint8_t *table, uint8_t *out, size_t n);
void ck_lookup_u8__avx2(const uint8_t *x, const uint8_t *table, uint8_t *out, size_t n);
/// out[p*C + c] = tables[c*256 + x[p*C + c]]: one table per channel (PRelu's per-channel slopes).
void ck_lookup_channels_u8__scalar(const uint8_t *x, const uint8_t *tables, uint8_t *out, size_t pixels, size_t channels);

/// PRelu / LeakyRelu on codes, computed instead of looked up: out[i] = quantize(leaky(dequantize(x[i])))
/// with v = float(x - zero_in) * scale_in, v < 0 ? v * slope : v, then QuantParams.quantize with
/// scale_out (division, round half to even, NaN -> zero_out, clamp to [0, 255]): the float operations
/// of the 256-entry tables they replace, so each variant gives those tables' bytes. The constants
/// of element i are slope[(phase + i) % period] and scale_out[...]: `period` is a multiple of 16
/// and of the channels, and each array holds two periods so a vector reads them unwrapped.
/// The product form (product_neg non-NULL) computes instead out = round(d * f) + zero_out with
/// d = x - zero_in and f = product_neg[...] where d < 0, else product_pos[...] (round half to even,
/// clamp to [0, 255]): one multiplication instead of two and a division, so not always the tables'
/// bytes; LeakyCodesKernel uses it only where it gives them for every code of every channel.
typedef struct {
    float scale_in;
    int32_t zero_in;
    float zero_out;
    size_t period;
    const float *slope;      // 2 * period
    const float *scale_out;  // 2 * period
    const float *product_neg;  // 2 * period, or NULL: the division form above
    const float *product_pos;  // 2 * period (with product_neg)
} ck_leaky_codes_params;
void ck_leaky_codes_u8__scalar(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase);
void ck_leaky_codes_u8__avx512(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase);
void ck_leaky_codes_u8__avx2(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase);

/// The product of two quantized tensors, b broadcast over pixels or not:
/// out[p*C + c] = clamp(cvt(float((a[p*C + c] - za) * (b[p*b_stride + c] - zb)) * m + float(zy)) + offset, lo, hi),
/// multiply and add rounded separately, cvt rounding half to even (INT32_MIN on overflow, as
/// vcvtps2dq), the offset's sum wrapping: ONNX Runtime's QLinearMul, Int8Arithmetic.product in
/// Swift. zy is the file's zero point (signed for int8 codes, which run shifted: offset 128,
/// else 0), so the float sum rounds as ONNX Runtime's does for either type. b_stride is C (same
/// shape) or 0 (b is one row of C, a squeeze-excitation's per-channel gate).
void ck_qmul_u8__scalar(const uint8_t *a, int32_t za, const uint8_t *b, int32_t zb, size_t b_stride, float m, int32_t zy,
                        int32_t offset, int32_t lo, int32_t hi, uint8_t *out, size_t pixels, size_t channels);
void ck_qmul_u8__avx512(const uint8_t *a, int32_t za, const uint8_t *b, int32_t zb, size_t b_stride, float m, int32_t zy,
                        int32_t offset, int32_t lo, int32_t hi, uint8_t *out, size_t pixels, size_t channels);
void ck_qmul_u8__avx2(const uint8_t *a, int32_t za, const uint8_t *b, int32_t zb, size_t b_stride, float m, int32_t zy,
                      int32_t offset, int32_t lo, int32_t hi, uint8_t *out, size_t pixels, size_t channels);

/// sums[c] += x[p*C + c] for p < pixels, c < C: per-channel sums of consecutive NHWC pixels (an
/// average pool's window rows, a global average pool's whole map). Exact integer sums: the AVX2
/// variant adds blocks of 256 pixels in u16 lanes (at most 256 · 255, no wrap) before widening.
void ck_sum_pixels_u8__scalar(const uint8_t *x, size_t pixels, size_t channels, int32_t *sums);
void ck_sum_pixels_u8__avx2(const uint8_t *x, size_t pixels, size_t channels, int32_t *sums);
/// A global average pool of u8 codes requantized to codes: per channel,
/// clamp(rne(float(sum over pixels of x - pixels * zero_in) * m) + zero_out, 0, 255), wrapping int32.
void ck_mean_pixels_u8__scalar(const uint8_t *x, size_t pixels, size_t channels, int32_t zero_in, float m, int32_t zero_out, uint8_t *out);
void ck_mean_pixels_u8__avx2(const uint8_t *x, size_t pixels, size_t channels, int32_t zero_in, float m, int32_t zero_out, uint8_t *out);
void ck_mean_pixels_u8__avx512(const uint8_t *x, size_t pixels, size_t channels, int32_t zero_in, float m, int32_t zero_out, uint8_t *out);

/// out[2i] = a[i], out[2i + 1] = b[i] for i < n: two runs of codes interleaved (the channel
/// shuffle of two groups, one pixel at a time).
void ck_interleave2_u8__scalar(const uint8_t *a, const uint8_t *b, uint8_t *out, size_t n);
void ck_interleave2_u8__avx2(const uint8_t *a, const uint8_t *b, uint8_t *out, size_t n);

/// Pillow's antialiased resampling of 8-bit RGB (libImaging/Resample.c), horizontal pass: for
/// each of `rows` rows and each output pixel x < out_pixels and channel c,
/// out[x·3 + c] = clip8((2^21 + Σ_{i<taps} weights[i·out_pixels + x] · row[(start[x] + i)·3 + c]) >> 22)
/// in wrapping 32-bit arithmetic, clip8 clamping to [0, 255]. Starts do not decrease and
/// start[x] + taps ≤ row_pixels (an output with fewer taps has zero weights for the rest).
typedef struct {
    size_t rows, row_pixels, src_stride, out_stride, out_pixels, taps;
    const int32_t *start;
    const int32_t *weights;
} ck_resample_rows_params;
void ck_resample_rows_rgb8__scalar(const ck_resample_rows_params *p, const uint8_t *src, uint8_t *out);
void ck_resample_rows_rgb8__avx2(const ck_resample_rows_params *p, const uint8_t *src, uint8_t *out);
/// The vertical pass: out[x] = clip8((2^21 + Σ_{i<taps} weights[i] · src[i·stride + x]) >> 22) for x < n.
void ck_resample_column_u8__scalar(const uint8_t *src, size_t stride, const int32_t *weights, size_t taps, size_t n, uint8_t *out);
void ck_resample_column_u8__avx2(const uint8_t *src, size_t stride, const int32_t *weights, size_t taps, size_t n, uint8_t *out);

/// Bilinear Resize of the height and width of one NHWC image of u8 codes, computed on the codes
/// (a convex combination of codes is the code of the combination, so the output keeps the
/// input's quantization parameters). Output pixel (oy, ox) blends columns col0[ox], col1[ox]
/// with col1's weight col_frac[ox] / 2048, then rows row0[oy], row1[oy] with row1's weight
/// row_frac[oy] / 2048: top = (2048 − fx)·a + fx·b, bottom likewise, out = ((2048 − fy)·top +
/// fy·bottom + 2^21) >> 22. Integer arithmetic only (below 2^31): every variant is exact.
typedef struct {
    size_t in_w, channels, out_h, out_w;
    const int32_t *row0, *row1, *col0, *col1;
    const int16_t *row_frac, *col_frac;   // each in [0, 2048]
} ck_resize_bilinear_u8_params;
void ck_resize_bilinear_u8__scalar(const ck_resize_bilinear_u8_params *p, const uint8_t *input, uint8_t *output);
void ck_resize_bilinear_u8__avx2(const ck_resize_bilinear_u8_params *p, const uint8_t *input, uint8_t *output);

#ifdef __cplusplus
}
#endif
#endif
