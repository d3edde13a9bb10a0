// gelu_ext's numerics for float32 and 16-bit results (float64 on the CPU:
// gelu_math_f64.h).
//
// Every backend (scalar CPU, the SIMD CPU paths, CUDA) instantiates the
// templates below with its own value type V: `float`, `double`, or a SIMD
// vector of floats that provides the same free functions (found by ADL).
// The formulas are written once, branch-free, so all backends compute the
// same thing in the same order (float32 exact GELU reads its piecewise
// tables, gelu_tail_tables.h, on every backend).
//
// Notation (see docs/DESIGN.md): y = |x|, Phi = standard normal CDF,
// phi = its density, C0 = 1/sqrt(2*pi).
//
// Exact GELU uses the tail factorisation
//     Phi(-y) = exp(-y^2/2) * R(y),   R(y) = erfcx(y/sqrt 2)/2,
// so that for x <= 0, f(x) = x * Phi(-y) keeps full relative accuracy (no
// 1 + erf(...) cancellation), and for x > 0, f(x) = x - y*Phi(-y) with
// Phi(-y) <= 1/2. exp(-y^2/2) is computed from y^2 split exactly with an
// FMA (h + l); its result is kept as p * 2^k and scaled at the very end, so
// subnormal outputs are rounded once. For float32 results R (times y, or
// minus y C0 for the derivative) comes from piecewise tables; the 16-bit
// types use short rationals, double (CUDA) libm's erfc.
//
// Tanh GELU uses f(x) = x * sigma(2u), sigmoid GELU f(x) = x * sigma(1.702 x),
// both with w = exp(-|argument|) in (0, 1]: sigma = 1/(1+w) for x > 0 and
// w/(1+w) for x <= 0 (the logistic forms, below). For float32 results the
// tanh mode reads polynomial tables instead from x = -7 up (f) and -8 up
// (f'), on the CPU and CUDA alike (gelu_tanh_near,
// gelu_tanh_derivative_near).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "approximation.h"
#include "gelu_tail_tables.h"

// Internal linkage on purpose: the SIMD translation units compile this header
// under `#pragma GCC target(...)`; `static` keeps their copies of these
// functions from being merged with the portable ones by the linker.
#if defined(__CUDACC__)
#define GELU_EXT_HD static __host__ __device__ __forceinline__
#else
#define GELU_EXT_HD static inline
#endif

