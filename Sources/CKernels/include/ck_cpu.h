#ifndef CK_CPU_H
#define CK_CPU_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
enum {
    CK_CPU_AVX2 = 1u << 0,
    CK_CPU_FMA = 1u << 1,
    CK_CPU_AVX512F = 1u << 2,
    CK_CPU_AVX512BW = 1u << 3,
    CK_CPU_AVX512VL = 1u << 4,
    CK_CPU_AVX512VNNI = 1u << 5,
    CK_CPU_AVXVNNI = 1u << 6,
    /// AVX512_VBMI (vpermi2b: 128-byte table lookups), Ice Lake and Zen 4 on.
    CK_CPU_AVX512VBMI = 1u << 7,
};
/// Bitmask of CK_CPU_* features usable by this process (CPU and OS state support).
uint32_t ck_cpu_features(void);
#ifdef __cplusplus
}
#endif
#endif
