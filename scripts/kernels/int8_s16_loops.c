// Kernel harness: candidate inner loops of the exact 8-bit-weight AVX2 microkernel, one thread,
// hot caches, K = 576 (a 3x3x64 layer), timed in isolation (the loops only, no epilogue), so
// that docs/benchmarks.md's choice of the s16 tile can be re-measured on any AVX2 CPU:
//   cur      4x16, u8 activations widened in registers by two vpshufb (the kernel before 2026-12-05)
//   wide     u16 activations widened beforehand (what the driver's widen step gives): 4x16, 6x16
//            (the tile chosen), 4x24
//   sign     4x16 / 5x16: vpmaddubsw on |x - 128| with the weights' signs moved by vpsignb (exact
//            for weights within +-127)
//   maddubs  4x16 vpmaddubsw + vpmaddwd (7-bit weights: the saturating form, for scale)
// Built and run by scripts/kernels/run.sh int8_s16_loops (AVX2 CPUs only).
#include <immintrin.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define K 576
#define T __attribute__((target("avx2,fma"),noinline))
static uint8_t A8[12][K] __attribute__((aligned(64)));
static uint16_t A16[12][K] __attribute__((aligned(64)));
static int16_t B16[K/2][32] __attribute__((aligned(64))); // per k-pair: 16 cols x 2 k
static int8_t B16b[K/4][64] __attribute__((aligned(64)));
volatile int sink;
// current form: u8 A, vpshufb widening; B layout per 4k: [b00 b01](k0k1 pairs, 16 cols) [b10 b11](k2k3)
T void cur(int MR, __m256i *out) {
  __m256i c0[4], c1[4]; for(int i=0;i<4;i++){c0[i]=c1[i]=_mm256_setzero_si256();}
  const __m256i p01=_mm256_set1_epi32((int)0xFF01FF00), p23=_mm256_set1_epi32((int)0xFF03FF02);
  const int16_t *b=&B16[0][0];
  for(int k=0;k<K;k+=4){
    __m256i b00=_mm256_load_si256((const __m256i*)b), b01=_mm256_load_si256((const __m256i*)(b+16));
    __m256i b10=_mm256_load_si256((const __m256i*)(b+32)), b11=_mm256_load_si256((const __m256i*)(b+48));
#pragma GCC unroll 4
    for(int i=0;i<4;i++){
      __m256i ai=_mm256_set1_epi32(*(const int*)(&A8[i][k]));
      __m256i x=_mm256_shuffle_epi8(ai,p01), y=_mm256_shuffle_epi8(ai,p23);
      c0[i]=_mm256_add_epi32(c0[i],_mm256_add_epi32(_mm256_madd_epi16(x,b00),_mm256_madd_epi16(y,b10)));
      c1[i]=_mm256_add_epi32(c1[i],_mm256_add_epi32(_mm256_madd_epi16(x,b01),_mm256_madd_epi16(y,b11)));
    }
    b+=64;
  }
  for(int i=0;i<4;i++){out[2*i]=c0[i];out[2*i+1]=c1[i];}
}
// pre-widened A: MR rows x 16 cols
#define DEFW(MR) T void wide##MR(__m256i *out){ \
  __m256i c0[MR], c1[MR]; for(int i=0;i<MR;i++){c0[i]=c1[i]=_mm256_setzero_si256();} \
  const int16_t *b=&B16[0][0]; \
  for(int k=0;k<K;k+=2){ \
    __m256i b0=_mm256_load_si256((const __m256i*)b), b1=_mm256_load_si256((const __m256i*)(b+16)); \
    _Pragma("GCC unroll 6") for(int i=0;i<MR;i++){ \
      __m256i ai=_mm256_set1_epi32(*(const int*)(&A16[i][k])); \
      c0[i]=_mm256_add_epi32(c0[i],_mm256_madd_epi16(ai,b0)); \
      c1[i]=_mm256_add_epi32(c1[i],_mm256_madd_epi16(ai,b1)); } \
    b+=32; if (b >= &B16[K/2][0]) b=&B16[0][0]; } \
  for(int i=0;i<MR;i++){out[2*i]=c0[i];out[2*i+1]=c1[i];} }
