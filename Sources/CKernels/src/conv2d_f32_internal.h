// Internal layout shared by the FP32 conv2d kernels (scalar / AVX2 / AVX-512).
//
// Packed weights (ISA-independent), per group g, as GEMM B = [K][N] with
//   K = kernel_h * kernel_w * cin_per_group, k = (kh * kernel_w + kw) * cin_per_group + ci
//   N = cout_per_group split into panels of CK_CONV_NR (32) output channels.
// Panel j starts at  g * ck_conv_group_floats(p) + j * 32 * K  and stores element (k, col)
// at k * width + col, where width is 32, except for the LAST panel of a group when
// cout_per_group % 32 != 0: that panel is (cout_per_group % 32) rounded up to a multiple of 8
// wide (8, 16, 24 or 32). Padding columns are zero.
//
// Scratch (AVX2 / AVX-512): for each row block of a macro-block (see ck_conv_nblocks), the
// im2col rows of up to CK_CONV_AROWS output pixels for the current K-block [k0, k1), stored in
// K-chunks of CK_CONV_KC floats: element (row i, k) of the A block lives at
//   A[((k - k0) / KC) * AROWS * KCS + i * KCS + (k - k0) % KC]
// so that the microkernels address rows with compile-time displacements (KCS = KC + 16
// floats: the extra cache line keeps rows off the same L1 sets). Row blocks are
// ck_conv_ablock_floats apart; the partial-sum tiles (if K is split) follow them.
#ifndef CK_CONV2D_F32_INTERNAL_H
#define CK_CONV2D_F32_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "ck_fp32.h"

#define CK_CONV_NR 32
#define CK_CONV_KC 512
#define CK_CONV_KCS (CK_CONV_KC + 16)
#define CK_CONV_AROWS 14
#define CK_CONV_ACHUNK ((size_t)CK_CONV_AROWS * CK_CONV_KCS)

static inline size_t ck_conv_k(const ck_conv2d_f32_params *p) {
    return p->kernel_h * p->kernel_w * p->cin_per_group;
}

/// Width of the last panel of a group (cout_per_group % 32 rounded up to 8, 16, 24 or 32),
/// 0 if cout_per_group is a multiple of 32.
static inline size_t ck_conv_tail_width(size_t cout) {
    return (cout % CK_CONV_NR + 7) & ~(size_t)7;
}

/// Padded N of one group (sum of panel widths).
static inline size_t ck_conv_padded_n(size_t cout) {
    return (cout / CK_CONV_NR) * CK_CONV_NR + ck_conv_tail_width(cout);
}

static inline size_t ck_conv_group_floats(const ck_conv2d_f32_params *p) {
    return ck_conv_k(p) * ck_conv_padded_n(p->cout_per_group);
}

/// Width of panel j (which starts at output channel j * 32 of the group).
static inline size_t ck_conv_panel_width(size_t cout, size_t j) {
    size_t col0 = j * CK_CONV_NR;
    return (cout - col0 >= CK_CONV_NR) ? CK_CONV_NR : ck_conv_tail_width(cout);
}

/// Blocking of the AVX-512 (and AVX2) kernels. Output pixels of a call are split into balanced row blocks
/// of <= CK_CONV_AROWS; up to ck_conv_nblocks() consecutive row blocks form a macro-block whose
/// im2col rows (for one K-block) are packed together, so that each chunk of packed weights
/// (one 32-column panel x one K-block) is fetched from memory once per macro-block and reused
/// for every row block from L1/L2. K larger than CK_CONV_KSPLIT is split into K-blocks of
/// ck_conv_kblock() (<= CK_CONV_KBMAX); partial sums then live in scratch tiles of
/// CK_CONV_AROWS x 32 floats per (row block, panel). Budgets are in floats: A = im2col rows
/// actually used by a macro-block (L2), C = partial-sum tiles, SMALL_B = weights of one group
/// small enough to stay in L2 anyway (then one row block per macro-block).
#ifndef CK_CONV_A_BUDGET
#define CK_CONV_A_BUDGET ((size_t)48 * 1024)
#endif
#ifndef CK_CONV_C_BUDGET
#define CK_CONV_C_BUDGET ((size_t)32 * 1024)
#endif
#ifndef CK_CONV_KSPLIT
#define CK_CONV_KSPLIT ((size_t)1024)
#endif
#ifndef CK_CONV_KBMAX
#define CK_CONV_KBMAX ((size_t)512)
#endif
#ifndef CK_CONV_SMALL_B
#define CK_CONV_SMALL_B ((size_t)64 * 1024)
#endif
#define CK_CONV_MAXNB ((size_t)16)
#define CK_CONV_CTILE ((size_t)CK_CONV_AROWS * CK_CONV_NR)

static inline size_t ck_conv_kblock(const ck_conv2d_f32_params *p) {
    const size_t K = ck_conv_k(p);
    if (K <= CK_CONV_KSPLIT) return K;
    const size_t nkb = (K + CK_CONV_KBMAX - 1) / CK_CONV_KBMAX;
    size_t kb = (K + nkb - 1) / nkb;
    kb = (kb + 15) & ~(size_t)15;
    return kb < K ? kb : K;
}

/// Maximum row blocks per macro-block.
static inline size_t ck_conv_nblocks(const ck_conv2d_f32_params *p) {
    const size_t K = ck_conv_k(p), KB = ck_conv_kblock(p);
    // Weights that stay in L2 anyway: one row block at a time keeps its im2col rows in L1.
    if (K * ck_conv_padded_n(p->cout_per_group) <= CK_CONV_SMALL_B) return 1;
    size_t nb = CK_CONV_A_BUDGET / (CK_CONV_AROWS * (KB ? KB : 1));
    if (KB < K) {
        const size_t npanels = (p->cout_per_group + CK_CONV_NR - 1) / CK_CONV_NR;
        const size_t nc = CK_CONV_C_BUDGET / (npanels * CK_CONV_CTILE);
        if (nc < nb) nb = nc;
    }
    if (nb > CK_CONV_MAXNB) nb = CK_CONV_MAXNB;
    return nb < 1 ? 1 : nb;
}

/// Floats of one row block's im2col rows in scratch (K-block chunks of CK_CONV_ACHUNK).
static inline size_t ck_conv_ablock_floats(const ck_conv2d_f32_params *p) {
    const size_t chunks = (ck_conv_kblock(p) + CK_CONV_KC - 1) / CK_CONV_KC;
    return (chunks ? chunks : 1) * CK_CONV_ACHUNK;
}

/// Aligns the scratch pointer up to 64 bytes (scratch_size reserves the slack).
static inline float *ck_conv_align_scratch(float *s) {
    uintptr_t a = (uintptr_t)s;
    uintptr_t b = (a + 63) & ~(uintptr_t)63;
    return (float *)b;
}

#endif
