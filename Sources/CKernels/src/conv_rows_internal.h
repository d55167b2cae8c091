// Row-block partition shared by the GEMM convolutions (INT8 and FP32): which output pixels read
// their im2col rows in place from the input (implicit GEMM) and which are gathered into scratch,
// and the balanced row blocks of a pixel range. Element units (bytes or floats) are the caller's.
#ifndef CK_CONV_ROWS_INTERNAL_H
#define CK_CONV_ROWS_INTERNAL_H
#include <stddef.h>

/// How a microkernel reads the im2col rows of a row block: row i's k-th element is at
/// base + i * lda + (k / kc) * achunk + k % kc.
typedef struct {
    size_t lda, kc, achunk;
} ck_q8_reads;

enum { CK_Q8_PACKED, CK_Q8_IN_PLACE, CK_Q8_IMPLICIT };

/// Which output pixels have their im2col rows read straight from the input instead of gathered
/// into scratch: none (CK_Q8_PACKED), all (CK_Q8_IN_PLACE: 1x1 stride-1 rows are the input
/// pixels), or, for CK_Q8_IMPLICIT (implicit GEMM), the pixels of output rows [ya, yb) and
/// columns [xa, xb) whose taps all fall inside the image: kernel row kh of a pixel is KW * cin
/// contiguous input elements (taps of one kernel row are neighbouring pixels), the next kernel
/// row one input row further, and the next output pixel of the same output row stride_w pixels on.
typedef struct {
    int mode;
    size_t ya, yb, xa, xb;
    ck_q8_reads packed, direct;
} ck_q8_layout;

/// The output positions o in [0, out) whose taps o * s - pad + t * d (t < taps) all fall in [0, in): [*lo, *hi).
static inline void ck_q8_inside(size_t out, size_t in, size_t s, size_t pad, size_t taps, size_t d, size_t *lo, size_t *hi) {
    const size_t span = (taps - 1) * d;
    *lo = (pad + s - 1) / s;
    *hi = in + pad >= span + 1 ? (in - 1 + pad - span) / s + 1 : 0;
    if (*hi > out) *hi = out;
    if (*lo > *hi) *lo = *hi;
}

/// One output-row segment of a pixel range: pixel pix (< pixel_end) lies in output row *oy; the
/// segment is columns [*ox0, *ox1) of that row, up to the row's end or pixel_end. The next
/// segment starts at pix + (*ox1 - *ox0).
static inline void ck_row_segment(size_t out_w, size_t pix, size_t pixel_end, size_t *oy, size_t *ox0, size_t *ox1) {
    *oy = pix / out_w;
    *ox0 = pix % out_w;
    *ox1 = pixel_end - pix < out_w - *ox0 ? *ox0 + (pixel_end - pix) : out_w;
}

/// Fills the inside rectangle of an implicit layout and its direct reads; returns 0 (layout left
/// packed) unless the inside rows hold runs of at least min_run pixels. Geometry as in the
/// kernels' params; kc = elements of K per kernel row (KW * cin, or that rounded up to 4 in the
/// INT8 segmented layout), ips = input pixel stride.
static inline int ck_q8_implicit(ck_q8_layout *l, size_t in_h, size_t in_w, size_t out_h, size_t out_w, size_t KH, size_t KW,
    size_t sh, size_t sw, size_t dh, size_t pt, size_t pl, size_t kc, size_t ips, size_t min_run) {
    ck_q8_inside(out_h, in_h, sh, pt, KH, dh, &l->ya, &l->yb);
    ck_q8_inside(out_w, in_w, sw, pl, KW, 1, &l->xa, &l->xb);
    if (l->yb == l->ya || l->xb == l->xa || l->xb - l->xa < min_run) return 0;
    l->mode = CK_Q8_IMPLICIT;
    l->direct.lda = sw * ips;
    l->direct.kc = kc;
    l->direct.achunk = dh * in_w * ips;
    return 1;
}

/// The end of the run of output pixels starting at q (< pe) that are all read in place
/// (*direct = 1) or all packed (*direct = 0); W = output width.
static inline size_t ck_q8_run_end(size_t W, const ck_q8_layout *l, size_t q, size_t pe, int *direct) {
    *direct = l->mode == CK_Q8_IN_PLACE;
    if (l->mode != CK_Q8_IMPLICIT) return pe;
    const size_t oy = q / W, ox = q % W;
    const int row_inside = oy >= l->ya && oy < l->yb;
    size_t end;
    if (row_inside && ox >= l->xa && ox < l->xb) {
        *direct = 1;
        end = oy * W + l->xb;
    } else if (row_inside && ox < l->xa) {
        end = oy * W + l->xa;                   // up to this row's inside run
    } else if (oy + 1 < l->yb) {
        end = (oy + 1 < l->ya ? l->ya : oy + 1) * W + l->xa; // the next inside row's run
    } else {
        end = pe;
    }
    return end < pe ? end : pe;
}

/// Row blocks of at most `mrmax` pixels, balanced within each run of ck_q8_run_end.
typedef struct {
    size_t q, pe, nb, bi, base, extra;
    int direct;
} ck_q8_blocks;

static inline ck_q8_blocks ck_q8_blocks_from(size_t q, size_t pe) {
    ck_q8_blocks b = {q, pe, 0, 0, 0, 0, 0};
    return b;
}

/// The next row block (first pixel *q, *mr rows, read in place or not); 0 after the last.
static inline int ck_q8_next_block(size_t W, const ck_q8_layout *l, size_t mrmax, ck_q8_blocks *b, size_t *q, size_t *mr,
    int *direct) {
    if (b->bi == b->nb) {
        if (b->q >= b->pe) return 0;
        const size_t len = ck_q8_run_end(W, l, b->q, b->pe, &b->direct) - b->q;
        b->nb = (len + mrmax - 1) / mrmax;
        b->base = len / b->nb;
        b->extra = len % b->nb;
        b->bi = 0;
    }
    *q = b->q;
    *mr = b->base + (b->bi < b->extra);
    *direct = b->direct;
    b->q += *mr;
    b->bi++;
    return 1;
}

/// Number of row blocks ck_q8_next_block yields over pixels [pb, pe).
static inline size_t ck_q8_count_blocks(size_t W, const ck_q8_layout *l, size_t mrmax, size_t pb, size_t pe) {
    size_t n = 0, q, mr;
    int direct;
    for (ck_q8_blocks it = ck_q8_blocks_from(pb, pe); ck_q8_next_block(W, l, mrmax, &it, &q, &mr, &direct);) n++;
    return n;
}

/// Input pixel index of tap (0, 0) of output pixel q, for pixels inside an implicit layout's
/// rectangle (where it is never in the padding).
static inline size_t ck_q8_first_tap(size_t q, size_t out_w, size_t in_w, size_t sh, size_t sw, size_t pt, size_t pl) {
    const size_t oy = q / out_w, ox = q % out_w;
    return (oy * sh - pt) * in_w + ox * sw - pl;
}

#endif
