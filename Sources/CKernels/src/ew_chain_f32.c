// A chain of element-wise operations applied to one tensor in one pass over cache-sized blocks
// (e.g. x * Clip(x + 3, 0, 6) / 6, the HardSwish Paddle exports as four nodes): each block of the
// output is the input, then each instruction applied in place by the row kernels of
// binary_f32.c, so the chain gives the same bits as the nodes run one by one, on every path,
// while the block stays in L1.
#include "ck_fp32.h"

enum { CK_EW_BLOCK = 1024 };

typedef void (*ck_binary_fn)(int, size_t, size_t, const float *, size_t, size_t, const float *, size_t, size_t, float *);
typedef void (*ck_clamp_fn)(size_t, const float *, float, float, float *);

static void ck_ew_chain(size_t n, const float *x, const ck_ew_instr *prog, size_t len, float *y,
    ck_binary_fn binary, ck_clamp_fn clamp) {
    for (size_t i = 0; i < n; i += CK_EW_BLOCK) {
        const size_t m = n - i < CK_EW_BLOCK ? n - i : CK_EW_BLOCK;
        const float *xb = x + i;
        float *yb = y + i;
        const float *v = xb;  // the chain's value so far: the input until the first instruction
        for (size_t k = 0; k < len; k++) {
            const ck_ew_instr *in = &prog[k];
            if (in->op == CK_EW_CLAMP) {
                clamp(m, v, in->a, in->b, yb);
            } else {
                const float *o = in->operand == CK_EW_INPUT ? xb : &in->a;
                const size_t so = in->operand == CK_EW_INPUT ? 1 : 0;
                if (in->reversed) binary(in->op, 1, m, o, 0, so, v, 0, 1, yb);
                else binary(in->op, 1, m, v, 0, 1, o, 0, so, yb);
            }
            v = yb;
        }
        if (len == 0) for (size_t j = 0; j < m; j++) yb[j] = xb[j];
    }
}

void ck_ew_chain_f32__scalar(size_t n, const float *x, const ck_ew_instr *prog, size_t len, float *y) {
    ck_ew_chain(n, x, prog, len, y, ck_binary_f32__scalar, ck_clamp_f32__scalar);
}

void ck_ew_chain_f32__avx2(size_t n, const float *x, const ck_ew_instr *prog, size_t len, float *y) {
    ck_ew_chain(n, x, prog, len, y, ck_binary_f32__avx2, ck_clamp_f32__avx2);
}

void ck_ew_chain_f32__avx512(size_t n, const float *x, const ck_ew_instr *prog, size_t len, float *y) {
    ck_ew_chain(n, x, prog, len, y, ck_binary_f32__avx512, ck_clamp_f32__avx512);
}
