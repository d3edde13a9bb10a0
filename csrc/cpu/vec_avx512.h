// 16 x float on AVX-512F (+BW/VL for the 16-bit paths), with the free
// functions gelu_math.h needs. Included only by gelu_kernel_avx512.cpp,
// under `#pragma GCC target`.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "../gelu_tail_tables.h"

namespace gelu_ext {
namespace cpu {
namespace avx512 {

struct Mask {
  __mmask16 m;
};

template <int kArrays>
struct Resident;
using ResidentNear = Resident<9>;
using ResidentTail = Resident<7>;

struct Vec {
  using scalar_type = float;
  static constexpr int kSize = 16;
  __m512 v;
  Vec() = default;
  Vec(__m512 a) : v(a) {}
  static Vec load(const float* p);
  // p[0], p[2], ..., p[30]: every second float of 32 (reads all 32).
  static Vec load_every_second(const float* p);
  // Four 16-byte parts, the first in lanes 0-3, as the vector's bits (floats,
  // or a line of 16-bit entries).
  static Vec of_parts(__m128i a, __m128i b, __m128i c, __m128i d) {
    __m512i r = _mm512_castsi128_si512(a);
    r = _mm512_inserti32x4(r, b, 1);
    r = _mm512_inserti32x4(r, c, 2);
    return _mm512_castsi512_ps(_mm512_inserti32x4(r, d, 3));
  }
  static void store(float* p, Vec a);
  // A non-temporal store (p 64-byte aligned): the line goes to memory
  // without being read for ownership or kept in the caches.
  static void stream(float* p, Vec a) { _mm512_stream_ps(p, a.v); }
  // Orders the non-temporal stores before every later store.
  static void stream_fence() { _mm_sfence(); }
  static Vec load(const uint16_t* p, bool bf16);
  // p[0], p[2], ..., p[30] (reads all 32).
  static Vec load_every_second(const uint16_t* p, bool bf16);
  static void store(uint16_t* p, Vec a, bool bf16);
  // The same by a non-temporal store (p 32-byte aligned).
  static void stream(uint16_t* p, Vec a, bool bf16) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), narrow(a, bf16));
  }
  // a rounded to bfloat16 or float16, 16 lanes of 16 bits.
  static __m256i narrow(Vec a, bool bf16);
  explicit Vec(float a) : v(_mm512_set1_ps(a)) {}
  // A near or tail table's copy for a loop to hold in registers (lookup()
  // below); kHoldsTables: the loops take such copies.
  static ResidentNear resident(const math::NearTable& t);
  static ResidentTail resident(const math::TailTable& t);
  static constexpr bool kHoldsTables = true;
};

float scalar_of(Vec);

static inline Vec operator+(Vec a, Vec b) { return _mm512_add_ps(a.v, b.v); }
static inline Vec operator-(Vec a, Vec b) { return _mm512_sub_ps(a.v, b.v); }
static inline Vec operator*(Vec a, Vec b) { return _mm512_mul_ps(a.v, b.v); }
static inline Vec operator/(Vec a, Vec b) { return _mm512_div_ps(a.v, b.v); }
static inline Vec operator-(Vec a) {
  return _mm512_castsi512_ps(
      _mm512_xor_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(INT32_MIN)));
}
static inline Mask operator>(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
static inline Vec select(Mask m, Vec a, Vec b) { return _mm512_mask_blend_ps(m.m, b.v, a.v); }
static inline Mask isnan_(Vec a) { return {_mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q)}; }
static inline Vec fma_(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a.v, b.v, c.v); }
static inline Vec fms_(Vec a, Vec b, Vec c) { return _mm512_fmsub_ps(a.v, b.v, c.v); }
static inline Vec abs_(Vec a) {
  return _mm512_castsi512_ps(
      _mm512_and_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(INT32_MAX)));
}
static inline Vec copysign_(Vec mag, Vec sgn) {
  // bitwise select, imm 0xca = A ? B : C with A = 0x7fffffff
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
      _mm512_set1_epi32(INT32_MAX), _mm512_castps_si512(mag.v), _mm512_castps_si512(sgn.v), 0xca));
}
static inline Vec rint_(Vec a) {
  return _mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline Vec clamp_hi(Vec a, Vec lim) { return _mm512_min_ps(lim.v, a.v); }
// min(|a|, lim) by vrangeps: imm 0b1010 = the smaller magnitude, sign cleared.
static inline Vec abs_clamp(Vec a, Vec lim) { return _mm512_range_ps(a.v, lim.v, 0x0a); }
static inline Mask not_less(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_NLT_UQ)}; }
static inline Vec add_where(Mask m, Vec a, Vec b) { return _mm512_mask_add_ps(a.v, m.m, a.v, b.v); }
static inline Vec sub_where(Mask m, Vec a, Vec b) { return _mm512_mask_sub_ps(b.v, m.m, a.v, b.v); }
// maxps(-0, x): -0 > x ? -0 : x, as the scalar positive_part.
static inline Vec positive_part(Vec x) { return _mm512_max_ps(_mm512_set1_ps(-0.0f), x.v); }

