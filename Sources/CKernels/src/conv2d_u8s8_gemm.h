// The INT8 GEMM convolution as XNNPACK builds it: one ISA-independent driver
// (conv2d_u8s8_gemm.c: row blocks, im2col or implicit reads, macro-blocking for L2, the
// accumulator start values, the tiling of weight panels and the fused residual Add) over a
// per-ISA configuration of microkernels (conv2d_u8s8_avx512_impl.h, conv2d_u8s8_avx2_impl.h).
//
// A microkernel computes an MR x NR tile of output pixels x output channels from K4 im2col
// bytes per row and one weight panel (the 4-byte interleave of conv2d_u8s8_internal.h), then
// requantizes or dequantizes it. Its name says dtype, op, tile and ISA, as XNNPACK's do:
//   ck_qu8s8_gemm_ukernel_14x32c4__avx512vnni   u8 x s8, GEMM, 14 rows x 32 columns, k in 4s
//   ck_qu8s8_gemm_ukernel_4x16c4_split__avx2    8-bit weights as two halves, vpmaddubsw
//   ck_qu8s8_gemm_ukernel_6x16c4_s16__avx2      8-bit weights widened to s16, activations to u16, vpmaddwd
// Adding an ISA means writing its microkernels, its im2col gather and one configuration.
#ifndef CK_CONV2D_U8S8_GEMM_H
#define CK_CONV2D_U8S8_GEMM_H
#include "conv2d_u8s8_internal.h"

/// One tile's output stage and weight-panel geometry.
typedef struct {
    const int32_t *init;   // NR accumulator start values (bias - z_x * wsum; 64-byte aligned)
    const float *scale;    // scale of the tile's column 0
    char *out;             // element (row 0, column 0)
    size_t stride;         // out_pixel_stride in bytes
    size_t cols;           // valid columns, 1..NR
    int mode;              // CK_U8S8_OUT_U8 or CK_U8S8_OUT_F32
    int32_t zy, lo, hi;
    float fmin, fmax;
    ptrdiff_t split;       // bytes from a hi panel to its lo panel (CK_Q8_WEIGHTS_SPLIT), else 0
    size_t ldb;            // bytes per 4-k step of the weight panel (4 x panel width, 8 x for s16)
} ck_q8_epi;

/// rows x NR outputs: im2col rows at A read as `r` says, weights from B (the tile's first column
/// of a panel), output stage e.
typedef void (*ck_q8_gemm_ukernel)(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, const ck_q8_epi *e);

/// Gathers the im2col rows of output pixels [p0, p0 + rows) of group g into a row block.
typedef void (*ck_q8_pack_a_fn)(const ck_conv2d_u8s8_params *p, const uint8_t *input, size_t g, size_t p0, size_t rows,
    uint8_t *A);

/// Widens `rows` im2col rows of K4 u8 activations, read as `r` says (ck_q8_reads), into rows of
/// u16 values `wlda` bytes apart at W (the s16 microkernels' operand).
typedef void (*ck_q8_widen_fn)(const uint8_t *A, const ck_q8_reads *r, size_t rows, size_t K4, uint8_t *W, size_t wlda);

/// The u8 Add of ck_qadd_u8 (the residual Add fused after a macro-block).
typedef void (*ck_q8_qadd_fn)(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi,
    uint8_t *out, size_t n);

/// A path's GEMM: its microkernels and the ISA-specific helpers the driver calls.
typedef struct {
    /// The full tile's microkernel name per weight format (what `octet bench --profile` prints;
    /// NULL for a format the path does not read).
    const char *name[3];
    /// Rows of a row block (<= CK_Q8_AROWS); the driver also reads runs of at least this many
    /// pixels in place.
    size_t block_rows;
    /// Rows of one microkernel call per weight format (<= block_rows; 0: the format is not read).
    size_t mr[3];
    /// Columns of one microkernel call (16 or 32).
    size_t nr;
    /// [weight_format][rows 1..mr][panel width / 16 - 1] (NULL for a format the path does not read).
    ck_q8_gemm_ukernel ukernel[3][CK_Q8_AROWS + 1][2];
    ck_q8_pack_a_fn pack_a;
    /// Per weight format: NULL where the microkernels read the u8 rows, else the widening of each
    /// row block into u16 rows (read in place or gathered first) before they run.
    ck_q8_widen_fn widen[3];
    ck_q8_qadd_fn qadd;
} ck_q8_gemm_config;

/// Output pixels [pixel_begin, pixel_end) of one image with `config`'s microkernels (the
/// contract of ck_conv2d_u8s8_nhwc__scalar).
void ck_q8_gemm_run(const ck_q8_gemm_config *config, const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch);

extern const ck_q8_gemm_config ck_q8_gemm_config__avx512vnni;
extern const ck_q8_gemm_config ck_q8_gemm_config__avx512bw;
extern const ck_q8_gemm_config ck_q8_gemm_config__avxvnni;
extern const ck_q8_gemm_config ck_q8_gemm_config__avx2;

#define CK_Q8_CAT3_(a, b, c) a##b##c
#define CK_Q8_CAT3(a, b, c) CK_Q8_CAT3_(a, b, c)

#endif
