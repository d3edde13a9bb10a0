// Reference values of GELU and its derivative for the accuracy sweep, in a
// type T wider than float32: double everywhere, long double near the root of
// f' (see needs_long_double). Written independently of csrc/gelu_math.h, so
// that the reference does not share the code it checks, and only from stable
// forms (docs/DESIGN.md, "Math"), with y = |x|:
//   exact: Phi(-y) = erfc(y/sqrt 2)/2, never 1 + erf(x/sqrt 2), which cancels
//          for x < 0; phi(y) = exp(-y^2/2)/sqrt(2 pi) with y^2 = h + l split
//          exactly, so exp sees its argument without rounding error;
//   tanh:  f = x sigma(2u) with w = exp(-2|u|) in (0, 1], never
//          1 + tanh(u), which cancels for x < 0;
//   sigmoid: f = x sigma(K x), K = 1.702, with w = exp(-K y) in (0, 1] the
//          same way.
//
// Why double is enough away from the root of f': every step above has a
// relative error of a few 2^-53, except that an argument a of exp or erfc
// with relative error e moves the result by about a * e relatively (by
// ~2 a^2 e for erfc(a)). y^2 reaches exp exactly; the largest other arguments
// that still give a nonzero float32 result are a = y/sqrt 2 ~ 10.5 in erfc
// (2 a^2 ~ 220) and 2|u| ~ 104 in the tanh form (K y ~ 104 in the sigmoid
// form), so the reference is good to
// ~3e-14 relative, below 1e-6 float32 ulp. The sweep checks this claim on every 1021st input
// against the long double evaluation of the same formulas.
//
// Near the root of f' (x ~ -0.7518 exact, -0.7525 tanh, -0.7512 sigmoid) the
// result is the
// difference of two terms of ~0.2, so double leaves an absolute error of
// ~2^-54, which is many ulps of a result of ~1e-9: there the sweep uses long
// double (64-bit significand, absolute error ~2^-65).
#pragma once

#include <cmath>

#include "approximation.h"

namespace gelu_ext_accuracy {

using gelu_ext::Approximation;

template <class T>
struct Value {
  T f, df;  // GELU(x) and GELU'(x)
};

// Constants to long double precision (38 digits), rounded once to T.
template <class T>
struct Constants {
  static constexpr T kInvSqrt2 = static_cast<T>(0.70710678118654752440084436210484903928L);
  static constexpr T kInvSqrt2Pi = static_cast<T>(0.39894228040143267793994605993438186848L);
  // 2 sqrt(2/pi): twice the tanh form's c
  static constexpr T kTwoC = static_cast<T>(1.5957691216057307117597842397375274738L);
  static constexpr T kKappa = static_cast<T>(0.044715L);  // the tanh form's cubic coefficient
  static constexpr T kK = static_cast<T>(1.702L);         // the sigmoid form's slope
};

template <class T>
Value<T> exact_reference(T x) {
  using K = Constants<T>;
  const T y = std::fabs(x);
  const T h = y * y;
  const T l = std::fma(y, y, -h);                           // y^2 = h + l exactly
  const T e = std::exp(T(-0.5) * h) * (T(1) - T(0.5) * l);  // exp(-y^2/2), |l| << 1
  const T pdf_y = y * e * K::kInvSqrt2Pi;                   // y phi(y)
  const T lower = T(0.5) * std::erfc(y * K::kInvSqrt2);     // Phi(-y) <= 1/2
  if (x < 0) return {-y * lower, lower - pdf_y};            // f' = Phi(-y) - y phi(y)
  return {x * (T(1) - lower), (T(1) - lower) + pdf_y};      // also f(-0) = -0
}

template <class T>
Value<T> tanh_reference(T x) {
  using K = Constants<T>;
  const T y = std::fabs(x);
  const T y2 = y * y;
  const T w = std::exp(-K::kTwoC * y * (T(1) + K::kKappa * y2));  // exp(-2|u|)
  const T t = K::kTwoC * y * (T(1) + T(3) * K::kKappa * y2);      // 2 y u'
  const T inv = T(1) / (T(1) + w);
  // sigma(2u) = 1/(1+w) for x > 0, w/(1+w) for x <= 0; f' = s + 2 x u' s (1 - s).
  if (x > 0) return {x * inv, (T(1) + w * (T(1) + t)) * inv * inv};
  return {x * w * inv, w * ((T(1) + w) - t) * inv * inv};  // also f(-0) = -0
}

template <class T>
Value<T> sigmoid_reference(T x) {
  const T y = std::fabs(x);
  const T a = Constants<T>::kK * y;
  const T w = std::exp(-a);
  const T inv = T(1) / (T(1) + w);
  // sigma(K x) as for tanh; f' = s + K x s (1 - s), y a'(y) = a.
  if (x > 0) return {x * inv, (T(1) + w * (T(1) + a)) * inv * inv};
  return {x * w * inv, w * ((T(1) + w) - a) * inv * inv};  // also f(-0) = -0
}

template <class T>
Value<T> reference(T x, Approximation mode) {
  if (mode == Approximation::Tanh) return tanh_reference(x);
  if (mode == Approximation::Sigmoid) return sigmoid_reference(x);
  return exact_reference(x);
}

// Inputs whose f' is computed in long double: a window around both roots of
// f' wide enough that, outside it, |f'| > 0.01 and double's ~2^-54 absolute
// error stays below 2^-22 float32 ulp.
inline bool needs_long_double(double x) { return x > -0.78 && x < -0.72; }

// f and f' at x (finite), double except for f' inside the root window.
inline Value<double> reference_value(double x, Approximation mode) {
  Value<double> r = reference(x, mode);
  if (needs_long_double(x)) r.df = static_cast<double>(reference<long double>(x, mode).df);
  return r;
}

}  // namespace gelu_ext_accuracy
