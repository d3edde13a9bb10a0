// float64 GELU for the CPU: the formulas of the scalar, AVX2 and AVX-512
// paths, written once over a value type V (`double`, or a vector of doubles
// from csrc/cpu/vec_*_f64.h that provides the same free functions), so that
// every path computes the same operations in the same order and the results
// agree bit for bit. (CUDA keeps the libm-based double overloads of
// gelu_math.h.)
//
// Notation as in gelu_math.h: y = |x|, Phi(-y) = exp(-y^2/2) R(y),
// R(y) = erfcx(y/sqrt 2)/2, C0 = 1/sqrt(2 pi).
//
// exp(z + zl), z <= 0, is (1 + s) 2^k: k = rint(z log2e), r = z - k ln2 with
// ln 2 as a double-word (k * kLn2Hi exact), e^r = 1 + r + r^2 Q(r), Q of
// degree 9 on |r| <= 0.347 (relative error 1.7e-17). 1 + s is never rounded:
// results use fma(a, s, a) = a (1 + s), and 2^k is applied last, in one
// rounding, so that subnormal results are rounded once.
//
// R(y) = t H(t), t = 1/(y + 4): H = (y + 4) R(y) goes from 2 (y = 0) to
// 1/sqrt(2 pi) (y = inf) and is smooth in t, so eight polynomials of degree
// 10 on equal pieces of t (w = 31 t - 1/2, piece i = rint(w), local variable
// v = w - i in [-1/2, 1/2]) cover y in [0, 40] to 1.4e-17 (relative). The
// coefficients are an 8-entry table indexed per lane; the constant term is
// a double pair. t carries the rounding error of the reciprocal and of
// y + 4 (t + tl), and R comes out as a double-word Rh + Rl: the derivative
// needs it near its root (y ~ 0.7518), where R - y C0 cancels.
// Fits: tools/fit_coefficients.py --float64 (fit_exp_f64, fit_tail_f64).
#pragma once

#include <cstdint>
#include <cstring>

#include "gelu_math.h"