DEFW(4) DEFW(6)
// 4 rows x 24 cols
T void wide4x24(__m256i *out){
  __m256i c[12]; for(int i=0;i<12;i++)c[i]=_mm256_setzero_si256();
  const int16_t *b=&B16[0][0];
  for(int k=0;k<K;k+=2){
    __m256i b0=_mm256_load_si256((const __m256i*)b), b1=_mm256_load_si256((const __m256i*)(b+16)), b2=_mm256_load_si256((const __m256i*)(b+32));
#pragma GCC unroll 4
    for(int i=0;i<4;i++){ __m256i ai=_mm256_set1_epi32(*(const int*)(&A16[i][k]));
      c[3*i]=_mm256_add_epi32(c[3*i],_mm256_madd_epi16(ai,b0));
      c[3*i+1]=_mm256_add_epi32(c[3*i+1],_mm256_madd_epi16(ai,b1));
      c[3*i+2]=_mm256_add_epi32(c[3*i+2],_mm256_madd_epi16(ai,b2)); }
    b+=32; if (b >= &B16[K/2-1][0]) b=&B16[0][0];
  }
  for(int i=0;i<12;i++)out[i]=c[i];
}
// maddubs 4x16 (7-bit) reference
T void ub(__m256i *out){
  __m256i c0[4], c1[4]; for(int i=0;i<4;i++){c0[i]=c1[i]=_mm256_setzero_si256();}
  const __m256i ones=_mm256_set1_epi16(1); const int8_t *b=&B16b[0][0];
  for(int k=0;k<K;k+=4){ __m256i b0=_mm256_load_si256((const __m256i*)b), b1=_mm256_load_si256((const __m256i*)(b+32));
#pragma GCC unroll 4
    for(int i=0;i<4;i++){ __m256i ai=_mm256_set1_epi32(*(const int*)(&A8[i][k]));
      c0[i]=_mm256_add_epi32(c0[i],_mm256_madd_epi16(_mm256_maddubs_epi16(ai,b0),ones));
      c1[i]=_mm256_add_epi32(c1[i],_mm256_madd_epi16(_mm256_maddubs_epi16(ai,b1),ones)); }
    b+=64; }
  for(int i=0;i<4;i++){out[2*i]=c0[i];out[2*i+1]=c1[i];}
}

#define DEFS(MR) T void sgn##MR(__m256i *out){ \
  __m256i c0[MR], c1[MR]; for(int i=0;i<MR;i++){c0[i]=c1[i]=_mm256_setzero_si256();} \
  const __m256i ones=_mm256_set1_epi16(1), x80=_mm256_set1_epi8((char)0x80); const int8_t *b=&B16b[0][0]; \
  for(int k=0;k<K;k+=4){ __m256i b0=_mm256_load_si256((const __m256i*)b), b1=_mm256_load_si256((const __m256i*)(b+32)); \
    _Pragma("GCC unroll 6") for(int i=0;i<MR;i++){ __m256i ai=_mm256_xor_si256(_mm256_set1_epi32(*(const int*)(&A8[i][k])),x80); \
      __m256i ua=_mm256_abs_epi8(ai); \
      c0[i]=_mm256_add_epi32(c0[i],_mm256_madd_epi16(_mm256_maddubs_epi16(ua,_mm256_sign_epi8(b0,ai)),ones)); \
      c1[i]=_mm256_add_epi32(c1[i],_mm256_madd_epi16(_mm256_maddubs_epi16(ua,_mm256_sign_epi8(b1,ai)),ones)); } \
    b+=64; } \
  for(int i=0;i<MR;i++){out[2*i]=c0[i];out[2*i+1]=c1[i];} }
DEFS(4) DEFS(5)
int main(void){
  if (!__builtin_cpu_supports("avx2")) { printf("this CPU lacks AVX2\n"); return 0; }
  memset(A8,3,sizeof A8); memset(A16,1,sizeof A16); memset(B16,1,sizeof B16); memset(B16b,1,sizeof B16b);
  __m256i o[16]; int n=200000;
  for(int r=0;r<3;r++){
  double t=now(); for(int i=0;i<n;i++) cur(4,o); double d=now()-t; printf("cur 4x16 s16(vpshufb): %.1f GOPS\n", 2.0*4*16*K*n/d/1e9);
  t=now(); for(int i=0;i<n;i++) wide4(o); d=now()-t; printf("wide 4x16: %.1f GOPS\n", 2.0*4*16*K*n/d/1e9);
  t=now(); for(int i=0;i<n;i++) wide6(o); d=now()-t; printf("wide 6x16: %.1f GOPS\n", 2.0*6*16*K*n/d/1e9);
  t=now(); for(int i=0;i<n;i++) wide4x24(o); d=now()-t; printf("wide 4x24: %.1f GOPS\n", 2.0*4*24*K*n/d/1e9);
  t=now(); for(int i=0;i<n;i++) sgn4(o); d=now()-t; printf("sign 4x16: %.1f GOPS\n", 2.0*4*16*K*n/d/1e9);
  t=now(); for(int i=0;i<n;i++) sgn5(o); d=now()-t; printf("sign 5x16: %.1f GOPS\n", 2.0*5*16*K*n/d/1e9);
  t=now(); for(int i=0;i<n;i++) ub(o); d=now()-t; printf("maddubs 4x16: %.1f GOPS\n", 2.0*4*16*K*n/d/1e9);
  }
  sink=((int*)o)[0];
}
