// Device formulas: GELU for bfloat16/float16 results on the GPU, built from
// the GPU's approximate instructions (ex2.approx, rcp.approx) instead of the
// CPU's exponential polynomial, 2^k scaling and IEEE division, and the
// float32 tanh and sigmoid forms with cheaper scaling and division (further
// down; the tanh mode takes the CPU's near tables instead from -7 / -8 up).
// The CUDA kernels (cuda/gelu_kernel.cu) use them; the CPU keeps
// gelu_math.h. The contract between the two is agreement within 1 ulp of
// the type (16-bit) or 2 ulp (float32) (docs/ACCURACY.md), not bitwise
// identity.
//
// Every function takes a model M of the approximate instructions:
//   M::ex2(t)  2^t, as ex2.approx.ftz.f32 (results below 2^-126 flushed to 0)
//   M::rcp(v)  1/v, as rcp.approx.ftz.f32, for v in [1, 2^32]
// On the GPU M issues the instructions; on the CPU, tests/cpp/
// test_device_math.cpp evaluates the same code with each instruction's
// result pushed to either end of an error bound wider than the PTX ISA's,
// over every bfloat16 and float16 input, and checks the accuracy contract
// and the agreement with the CPU's results there. All other operations are
// IEEE float operations with every FMA explicit (nvcc --fmad=false, the CPU
// build -ffp-contract=off), so the CPU evaluation is the GPU's bit for bit
// up to the approximate instructions.
//
// Notation as in gelu_math.h: y = |x| clamped, Phi(-y) = exp(-y^2/2) R(y),
// w = exp(-a(y)) for the logistic forms. The exponentials are computed as
// 2^32 exp(...) = ex2(32 - ...): scaled up so that ex2 never returns a
// subnormal where a result needs one, and scaled back by 2^-32 last, so a
// subnormal result is rounded once (in float, then to the 16-bit type).
// The coefficients come from tools/fit_coefficients.py (--device).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "approximation.h"
#include "gelu_math.h"