namespace gelu_ext {

namespace math {

// ---------------------------------------------------------------------------
// Constants. Each irrational constant is a double-double (hi + lo, from
// mpmath at 50 digits); Const<S> gives the pair for compute type S.
// ---------------------------------------------------------------------------
struct DD {
  double hi, lo;
};
constexpr DD kA1{0x1.9884533d43651p+0, -0x1.cbc0d30ebfd15p-54};  // 2*sqrt(2/pi)
constexpr DD kA3{0x1.2444f2a4d8b4bp-4, -0x1.6c843a29d1c70p-61};  // 2*sqrt(2/pi)*0.044715
constexpr DD kB3{0x1.b6676bf7450f0p-3, 0x1.bba7351828aabp-57};   // 6*sqrt(2/pi)*0.044715
constexpr DD kC0{0x1.9884533d43651p-2, -0x1.cbc0d30ebfd15p-56};  // 1/sqrt(2*pi)
constexpr DD kK{0x1.b3b645a1cac08p+0, 0x1.89374bc6a7efap-55};    // 1.702, the sigmoid form's K
constexpr double kSqrt2OverPi = 0x1.9884533d43651p-1;            // sqrt(2/pi), the tanh form's c
constexpr double kKappa = 0.044715;  // the tanh form's cubic coefficient
constexpr double kInvSqrt2 = 0x1.6a09e667f3bcdp-1;
constexpr double kInvSqrtPi = 0x1.20dd750429b6dp-1;
constexpr double kLog2e = 0x1.71547652b82fep+0;
// ln 2 split for float Cody-Waite reduction: kLn2HiF has 15 significant bits,
// so k * kLn2HiF is exact for |k| < 2^9 and r = z - k*ln2 loses nothing.
constexpr float kLn2HiF = 0x1.62e4p-1f;
constexpr float kLn2LoF = 0x1.7f7d1cp-20f;

// Constants as compute type S (hi + lo), plain data so that no code is emitted.
constexpr double lo_part(DD c, double hi) { return (c.hi - hi) + c.lo; }
template <class S>
struct Const {
  static constexpr S kA1Hi = static_cast<S>(kA1.hi);
  static constexpr S kA1Lo = static_cast<S>(lo_part(kA1, static_cast<double>(kA1Hi)));
  static constexpr S kA3Hi = static_cast<S>(kA3.hi);
  static constexpr S kA3Lo = static_cast<S>(lo_part(kA3, static_cast<double>(kA3Hi)));
  static constexpr S kB3Hi = static_cast<S>(kB3.hi);
  static constexpr S kB3Lo = static_cast<S>(lo_part(kB3, static_cast<double>(kB3Hi)));
  static constexpr S kC0Hi = static_cast<S>(kC0.hi);
  static constexpr S kC0Lo = static_cast<S>(lo_part(kC0, static_cast<double>(kC0Hi)));
  static constexpr S kKHi = static_cast<S>(kK.hi);
  static constexpr S kKLo = static_cast<S>(lo_part(kK, static_cast<double>(kKHi)));
};

// Beyond these |x| the float results are exactly 0 (or x, or 1) and the
// intermediate exponentials would only overflow: inputs are clamped there.
template <class S>
struct Clamp;
template <>
struct Clamp<float> {
  static constexpr float kExact = 15.0f;    // Phi(-15)*15 < 2^-150
  static constexpr float kTanh = 11.0f;     // exp(-2u(11))*11 < 2^-150
  static constexpr float kSigmoid = 64.0f;  // exp(-1.702*64)*64 < 2^-150
};
template <>
struct Clamp<double> {
  static constexpr double kExact = 40.0;     // Phi(-40)*40 < 2^-1075
  static constexpr double kTanh = 23.0;      // exp(-2u(23))*23 < 2^-1075
  static constexpr double kSigmoid = 448.0;  // exp(-1.702*448)*448 < 2^-1075
};

// Below these |x| every intermediate and every result of the float32
// formulas is zero or a normal float (the smallest: about 1e-34 for the exact
// derivative at 12, 2.5e-27 for the tanh derivative at 9, 2e-28 for the
// sigmoid derivative at 40). The SIMD loops screen each vector against them
// (csrc/cpu/gelu_loops.h): on Intel cores a float operation that returns a
// number below the normal range, or multiplies one, takes a microcode assist
// (about 60 ns each, measured), so a vector with an input beyond them takes
// the formulas' full-range form (kFull below), which gets the same bits
// without such an operation.
struct NormalRange {
  static constexpr float kExact = 12.0f;
  static constexpr float kTanh = 9.0f;
  static constexpr float kSigmoid = 40.0f;
};

// The scalar type a value type computes in (declared only: used in decltype).
float scalar_of(float);
double scalar_of(double);

// ---------------------------------------------------------------------------
// Scalar primitives (float and double, host and device). SIMD types provide
// the same names in their own namespace.
// ---------------------------------------------------------------------------
GELU_EXT_HD float fma_(float a, float b, float c) { return ::fmaf(a, b, c); }
GELU_EXT_HD double fma_(double a, double b, double c) { return ::fma(a, b, c); }
// a * b - c, rounded once (an FMA with c negated, so the same bits as fma_).
GELU_EXT_HD float fms_(float a, float b, float c) { return ::fmaf(a, b, -c); }
GELU_EXT_HD float abs_(float a) { return ::fabsf(a); }
GELU_EXT_HD double abs_(double a) { return ::fabs(a); }
GELU_EXT_HD float copysign_(float mag, float sgn) { return ::copysignf(mag, sgn); }
GELU_EXT_HD double copysign_(double mag, double sgn) { return ::copysign(mag, sgn); }
GELU_EXT_HD float rint_(float a) { return ::rintf(a); }
GELU_EXT_HD float select(bool m, float a, float b) { return m ? a : b; }
GELU_EXT_HD double select(bool m, double a, double b) { return m ? a : b; }
// min(a, lim) that returns `a` when it is NaN, so NaN flows through clamps.
GELU_EXT_HD float clamp_hi(float a, float lim) { return lim < a ? lim : a; }
GELU_EXT_HD double clamp_hi(double a, double lim) { return lim < a ? lim : a; }
// min(|a|, lim) for a number a; for a NaN the result is unspecified (AVX-512's
// one-instruction version returns lim), so callers must carry NaN through a
// itself.
GELU_EXT_HD float abs_clamp(float a, float lim) { return clamp_hi(abs_(a), lim); }
// !(a < b): true for NaN too.
GELU_EXT_HD bool not_less(float a, float b) { return !(a < b); }
// m ? a + b : a and m ? a - b : b, which AVX-512 does as one masked operation.
GELU_EXT_HD float add_where(bool m, float a, float b) { return m ? a + b : a; }
GELU_EXT_HD float sub_where(bool m, float a, float b) { return m ? a - b : b; }
// x if it is not below 0 (+-0 and NaN as they are), else -0: the addend that
// leaves a sum's other term as it is, a -0 included, for x < 0 (x86's
// maxps(-0, x) computes exactly this).
GELU_EXT_HD float positive_part(float x) { return -0.0f > x ? -0.0f : x; }

// A float's bits and back.
GELU_EXT_HD uint32_t bits_of(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
#endif
}
GELU_EXT_HD float float_of(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
#endif
}

// The interval of y >= 0 in the float32 tail tables (gelu_tail_tables.h):
// the exponent's low three bits and the significand's top two, every y below
// 1/16 (bits 0x3d800000) in the interval of 1/16. SIMD types provide
// tail_index() and lookup() with the same results (permutes or gathers).
constexpr uint32_t kTailIndexFloorBits = 0x3d800000u;
constexpr int kTailIndexShift = 21;
GELU_EXT_HD uint32_t tail_index(float y) {
  const uint32_t b = bits_of(y);
  return ((b > kTailIndexFloorBits ? b : kTailIndexFloorBits) >> kTailIndexShift) & 31u;
}
GELU_EXT_HD TailTerms<float> lookup(const TailTable& t, uint32_t j) {
  return {t.centre[j], {t.c[0][j], t.c[1][j], t.c[2][j], t.c[3][j], t.c[4][j], t.c[5][j]}};
}

// The interval of y in the near table (kNearForward, gelu_tail_tables.h),
// y <= kNearEnd: n = rint(5 y (y + 3) / 16), computed as
// fma(fma(y, 5/16, 15/16), y, 1.5 * 2^23), whose low five bits are n. SIMD
// types provide near_index() (the sum itself, for permutes that read only
// those bits, or n) and lookup() with the same results.
constexpr float kNearEnd = 8.625f;
// The biased sum whose low five bits are n (any value type with fma_).
template <class V>
GELU_EXT_HD V near_index_sum(V y) {
  return fma_(fma_(y, V(0.3125f), V(0.9375f)), y, V(0x1.8p23f));
}
GELU_EXT_HD uint32_t near_index(float y) { return bits_of(near_index_sum(y)) & 31u; }
// The interval of y in the tanh near table (kTanhNearDerivative,
// gelu_tail_tables.h), y <= kTanhNearEnd: n = rint(y (5/4 + y (1/8 +
// y 213/8192))), a cubic whose spacing narrows as w's logarithmic slope
// grows, computed as fma(fma(fma(y, 213/8192, 1/8), y, 5/4), y, 1.5 * 2^23),
// whose low five bits are n; SIMD types provide tanh_near_index() as they do
// near_index().
constexpr float kTanhNearEnd = 8.0f;
template <class V>
GELU_EXT_HD V tanh_near_index_sum(V y) {
  return fma_(fma_(fma_(y, V(0x1.aap-6f), V(0.125f)), y, V(1.25f)), y, V(0x1.8p23f));
}
GELU_EXT_HD uint32_t tanh_near_index(float y) { return bits_of(tanh_near_index_sum(y)) & 31u; }
// The same for the tanh forward's near table (kTanhNearForward), y <=
// kTanhForwardNearEnd: n = rint(y (5/4 + y (3/16 + y 9/256))).
constexpr float kTanhForwardNearEnd = 7.0f;
template <class V>
GELU_EXT_HD V tanh_forward_near_index_sum(V y) {
  return fma_(fma_(fma_(y, V(0x1.2p-5f), V(0.1875f)), y, V(1.25f)), y, V(0x1.8p23f));
}
GELU_EXT_HD uint32_t tanh_forward_near_index(float y) {
  return bits_of(tanh_forward_near_index_sum(y)) & 31u;
}
GELU_EXT_HD NearTerms<float> lookup(const NearTable& t, uint32_t j) {
  return {t.centre[j],
          {t.c[0][j], t.c[1][j], t.c[2][j], t.c[3][j], t.c[4][j], t.c[5][j], t.c[6][j], t.c[7][j]}};
}

GELU_EXT_HD float pow2i_(int32_t e) {  // 2^e for e in [-126, 127]
  return float_of(static_cast<uint32_t>(e + 127) << 23);
}

// v * 2^k for integral k in [-220, 0], rounded once even when the result is
// subnormal: the first factor keeps v normal, only the second one rounds.
// A NaN k (from a NaN input) is mapped to a finite exponent; v is NaN then.
// Where k >= -100 (almost always) one multiply is exact and gives the same
// result, so every backend takes that shortcut when it can.
GELU_EXT_HD float scale_pow2(float v, float k) {
  const int32_t ki = k >= -220.0f ? static_cast<int32_t>(k) : -220;
  if (ki >= -100) return v * pow2i_(ki);
  return (v * pow2i_(-100)) * pow2i_(ki + 100);
}
GELU_EXT_HD double scale_pow2(double v, double k) {
  return ::ldexp(v, k >= -2200.0 ? static_cast<int>(k) : -2200);
}
// scale_pow2, or in the full-range forms (kFull) scale_pow2_quiet: the same
// results, computed without a float operation that returns a number below
// the normal range or multiplies one (see NormalRange). Only the screened
// SIMD loops use the full-range forms, so only SIMD types provide it (with
// clamp_lo, not_le, any_, all_at_least and mul_quiet, csrc/cpu/vec_*.h); the
// scalar path is the reference, and its plain operations give these bits.
template <bool kFull, class V>
GELU_EXT_HD V scale_pow2_in(V v, V k) {
  if constexpr (kFull) {
    return scale_pow2_quiet(v, k);
  } else {
    return scale_pow2(v, k);
  }
}

// Selects the accuracy a computation needs (in this header "precise" means
// this choice and nothing else): precise (float32 results) or
// "half" (results rounded to bfloat16/float16, where a relative error of
// ~1e-4 in float stays under a quarter of their ulp, so shorter polynomials
// serve).
template <bool kPrecise>
struct Precision {};

// Which variant each result type takes: the one rule every backend's I/O
// policy inherits (csrc/cpu/gelu_loops.h, gelu_kernel_scalar.cpp,
// cuda/gelu_kernel.cu). float32 and float64 results take the precise
// formulas; 16-bit results the shorter ones, except float16's derivative,
// whose results near the root of f' are subnormal (gelu_exact_derivative).
struct PreciseResults {
  static constexpr bool kPrecise = true;
  static constexpr bool kPreciseDerivative = true;
};
template <bool kBf16>
struct HalfResults {
  static constexpr bool kPrecise = false;
  static constexpr bool kPreciseDerivative = !kBf16;
};

// e^(z + zlo) as (p + plo) * 2^k, |zlo| << 1 ulp(z), z <= 0. plo is the
// rounding error of p's final addition (precise mode only, else 0).
template <class V>
struct ExpParts {
  V p, plo, k;
  V s;  // e^(z + zlo) / 2^k - 1: p + plo = 1 + s exactly (precise mode)
};

// e^r - 1 = s and 1 + s = p + plo for the reduced argument r (|r| <= ln2/2
// plus the rounding of k): the part of exp_parts after the reduction, which
// the CUDA float32 logistic forms share (csrc/gelu_math_device.h).
template <bool kPrecise, class V>
GELU_EXT_HD ExpParts<V> exp_of_reduced(Precision<kPrecise>, V r, V k) {
  // e^r = 1 + r + r^2 Q(r) on |r| <= ln2/2; near-minimax fits from
  // tools/fit_coefficients.py: relative error 3.1e-9 (precise), 1.2e-4 (half:
  // a relative error that reaches results only as such, never through a
  // cancellation, is below a quarter ulp of float16 there).
  V q;
  if (kPrecise) {
    q = fma_(V(0x1.6a2448p-10f), r, V(0x1.1239d4p-7f));
    q = fma_(q, r, V(0x1.5558f2p-5f));
    q = fma_(q, r, V(0x1.555492p-3f));
    q = fma_(q, r, V(0x1.fffffcp-2f));
  } else {
    q = fma_(V(0x1.554126p-3f), r, V(0x1.020490p-1f));
  }
  const V s = fma_(r * r, q, r);
  const V p = s + V(1.0f);
  const V plo = kPrecise ? (V(1.0f) - p) + s : V(0.0f);  // exact: |s| < 1
  return {p, plo, k, s};
}

template <bool kPrecise, class V>
GELU_EXT_HD ExpParts<V> exp_parts(Precision<kPrecise>, V z, V zlo) {
  const V k = rint_(z * V(static_cast<float>(kLog2e)));
  V r = fma_(k, V(-kLn2HiF), z);
  r = fma_(k, V(-kLn2LoF), r);
  if (kPrecise) r = r + zlo;  // zlo is 0 otherwise; x + 0 is not foldable in IEEE
  return exp_of_reduced(Precision<kPrecise>{}, r, k);
}
// Double: libm exp on the reduced argument, so that results near the bottom
// of the double range are scaled (and rounded) once by ldexp. ln 2 split as
// in fdlibm: kLn2HiD has 21 trailing zero bits, so k * kLn2HiD is exact.
template <bool kPrecise>
GELU_EXT_HD ExpParts<double> exp_parts(Precision<kPrecise>, double z, double zlo) {
  constexpr double kLn2HiD = 0x1.62e42feep-1;
  constexpr double kLn2LoD = 0x1.a39ef35793c76p-33;
  const double k = ::rint(z * kLog2e);
  const double r = ::fma(k, -kLn2LoD, ::fma(k, -kLn2HiD, z)) + zlo;
  const double p = ::exp(r);
  return {p, 0.0, k, p - 1.0};  // p in [2^-0.5, 2^0.5]: p - 1 is exact
}

// exp(-y^2/2) = (1 + s) 2^k for the precise forward: -y^2/2 split exactly
// as z + zlo (w = -y/2 is exact).
template <class V>
GELU_EXT_HD ExpParts<V> exp_half_sq(V y) {
  const V w = y * V(-0.5f);
  const V z = w * y;
  return exp_parts(Precision<true>{}, z, fma_(w, y, -z));
}

// A value and its rounding error: value = hi + lo, |lo| <= ulp(hi).
template <class V>
struct DoubleWord {
  V hi, lo;  // value = hi + lo, |lo| <= ulp(hi)
};

// Double: R = erfc(a) exp(a^2) / 2 with a = y/sqrt2. Rounding a shifts erfc
// and exp(a^2) in opposite directions, so the product stays accurate; a^2
// is split so that exp sees it exactly. Past a = 26, erfc underflows and
// the asymptotic series of erfcx takes over.
GELU_EXT_HD DoubleWord<double> tail_ratio(double y) {
  const double a = y * kInvSqrt2;
  if (a < 26.0) {
    const double h = a * a;
    const double l = ::fma(a, a, -h);
    const double e = ::exp(h);
    return {0.5 * ::erfc(a) * ::fma(e, l, e), 0.0};
  }
  const double t = 1.0 / (2.0 * a * a);
  double s = 1.0;
  double term = 1.0;
  for (int n = 1; n <= 9; ++n) {
    term *= -(2 * n - 1) * t;
    s += term;
  }
  return {0.5 * kInvSqrtPi / a * s, 0.0};
}
// Double forward: Phi(-y) / 2^k = erfc(a) / 2 / 2^k directly, a = y/sqrt2,
// with k chosen exactly as exp_half_sq chose it. (R (1 + s) would multiply
// the errors of erfc and of two exponentials: up to ~5 ulp.) a is a
// double-word a + al: rounding a alone would move erfc by 2 a^2 of its
// ulps; erfc'(a) = -2/sqrt(pi) exp(-a^2) takes al into account. Past
// a = 26, where erfc underflows, R (1 + s) with R's asymptotic series.
GELU_EXT_HD double tail_ratio_fwd(double y, double s) {
  const double a = y * kInvSqrt2;
  if (a < 26.0) {
    constexpr double kInvSqrt2Lo = -0x1.bdd3413b26456p-55;  // 1/sqrt2 - kInvSqrt2
    const double al = ::fma(y, kInvSqrt2, -a) + y * kInvSqrt2Lo;
    const double e = ::erfc(a) - al * (2.0 * kInvSqrtPi) * ::exp(-(a * a));
    const double k = ::rint(((y * -0.5) * y) * kLog2e);  // as in exp_half_sq
    return ::ldexp(0.5 * e, -static_cast<int>(k));
  }
  const double r = tail_ratio(y).hi;
  return ::fma(r, s, r);
}

// Exact GELU for results rounded to bfloat16/float16 (forward; backward for
// bfloat16), where a relative error of 1e-4 in float stays under a quarter
// ulp of float16: Phi(-y) = e * 2^k * R(y) with
//   t = -y^2/2 log2(e) rounded in float (absolute error below 2^-16 at the
//   clamp, a relative error of 5e-6 in 2^t), k = rint(t), e = 2^(t-k) on
//   [-1/2, 1/2] by a degree-4 polynomial (2.9e-6);
//   R(y) = P(y) / Q(y), a rational with positive coefficients, so Horner's
//   rule has no cancellation: degrees 2/3 for the forward (2.8e-5 on
//   [0, 16], float evaluation included), 3/4 for the derivative (7.3e-7:
//   near the root of f' R is compared with y/sqrt(2 pi), and a bfloat16
//   result there, about 8e-4, has an ulp of 4e-6).
// Fits: tools/fit_coefficients.py (fit_exp2, fit_rational).
template <class V>
struct HalfTail {
  V e, k, yc;  // exp(-yc^2/2) = e * 2^k
};

template <class V>
GELU_EXT_HD HalfTail<V> exp_half_sq_coarse(V x) {
  using S = decltype(scalar_of(x));
  const V yc = clamp_hi(abs_(x), V(Clamp<S>::kExact));
  const V t = (yc * yc) * V(static_cast<S>(-0.5 * kLog2e));
  const V k = rint_(t);
  const V r = t - k;  // exact
  V e = fma_(V(S(0x1.3a02cap-7)), r, V(S(0x1.c9fc46p-5)));
  e = fma_(e, r, V(S(0x1.ec0378p-3)));
  e = fma_(e, r, V(S(0x1.62e12cp-1)));
  return {fma_(e, r, V(S(1))), k, yc};
}

template <class V>
GELU_EXT_HD V tail_ratio_fwd_coarse(V y) {
  using S = decltype(scalar_of(y));
  V num = fma_(V(S(0x1.04d660p-4)), y, V(S(0x1.1fba82p-2)));
  num = fma_(num, y, V(S(0x1.0001cap-1)));
  V den = fma_(V(S(0x1.469a7cp-3)), y, V(S(0x1.6afc5cp-1)));
  den = fma_(den, y, V(S(0x1.5c5610p+0)));
  return num / fma_(den, y, V(S(1)));
}

template <class V>
GELU_EXT_HD V tail_ratio_coarse(V y) {
  using S = decltype(scalar_of(y));
  V num = fma_(V(S(0x1.1ed514p-6)), y, V(S(0x1.f17d58p-4)));
  num = fma_(num, y, V(S(0x1.7612cep-2)));
  num = fma_(num, y, V(S(0x1.fffff0p-2)));
  V den = fma_(V(S(0x1.678624p-5)), y, V(S(0x1.3793a8p-2)));
  den = fma_(den, y, V(S(0x1.ecde62p-1)));
  den = fma_(den, y, V(S(0x1.874a1cp+0)));
  return num / fma_(den, y, V(S(1)));
}

// Shared first stage of exact GELU: Phi(-y) = p * R * 2^k,
// phi(y) = C0 * p * 2^k, with yc = min(|x|, clamp) and R = Rh + Rl.
template <class V>
struct NormalTail {
  V p, plo, k, Rh, Rl, yc;
};

template <class V>
GELU_EXT_HD NormalTail<V> normal_tail(V x) {
  using S = decltype(scalar_of(x));
  const V yc = clamp_hi(abs_(x), V(Clamp<S>::kExact));
  const V h = yc * yc;
  const V l = fma_(yc, yc, -h);
  const ExpParts<V> e = exp_parts(Precision<true>{}, h * V(S(-0.5)), l * V(S(-0.5)));
  const DoubleWord<V> r = tail_ratio(yc);
  return {e.p, e.plo, e.k, r.hi, r.lo, yc};
}

// ---------------------------------------------------------------------------
// Exact GELU for float32 results on the CPU: piecewise tables
// ---------------------------------------------------------------------------
// e^(-y^2/2) = (1 + s) 2^k * 2^(-CL y^2), where the last factor (CL: the part
// of log2(e)/2 that the float CH leaves out) is folded into the tables. With
// y^2 = h + l split exactly, t = -(h + l) CH; k = rint(-h CH) by the 1.5*2^23
// shift, r = (-h CH - k) - l CH, each step rounded once near |r| <= 1/2
// (absolute error below 2^-25), and 2^r - 1 = r Q(r), Q of degree 5
// (relative error 3.0e-9; tools/fit_coefficients.py, fit_exp2_precise).
template <class V>
struct Exp2Parts {
  V s, k;  // 2^(-(h + l) CH) = (1 + s) 2^k
};

template <class V>
GELU_EXT_HD Exp2Parts<V> exp2_neg_half_sq(V y) {
  const V nch = V(-0x1.715476p-1f);  // -float(log2(e) / 2)
  const V shift = V(0x1.8p23f);
  const V h = y * y;
  const V l = fms_(y, y, h);
  const V k = fma_(h, nch, shift) - shift;
  V r = fms_(h, nch, k);
  r = fma_(l, nch, r);
  V q = fma_(V(0x1.416b5p-13f), r, V(0x1.5f082ep-10f));
  q = fma_(q, r, V(0x1.3b2dep-7f));
  q = fma_(q, r, V(0x1.c6af7cp-5f));
  q = fma_(q, r, V(0x1.ebfbdcp-3f));
  q = fma_(q, r, V(0x1.62e43p-1f));
  // s = q r + 0: at y = 0, r is -0 and s must be +0, so that S's -0 survives
  // the product S (1 + s) and f(-0) = -0. (Same cost as the multiply.)
  return {fma_(q, r, V(0.0f)), k};
}

// T(y) (1 + s) 2^k for a tail table T (t: the TailTable or a SIMD type's
// copy of it, as for near_value): the table's polynomial at
// d = y - centre, times the exponential's parts, rounded once more by the
// FMA and once by the scaling where the result is subnormal.
template <bool kFull, class V, class Table>
GELU_EXT_HD V tail_product(const Table& t, V y) {
  const TailTerms<V> k = lookup(t, tail_index(y));
  const V d = y - k.centre;
  V p = fma_(k.c[5], d, k.c[4]);
  p = fma_(p, d, k.c[3]);
  p = fma_(p, d, k.c[2]);
  p = fma_(p, d, k.c[1]);
  p = fma_(p, d, k.c[0]);
  const Exp2Parts<V> e = exp2_neg_half_sq(y);
  return scale_pow2_in<kFull>(fma_(p, e.s, p), e.k);
}

// f = x + S (1 + s) 2^k for x >= 0 (and NaN), S (1 + s) 2^k = -y Phi(-y)
// for x < 0. f(+-0) = +-0 (S's c0 is -0 at y = 0), f(+inf) = inf, f(-inf) = -0.
// (kFull: S (1 + s) 2^k may be subnormal; x + it is an addition, which takes
// no assist.)
template <bool kFull = false, class V>
GELU_EXT_HD V gelu_exact_tail(V x) {
  const V y = abs_clamp(x, V(Clamp<float>::kExact));  // NaN x: the sum below is NaN
  const V sc = tail_product<kFull>(tail_forward_table(), y);
  return add_where(not_less(x, V(0.0f)), sc, x);
}

// A near table's polynomial at d: c0 + d (c1 + ... + d c7), by Horner's rule,
// each step one FMA (so every backend rounds the same).
template <class V>
GELU_EXT_HD V near_polynomial(const NearTerms<V>& k, V d) {
  V t = fma_(k.c[7], d, k.c[6]);
  for (int i = 5; i >= 0; --i) t = fma_(t, d, k.c[i]);
  return t;
}
// A near table's value at y (>= 0, clamped to the table's range) in the
// interval j: the polynomial at d = y - centre, exact (y lies within a
// factor 2 of the centre, or the centre is 0). t: a NearTable, or a SIMD
// type's copy of one held in registers (Vec::resident in the vector
// headers), whose lookup() gives the same terms.
template <class V, class Table, class I>
GELU_EXT_HD V near_value(const Table& t, I j, V y) {
  const NearTerms<V> k = lookup(t, j);
  return near_polynomial(k, y - k.centre);
}
// The lanes of x below -end or NaN (SIMD types: those that leave a near
// form's range), and whether there are none.
template <class V>
GELU_EXT_HD auto below_or_nan(V x, float end) {
  return not_le(V(-end), x);
}
template <class V>
GELU_EXT_HD bool none_below(V x, float end) {
  return !any_(below_or_nan(x, end));
}

// x >= -kNearEnd: f = T(yc) + positive_part(x) with yc = min(|x|, kNearEnd)
// and T = -y Phi(-y) from the near table: x - y Phi(-y) for x >= 0, and T
// alone (+ -0), rounded once, for x < 0. No exponential and no scaling (|T| > 2^-60
// there). For x > kNearEnd, |T(yc)| < 2^-54 is far below half an ulp of x,
// so f = x, +inf included. f(+-0) = +-0 (T(0) is -0, and positive_part keeps
// x's zero), and a tiny x < 0 whose T rounds to -0 gives -0.
// t: near_forward_table() or a copy of it (near_value).
template <class V, class Table>
GELU_EXT_HD V gelu_exact_near(V x, const Table& t) {
  const V y = abs_clamp(x, V(kNearEnd));
  return near_value(t, near_index(y), y) + positive_part(x);
}
template <class V>
GELU_EXT_HD V gelu_exact_near(V x) {
  return gelu_exact_near(x, near_forward_table());
}

// Whether no lane of x lies below -kNearEnd or is NaN (SIMD types): then
// none takes the tail form.
template <class V>
GELU_EXT_HD bool all_near(V x) {
  return none_below(x, kNearEnd);
}

// float32 exact GELU: on the CPU the near form for x >= -kNearEnd, the tail
// form below (and for NaN). Scalar code branches; SIMD code computes both and
// selects per lane (the screened loops run the near form alone on vectors
// with every lane near, all_near). CUDA keeps the tail form everywhere: its
// kernels are counted by their static machine code (tools/cuda_budget.py),
// which a branch to two forms would double, and it stays within 2
// representable numbers of the near form for every float32 input.
template <bool kFull = false, class V>
GELU_EXT_HD V gelu_exact_tables(V x) {
#if defined(__CUDA_ARCH__)
  return gelu_exact_tail<kFull>(x);
#else
  if constexpr (std::is_same_v<V, float>) {
    return x >= -kNearEnd ? gelu_exact_near(x) : gelu_exact_tail<kFull>(x);
  } else {
    return select(below_or_nan(x, kNearEnd), gelu_exact_tail<kFull>(x), gelu_exact_near(x));
  }
#endif
}

// f' = w for x <= 0 and 1 - w for x > 0, w = D (1 + s) 2^k = Phi(-y) - y phi(y).
// D crosses zero at the root of f' (y ~ 0.7518) inside one interval, whose
// polynomial keeps the absolute error there near 2^-30.
// t: tail_derivative_table() or a copy of it (tail_product).
template <bool kFull = false, class V, class Table>
GELU_EXT_HD V gelu_exact_derivative_tables(V x, const Table& t) {
  const V y = clamp_hi(abs_(x), V(Clamp<float>::kExact));  // NaN stays NaN, via w
  const V w = tail_product<kFull>(t, y);
  return sub_where(x > V(0.0f), V(1.0f), w);
}
template <bool kFull = false, class V>
GELU_EXT_HD V gelu_exact_derivative_tables(V x) {
  return gelu_exact_derivative_tables<kFull>(x, tail_derivative_table());
}

// ---------------------------------------------------------------------------
// Exact GELU
// ---------------------------------------------------------------------------
template <bool kPrecise = true, bool kFull = false, class V>
GELU_EXT_HD V gelu_exact(V x) {
  using S = decltype(scalar_of(x));
  if constexpr (kPrecise && std::is_same_v<S, float>) {
    return gelu_exact_tables<kFull>(x);
  } else {
    V yc, pr, k;               // pr = Phi(-y) / 2^k
    if constexpr (kPrecise) {  // double (CUDA; the CPU has gelu_math_f64.h)
      yc = clamp_hi(abs_(x), V(Clamp<S>::kExact));
      const ExpParts<V> e = exp_half_sq(yc);
      pr = tail_ratio_fwd(yc, e.s);
      k = e.k;
    } else {
      const HalfTail<V> t = exp_half_sq_coarse(x);
      yc = t.yc;
      pr = t.e * tail_ratio_fwd_coarse(yc);
      k = t.k;
    }
    // x < 0: f = -y Phi(-y), scaled last so that a subnormal result rounds
    // once; x >= 0 (and NaN): f = x - y Phi(-y) in one FMA. One scaling
    // serves both. f(+-0) = +-0, f(-inf) = -0, f(+inf) = inf, NaN stays NaN.
    const V ny = -yc;
    const auto neg = V(S(0)) > x;
    const V sc = scale_pow2(select(neg, ny * pr, pr), k);
    return select(neg, sc, fma_(ny, sc, x));
  }
}

// f'(x) = Phi(x) + x phi(x). With D = R - y*C0, Phi(-y) - y phi(y) = p D 2^k,
// so f' = p D 2^k for x <= 0 and 1 - p D 2^k for x > 0. D crosses zero at
// the root of f' (x ~ -0.7518), where results are tiny: float32 and float16
// (whose results there are subnormal) need the precise path with R as a
// double-word; bfloat16 results near the root stay far above its ulp.
template <bool kPrecise = true, bool kFull = false, class V>
GELU_EXT_HD V gelu_exact_derivative(V x) {
  using S = decltype(scalar_of(x));
  if constexpr (kPrecise && std::is_same_v<S, float>) {
    return gelu_exact_derivative_tables<kFull>(x);
  } else {
    V w;
    if constexpr (kPrecise) {  // double (CUDA; the CPU has gelu_math_f64.h)
      const NormalTail<V> t = normal_tail(x);
      // D = (R_h - y C0_hi) + (R_l - y C0_lo): exact enough at the root.
      const V d = fma_(-t.yc, V(Const<S>::kC0Hi), t.Rh) + fma_(-t.yc, V(Const<S>::kC0Lo), t.Rl);
      w = scale_pow2(fma_(t.p, d, t.plo * d), t.k);
    } else {
      const HalfTail<V> t = exp_half_sq_coarse(x);
      w = scale_pow2(t.e * fma_(-t.yc, V(Const<S>::kC0Hi), tail_ratio_coarse(t.yc)), t.k);
    }
    return select(x > V(S(0)), V(S(1)) - w, w);
  }
}

// ---------------------------------------------------------------------------
// The logistic forms: f(x) = x * sigma(a(x)) with a odd and increasing.
//   tanh:    a = 2u = x (A1 + A3 x^2)   (sigma(2u) = (1 + tanh u)/2)
//   sigmoid: a = K x, K = 1.702         (the GELU paper's x sigma(1.702 x))
// With y = |x| and w = exp(-a(y)) in (0, 1]: sigma(a(x)) = 1/(1+w) for x > 0
// and w/(1+w) for x <= 0, so neither side subtracts. The derivative
// f' = s + x a'(x) s (1-s), s (1-s) = w/(1+w)^2, is written with
// t = y a'(y): x > 0: f' = (1 + w (1 + t))/(1+w)^2; x <= 0:
// f' = w (1 + w - t)/(1+w)^2 (for sigmoid t = a).
// ---------------------------------------------------------------------------
// a(yc) = ah + al for the clamped |x| yc (al = 0 where it is not carried).
template <class V>
struct LogisticExponent {
  V yc, ah, al;
};

template <class V>
struct LogisticParts {
  V p, plo, k, w, yc;  // w = exp(-a) = (p + plo) * 2^k
  V ah, al;            // a(yc) = ah + al (al = 0 where it is not carried)
};

// exp(-(ah + al)) for the clamped |x| yc. In the full-range form (kFull) w is
// (p + plo) 2^max(k, -100) instead: where k < -100, w and that number are both
// below 2^-99, and every use of w (1 + w, 1 + w (1 + t), 1 + w - t with
// t > 60 there) rounds to the same float with either, while this one is
// normal (see NormalRange).
template <bool kPrecise, bool kFull = false, class V>
GELU_EXT_HD LogisticParts<V> logistic_parts(const LogisticExponent<V>& a) {
  const ExpParts<V> e = exp_parts(Precision<kPrecise>{}, -a.ah, -a.al);
  V kw = e.k;
  if constexpr (kFull) kw = clamp_lo(e.k, V(-100.0f));
  return {e.p, e.plo, e.k, scale_pow2(e.p, kw), a.yc, a.ah, a.al};
}

// The tanh form's a = 2|u| = y (A1 + A3 y^2). Its absolute error becomes the
// relative error of exp(-a), and a reaches ~110 in float, so in precise mode
// it is carried as a double-word ah + al.
template <bool kPrecise, class V>
GELU_EXT_HD LogisticExponent<V> tanh_exponent(V x) {
  using S = decltype(scalar_of(x));
  using C = Const<S>;
  const V yc = clamp_hi(abs_(x), V(Clamp<S>::kTanh));
  const V h = yc * yc;
  V ah, al;
  if (kPrecise) {
    const V l = fma_(yc, yc, -h);
    const V P = h * V(C::kA3Hi);
    V Pe = fma_(h, V(C::kA3Hi), -P);
    Pe = Pe + fma_(l, V(C::kA3Hi), h * V(C::kA3Lo));
    const V A1 = V(C::kA1Hi);
    const V s = A1 + P;  // two-sum(A1, P)
    const V bb = s - A1;
    const V se = (A1 - (s - bb)) + (P - bb);
    const V lo = se + Pe + V(C::kA1Lo);
    ah = yc * s;
    al = fma_(yc, s, -ah) + yc * lo;
  } else {
    ah = yc * fma_(h, V(C::kA3Hi), V(C::kA1Hi));
    al = V(S(0));
  }
  return {yc, ah, al};
}

// The sigmoid form's a = K y, K = 1.702 as a double-word (a reaches ~109 at
// the float clamp, so it is carried as ah + al in precise mode, as for tanh).
template <bool kPrecise, class V>
GELU_EXT_HD LogisticExponent<V> sigmoid_exponent(V x) {
  using S = decltype(scalar_of(x));
  using C = Const<S>;
  const V yc = clamp_hi(abs_(x), V(Clamp<S>::kSigmoid));
  const V ah = yc * V(C::kKHi);
  const V al = kPrecise ? fma_(yc, V(C::kKHi), -ah) + yc * V(C::kKLo) : V(S(0));
  return {yc, ah, al};
}

// x > 0: f = x / (1+w); x <= 0: f = -y p / (1+w) * 2^k. One division, the
// scaling (k = 0 for x > 0) last.
template <bool kPrecise, bool kFull = false, class V>
GELU_EXT_HD V logistic_gelu(V x, const LogisticParts<V>& t) {
  using S = decltype(scalar_of(x));
  const auto pos = x > V(S(0));
  const V xc = copysign_(t.yc, x);
  const V num = select(pos, x, kPrecise ? fma_(xc, t.p, xc * t.plo) : xc * t.p);
  return scale_pow2_in<kFull>(num / (V(S(1)) + t.w), select(pos, V(S(0)), t.k));
}

// f' from w and t = th + tl (tl = 0 outside precise mode). For x <= 0 the
// factor 1 + w - t crosses zero at the root of f' (tanh: x ~ -0.7525,
// sigmoid: x ~ -0.7517); in precise mode t is a double-word and w comes from
// the precise exponential, so that factor keeps its absolute accuracy there
// (float32, and float16 whose results there are subnormal).
template <bool kPrecise, bool kFull = false, class V>
GELU_EXT_HD V logistic_derivative(V x, const LogisticParts<V>& t, V th, V tl) {
  using S = decltype(scalar_of(x));
  const V one = V(S(1));
  const V n = kPrecise ? ((one - th) - tl) + t.w : (one - th) + t.w;
  const auto pos = x > V(S(0));
  const V neg_num = kPrecise ? fma_(t.p, n, t.plo * n) : t.p * n;
  const V num = select(pos, fma_(t.w, one + th, one), neg_num);
  const V den = one + t.w;
  return scale_pow2_in<kFull>(num / (den * den), select(pos, V(S(0)), t.k));
}

template <bool kPrecise = true, bool kFull = false, class V>
GELU_EXT_HD V gelu_tanh(V x) {
  return logistic_gelu<kPrecise, kFull>(
      x, logistic_parts<kPrecise, kFull>(tanh_exponent<kPrecise>(x)));
}

// t = 2 y u' = y (A1 + B3 y^2). w enters 1 + w - t absolutely, so it always
// comes from the precise exponential; only the double-word parts of t are
// skipped for bfloat16.
template <bool kPrecise, class V>
GELU_EXT_HD DoubleWord<V> tanh_slope(V yc) {
  using S = decltype(scalar_of(yc));
  using C = Const<S>;
  const V h = yc * yc;
  const V in_hi = fma_(h, V(C::kB3Hi), V(C::kA1Hi));  // A1 + B3 y^2
  const V th = yc * in_hi;                            // t = th + tl
  V tl = V(S(0));
  if (kPrecise) {
    const V l = fma_(yc, yc, -h);
    const V in_lo = fma_(h, V(C::kB3Hi), V(C::kA1Hi) - in_hi) +
                    (V(C::kA1Lo) + fma_(l, V(C::kB3Hi), h * V(C::kB3Lo)));
    tl = fma_(yc, in_hi, -th) + yc * in_lo;
  }
  return {th, tl};
}

template <bool kPrecise = true, bool kFull = false, class V>
GELU_EXT_HD V gelu_tanh_derivative(V x) {
  const LogisticParts<V> t = logistic_parts<true, kFull>(tanh_exponent<true>(x));
  const DoubleWord<V> s = tanh_slope<kPrecise>(t.yc);
  return logistic_derivative<kPrecise, kFull>(x, t, s.hi, s.lo);
}

// float32 tanh f' for x >= -kTanhNearEnd: w = w(yc) from the tanh
// near table, yc = min(|x|, kTanhNearEnd), w(y) = f'(-y); f' = 1 - w for
// x > 0 and w for x <= 0 (f'(-x) = 1 - f'(x)). No exponential and no
// division; |w| > 2^-65 there, and for x > kTanhNearEnd 1 - w(yc) rounds to
// 1, as f' does. Its interval 1 is expanded at the root of f', so the result
// there keeps its accuracy relative to |w| (see tools/fit_coefficients.py).
// t: tanh_derivative_near_table() or a copy of it (near_value).
template <class V, class Table>
GELU_EXT_HD V gelu_tanh_derivative_near(V x, const Table& t) {
  const V y = abs_clamp(x, V(kTanhNearEnd));
  return sub_where(x > V(0.0f), V(1.0f), near_value(t, tanh_near_index(y), y));
}
template <class V>
GELU_EXT_HD V gelu_tanh_derivative_near(V x) {
  return gelu_tanh_derivative_near(x, tanh_derivative_near_table());
}

// Whether no lane of x lies below -kTanhNearEnd or is NaN (SIMD types):
// then none takes the logistic form.
template <class V>
GELU_EXT_HD bool all_tanh_near(V x) {
  return none_below(x, kTanhNearEnd);
}

// float32 tanh GELU for x >= -kTanhForwardNearEnd: f = T(yc) +
// positive_part(x), T(y) = f(-y) = -y sigma(-2u(y)) from the tanh forward's
// near table, yc = min(|x|, kTanhForwardNearEnd), as gelu_exact_near (for
// x > kTanhForwardNearEnd, |T(yc)| < 3e-15 is far below half an ulp of x, so
// f = x, +inf included; f(+-0) = +-0).
// t: tanh_forward_near_table() or a copy of it (near_value).
template <class V, class Table>
GELU_EXT_HD V gelu_tanh_near(V x, const Table& t) {
  const V y = abs_clamp(x, V(kTanhForwardNearEnd));
  return near_value(t, tanh_forward_near_index(y), y) + positive_part(x);
}
template <class V>
GELU_EXT_HD V gelu_tanh_near(V x) {
  return gelu_tanh_near(x, tanh_forward_near_table());
}
template <class V>
GELU_EXT_HD bool all_tanh_forward_near(V x) {
  return none_below(x, kTanhForwardNearEnd);
}

// The near forms of the forward by mode (exact, tanh), their tables, and
// whether every lane of x takes it. t: near_forward_table_of<A>() or a copy
// of it (near_value).
template <Approximation A>
GELU_EXT_HD const NearTable& near_forward_table_of() {
  if constexpr (A == Approximation::Tanh) {
    return tanh_forward_near_table();
  } else {
    return near_forward_table();
  }
}
template <Approximation A, class V, class Table>
GELU_EXT_HD V near_forward_of(V x, const Table& t) {
  if constexpr (A == Approximation::Tanh) {
    return gelu_tanh_near(x, t);
  } else {
    return gelu_exact_near(x, t);
  }
}
template <Approximation A, class V>
GELU_EXT_HD bool all_near_of(V x) {
  if constexpr (A == Approximation::Tanh) {
    return all_tanh_forward_near(x);
  } else {
    return all_near(x);
  }
}

// The tanh f of formula_of: for float32 results the near form for
// x >= -kTanhForwardNearEnd and the logistic form below it (and for NaN),
// chosen as below for f'.
template <bool kPrecise = true, bool kFull = false, class V>
GELU_EXT_HD V gelu_tanh_tables(V x) {
  if constexpr (kPrecise && std::is_same_v<decltype(scalar_of(x)), float>) {
    if constexpr (std::is_same_v<V, float>) {
      return x >= -kTanhForwardNearEnd ? gelu_tanh_near(x) : gelu_tanh<kPrecise, kFull>(x);
    } else {
      return select(below_or_nan(x, kTanhForwardNearEnd), gelu_tanh<kPrecise, kFull>(x),
                    gelu_tanh_near(x));
    }
  } else {
    return gelu_tanh<kPrecise, kFull>(x);
  }
}

// The tanh f' of formula_of: for float32 results the near form for
// x >= -kTanhNearEnd and the logistic form below it (and for NaN), chosen as
// gelu_exact_tables chooses (scalar code branches, SIMD code selects per
// lane; the screened loops run the near form alone on vectors with every lane
// near). bfloat16 (kPrecise false) and double keep the logistic form. CUDA's
// float32 kernels take the same near form through gelu_math_device.h
// (f32_logistic), so both devices give the same bits from -kTanhNearEnd up.
template <bool kPrecise = true, bool kFull = false, class V>
GELU_EXT_HD V gelu_tanh_derivative_tables(V x) {
  if constexpr (kPrecise && std::is_same_v<decltype(scalar_of(x)), float>) {
    if constexpr (std::is_same_v<V, float>) {
      return x >= -kTanhNearEnd ? gelu_tanh_derivative_near(x)
                                : gelu_tanh_derivative<kPrecise, kFull>(x);
    } else {
      return select(below_or_nan(x, kTanhNearEnd), gelu_tanh_derivative<kPrecise, kFull>(x),
                    gelu_tanh_derivative_near(x));
    }
  } else {
    return gelu_tanh_derivative<kPrecise, kFull>(x);
  }
}

template <bool kPrecise = true, bool kFull = false, class V>
GELU_EXT_HD V gelu_sigmoid(V x) {
  return logistic_gelu<kPrecise, kFull>(
      x, logistic_parts<kPrecise, kFull>(sigmoid_exponent<kPrecise>(x)));
}

// t = y a'(y) = a: the exponent's own double-word (precise exponential for w,
// as for tanh).
template <bool kPrecise = true, bool kFull = false, class V>
GELU_EXT_HD V gelu_sigmoid_derivative(V x) {
  const LogisticParts<V> t = logistic_parts<true, kFull>(sigmoid_exponent<true>(x));
  return logistic_derivative<kPrecise, kFull>(x, t, t.ah, t.al);
}

// ---------------------------------------------------------------------------
// The formulas of a mode A known at compile time.
// ---------------------------------------------------------------------------
// kDerivative: f' instead of f. kFull: the full-range form (NormalRange).
template <Approximation A, bool kDerivative, bool kPrecise, bool kFull = false, class V>
GELU_EXT_HD V formula_of(V x) {
  if constexpr (A == Approximation::Tanh && kDerivative) {
    return gelu_tanh_derivative_tables<kPrecise, kFull>(x);
  } else if constexpr (A == Approximation::Tanh) {
    return gelu_tanh_tables<kPrecise, kFull>(x);
  } else if constexpr (A == Approximation::Sigmoid && kDerivative) {
    return gelu_sigmoid_derivative<kPrecise, kFull>(x);
  } else if constexpr (A == Approximation::Sigmoid) {
    return gelu_sigmoid<kPrecise, kFull>(x);
  } else if constexpr (kDerivative) {
    return gelu_exact_derivative<kPrecise, kFull>(x);
  } else {
    return gelu_exact<kPrecise, kFull>(x);
  }
}
template <Approximation A, bool kPrecise = true, bool kFull = false, class V>
GELU_EXT_HD V gelu_of(V x) {
  return formula_of<A, false, kPrecise, kFull>(x);
}
template <Approximation A, bool kPrecise = true, bool kFull = false, class V>
GELU_EXT_HD V gelu_derivative_of(V x) {
  return formula_of<A, true, kPrecise, kFull>(x);
}

// NormalRange's bound for mode A.
template <Approximation A>
constexpr float normal_range_bound() {
  return A == Approximation::Tanh      ? NormalRange::kTanh
         : A == Approximation::Sigmoid ? NormalRange::kSigmoid
                                       : NormalRange::kExact;
}

// Whether some lane of x lies beyond NormalRange for mode A (or is NaN): its
// vector then takes the full-range form. Written with the formula's own first
// step (the clamped or plain |x|), which the compiler then computes once.
template <Approximation A, bool kDerivative, class V>
GELU_EXT_HD bool outside_normal_range(V x) {
  const V bound = V(normal_range_bound<A>());
  if constexpr (A == Approximation::None && !kDerivative) {
    return any_(not_le(abs_clamp(x, V(Clamp<float>::kExact)), bound));
  } else {
    return any_(not_le(abs_(x), bound));
  }
}

// Whether every lane of x is at or above NormalRange's bound for mode A. There
// the formulas give f(x) = x and f'(x) = 1 exactly (every mode's
// x - f(x) and 1 - f'(x) are below 2^-80 there), so the full-range loops
// store x and g for such vectors without evaluating them.
template <Approximation A, class V>
GELU_EXT_HD bool all_far_positive(V x) {
  return all_at_least(x, V(normal_range_bound<A>()));
}

}  // namespace math
}  // namespace gelu_ext
