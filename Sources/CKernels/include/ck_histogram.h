// Statistics kernels for calibration: the exact |x| histogram of Octet's AbsHistogram.
#ifndef CK_HISTOGRAM_H
#define CK_HISTOGRAM_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Summary of a float buffer: largest finite |x|, counts of non-finite, zero and negative values.
typedef struct {
    float max_abs;
    int64_t non_finite;
    int64_t zeros;
    int64_t negatives;
} ck_abs_stats;

void ck_abs_stats_f32__scalar(const float *x, size_t n, ck_abs_stats *out);
void ck_abs_stats_f32__avx512(const float *x, size_t n, ck_abs_stats *out);

/// For every finite non-zero x: bins[floor(|x| * 2^(bits - exponent))] += 1, where the caller
/// guarantees |x| < 2^exponent, so the index is below 2^bits. Exact: scaling by a power of two
/// and truncating are exact in float.
void ck_abs_histogram_f32__scalar(const float *x, size_t n, int exponent, int bits, int64_t *bins);
void ck_abs_histogram_f32__avx512(const float *x, size_t n, int exponent, int bits, int64_t *bins);

#ifdef __cplusplus
}
#endif
#endif