namespace gelu_ext {
namespace math {
namespace device {

// min(a, lim), NaN when a is NaN (min.NaN.f32 on the GPU: one instruction,
// where fminf would drop the NaN).
GELU_EXT_HD float min_nan(float a, float lim) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  float r;
  asm("min.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(lim));
  return r;
#else
  return a < lim ? a : (a != a ? a : lim);
#endif
}

// The exponentials carry a factor 2^32 (the 32 added to ex2's argument),
// taken out last.
constexpr float kUnscale = 0x1p-32f;
// -log2(e)/2: 2^32 exp(-y^2/2) = ex2(32 + kNegHalfLog2e y^2).
constexpr float kNegHalfLog2e = static_cast<float>(-kLog2e / 2);

// Clamps of y = |x|: beyond them every bfloat16/float16 result is 0 (x < 0)
// or x (x > 0), and the scaled exponential is still a normal float there.
struct DeviceClamp {
  static constexpr float kExact = 14.0f;    // 14 Phi(-14) < 2^-134
  static constexpr float kTanh = 10.5f;     // 10.5 exp(-a(10.5)) < 2^-134
  static constexpr float kSigmoid = 60.0f;  // 60 exp(-1.702*60) < 2^-134
};

// The tanh form's a(y) = y (A1 + A3 y^2) and y a'(y) = y (A1 + B3 y^2), the
// sigmoid form's a = K y (gelu_math.h's constants); as multiples of log2(e)
// for ex2, and as floats.
constexpr float kNegA1Log2e = static_cast<float>(-kA1.hi * kLog2e);
constexpr float kNegA3Log2e = static_cast<float>(-kA3.hi * kLog2e);
constexpr float kNegKLog2e = static_cast<float>(-kK.hi * kLog2e);
constexpr float kA1F = static_cast<float>(kA1.hi);
constexpr float kB3F = static_cast<float>(3 * kA3.hi);
constexpr float kKF = static_cast<float>(kK.hi);

// Rational fits per result type: R(y) = erfcx(y/sqrt 2)/2 as N/D of degrees
// 2/3, and E(y) = (R(y) - y/sqrt(2 pi)) / (y0 - y), y0 the root of f' (the
// factor that carries the root of the exact derivative exactly), degrees
// 2/2, near-minimax in relative error on [0, 14] (bfloat16) and [0, 6]
// (float16, whose results are 0 beyond). Relative errors of the float
// coefficients: bfloat16 R 2.4e-5, E 4.5e-5; float16 R 7.0e-6, E 1.7e-5.
template <bool kBf16>
struct HalfFits;
template <>
struct HalfFits<true> {
  static constexpr float kRn[3] = {0x1.000194p-1f, 0x1.1ceb6ep-2f, 0x1.000cfap-4f};
  static constexpr float kRd[3] = {0x1.5ae8fap+0f, 0x1.67b254p-1f, 0x1.408cecp-3f};
  static constexpr float kEn[3] = {0x1.548138p-1f, 0x1.ecad9cp-2f, 0x1.e87ee2p-4f};
  static constexpr float kEd[2] = {0x1.f9dc78p-1f, 0x1.31d5eep-2f};
};
template <>
struct HalfFits<false> {
  static constexpr float kRn[3] = {0x1.000076p-1f, 0x1.050414p-2f, 0x1.b48f92p-5f};
  static constexpr float kRd[3] = {0x1.4ed4dep+0f, 0x1.4c1fa8p-1f, 0x1.108696p-3f};
  static constexpr float kEn[3] = {0x1.548398p-1f, 0x1.d3d1a8p-2f, 0x1.bc59bcp-4f};
  static constexpr float kEd[2] = {0x1.e7757cp-1f, 0x1.15bd9ap-2f};
};
// y0, the root of f'(x) = Phi(x) + x phi(x) at x = -y0, as hi + lo.
constexpr float kExactRootHi = 0x1.80ead2p-1f;
constexpr float kExactRootLo = -0x1.a03fd4p-27f;

// Near the roots of the logistic forms' f' (x0 = -0.75246 tanh, -0.75115
// sigmoid) the factor 1 + w - t loses the absolute accuracy that a float16
// result there (subnormal) needs, so within |x - x0| < 2^-7 the kernels use
// f' = d (c1 + c2 d), d = x - x0 (x0 as hi + lo): the Taylor series at the
// root, whose next term stays below 2^-16 of the result there.
// Coefficients from mpmath (tools/fit_coefficients.py --device).
struct RootPatch {
  float x0_hi, x0_lo, c1, c2;
};
constexpr float kPatchHalfWidth = 0x1p-7f;
constexpr RootPatch kTanhRoot{-0x1.8142a0p-1f, 0x1.85a06cp-27f, 0x1.b8bacep-2f, 0x1.8cd1a2p-2f};
constexpr RootPatch kSigmoidRoot{-0x1.80974ap-1f, -0x1.8af8f8p-27f, 0x1.7b9cdap-2f, 0x1.b30222p-2f};

GELU_EXT_HD float root_patch(RootPatch p, float x, float generic) {
  const float d = (x - p.x0_hi) - p.x0_lo;
  const float near = d * fma_(p.c2, d, p.c1);
  return ::fabsf(d) < kPatchHalfWidth ? near : generic;
}

// ---------------------------------------------------------------------------
// Exact GELU
// ---------------------------------------------------------------------------
// 2^32 Phi(-y) = ex2(32 - y^2 log2(e)/2) N(y) / D(y); x < 0: f = -y Phi(-y),
// x >= 0 (and NaN): f = x (1 - Phi(-y)), neither side cancelling.
// f(+-0) = +-0, f(+inf) = inf, f(-inf) = -0, NaN stays NaN (through x, and
// through y for the derivative).
template <bool kBf16, class M>
GELU_EXT_HD float exact_forward(const M& m, float x) {
  using F = HalfFits<kBf16>;
  const float y = min_nan(::fabsf(x), DeviceClamp::kExact);
  const float e = m.ex2(fma_(y * kNegHalfLog2e, y, 32.0f));
  const float num = fma_(fma_(F::kRn[2], y, F::kRn[1]), y, F::kRn[0]);
  const float den = fma_(fma_(fma_(F::kRd[2], y, F::kRd[1]), y, F::kRd[0]), y, 1.0f);
  const float ps = (e * num) * m.rcp(den);  // 2^32 Phi(-y)
  const float neg = (-y * ps) * kUnscale;
  const float pos = x * fma_(ps, -kUnscale, 1.0f);
  return x < 0.0f ? neg : pos;
}

// f' = Phi(-y) - y phi(y) = exp(-y^2/2) (y0 - y) E(y) for x < 0 and one
// minus that for x >= 0: (y0 - y) is exact near the root (y0 as hi + lo),
// so the result keeps its relative accuracy through the root.
template <bool kBf16, class M>
GELU_EXT_HD float exact_derivative(const M& m, float x) {
  using F = HalfFits<kBf16>;
  const float y = min_nan(::fabsf(x), DeviceClamp::kExact);
  const float e = m.ex2(fma_(y * kNegHalfLog2e, y, 32.0f));
  const float gap = (kExactRootHi - y) + kExactRootLo;
  const float num = fma_(fma_(F::kEn[2], y, F::kEn[1]), y, F::kEn[0]);
  const float den = fma_(fma_(F::kEd[1], y, F::kEd[0]), y, 1.0f);
  const float ed = e * (gap * (num * m.rcp(den)));  // 2^32 (Phi(-y) - y phi(y))
  const float neg = ed * kUnscale;
  const float pos = fma_(ed, -kUnscale, 1.0f);
  return x < 0.0f ? neg : pos;
}

// ---------------------------------------------------------------------------
// The logistic forms: w' = 2^32 exp(-a(y)), r = 1/(1 + w) in [1/2, 1];
// x >= 0: f = x r; x < 0: f = -y w r.
// ---------------------------------------------------------------------------
struct Logistic {
  float y, w, r;  // y clamped, w = 2^32 exp(-a(y)), r = 1/(1 + exp(-a(y)))
};

template <class M>
GELU_EXT_HD Logistic logistic(const M& m, float y, float exponent) {
  const float w = m.ex2(exponent);
  return {y, w, m.rcp(fma_(w, kUnscale, 1.0f))};
}

GELU_EXT_HD float logistic_forward(float x, const Logistic& l) {
  const float neg = ((-l.y * l.w) * l.r) * kUnscale;
  return x < 0.0f ? neg : x * l.r;
}

// f' = s + x a'(x) s (1 - s) with t = y a'(y): x >= 0: r (1 + t w r);
// x < 0: w r^2 (1 + w - t), whose last factor crosses zero at the root: as
// (1 - t) + w, exact near the root up to the error of w (which is ~0.3
// there), so rcp's error only scales the result (and the patch takes the
// last 2^-7 around the root, see RootPatch).
GELU_EXT_HD float logistic_derivative(float x, const Logistic& l, float t, RootPatch root) {
  const float pos = l.r * fma_(t * (l.w * kUnscale), l.r, 1.0f);
  const float n = fma_(l.w, kUnscale, 1.0f - t);
  const float neg = (((l.w * l.r) * l.r) * n) * kUnscale;
  return root_patch(root, x, x < 0.0f ? neg : pos);
}

template <class M>
GELU_EXT_HD float tanh_forward(const M& m, float x) {
  const float y = min_nan(::fabsf(x), DeviceClamp::kTanh);
  const float p = fma_(y * y, kNegA3Log2e, kNegA1Log2e);
  return logistic_forward(x, logistic(m, y, fma_(y, p, 32.0f)));
}

template <class M>
GELU_EXT_HD float tanh_derivative(const M& m, float x) {
  const float y = min_nan(::fabsf(x), DeviceClamp::kTanh);
  const float h = y * y;
  const Logistic l = logistic(m, y, fma_(y, fma_(h, kNegA3Log2e, kNegA1Log2e), 32.0f));
  return logistic_derivative(x, l, y * fma_(h, kB3F, kA1F), kTanhRoot);
}

template <class M>
GELU_EXT_HD float sigmoid_forward(const M& m, float x) {
  const float y = min_nan(::fabsf(x), DeviceClamp::kSigmoid);
  return logistic_forward(x, logistic(m, y, fma_(y, kNegKLog2e, 32.0f)));
}

template <class M>
GELU_EXT_HD float sigmoid_derivative(const M& m, float x) {
  const float y = min_nan(::fabsf(x), DeviceClamp::kSigmoid);
  const Logistic l = logistic(m, y, fma_(y, kNegKLog2e, 32.0f));
  return logistic_derivative(x, l, y * kKF, kSigmoidRoot);
}

// ---------------------------------------------------------------------------
// float32 results of the logistic forms: the CPU's formulas (gelu_math.h:
// the double-word exponent a, exp_of_reduced, the numerators), with three
// device means in place of the CPU's FRND/F2I, scaling branch and IEEE
// division:
//   k = rint(z log2 e) by adding 1.5 2^23 (the same k: the product is rounded
//   first, as on the CPU), and 2^(k + 64) built from the sum's low bits;
//   v 2^k as (v 2^(k + 64)) 2^-64, rounded once (the CPU's scale_pow2);
//   n / d (d in [1, 4]) as q = n r, q + (n - d q) r with r = rcp.approx(d):
//   the correctly rounded quotient but for rare ties (a few results one
//   apart from the CPU's).
// ---------------------------------------------------------------------------
constexpr float kShift = 0x1.8p23f;
constexpr uint32_t kShiftBits = 0x4b400000u;  // the bits of kShift

struct ScaledExp {
  float p, plo, up;  // e^(z + zlo) = (p + plo) 2^k, up = 2^(k + 64)
};

// exp_parts (precise) for z in [-113, 0]: k in [-163, 0].
GELU_EXT_HD ScaledExp exp_scaled(float z, float zlo) {
  const float t = z * static_cast<float>(kLog2e) + kShift;  // 1.5 2^23 + k
  const float k = t - kShift;
  float r = fma_(k, -kLn2HiF, z);
  r = fma_(k, -kLn2LoF, r);
  r = r + zlo;
  const ExpParts<float> e = exp_of_reduced(Precision<true>{}, r, k);
  // t's low bits are k: (k + 64 + 127) << 23 in one multiply-add.
  const uint32_t up = (bits_of(t) << 23) + ((191u - kShiftBits) << 23);
  return {e.p, e.plo, float_of(up)};
}

// n / d for finite n and d in [1, 4].
template <class M>
GELU_EXT_HD float divide(const M& m, float n, float d) {
  const float r = m.rcp(d);
  const float q = n * r;
  return fma_(fma_(-d, q, n), r, q);
}

// gelu_math.h's logistic_gelu from e^-a = (p + plo) 2^k for the clamped |x|
// yc: x > 0: x / (1 + w) (x itself past the clamp, where w = 0 and x may be
// inf); x <= 0: -y p / (1 + w) 2^k. 1 + w in one FMA: p 2^(k + 64) is exact,
// and where w = p 2^k would round (below 2^-126) 1 + w is 1 either way.
template <class M>
GELU_EXT_HD float f32_logistic_forward(const M& m, float x, float yc, const ScaledExp& e,
                                       float clamp) {
  const bool pos = x > 0.0f;
  const float xc = ::copysignf(yc, x);
  const float d = fma_(e.p * e.up, 0x1p-64f, 1.0f);
  const float q = divide(m, pos ? x : fma_(xc, e.p, xc * e.plo), d);
  if (pos) return x < clamp ? q : x;
  return (q * e.up) * 0x1p-64f;
}

// gelu_math.h's logistic_derivative (precise), t = th + tl.
template <class M>
GELU_EXT_HD float f32_logistic_derivative(const M& m, float x, const ScaledExp& e, float th,
                                          float tl) {
  const float w = (e.p * e.up) * 0x1p-64f;
  const float n = ((1.0f - th) - tl) + w;
  const bool pos = x > 0.0f;
  const float num = pos ? fma_(w, 1.0f + th, 1.0f) : fma_(e.p, n, e.plo * n);
  const float den = 1.0f + w;
  const float q = divide(m, num, den * den);
  return pos ? q : (q * e.up) * 0x1p-64f;
}

// The tanh forward's exponent in double: a = y (A1 + A3 y^2) and its
// reduction z = -a = k ln2 + r take 5 FP64 operations and two conversions
// where the float double-word a and Cody-Waite reduction take 26 float
// operations (the sigmoid form's a = K y is cheap in float). r is rounded to
// float once (|error| < 2^-26); k comes from the shifted sum's low word.
GELU_EXT_HD ScaledExp exp_neg_tanh_a(float yc) {
  const double y = yc;
  const double a = y * ::fma(y * y, kA3.hi, kA1.hi);
  const double t = ::fma(-a, kLog2e, 0x1.8p52);  // 1.5 2^52 + rint(-a log2 e)
  const double k = t - 0x1.8p52;
  const float r = static_cast<float>(::fma(k, -0x1.62e42fefa39efp-1, -a));  // -a - k ln2
  const ExpParts<float> e = exp_of_reduced(Precision<true>{}, r, static_cast<float>(k));
#if defined(__CUDA_ARCH__)
  const uint32_t k_bits = static_cast<uint32_t>(__double2loint(t));
#else
  uint64_t tb;
  std::memcpy(&tb, &t, sizeof tb);
  const uint32_t k_bits = static_cast<uint32_t>(tb);  // k, two's complement
#endif
  return {e.p, e.plo, float_of((k_bits + 191u) << 23)};
}

// f or f' of the tanh (kTanh) or sigmoid form for float32 results. The tanh
// f from -kTanhForwardNearEnd up and f' from -kTanhNearEnd up are the CPU's
// near forms (gelu_math.h, gelu_tanh_near and gelu_tanh_derivative_near:
// plain FMAs on the same tables, so the same bits).
template <bool kTanh, bool kDerivative, class M>
GELU_EXT_HD float f32_logistic(const M& m, float x) {
  constexpr float kClamp = kTanh ? Clamp<float>::kTanh : Clamp<float>::kSigmoid;
  if constexpr (kTanh && kDerivative) {
    if (x >= -kTanhNearEnd) return gelu_tanh_derivative_near(x);
  } else if constexpr (kTanh) {
    if (x >= -kTanhForwardNearEnd) return gelu_tanh_near(x);
  }
  if constexpr (kTanh && !kDerivative) {
    const float yc = clamp_hi(::fabsf(x), kClamp);
    return f32_logistic_forward(m, x, yc, exp_neg_tanh_a(yc), kClamp);
  }
  const LogisticExponent<float> a = kTanh ? tanh_exponent<true>(x) : sigmoid_exponent<true>(x);
  const ScaledExp e = exp_scaled(-a.ah, -a.al);
  if constexpr (!kDerivative) {
    return f32_logistic_forward(m, x, a.yc, e, kClamp);
  } else if constexpr (kTanh) {
    const DoubleWord<float> t = tanh_slope<true>(a.yc);
    return f32_logistic_derivative(m, x, e, t.hi, t.lo);
  } else {
    return f32_logistic_derivative(m, x, e, a.ah, a.al);  // t = y a'(y) = a
  }
}

// f (kDerivative = false) or f' of mode A for results rounded to bfloat16
// (kBf16) or float16, computed in float.
template <Approximation A, bool kDerivative, bool kBf16, class M>
GELU_EXT_HD float half_formula(const M& m, float x) {
  if constexpr (A == Approximation::Tanh) {
    return kDerivative ? tanh_derivative(m, x) : tanh_forward(m, x);
  } else if constexpr (A == Approximation::Sigmoid) {
    return kDerivative ? sigmoid_derivative(m, x) : sigmoid_forward(m, x);
  } else {
    return kDerivative ? exact_derivative<kBf16>(m, x) : exact_forward<kBf16>(m, x);
  }
}

}  // namespace device
}  // namespace math
}  // namespace gelu_ext