// The tail tables' interval index (see tail_index in gelu_math.h). vpermi2ps
// reads only the low five bits of each index, so no mask is needed.
struct Index {
  __m512i v;
};
static inline Index tail_index(Vec y) {
  const __m512i b = _mm512_max_epi32(_mm512_castps_si512(y.v), _mm512_set1_epi32(0x3d800000));
  return {_mm512_srli_epi32(b, 21)};
}
// Array k of a table (0: its centres, 1 + i: its c[i]) by index, from the
// table in memory (both halves of the 32 entries loaded; a loop may keep
// them in registers) or from a copy in registers (Resident, below).
template <class Table>
static inline Vec permuted(const Table& t, int k, Index j) {
  const float* a = k == 0 ? t.centre : t.c[k - 1];
  return _mm512_permutex2var_ps(_mm512_load_ps(a), j.v, _mm512_load_ps(a + 16));
}
// The terms of interval j, permuted in the order the polynomial takes them
// (the centre, then the highest coefficient down to c0), so that its chain
// of FMAs can start before the last permute: with c7 permuted last, the near
// runs' chain had waited behind all nine (docs/PERFORMANCE.md).
template <class Terms, class Table>
static inline Terms lookup_terms(const Table& t, Index j) {
  Terms k;
  k.centre = permuted(t, 0, j);
  constexpr int kCoeffs = sizeof(k.c) / sizeof(k.c[0]);
  for (int i = kCoeffs - 1; i >= 0; --i) k.c[i] = permuted(t, 1 + i, j);
  return k;
}
static inline math::TailTerms<Vec> lookup(const math::TailTable& t, Index j) {
  return lookup_terms<math::TailTerms<Vec>>(t, j);
}
// The near table's interval index (see near_index in gelu_math.h): the biased
// sum itself, whose low five bits vpermi2ps reads.
static inline Index near_index(Vec y) { return {_mm512_castps_si512(math::near_index_sum(y).v)}; }
static inline Index tanh_near_index(Vec y) {
  return {_mm512_castps_si512(math::tanh_near_index_sum(y).v)};
}
static inline Index tanh_forward_near_index(Vec y) {
  return {_mm512_castps_si512(math::tanh_forward_near_index_sum(y).v)};
}
static inline math::NearTerms<Vec> lookup(const math::NearTable& t, Index j) {
  return lookup_terms<math::NearTerms<Vec>>(t, j);
}
// A table's centres and coefficients as registers, both halves of each
// 32-entry array, loaded before a loop: the same terms as from the table in
// memory, but the permutes then take no memory operand and the loop no
// reloads (GCC kept only some of the halves in registers otherwise; on Zen 4
// the near run's loop took 15-22% more cycles than one with all of them
// there, and the exact backward's 4-8% more, timed as scratch copies of
// their machine code; docs/PERFORMANCE.md). The near table: 18 registers;
// a tail table: 14.
template <int kArrays>
struct Resident {
  __m512 lo[kArrays], hi[kArrays];  // [0]: the centres; [1 + i]: c[i]
};
// The arrays (centre, then c[0], c[1], ...: a table's first members, back to
// back) read through a pointer the compiler cannot see through, so that the
// loads happen here, each time: their values are not the table's constants
// (which the compiler would rather reload, or share with other code reading
// the table) but values it must keep, in registers.
template <int kArrays, class Table>
inline Resident<kArrays> resident_arrays(const Table& table) {
  // (float arrays in a standard-layout struct: no padding between them)
  static_assert(std::is_standard_layout_v<Table> &&
                sizeof(table.centre) + sizeof(table.c) == kArrays * 32 * sizeof(float));
  const float* p = reinterpret_cast<const float*>(&table);
  asm volatile("" : "+r"(p));
  Resident<kArrays> r;
  for (int k = 0; k < kArrays; ++k) {
    r.lo[k] = _mm512_load_ps(p + 32 * k);
    r.hi[k] = _mm512_load_ps(p + 32 * k + 16);
  }
  return r;
}
inline ResidentNear Vec::resident(const math::NearTable& t) { return resident_arrays<9>(t); }
inline ResidentTail Vec::resident(const math::TailTable& t) { return resident_arrays<7>(t); }
template <int kArrays>
static inline Vec permuted(const Resident<kArrays>& r, int k, Index j) {
  return _mm512_permutex2var_ps(r.lo[k], j.v, r.hi[k]);
}
static inline math::TailTerms<Vec> lookup(const ResidentTail& r, Index j) {
  return lookup_terms<math::TailTerms<Vec>>(r, j);
}
static inline math::NearTerms<Vec> lookup(const ResidentNear& r, Index j) {
  return lookup_terms<math::NearTerms<Vec>>(r, j);
}

