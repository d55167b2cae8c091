// FP32 microkernels for Octet. Activations are NHWC (one image at a time); every SIMD
// variant (`__avx512`, `__avx2`) has a `__scalar` twin with identical semantics, which is
// the specification the SIMD variants are tested against.
#ifndef CK_FP32_H
#define CK_FP32_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Geometry of one 2-D convolution over a single NHWC image.
/// Input pixel (y, x) channel c lives at input[(y * in_w + x) * in_pixel_stride + c];
/// output pixel p = oy * out_w + ox, channel k lives at output[p * out_pixel_stride + k].
/// Pixel strides allow reading/writing a channel slice of a wider tensor (e.g. Concat).
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
    float act_min, act_max;      // fused clamp: -INFINITY/INFINITY for none, 0/INFINITY for Relu
} ck_conv2d_f32_params;

/// Number of floats the packed weights occupy (same for every ISA variant).
size_t ck_conv2d_f32_packed_weights_size(const ck_conv2d_f32_params *p);
/// Packs ONNX OIHW weights [groups*cout_per_group][cin_per_group][kernel_h][kernel_w].
void ck_conv2d_f32_pack_weights(const ck_conv2d_f32_params *p, const float *weights_oihw, float *packed);
/// Floats of scratch one thread needs for one call (any pixel range).
size_t ck_conv2d_f32_scratch_size(const ck_conv2d_f32_params *p);

/// output[p][k] = clamp(sum conv + bias[k] + residual[p][k], act_min, act_max)
/// for output pixels p in [pixel_begin, pixel_end). bias and residual may be NULL.
/// residual uses out_pixel_stride. Threads may call concurrently on disjoint pixel ranges,
/// each with its own scratch.
void ck_conv2d_f32_nhwc__scalar(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end, float *scratch);
void ck_conv2d_f32_nhwc__avx2(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end, float *scratch);
void ck_conv2d_f32_nhwc__avx512(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end, float *scratch);

/// Winograd F(2x2, 3x3) for 3x3 convolutions of stride 1, dilation 1 and one group (any
/// padding, any channel counts): same contract as ck_conv2d_f32_nhwc (pixel ranges, threads,
/// fused bias/residual/clamp) with 2.25x fewer multiplications; results differ from the
/// direct kernel by float rounding (transforms of sums instead of sums of products). Each
/// output pixel gets the same bits whatever pixel range computes it, and every path computes
/// the same transforms (see wino3x3_f32_impl.h).
size_t ck_wino3x3_f32_packed_weights_size(const ck_conv2d_f32_params *p);
/// Transforms and packs ONNX OIHW weights [cout][cin][3][3]; returns 0, or -1 without memory.
int ck_wino3x3_f32_pack_weights(const ck_conv2d_f32_params *p, const float *weights_oihw, float *packed);
size_t ck_wino3x3_f32_scratch_size(const ck_conv2d_f32_params *p);
void ck_wino3x3_f32_nhwc__scalar(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end, float *scratch);
void ck_wino3x3_f32_nhwc__avx2(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end, float *scratch);
void ck_wino3x3_f32_nhwc__avx512(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end, float *scratch);

/// Depthwise convolution: groups == channels, one output channel per group
/// (cin_per_group == cout_per_group == 1 in the params; groups = channels).
size_t ck_dwconv2d_f32_packed_weights_size(const ck_conv2d_f32_params *p);
void ck_dwconv2d_f32_pack_weights(const ck_conv2d_f32_params *p, const float *weights_oihw, float *packed);
void ck_dwconv2d_f32_nhwc__scalar(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end);
void ck_dwconv2d_f32_nhwc__avx2(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end);
void ck_dwconv2d_f32_nhwc__avx512(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end);

/// Pooling over one NHWC image with `channels` contiguous channels per pixel.
typedef struct {
    size_t in_h, in_w, channels;
    size_t out_h, out_w;
    size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int count_include_pad;       // AveragePool only
} ck_pool2d_params;

