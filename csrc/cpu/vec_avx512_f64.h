// 8 x double on AVX-512F, with the free functions gelu_math_f64.h needs.
// Included only by gelu_kernel_avx512.cpp, under `#pragma GCC target`.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace gelu_ext {
namespace cpu {
namespace avx512_f64 {

struct Mask {
  __mmask8 m;
};

struct Vec {
  static constexpr int kSize = 8;
  __m512d v;
  Vec() = default;
  Vec(__m512d a) : v(a) {}
  explicit Vec(double a) : v(_mm512_set1_pd(a)) {}
  static Vec load(const double* p) { return _mm512_loadu_pd(p); }
  // p[0], p[2], ..., p[14]: every second double of 16 (reads all 16).
  static Vec load_every_second(const double* p) {
    const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_pd(_mm512_loadu_pd(p), even, _mm512_loadu_pd(p + 8));
  }
  static void store(double* p, Vec a) { _mm512_storeu_pd(p, a.v); }
};

static inline Vec operator+(Vec a, Vec b) { return _mm512_add_pd(a.v, b.v); }
static inline Vec operator-(Vec a, Vec b) { return _mm512_sub_pd(a.v, b.v); }
static inline Vec operator*(Vec a, Vec b) { return _mm512_mul_pd(a.v, b.v); }
static inline Vec operator/(Vec a, Vec b) { return _mm512_div_pd(a.v, b.v); }
static inline Vec operator-(Vec a) {
  return _mm512_castsi512_pd(
      _mm512_xor_si512(_mm512_castpd_si512(a.v), _mm512_set1_epi64(INT64_MIN)));
}
static inline Mask operator>(Vec a, Vec b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GT_OQ)}; }
static inline Vec select(Mask m, Vec a, Vec b) { return _mm512_mask_blend_pd(m.m, b.v, a.v); }
static inline Mask isnan_(Vec a) { return {_mm512_cmp_pd_mask(a.v, a.v, _CMP_UNORD_Q)}; }
static inline Vec fma_(Vec a, Vec b, Vec c) { return _mm512_fmadd_pd(a.v, b.v, c.v); }
static inline Vec abs_(Vec a) {
  return _mm512_castsi512_pd(
      _mm512_and_si512(_mm512_castpd_si512(a.v), _mm512_set1_epi64(INT64_MAX)));
}
static inline Vec copysign_(Vec mag, Vec sgn) {
  // bitwise select, imm 0xca = A ? B : C with A = 0x7fff...
  return _mm512_castsi512_pd(_mm512_ternarylogic_epi64(
      _mm512_set1_epi64(INT64_MAX), _mm512_castpd_si512(mag.v), _mm512_castpd_si512(sgn.v), 0xca));
}
// minpd/maxpd return the second operand unless the comparison holds: the
// scalar min_/max_ of gelu_math_f64.h.
static inline Vec min_(Vec a, Vec b) { return _mm512_min_pd(a.v, b.v); }
static inline Vec max_(Vec a, Vec b) { return _mm512_max_pd(a.v, b.v); }
static inline Vec clamp_hi(Vec a, Vec lim) { return _mm512_min_pd(lim.v, a.v); }

// The piece index is in the low bits of b; vpermpd reads the low 3 bits.
struct Piece {
  __m512i bits;
};
static inline Piece piece_of(Vec b) { return {_mm512_castpd_si512(b.v)}; }
static inline Vec lookup(const double* row, Piece piece) {
  return _mm512_permutexvar_pd(piece.bits, _mm512_load_pd(row));
}

// v * 2^k, integral k: vscalefpd rounds the exact product once, subnormal
// results included, which is what the scalar two-step version computes.
static inline Vec scale_pow2(Vec v, Vec k) { return _mm512_scalef_pd(v.v, k.v); }

}  // namespace avx512_f64
}  // namespace cpu
}  // namespace gelu_ext