// v * 2^k, same contract as the scalar scale_pow2 in gelu_math.h (integral
// k in [-220, 0]): vscalefps rounds the exact product once, subnormal
// results included, which is what the scalar two-step version computes, so
// the results are the same bit for bit. A NaN k comes with a NaN v: NaN.
static inline Vec scale_pow2(Vec v, Vec k) { return _mm512_scalef_ps(v.v, k.v); }

// The full-range forms' primitives (gelu_math.h, NormalRange): no float
// operation here returns a number below 2^-126 or multiplies one, and masked-off
// lanes take no assist.
static inline Vec clamp_lo(Vec a, Vec lim) { return _mm512_max_ps(a.v, lim.v); }
static inline Mask not_le(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_NLE_UQ)}; }
static inline bool any_(Mask m) { return m.m != 0; }
static inline bool all_at_least(Vec a, Vec b) {
  return _mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ) == 0xffff;
}
// scale_pow2 where the result may be subnormal: q = v 2^(k + 149) is exact (or
// overflows), and where |q| < 2^23 the result, rounded to a multiple of
// 2^-149, has the bits of q rounded to an integer (the conversion rounds to
// nearest even, as the scalar version's multiply does); elsewhere vscalefps,
// whose result is normal there. (v itself is subnormal only for subnormal
// inputs, where q's scaling may take an assist.)
static inline Vec scale_pow2_quiet(Vec v, Vec k) {
  const __m512 up = _mm512_add_ps(k.v, _mm512_set1_ps(149.0f));
  const __m512 q = abs_(Vec(_mm512_scalef_ps(v.v, up))).v;
  const __mmask16 tiny = _mm512_cmp_ps_mask(q, _mm512_set1_ps(0x1p23f), _CMP_LT_OQ);
  const __m512i n = _mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(v.v), _mm512_set1_epi32(INT32_MIN));
  const __m512 small = _mm512_castsi512_ps(_mm512_or_si512(n, sign));
  return _mm512_mask_scalef_ps(small, static_cast<__mmask16>(~tiny), v.v, k.v);
}
// a * b rounded once to float: the exact product in double, converted by
// vcvtpd2ps where it is at least 2^-126 (or NaN), else rounded to a multiple
// of 2^-149 through an integer, as in scale_pow2_quiet.
static inline __m256 mul_quiet_half(__m256 a, __m256 b) {
  const __m512d d = _mm512_mul_pd(_mm512_cvtps_pd(a), _mm512_cvtps_pd(b));
  const __m512d ad = _mm512_abs_pd(d);
  const __mmask8 tiny = _mm512_cmp_pd_mask(ad, _mm512_set1_pd(0x1p-126), _CMP_LT_OQ);
  const __m256i n = _mm512_cvt_roundpd_epi32(_mm512_mul_pd(ad, _mm512_set1_pd(0x1p149)),
                                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256i sign =
      _mm256_and_si256(_mm256_xor_si256(_mm256_castps_si256(a), _mm256_castps_si256(b)),
                       _mm256_set1_epi32(INT32_MIN));
  const __m256 small = _mm256_castsi256_ps(_mm256_or_si256(n, sign));
  return _mm512_mask_cvtpd_ps(small, static_cast<__mmask8>(~tiny), d);
}
static inline Vec mul_quiet(Vec a, Vec b) {
  const __m256 lo = mul_quiet_half(_mm512_castps512_ps256(a.v), _mm512_castps512_ps256(b.v));
  const __m256 hi =
      mul_quiet_half(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a.v), 1)),
                     _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(b.v), 1)));
  return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

inline Vec Vec::load(const float* p) { return _mm512_loadu_ps(p); }
inline Vec Vec::load_every_second(const float* p) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  return _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + 16));
}
inline void Vec::store(float* p, Vec a) { _mm512_storeu_ps(p, a.v); }

inline Vec Vec::load(const uint16_t* p, bool bf16) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if (bf16) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_cvtph_ps(h);
}

inline Vec Vec::load_every_second(const uint16_t* p, bool bf16) {
  // The even elements are the low halves of the 32-bit lanes.
  const __m512i w = _mm512_loadu_si512(p);
  if (bf16) return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(w));
}

inline void Vec::store(uint16_t* p, Vec a, bool bf16) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), narrow(a, bf16));
}

inline __m256i Vec::narrow(Vec a, bool bf16) {
  __m256i h;
  if (bf16) {
    const __m512i bits = _mm512_castps_si512(a.v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    // Round to nearest even by adding 0x7fff + lsb. A NaN stays a NaN: every
    // NaN here comes from a bfloat16 input or from arithmetic (x86's default
    // NaN), so its low 16 bits are 0 and the addition cannot carry into the
    // exponent. (c10::BFloat16 canonicalises NaN to 0x7fc0 instead; only the
    // payload differs.)
    r = _mm512_srli_epi32(r, 16);
    h = _mm512_cvtepi32_epi16(r);
  } else {
    h = _mm512_cvtps_ph(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  return h;
}

}  // namespace avx512
}  // namespace cpu
}  // namespace gelu_ext