/// Padding never wins a max; a window entirely in padding yields -INFINITY.
void ck_maxpool2d_f32_nhwc__scalar(const ck_pool2d_params *p, const float *input, float *output);
void ck_maxpool2d_f32_nhwc__avx512(const ck_pool2d_params *p, const float *input, float *output);
void ck_avgpool2d_f32_nhwc__scalar(const ck_pool2d_params *p, const float *input, float *output);
void ck_avgpool2d_f32_nhwc__avx512(const ck_pool2d_params *p, const float *input, float *output);
/// output[c] = mean over the in_h*in_w pixels of channel c.
void ck_global_avgpool_f32_nhwc__scalar(size_t pixels, size_t channels, const float *input, float *output);
void ck_global_avgpool_f32_nhwc__avx512(size_t pixels, size_t channels, const float *input, float *output);

/// NCHW -> NHWC for one image: dst[p * channels + c] = src[c * pixels + p] (pure data movement, so
/// every variant gives the same bytes). The AVX-512 variant interleaves 3-channel images (network
/// inputs) with permutes; other channel counts use the scalar loop.
void ck_nchw_to_nhwc_f32__scalar(const float *src, size_t channels, size_t pixels, float *dst);
void ck_nchw_to_nhwc_f32__avx512(const float *src, size_t channels, size_t pixels, float *dst);

// ---- Element-wise activations ----
// y[i] = 1 / (1 + e^-x[i]) with e^t from one polynomial (Cephes expf: range reduction by
// ln 2 in two parts, degree-5 polynomial, 2^n by exponent bits; |t| clamped to 88.38), every
// step a single IEEE operation or fused multiply-add, so the SIMD paths equal the scalar twin
// bit for bit. Relative error of the sigmoid below 3e-7 (0 where e^-x overflows float).
void ck_sigmoid_f32__scalar(size_t n, const float *x, float *y);
void ck_sigmoid_f32__avx2(size_t n, const float *x, float *y);
void ck_sigmoid_f32__avx512(size_t n, const float *x, float *y);
// y = x * sigmoid(x) (SiLU / Swish), the same exponential.
void ck_silu_f32__scalar(size_t n, const float *x, float *y);
void ck_silu_f32__avx2(size_t n, const float *x, float *y);
void ck_silu_f32__avx512(size_t n, const float *x, float *y);

// Max/average pooling, AVX2 (same semantics as the scalar twins; sums in the same order).
void ck_maxpool2d_f32_nhwc__avx2(const ck_pool2d_params *p, const float *input, float *output);
void ck_avgpool2d_f32_nhwc__avx2(const ck_pool2d_params *p, const float *input, float *output);

// y = max(0, min(1, alpha·x + beta)) (HardSigmoid) and y = x · HardSigmoid(x) with alpha 1/6,
// beta 1/2 (HardSwish): a multiply then an add (never contracted to an FMA), so every path
// equals the scalar twin bit for bit. NaN propagates.
/// Softmax over the middle axis of [outer, n, inner] row-major floats (y may be x): per row, the
/// max (NaN ignored), e^(x - max) with ck_exp (0 below its range, NaN kept), their sum in k order,
/// then each term divided by it. Every variant gives the scalar twin's bits.
void ck_softmax_f32__scalar(const float *x, float *y, size_t outer, size_t n, size_t inner);
void ck_softmax_f32__avx2(const float *x, float *y, size_t outer, size_t n, size_t inner);
void ck_softmax_f32__avx512(const float *x, float *y, size_t outer, size_t n, size_t inner);
void ck_hardsigmoid_f32__scalar(size_t n, float alpha, float beta, const float *x, float *y);
void ck_hardsigmoid_f32__avx2(size_t n, float alpha, float beta, const float *x, float *y);
void ck_hardsigmoid_f32__avx512(size_t n, float alpha, float beta, const float *x, float *y);
void ck_hardswish_f32__scalar(size_t n, const float *x, float *y);
void ck_hardswish_f32__avx2(size_t n, const float *x, float *y);
void ck_hardswish_f32__avx512(size_t n, const float *x, float *y);

