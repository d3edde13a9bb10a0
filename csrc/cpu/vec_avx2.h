// 8 x float on AVX2 + FMA + F16C, with the free functions gelu_math.h needs.
// Included only by gelu_kernel_avx2.cpp, under `#pragma GCC target`.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "../gelu_tail_tables.h"

namespace gelu_ext {
namespace cpu {
namespace avx2 {

struct Mask {
  __m256 m;
};

struct Vec {
  using scalar_type = float;
  static constexpr int kSize = 8;
  __m256 v;
  Vec() = default;
  Vec(__m256 a) : v(a) {}
  static Vec load(const float* p);
  // p[0], p[2], ..., p[14]: every second float of 16 (reads all 16).
  static Vec load_every_second(const float* p);
  // Two 16-byte parts, the first in lanes 0-3, as the vector's bits.
  static Vec of_parts(__m128i a, __m128i b) {
    return _mm256_castsi256_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1));
  }
  static void store(float* p, Vec a);
  static Vec load(const uint16_t* p, bool bf16);
  // p[0], p[2], ..., p[14] (reads all 16).
  static Vec load_every_second(const uint16_t* p, bool bf16);
  static void store(uint16_t* p, Vec a, bool bf16);
  explicit Vec(float a) : v(_mm256_set1_ps(a)) {}
  // The tables stay in memory here (their lookups load rows; see lookup
  // below): the table itself, for the loops that ask the AVX-512 type for a
  // copy in registers.
  static const math::NearTable& resident(const math::NearTable& t) { return t; }
  static const math::TailTable& resident(const math::TailTable& t) { return t; }
  static constexpr bool kHoldsTables = false;
};

float scalar_of(Vec);

static inline Vec operator+(Vec a, Vec b) { return _mm256_add_ps(a.v, b.v); }
static inline Vec operator-(Vec a, Vec b) { return _mm256_sub_ps(a.v, b.v); }
static inline Vec operator*(Vec a, Vec b) { return _mm256_mul_ps(a.v, b.v); }
static inline Vec operator/(Vec a, Vec b) { return _mm256_div_ps(a.v, b.v); }
static inline Vec operator-(Vec a) { return _mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f)); }
static inline Mask operator>(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
static inline Vec select(Mask m, Vec a, Vec b) { return _mm256_blendv_ps(b.v, a.v, m.m); }
static inline Mask isnan_(Vec a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
static inline Vec fma_(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a.v, b.v, c.v); }
static inline Vec fms_(Vec a, Vec b, Vec c) { return _mm256_fmsub_ps(a.v, b.v, c.v); }
static inline Vec abs_(Vec a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v); }
static inline Vec copysign_(Vec mag, Vec sgn) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  return _mm256_or_ps(_mm256_andnot_ps(sign, mag.v), _mm256_and_ps(sign, sgn.v));
}
static inline Vec rint_(Vec a) {
  return _mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
// min(lim, a) returning a when a is NaN (maxps/minps return the 2nd operand).
static inline Vec clamp_hi(Vec a, Vec lim) { return _mm256_min_ps(lim.v, a.v); }
static inline Vec abs_clamp(Vec a, Vec lim) { return clamp_hi(abs_(a), lim); }
static inline Mask not_less(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_NLT_UQ)}; }
static inline Vec add_where(Mask m, Vec a, Vec b) { return select(m, a + b, a); }
static inline Vec sub_where(Mask m, Vec a, Vec b) { return select(m, a - b, b); }
// maxps(-0, x): -0 > x ? -0 : x, as the scalar positive_part.
static inline Vec positive_part(Vec x) { return _mm256_max_ps(_mm256_set1_ps(-0.0f), x.v); }

