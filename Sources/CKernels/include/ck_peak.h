#ifndef CK_PEAK_H
#define CK_PEAK_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
/// Instruction-throughput loops for the INT8 paths' peak multiply-accumulate rate on one core:
/// `iters` rounds of independent accumulator chains (12; 6 for the ymm product loops), operands in registers. Each returns
/// the multiply-accumulates it performed (time the call to get MACs/s; 2 ops per MAC).
///   __avx512vnni   vpdpbusd zmm (64 u8 x s8 MACs an instruction)
///   __avx512bw     vpmaddubsw + vpmaddwd(1) + vpaddd on zmm (64 MACs per 3 instructions)
///   __avxvnni      VEX vpdpbusd ymm (32 MACs)
///   __avx2         vpmaddubsw + vpmaddwd(1) + vpaddd on ymm (32 MACs per 3 instructions)
///   __avx2_maddwd  vpmaddwd + vpaddd on ymm, 16-bit operands (16 MACs per 2 instructions)
///   __avx512bw_maddwd  vpmaddwd + vpaddd on zmm, 16-bit operands (32 MACs per 2 instructions)
/// A path the CPU lacks must not be called.
uint64_t ck_peak_u8s8__avx512vnni(size_t iters);
uint64_t ck_peak_u8s8__avx512bw(size_t iters);
uint64_t ck_peak_u8s8__avxvnni(size_t iters);
uint64_t ck_peak_u8s8__avx2(size_t iters);
uint64_t ck_peak_u8s8__avx2_maddwd(size_t iters);
uint64_t ck_peak_u8s8__avx512bw_maddwd(size_t iters);

/// The FP32 FMA peak on one core (`peak_f32.c`): `iters` rounds of 12 independent `vfmadd`
/// chains; returns the multiply-adds performed (2 FLOPs each).
///   __avx512f   vfmadd zmm (16 per instruction): the FP32 kernels of both AVX-512 paths
///   __avx2      vfmadd ymm (8): the FP32 kernels of the 256-bit paths
uint64_t ck_peak_f32__avx512f(size_t iters);
uint64_t ck_peak_f32__avx2(size_t iters);
#ifdef __cplusplus
}
#endif
#endif
