// The ISA-independent driver of the INT8 GEMM convolution (see conv2d_u8s8_gemm.h).
//
// Output pixels of a call are split into balanced row blocks of <= block_rows rows; a
// macro-block of row blocks (im2col rows within CK_Q8_A_BUDGET, i.e. L2) is gathered into
// scratch by the path's pack_a (padded taps holding z_x, see conv2d_u8s8_internal.h) or read
// in place where the input holds the rows (1x1 layers, the inside pixels of wider ones), and
// widened to u16 rows where the path's microkernels for the weight format read those; then
// for each 32-column weight panel the path's microkernels run over every row block of the
// macro-block in mr x nr tiles, so each weight panel is fetched once per macro-block. The
// accumulators start at bias - z_x * wsum, computed once per call. A fused residual Add runs
// over each macro-block's outputs while they are still in L2.
#include "conv2d_u8s8_gemm.h"

/// The fused residual Add over group g's channels of output pixels [q0, q1): one run per pixel,
/// or one run in all when the pixels are dense.
static void ck_q8_add_residual(const ck_q8_gemm_config *cfg, const ck_conv2d_u8s8_params *p, const ck_u8s8_residual_add *add,
    uint8_t *output, size_t g, size_t q0, size_t q1) {
    const size_t cout = p->cout_per_group, stride = p->out_pixel_stride;
    const int dense = p->groups == 1 && cout == stride;
    for (size_t q = q0; q < q1; q = dense ? q1 : q + 1) {
        const size_t off = q * stride + g * cout, n = dense ? (q1 - q0) * stride : cout;
        uint8_t *o = output + off;
        const uint8_t *r = add->residual + off;
        if (add->conv_is_b) cfg->qadd(r, add->ma, o, add->mb, add->c, add->lo, add->hi, o, n);
        else cfg->qadd(o, add->ma, r, add->mb, add->c, add->lo, add->hi, o, n);
    }
}