// ---- Broadcasting element-wise arithmetic over one row (binary_f32.c) ----
// y[r * n + i] = op(a[r * ra + i * sa], b[r * rb + i * sb]) for r in [0, rows), i in [0, n); the
// element strides sa, sb are 0 (broadcast) or 1 on the SIMD paths (others run the scalar loop). Every op is one IEEE operation per element, so every path
// equals the scalar twin bit for bit. Max/Min return the quiet NaN 0x7FC00000 when either
// operand is NaN; Max returns b and Min returns a when the operands compare equal (±0).
// PRelu: a < 0 ? a * b : a (b the slope).
enum { CK_BINARY_ADD = 0, CK_BINARY_SUB = 1, CK_BINARY_MUL = 2, CK_BINARY_DIV = 3,
       CK_BINARY_MAX = 4, CK_BINARY_MIN = 5, CK_BINARY_PRELU = 6 };
void ck_binary_f32__scalar(int op, size_t rows, size_t n, const float *a, size_t ra, size_t sa,
    const float *b, size_t rb, size_t sb, float *y);
void ck_binary_f32__avx2(int op, size_t rows, size_t n, const float *a, size_t ra, size_t sa,
    const float *b, size_t rb, size_t sb, float *y);
void ck_binary_f32__avx512(int op, size_t rows, size_t n, const float *a, size_t ra, size_t sa,
    const float *b, size_t rb, size_t sb, float *y);
// A chain of element-wise instructions over one tensor (ew_chain_f32.c): v = x[i], then for each
// instruction v = op(v, operand) (operand op v when `reversed`), the operand the constant `a` or
// the chain's input x[i]; CK_EW_CLAMP is min(b, max(a, v)) as ck_clamp_f32. Runs block by block
// through the row kernels in place (y may not alias x): same bits as the instructions run one
// by one.
enum { CK_EW_CLAMP = 16 };
enum { CK_EW_CONST = 0, CK_EW_INPUT = 1 };
typedef struct { int32_t op; int32_t operand; int32_t reversed; float a; float b; } ck_ew_instr;
void ck_ew_chain_f32__scalar(size_t n, const float *x, const ck_ew_instr *prog, size_t len, float *y);
void ck_ew_chain_f32__avx2(size_t n, const float *x, const ck_ew_instr *prog, size_t len, float *y);
void ck_ew_chain_f32__avx512(size_t n, const float *x, const ck_ew_instr *prog, size_t len, float *y);
// y[i] = x[i] * scale[i * ss] + shift[i * st] (a multiply, then an add: never an FMA); ss, st 0 or 1.
void ck_affine_f32__scalar(size_t n, const float *x, const float *scale, size_t ss, const float *shift, size_t st, float *y);
void ck_affine_f32__avx2(size_t n, const float *x, const float *scale, size_t ss, const float *shift, size_t st, float *y);
void ck_affine_f32__avx512(size_t n, const float *x, const float *scale, size_t ss, const float *shift, size_t st, float *y);
// y[i] = min(hi, max(lo, x[i])), NaN kept.
void ck_clamp_f32__scalar(size_t n, const float *x, float lo, float hi, float *y);
void ck_clamp_f32__avx2(size_t n, const float *x, float lo, float hi, float *y);
void ck_clamp_f32__avx512(size_t n, const float *x, float lo, float hi, float *y);

// dst[c * rows + r] = src[r * cols + c]: a rows x cols matrix transposed in cache tiles (NHWC to
// NCHW is rows = pixels, cols = channels). Pure data movement.
void ck_transpose_f32(size_t rows, size_t cols, const float *src, float *dst);
// Copies `rows` runs of n floats: dst[r * dst_stride + i] = src[r * src_stride + i] (a channel
// range of NHWC pixels, a Concat's slice).
void ck_copy_rows_f32(size_t rows, size_t n, const float *src, size_t src_stride, float *dst, size_t dst_stride);
// The channel shuffle of ShuffleNet on NHWC pixels of groups * channels_per_group channels:
// dst[p][j * groups + i] = src[p][i * channels_per_group + j] (Reshape [g, C/g], Transpose, Reshape).
void ck_channel_shuffle_f32(size_t pixels, size_t groups, size_t channels_per_group, const float *src, float *dst);

#ifdef __cplusplus
}
#endif
#endif