// The tail tables' interval index and lookups (see tail_index in
// gelu_math.h). AVX2 has no 32-entry permute, and its gathers are several
// times slower than the arithmetic on the cores measured (docs/PERFORMANCE.md),
// so each lane's row of terms (TailTable::row) is loaded and the 8 x 8 block
// transposed: 16 half-row loads and 15 in-lane shuffles for all seven terms.
struct Index {
  __m256i v;
};
static inline Index tail_index(Vec y) {
  const __m256i b = _mm256_max_epi32(_mm256_castps_si256(y.v), _mm256_set1_epi32(0x3d800000));
  return {_mm256_and_si256(_mm256_srli_epi32(b, 21), _mm256_set1_epi32(31))};
}
// Each lane's row of eight terms (row[j]), transposed: col[t] is term t of
// every lane (kTerms of them; the rest of a row is padding).
template <int kTerms>
static inline void rows_of(const float (*row)[8], const int32_t (&idx)[8], Vec* col) {
  // m[i] = terms 0-3 of lanes i and i + 4, n[i] = terms 4-7: the lane
  // crossing happens in the loads, so only in-lane 4 x 4 transposes remain.
  __m256 m[4], n[4];
  for (int i = 0; i < 4; ++i) {
    const float* lo = row[idx[i]];
    const float* hi = row[idx[i + 4]];
    m[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_load_ps(lo)), _mm_load_ps(hi), 1);
    n[i] =
        _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_load_ps(lo + 4)), _mm_load_ps(hi + 4), 1);
  }
  const auto transpose4 = [](const __m256(&v)[4], Vec* out, int count) {
    const __m256 a0 = _mm256_unpacklo_ps(v[0], v[1]), a1 = _mm256_unpackhi_ps(v[0], v[1]);
    const __m256 a2 = _mm256_unpacklo_ps(v[2], v[3]), a3 = _mm256_unpackhi_ps(v[2], v[3]);
    out[0] = _mm256_shuffle_ps(a0, a2, 0x44);
    out[1] = _mm256_shuffle_ps(a0, a2, 0xee);
    out[2] = _mm256_shuffle_ps(a1, a3, 0x44);
    if (count > 3) out[3] = _mm256_shuffle_ps(a1, a3, 0xee);
  };
  transpose4(m, col, 4);
  transpose4(n, col + 4, kTerms - 4);
}
// The lanes' indices, in memory for the row loads.
static inline void store_index(Index j, int32_t (&idx)[8]) {
  _mm256_store_si256(reinterpret_cast<__m256i*>(idx), j.v);
}
static inline math::TailTerms<Vec> lookup(const math::TailTable& t, Index j) {
  alignas(32) int32_t idx[8];
  store_index(j, idx);
  Vec col[7];
  rows_of<7>(t.row, idx, col);  // term 7 is padding
  return {col[0], {col[1], col[2], col[3], col[4], col[5], col[6]}};
}
// The near tables' interval indices (see near_index and tanh_near_index in
// gelu_math.h) and lookup: the first eight terms by rows as for the tail
// tables, the ninth (c7) by eight scalar loads with the same indices (one
// vgatherdps costs about 9 ns on the Ice Lake core measured,
// docs/PERFORMANCE.md: the float32 exact forward went from 0.40-0.66x to
// 0.68-0.86x native, the tanh backward from 1.03-1.20x to 1.50-1.71x).
static inline Index near_index(Vec y) {
  return {_mm256_and_si256(_mm256_castps_si256(math::near_index_sum(y).v), _mm256_set1_epi32(31))};
}
static inline Index tanh_near_index(Vec y) {
  return {
      _mm256_and_si256(_mm256_castps_si256(math::tanh_near_index_sum(y).v), _mm256_set1_epi32(31))};
}
static inline Index tanh_forward_near_index(Vec y) {
  return {_mm256_and_si256(_mm256_castps_si256(math::tanh_forward_near_index_sum(y).v),
                           _mm256_set1_epi32(31))};
}
static inline math::NearTerms<Vec> lookup(const math::NearTable& t, Index j) {
  alignas(32) int32_t idx[8];
  store_index(j, idx);
  Vec col[8];
  rows_of<8>(t.row, idx, col);
  const float* c7 = t.c[7];
  const Vec last = _mm256_setr_ps(c7[idx[0]], c7[idx[1]], c7[idx[2]], c7[idx[3]], c7[idx[4]],
                                  c7[idx[5]], c7[idx[6]], c7[idx[7]]);
  return {col[0], {col[1], col[2], col[3], col[4], col[5], col[6], col[7], last}};
}

// 2^e for integral e in [-126, 127], from its bits.
static inline __m256 pow2i(__m256i e) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
}

// v * 2^k, same contract as the scalar scale_pow2 in gelu_math.h.
static inline Vec scale_pow2(Vec v, Vec k) {
  // max_ps returns its 2nd operand for a NaN k.
  const __m256 kc = _mm256_max_ps(k.v, _mm256_set1_ps(-220.0f));
  const __m256i ki = _mm256_cvtps_epi32(kc);
  if (_mm256_movemask_ps(_mm256_cmp_ps(kc, _mm256_set1_ps(-100.0f), _CMP_LT_OQ)) == 0) {
    return _mm256_mul_ps(v.v, pow2i(ki));
  }
  const __m256i k1 = _mm256_max_epi32(ki, _mm256_set1_epi32(-100));
  return _mm256_mul_ps(_mm256_mul_ps(v.v, pow2i(k1)), pow2i(_mm256_sub_epi32(ki, k1)));
}

