// 4 x double on AVX2 + FMA, with the free functions gelu_math_f64.h needs.
// Included only by gelu_kernel_avx2.cpp, under `#pragma GCC target`.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace gelu_ext {
namespace cpu {
namespace avx2_f64 {

struct Mask {
  __m256d m;
};

struct Vec {
  static constexpr int kSize = 4;
  __m256d v;
  Vec() = default;
  Vec(__m256d a) : v(a) {}
  explicit Vec(double a) : v(_mm256_set1_pd(a)) {}
  static Vec load(const double* p) { return _mm256_loadu_pd(p); }
  // p[0], p[2], p[4], p[6]: every second double of 8 (reads all 8).
  static Vec load_every_second(const double* p) {
    // [p0 p4 p2 p6] from the low lane of each 128-bit half, then in order
    const __m256d pairs = _mm256_unpacklo_pd(_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4));
    return _mm256_permute4x64_pd(pairs, _MM_SHUFFLE(3, 1, 2, 0));
  }
  static void store(double* p, Vec a) { _mm256_storeu_pd(p, a.v); }
};

static inline Vec operator+(Vec a, Vec b) { return _mm256_add_pd(a.v, b.v); }
static inline Vec operator-(Vec a, Vec b) { return _mm256_sub_pd(a.v, b.v); }
static inline Vec operator*(Vec a, Vec b) { return _mm256_mul_pd(a.v, b.v); }
static inline Vec operator/(Vec a, Vec b) { return _mm256_div_pd(a.v, b.v); }
static inline Vec operator-(Vec a) { return _mm256_xor_pd(a.v, _mm256_set1_pd(-0.0)); }
static inline Mask operator>(Vec a, Vec b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GT_OQ)}; }
static inline Vec select(Mask m, Vec a, Vec b) { return _mm256_blendv_pd(b.v, a.v, m.m); }
static inline Mask isnan_(Vec a) { return {_mm256_cmp_pd(a.v, a.v, _CMP_UNORD_Q)}; }
static inline Vec fma_(Vec a, Vec b, Vec c) { return _mm256_fmadd_pd(a.v, b.v, c.v); }
static inline Vec abs_(Vec a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a.v); }
static inline Vec copysign_(Vec mag, Vec sgn) {
  const __m256d sign = _mm256_set1_pd(-0.0);
  return _mm256_or_pd(_mm256_andnot_pd(sign, mag.v), _mm256_and_pd(sign, sgn.v));
}
// minpd/maxpd return the second operand unless the comparison holds: the
// scalar min_/max_ of gelu_math_f64.h.
static inline Vec min_(Vec a, Vec b) { return _mm256_min_pd(a.v, b.v); }
static inline Vec max_(Vec a, Vec b) { return _mm256_max_pd(a.v, b.v); }
static inline Vec clamp_hi(Vec a, Vec lim) { return _mm256_min_pd(lim.v, a.v); }

// An 8-entry lookup: vpermd picks within each half of the table (as pairs
// of 32-bit words, 2j and 2j + 1 for entry j), bit 2 of the piece picks the
// half (blendvpd reads the sign bit, where the shift puts it).
struct Piece {
  __m256i words;
  __m256d upper;
};
static inline Piece piece_of(Vec b) {
  const __m256i bits = _mm256_castpd_si256(b.v);
  const __m256i j2 = _mm256_slli_epi64(_mm256_and_si256(bits, _mm256_set1_epi64x(3)), 1);
  const __m256i words =
      _mm256_or_si256(j2, _mm256_slli_epi64(_mm256_add_epi64(j2, _mm256_set1_epi64x(1)), 32));
  return {words, _mm256_castsi256_pd(_mm256_slli_epi64(bits, 61))};
}
static inline Vec lookup(const double* row, const Piece& piece) {
  const __m256 lo = _mm256_castpd_ps(_mm256_load_pd(row));
  const __m256 hi = _mm256_castpd_ps(_mm256_load_pd(row + 4));
  const __m256d a = _mm256_castps_pd(_mm256_permutevar8x32_ps(lo, piece.words));
  const __m256d b = _mm256_castps_pd(_mm256_permutevar8x32_ps(hi, piece.words));
  return _mm256_blendv_pd(a, b, piece.upper);
}

// 2^e for integral e in [-1022, 1023], from its bits.
static inline __m256d pow2_(__m256d e) {
  const __m256d b = _mm256_add_pd(e, _mm256_set1_pd(0x1.8p52 + 1023.0));
  return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(b), 52));
}
// v * 2^k, same contract and two steps as the scalar scale_pow2 of
// gelu_math_f64.h: the first factor keeps v normal, only the second rounds.
static inline Vec scale_pow2(Vec v, Vec k) {
  const __m256d k1 = _mm256_max_pd(k.v, _mm256_set1_pd(-600.0));
  return _mm256_mul_pd(_mm256_mul_pd(v.v, pow2_(k1)), pow2_(_mm256_sub_pd(k.v, k1)));
}

}  // namespace avx2_f64
}  // namespace cpu
}  // namespace gelu_ext