namespace gelu_ext {
namespace math {
namespace f64 {

// ---------------------------------------------------------------------------
// Scalar primitives; the vector types provide the same names (found by ADL).
// ---------------------------------------------------------------------------
static inline double fma_(double a, double b, double c) { return ::fma(a, b, c); }
static inline double abs_(double a) { return ::fabs(a); }
static inline double copysign_(double mag, double sgn) { return ::copysign(mag, sgn); }
static inline double select(bool m, double a, double b) { return m ? a : b; }
// The x86 min/max semantics (the second operand where the comparison is
// false, NaN included), so that every path treats NaN alike.
static inline double min_(double a, double b) { return a < b ? a : b; }
static inline double max_(double a, double b) { return a > b ? a : b; }
// min(a, lim) that returns `a` when it is NaN, so NaN flows through clamps.
static inline double clamp_hi(double a, double lim) { return min_(lim, a); }

// Bits of b, a double whose last mantissa bits hold a small integer (the
// piece), and row[piece & 7].
static inline int64_t piece_of(double b) {
  int64_t i;
  std::memcpy(&i, &b, sizeof i);
  return i & 7;
}
static inline double lookup(const double* row, int64_t piece) { return row[piece]; }

// 2^e for an integral double e in [-1022, 1023], from its bits.
static inline double pow2_(double e) {
  const double b = e + (0x1.8p52 + 1023.0);  // the integer e + 1023 in the low bits
  uint64_t u;
  std::memcpy(&u, &b, sizeof u);
  u <<= 52;
  double p;
  std::memcpy(&p, &u, sizeof p);
  return p;
}
// v * 2^k for integral k in [-1600, 0], rounded once even when the result is
// subnormal: the first factor keeps v normal (|v| >= 2^-400 wherever k is
// this small), only the second one rounds. A NaN k comes with a NaN v.
static inline double scale_pow2(double v, double k) {
  const double k1 = max_(k, -600.0);
  return (v * pow2_(k1)) * pow2_(k - k1);
}

// ---------------------------------------------------------------------------
// Constants and tables (tools/fit_coefficients.py --float64)
// ---------------------------------------------------------------------------
constexpr double kRound = 0x1.8p52;         // x + kRound - kRound = rint(x) for |x| < 2^51
constexpr double kLn2Hi = 0x1.62e42feep-1;  // 32 bits: k * kLn2Hi is exact for |k| < 2^21
constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;
constexpr double kTailK = 4.0;
constexpr double kTailScale = 31.0;

// Q(r), high to low.
constexpr double kExpQ[10] = {
    0x1.af3924be99a57p-26, 0x1.2891e963ab1f9p-22, 0x1.71de0d7a972efp-19, 0x1.a019b8b8f8697p-16,
    0x1.a01a01a7d176dp-13, 0x1.6c16c178a18c1p-10, 0x1.11111111109a2p-7,  0x1.5555555553d2bp-5,
    0x1.5555555555556p-3,  0x1.0000000000001p-1,
};

// H on piece i (column i) = sum c_j v^j: rows c_10 .. c_1, then c_0 as hi, lo.
constexpr int kTailDegree = 10;
alignas(64) constexpr double kTail[kTailDegree + 2][8] = {
    {-0x1.c645d9aa61ff7p-37, 0x1.f4106ef5cd8f0p-36, 0x1.a8f950c162cddp-34, 0x1.88a43bb255d60p-35,
     -0x1.43b4be6703b48p-34, -0x1.adb3e50a30806p-34, -0x1.32ff4eaab12a1p-35, 0x1.4752f2e6da670p-36},
    {-0x1.c1d41803fb514p-32, -0x1.c8107497e63e6p-32, 0x1.1b62b415a3637p-32, 0x1.2a1aa3bfe808ep-30,
     0x1.f6404f1fcefc6p-31, -0x1.91edd0c332637p-35, -0x1.96e9ff6cc63fap-31, -0x1.a7b830dca48eep-31},
    {-0x1.4844701c8fdf5p-29, -0x1.ba6588da4dbb6p-28, -0x1.0926bbbf6e78bp-27, -0x1.5767ee29105b0p-30,
     0x1.2b9730e90ea6dp-27, 0x1.b85a2fdfdc01ep-27, 0x1.2d02251ac0352p-27, 0x1.9dbdf694914aap-30},
    {0x1.6bb2affe0fd6bp-27, -0x1.a591651948542p-26, -0x1.6e3c668ddf574p-24, -0x1.0f399f2159c77p-23,
     -0x1.998603b9e2f9dp-24, -0x1.c2edc1d9cc491p-29, 0x1.76b59bb5f9e5ap-24, 0x1.13c3de8dd60dap-23},
    {0x1.02e1150b27d87p-21, 0x1.e5f17c3284d55p-22, 0x1.40f694f86b60dp-24, -0x1.75d701279e12ap-21,
     -0x1.97e369ccdb9f3p-20, -0x1.f9bb08d3ac5f3p-20, -0x1.a5a3b75540ca8p-20,
     -0x1.a3a543114a463p-21},
    {0x1.fb9c36a3f5472p-18, 0x1.600578dafb513p-17, 0x1.9c54b648903c3p-17, 0x1.62b32fe1a09e9p-17,
     0x1.fff24a18a8f13p-19, -0x1.c325cfabe0d2dp-18, -0x1.2408c3a672c0ap-16, -0x1.9cda13fb2453ap-16},
    {0x1.6f4b759dcbe46p-14, 0x1.16715dee487f7p-13, 0x1.8fd8c8d5d2bcdp-13, 0x1.05e295637bd4ep-12,
     0x1.2dc7259cda35ap-12, 0x1.271e9ae610979p-12, 0x1.ce11cdc617a03p-13, 0x1.db3d2a5507dd4p-14},
    {0x1.bf9dac2340c5ap-11, 0x1.520a7a7bbf3c5p-10, 0x1.facf2305ff2b1p-10, 0x1.7139b2f987266p-9,
     0x1.ff9f360783cd1p-9, 0x1.4b94cb3d07431p-8, 0x1.8e8645fc6b24cp-8, 0x1.bb0b776f356c8p-8},
    {0x1.e40078ebd91a3p-8, 0x1.59ddb323bab95p-7, 0x1.f65f4f5ea31aep-7, 0x1.6ef4691564a0cp-6,
     0x1.09bde09f5f573p-5, 0x1.77eda18d2a6fdp-5, 0x1.00a99ae440ee2p-4, 0x1.4fffe97dbc3ddp-4},
    {0x1.dd4a261748131p-5, 0x1.373cde3beadfdp-4, 0x1.9ff3486a9ed16p-4, 0x1.1c565c9343625p-3,
     0x1.8b86ff0027944p-3, 0x1.1560ee7ded6e4p-2, 0x1.8402adecc1c33p-2, 0x1.0be9d9d06e96cp-1},
    {0x1.b48f8f121d5bfp-2, 0x1.f8c1b5c40b57cp-2, 0x1.296bc7f0d42ecp-1, 0x1.665baf14a03b4p-1,
     0x1.ba7c269f87ec5p-1, 0x1.180fb351b8f9fp+0, 0x1.6a84d275bcb7cp+0, 0x1.dd2bd1a9a1beap+0},
    {0x1.496ec4e51ba35p-57, -0x1.7e170122be710p-56, -0x1.f58b0b2fee58cp-55, 0x1.6fede10fdf9e6p-55,
     0x1.dac2ad299a00dp-58, 0x1.91ca1ddca955fp-55, 0x1.2dd00e9ba38f3p-57, -0x1.97f1d3416c6a8p-55},
};

// ---------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------
template <class V>
struct Exp {
  V s, k;  // e^(z + zl) = (1 + s) 2^k
};

// |zl| <= ulp(z), z in [-1000, 0] (NaN flows through).
template <class V>
static inline Exp<V> exp_split(V z, V zl) {
  const V k = fma_(z, V(kLog2e), V(kRound)) - V(kRound);
  const V r1 = fma_(k, V(-kLn2Hi), z);  // exact
  const V c = fma_(k, V(-kLn2Lo), zl);
  const V r = r1 + c;
  const V rl = (r1 - r) + c;  // r + rl = r1 + c (exact where it matters: |c| < 2^-20)
  V q = V(kExpQ[0]);
  for (int j = 1; j < 10; ++j) q = fma_(q, r, V(kExpQ[j]));
  return {fma_(r * r, q, rl) + r, k};
}

template <class V>
struct Tail {
  V Rh, Rl;  // R(y) = Rh + Rl
};

// R(y) for y in [0, 40] (NaN flows through).
template <class V>
static inline Tail<V> tail_ratio(V y) {
  const V K = V(kTailK);
  const V d = y + K;
  const V dl = (max_(y, K) - d) + min_(y, K);  // y + 4 = d + dl exactly (Fast2Sum)
  const V t = V(1.0) / d;
  const V tl = t * fma_(-t, dl, fma_(-t, d, V(1.0)));  // 1/(y + 4) = t + tl
  const V b = fma_(t, V(kTailScale), V(-0.5)) + V(kRound);
  const auto piece = piece_of(b);
  const V i = b - V(kRound);
  // v = 31 (t + tl) - 1/2 - i, rounded: the polynomial sees the exact t
  const V v = fma_(tl, V(kTailScale), fma_(t, V(kTailScale), V(-0.5) - i));
  V g = lookup(kTail[0], piece);
  for (int j = 1; j < kTailDegree; ++j) g = fma_(g, v, lookup(kTail[j], piece));
  const V c0 = lookup(kTail[kTailDegree], piece);
  const V hh = fma_(g, v, c0);  // H = hh + hl
  const V hl = fma_(g, v, c0 - hh) + lookup(kTail[kTailDegree + 1], piece);
  const V Rh = t * hh;
  return {Rh, fma_(t, hh, -Rh) + fma_(tl, hh, t * hl)};
}

template <class V>
static inline V square_lo(V y, V h) {
  return fma_(y, y, -h);  // y^2 = h + l exactly
}

// exp(-y^2/2) = (1 + s) 2^k, -y^2/2 split exactly.
template <class V>
static inline Exp<V> exp_half_sq(V y) {
  const V h = y * y;
  return exp_split(h * V(-0.5), square_lo(y, h) * V(-0.5));
}

// ---------------------------------------------------------------------------
// Exact GELU
// ---------------------------------------------------------------------------
// x < 0: f = -y R (1 + s) 2^k, scaled last; x >= 0 (and NaN): f = x - y Phi(-y)
// in one FMA. f(+-0) = +-0, f(-inf) = -0, f(+inf) = inf.
template <class V>
static inline V gelu_exact(V x) {
  const V yc = clamp_hi(abs_(x), V(Clamp<double>::kExact));
  const Exp<V> e = exp_half_sq(yc);
  const Tail<V> r = tail_ratio(yc);
  const V pr = r.Rh + fma_(r.Rh, e.s, fma_(r.Rl, e.s, r.Rl));  // Phi(-y) / 2^k
  const V ny = -yc;
  const auto neg = V(0.0) > x;
  const V sc = scale_pow2(select(neg, ny * pr, pr), e.k);
  return select(neg, sc, fma_(ny, sc, x));
}

// f' = (1 + s) D 2^k for x <= 0 and 1 - (1 + s) D 2^k for x > 0, with
// D = R - y C0 as (Rh - y C0hi) + (Rl - y C0lo): near the root of f' both
// terms are about 0.3 and D keeps its absolute accuracy (~2^-57).
template <class V>
static inline V gelu_exact_derivative(V x) {
  const V yc = clamp_hi(abs_(x), V(Clamp<double>::kExact));
  const Exp<V> e = exp_half_sq(yc);
  const Tail<V> r = tail_ratio(yc);
  const V d = fma_(-yc, V(Const<double>::kC0Hi), r.Rh) + fma_(-yc, V(Const<double>::kC0Lo), r.Rl);
  const V w = scale_pow2(fma_(d, e.s, d), e.k);
  return select(x > V(0.0), V(1.0) - w, w);
}

// ---------------------------------------------------------------------------
// The logistic forms (tanh, sigmoid): the formulas of gelu_math.h
// (logistic_gelu, logistic_derivative) in double, with w = exp(-a) =
// (1 + s) 2^k and a as a double-word (a reaches ~900 at the tanh clamp,
// ~760 at the sigmoid one).
// ---------------------------------------------------------------------------
template <class V>
struct LogisticParts {
  V p, plo, k, w, yc, h, l;  // w = (p + plo) 2^k; yc^2 = h + l (tanh only)
  V ah, al;                  // a(yc) = ah + al
};

template <class V>
static inline LogisticParts<V> logistic_parts(V yc, V h, V l, V ah, V al) {
  const Exp<V> e = exp_split(-ah, -al);
  const V p = e.s + V(1.0);
  const V plo = (V(1.0) - p) + e.s;  // exact: |s| < 1/2
  return {p, plo, e.k, scale_pow2(p, e.k), yc, h, l, ah, al};
}

// tanh: a = 2|u| = y (A1 + A3 y^2).
template <class V>
static inline LogisticParts<V> tanh_parts(V x) {
  using C = Const<double>;
  const V yc = clamp_hi(abs_(x), V(Clamp<double>::kTanh));
  const V h = yc * yc;
  const V l = square_lo(yc, h);
  const V P = h * V(C::kA3Hi);
  const V Pe = fma_(h, V(C::kA3Hi), -P) + fma_(l, V(C::kA3Hi), h * V(C::kA3Lo));
  const V A1 = V(C::kA1Hi);
  const V sum = A1 + P;  // two-sum(A1, P)
  const V bb = sum - A1;
  const V se = (A1 - (sum - bb)) + (P - bb);
  const V ah = yc * sum;
  const V al = fma_(yc, sum, -ah) + yc * ((se + Pe) + V(C::kA1Lo));
  return logistic_parts(yc, h, l, ah, al);
}

// sigmoid: a = K y, K = 1.702 as a double-word.
template <class V>
static inline LogisticParts<V> sigmoid_parts(V x) {
  using C = Const<double>;
  const V yc = clamp_hi(abs_(x), V(Clamp<double>::kSigmoid));
  const V ah = yc * V(C::kKHi);
  const V al = fma_(yc, V(C::kKHi), -ah) + yc * V(C::kKLo);
  return logistic_parts(yc, V(0.0), V(0.0), ah, al);
}

// x > 0: f = x / (1 + w); x <= 0: f = -y (p + plo) / (1 + w) 2^k.
template <class V>
static inline V logistic_gelu(V x, const LogisticParts<V>& t) {
  const auto pos = x > V(0.0);
  const V xc = copysign_(t.yc, x);
  const V num = select(pos, x, fma_(xc, t.p, xc * t.plo));
  return scale_pow2(num / (V(1.0) + t.w), select(pos, V(0.0), t.k));
}

// With t = th + tl = y a'(y): x > 0: f' = (1 + w (1 + t)) / (1 + w)^2;
// x <= 0: f' = w (1 + w - t) / (1 + w)^2, whose factor 1 + w - t crosses
// zero at the root of f' and is computed from the double-words.
template <class V>
static inline V logistic_derivative(V x, const LogisticParts<V>& t, V th, V tl) {
  const V one = V(1.0);
  const V n = ((one - th) - tl) + t.w;
  const auto pos = x > V(0.0);
  const V num = select(pos, fma_(t.w, one + th, one), fma_(t.p, n, t.plo * n));
  const V den = one + t.w;
  return scale_pow2(num / (den * den), select(pos, V(0.0), t.k));
}

template <class V>
static inline V gelu_tanh(V x) {
  return logistic_gelu(x, tanh_parts(x));
}

// tanh: t = 2 y u' = y (A1 + B3 y^2).
template <class V>
static inline V gelu_tanh_derivative(V x) {
  using C = Const<double>;
  const LogisticParts<V> t = tanh_parts(x);
  const V in_hi = fma_(t.h, V(C::kB3Hi), V(C::kA1Hi));  // A1 + B3 y^2
  const V th = t.yc * in_hi;
  const V in_lo = fma_(t.h, V(C::kB3Hi), V(C::kA1Hi) - in_hi) +
                  (V(C::kA1Lo) + fma_(t.l, V(C::kB3Hi), t.h * V(C::kB3Lo)));
  const V tl = fma_(t.yc, in_hi, -th) + t.yc * in_lo;
  return logistic_derivative(x, t, th, tl);
}

template <class V>
static inline V gelu_sigmoid(V x) {
  return logistic_gelu(x, sigmoid_parts(x));
}

// sigmoid: t = a.
template <class V>
static inline V gelu_sigmoid_derivative(V x) {
  const LogisticParts<V> t = sigmoid_parts(x);
  return logistic_derivative(x, t, t.ah, t.al);
}

// What the CPU loops evaluate for float64 (csrc/cpu/gelu_loops.h), by mode
// (kPrecise: one accuracy for double).
struct Formulas {
  template <Approximation A, bool kDerivative, class V>
  static V eval(V x) {
    if constexpr (A == Approximation::Tanh && kDerivative) {
      return gelu_tanh_derivative(x);
    } else if constexpr (A == Approximation::Tanh) {
      return gelu_tanh(x);
    } else if constexpr (A == Approximation::Sigmoid && kDerivative) {
      return gelu_sigmoid_derivative(x);
    } else if constexpr (A == Approximation::Sigmoid) {
      return gelu_sigmoid(x);
    } else if constexpr (kDerivative) {
      return gelu_exact_derivative(x);
    } else {
      return gelu_exact(x);
    }
  }
  template <Approximation A, bool kPrecise, class V>
  static V forward(V x) {
    return eval<A, false>(x);
  }
  template <Approximation A, bool kPrecise, class V>
  static V derivative(V x) {
    return eval<A, true>(x);
  }
};

}  // namespace f64
}  // namespace math
}  // namespace gelu_ext