void ck_q8_gemm_run(const ck_q8_gemm_config *cfg, const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    const size_t K4 = ck_q8_k4(p), cout = p->cout_per_group;
    if (cout == 0 || pixel_begin >= pixel_end) return;
    const size_t npanels = (cout + CK_Q8_NR - 1) / CK_Q8_NR;
    const size_t group_bytes = ck_q8_group_bytes(p);
    const int8_t *pw = (const int8_t *)packed_weights;
    const int32_t *wsum = (const int32_t *)(pw + ck_q8_wsum_offset(p));
    const size_t esize = out->mode == CK_U8S8_OUT_U8 ? 1 : 4;
    const size_t stride = p->out_pixel_stride;
    const size_t slot_bytes = ck_q8_slot_bytes(p);
    const size_t nbmax = ck_q8_nblocks(p);
    const int format = p->weight_format;
    // A weight format this path has no microkernels for (a caller's error): the scalar twin
    // reads every format.
    if (format < 0 || format > CK_Q8_WEIGHTS_S16 || cfg->mr[format] == 0) {
        ck_conv2d_u8s8_nhwc__scalar(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end, scratch);
        return;
    }
    const size_t block_rows = cfg->block_rows, tile_rows = cfg->mr[format], tile_cols = cfg->nr;
    uint8_t *A = ck_q8_align_scratch(scratch);
    // Paths whose microkernels read u16 activations: each row block is widened into its slot
    // (gathered into the staging slot first where it is not read in place).
    const ck_q8_widen_fn widen = cfg->widen[format];
    uint8_t *stage = A + ck_q8_stage_offset(p);
    ck_q8_reads wide;
    wide.lda = ck_q8_wide_lda(p);
    wide.kc = K4;
    wide.achunk = 0;
    const uint32_t zx = (uint32_t)p->input_zero_point;
    // Accumulator start values bias - z_x * wsum of every (padded) column, once per call.
    const size_t pn = ck_q8_padded_n(cout);
    int32_t *init = (int32_t *)(A + ck_q8_init_offset(p));
    // Branch-free loops the compiler vectorizes (a layer a few microseconds long spent a tenth
    // of its driver time here as a scalar loop).
    for (size_t g = 0; g < p->groups; g++) {
        int32_t *ig = init + g * pn;
        const int32_t *ws = wsum + g * cout;
        if (bias) {
            const int32_t *bg = bias + g * cout;
            for (size_t c = 0; c < cout; c++) ig[c] = (int32_t)((uint32_t)bg[c] - zx * (uint32_t)ws[c]);
        } else {
            for (size_t c = 0; c < cout; c++) ig[c] = (int32_t)(0u - zx * (uint32_t)ws[c]);
        }
        for (size_t c = cout; c < pn; c++) ig[c] = 0;
    }
    // Rows read in place where the input holds them.
    const ck_q8_layout layout = ck_q8_layout_for(p, block_rows);
    const size_t nblk = ck_q8_count_blocks(p->out_w, &layout, block_rows, pixel_begin, pixel_end);
    // Balanced macro-blocks of <= nbmax row blocks.
    const size_t nmacro = (nblk + nbmax - 1) / nbmax;
    ck_q8_epi e;
    e.stride = stride * esize;
    e.mode = out->mode;
    e.zy = out->zero_point;
    e.lo = out->lo;
    e.hi = out->hi;
    e.fmin = out->fmin;
    e.fmax = out->fmax;
    const size_t wb = ck_q8_weight_bytes(p);
    e.split = format == CK_Q8_WEIGHTS_SPLIT ? (ptrdiff_t)ck_conv2d_u8s8_split_offset(p) : 0;
    const ck_u8s8_residual_add *add = out->mode == CK_U8S8_OUT_U8 ? out->add : NULL;
    for (size_t g = 0; g < p->groups; g++) {
        const int8_t *gw = pw + g * group_bytes;
        ck_q8_blocks it = ck_q8_blocks_from(pixel_begin, pixel_end);
        for (size_t m = 0; m < nmacro; m++) {
            const size_t nb = nblk * (m + 1) / nmacro - nblk * m / nmacro;
            size_t q[CK_Q8_MAXNB], mr[CK_Q8_MAXNB];
            const uint8_t *a[CK_Q8_MAXNB];
            const ck_q8_reads *reads[CK_Q8_MAXNB];
            for (size_t bi = 0; bi < nb; bi++) {
                int direct = 0;
                ck_q8_next_block(p->out_w, &layout, block_rows, &it, &q[bi], &mr[bi], &direct);
                uint8_t *slot = A + bi * slot_bytes;
                if (direct) {
                    a[bi] = ck_q8_direct_row(p, &layout, input, g, q[bi]);
                    reads[bi] = &layout.direct;
                } else {
                    uint8_t *to = widen ? stage : slot;
                    cfg->pack_a(p, input, g, q[bi], mr[bi], to);
                    a[bi] = to;
                    reads[bi] = &layout.packed;
                }
                if (widen) {
                    widen(a[bi], reads[bi], mr[bi], K4, slot, wide.lda);
                    a[bi] = slot;
                    reads[bi] = &wide;
                }
            }
            for (size_t j = 0; j < npanels; j++) {
                const size_t col0 = g * cout + j * CK_Q8_NR;
                const size_t width = ck_q8_panel_width(cout, j);
                const size_t cols = (cout - j * CK_Q8_NR) < CK_Q8_NR ? (cout - j * CK_Q8_NR) : CK_Q8_NR;
                const int8_t *bp = gw + j * CK_Q8_NR * K4 * wb;
                e.ldb = width * 4 * wb;
                for (size_t bi = 0; bi < nb; bi++) {
                    const ck_q8_reads *r = reads[bi];
                    for (size_t r0 = 0; r0 < mr[bi]; r0 += tile_rows) {
                        const size_t n = mr[bi] - r0 < tile_rows ? mr[bi] - r0 : tile_rows;
                        const ck_q8_gemm_ukernel ukernel = cfg->ukernel[format][n][width / 16 - 1];
                        for (size_t h = 0; h < cols; h += tile_cols) {
                            e.init = init + g * pn + j * CK_Q8_NR + h;
                            e.cols = cols - h < tile_cols ? cols - h : tile_cols;
                            e.scale = out->scale + col0 + h;
                            e.out = (char *)output + ((q[bi] + r0) * stride + col0 + h) * esize;
                            ukernel(K4, a[bi] + r0 * r->lda, r, bp + 4 * h, &e);
                        }
                    }
                }
            }
            if (add && nb > 0) ck_q8_add_residual(cfg, p, add, (uint8_t *)output, g, q[0], q[nb - 1] + mr[nb - 1]);
        }
    }
}