// The full-range forms' primitives (gelu_math.h, NormalRange): no float
// operation here returns a number below 2^-126 or multiplies one.
static inline Vec clamp_lo(Vec a, Vec lim) { return _mm256_max_ps(a.v, lim.v); }
static inline Mask not_le(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_NLE_UQ)}; }
static inline bool any_(Mask m) { return _mm256_movemask_ps(m.m) != 0; }
static inline bool all_at_least(Vec a, Vec b) {
  return _mm256_movemask_ps(_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)) == 0xff;
}
// scale_pow2 where the result may be subnormal: q = v 2^(k + 149) is exact (or
// overflows; two factors 2^u1 2^u2, u1 = min(k + 149, 100)), and where
// |q| < 2^23 the result has the bits of q rounded to an integer (to nearest
// even, as the scalar version's multiply rounds); the other lanes through
// scale_pow2, the tiny ones with k = 0 there.
static inline Vec scale_pow2_quiet(Vec v, Vec k) {
  const __m256i up = _mm256_cvtps_epi32(_mm256_add_ps(k.v, _mm256_set1_ps(149.0f)));
  const __m256i u1 = _mm256_min_epi32(up, _mm256_set1_epi32(100));
  const __m256 q =
      abs_(Vec(_mm256_mul_ps(_mm256_mul_ps(v.v, pow2i(u1)), pow2i(_mm256_sub_epi32(up, u1))))).v;
  const __m256 tiny = _mm256_cmp_ps(q, _mm256_set1_ps(0x1p23f), _CMP_LT_OQ);
  const __m256i n = _mm256_cvtps_epi32(q);
  const __m256 small =
      _mm256_or_ps(_mm256_castsi256_ps(n), _mm256_and_ps(v.v, _mm256_set1_ps(-0.0f)));
  const Vec normal = scale_pow2(v, _mm256_andnot_ps(tiny, k.v));
  return _mm256_blendv_ps(normal.v, small, tiny);
}
// a * b rounded once to float: the exact product in double, converted where it
// is at least 2^-126 (or NaN), else rounded to a multiple of 2^-149 through an
// integer, as in scale_pow2_quiet.
static inline __m128 mul_quiet_half(__m128 a, __m128 b) {
  const __m256d d = _mm256_mul_pd(_mm256_cvtps_pd(a), _mm256_cvtps_pd(b));
  const __m256d ad = _mm256_andnot_pd(_mm256_set1_pd(-0.0), d);
  const __m256d tiny = _mm256_cmp_pd(ad, _mm256_set1_pd(0x1p-126), _CMP_LT_OQ);
  const __m128i n =
      _mm256_cvtpd_epi32(_mm256_mul_pd(_mm256_and_pd(tiny, ad), _mm256_set1_pd(0x1p149)));
  const __m128 sign = _mm_and_ps(_mm_xor_ps(a, b), _mm_set1_ps(-0.0f));
  // Each lane has one nonzero part (or a sign bit the other part already has):
  // the tiny lanes' conversion is of +0, the others' integer is 0.
  const __m128 normal = _mm256_cvtpd_ps(_mm256_andnot_pd(tiny, d));
  return _mm_or_ps(normal, _mm_or_ps(_mm_castsi128_ps(n), sign));
}
static inline Vec mul_quiet(Vec a, Vec b) {
  const __m128 lo = mul_quiet_half(_mm256_castps256_ps128(a.v), _mm256_castps256_ps128(b.v));
  const __m128 hi = mul_quiet_half(_mm256_extractf128_ps(a.v, 1), _mm256_extractf128_ps(b.v, 1));
  return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

// ---- loads and stores, widening half types to float and rounding once ----
inline Vec Vec::load(const float* p) { return _mm256_loadu_ps(p); }
inline Vec Vec::load_every_second(const float* p) {
  // The even lanes of each 128-bit half, [a0 a2 b0 b2 | a4 a6 b4 b6], then
  // the 64-bit pairs in order.
  const __m256 pairs =
      _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(pairs), _MM_SHUFFLE(3, 1, 2, 0)));
}
inline void Vec::store(float* p, Vec a) { _mm256_storeu_ps(p, a.v); }

inline Vec Vec::load(const uint16_t* p, bool bf16) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if (bf16) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  return _mm256_cvtph_ps(h);
}

inline Vec Vec::load_every_second(const uint16_t* p, bool bf16) {
  // The even elements are the low halves of the 32-bit lanes.
  const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if (bf16) return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  const __m256i lo = _mm256_and_si256(w, _mm256_set1_epi32(0xffff));
  return _mm256_cvtph_ps(
      _mm_packus_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1)));
}

inline void Vec::store(uint16_t* p, Vec a, bool bf16) {
  __m128i h;
  if (bf16) {
    // Round to nearest even by adding 0x7fff + lsb; NaN stays NaN (see the
    // same conversion in vec_avx512.h).
    const __m256i bits = _mm256_castps_si256(a.v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    r = _mm256_srli_epi32(r, 16);
    // Pack 8 x u32 (all < 2^16) to 8 x u16.
    h = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  } else {
    h = _mm256_cvtps_ph(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), h);
}

}  // namespace avx2
}  // namespace cpu
}  // namespace gelu_ext
