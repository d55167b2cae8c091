// Narrowing int32 results to u8 codes on AVX-512, 64 at a time, for the element-wise kernels.
#ifndef CK_PACK_U8_AVX512_H
#define CK_PACK_U8_AVX512_H
#if defined(__x86_64__)
#include <immintrin.h>

/// Four vectors of 16 consecutive int32 results as their 64 bytes in order, each clamped to
/// [0, 255]: vpackssdw + vpackuswb saturate (clamp(v, 0, 255) == sat_u8(sat_s16(v))) and
/// interleave 128-bit lanes, which one vpermd puts back. Stored with one plain store: a masked
/// narrowing store per 16 codes (vpmovdb) is slow on Zen 4.
static inline __attribute__((target("avx512f,avx512bw"))) __m512i ck_pack64_u8(__m512i q0, __m512i q1, __m512i q2, __m512i q3) {
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(order, _mm512_packus_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(q2, q3)));
}

#endif
#endif
