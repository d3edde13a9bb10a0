// Shared helpers of the C++ tests: an independent long double reference of
// the docs/DESIGN.md formulas (not gelu_math.h: the reference must not share the
// code it checks), ulp arithmetic, and tensor comparisons.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "gelu.h"

namespace gelu_ext_test {

// "a,b,c" -> {"a", "b", "c"} (the build_info.h lists).
inline std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

using gelu_ext::Approximation;
using LD = long double;

inline const std::vector<Approximation>& modes() {
  static const std::vector<Approximation> m{Approximation::None, Approximation::Tanh,
                                            Approximation::Sigmoid};
  return m;
}
inline const char* name(Approximation a) { return gelu_ext::to_string(a); }

inline const std::vector<at::ScalarType>& float_dtypes() {
  static const std::vector<at::ScalarType> d{at::kFloat, at::kDouble, at::kBFloat16, at::kHalf};
  return d;
}

// ---------------------------------------------------------------------------
// Reference (docs/DESIGN.md, "Math"), in long double.
// ---------------------------------------------------------------------------
namespace ref {

inline const LD kPi = std::acos(-1.0L);
inline const LD kSqrt2 = std::sqrt(2.0L);
inline const LD kC = std::sqrt(2.0L / kPi);  // sqrt(2/pi)
inline constexpr LD kKappa = 0.044715L;
inline constexpr LD kK = 1.702L;  // the sigmoid form's slope

inline LD Phi(LD x) { return 0.5L * std::erfc(-x / kSqrt2); }
inline LD phi(LD x) { return std::exp(-0.5L * x * x) / std::sqrt(2.0L * kPi); }

struct Tanh {
  LD u1, u2, s, one_minus_s;  // u', u'', sigma(2u), 1 - sigma(2u)
};
inline Tanh tanh_parts(LD x) {
  const LD u = kC * (x + kKappa * x * x * x);
  // sigma(2u) and 1 - sigma(2u) without cancellation on either side.
  const LD w = std::exp(-2.0L * std::fabs(u));
  const LD big = 1.0L / (1.0L + w), small = w / (1.0L + w);
  return {kC * (1.0L + 3.0L * kKappa * x * x), 6.0L * kC * kKappa * x, u >= 0 ? big : small,
          u >= 0 ? small : big};
}

// sigma(K x) and 1 - sigma(K x) for the sigmoid form, the same way.
struct Sigmoid {
  LD s, one_minus_s;
};
inline Sigmoid sigmoid_parts(LD x) {
  const LD w = std::exp(-kK * std::fabs(x));
  const LD big = 1.0L / (1.0L + w), small = w / (1.0L + w);
  return {x >= 0 ? big : small, x >= 0 ? small : big};
}

inline LD gelu(LD x, Approximation a) {
  if (a == Approximation::None) return x * Phi(x);
  if (a == Approximation::Sigmoid) return x * sigmoid_parts(x).s;
  return x * tanh_parts(x).s;
}

inline LD derivative(LD x, Approximation a) {
  if (a == Approximation::None) return Phi(x) + x * phi(x);
  if (a == Approximation::Sigmoid) {
    const Sigmoid t = sigmoid_parts(x);
    return t.s + kK * x * t.s * t.one_minus_s;
  }
  const Tanh t = tanh_parts(x);
  return t.s + 2.0L * x * t.u1 * t.s * t.one_minus_s;
}

inline LD second_derivative(LD x, Approximation a) {
  if (a == Approximation::None) return phi(x) * (2.0L - x * x);
  if (a == Approximation::Sigmoid) {
    const Sigmoid t = sigmoid_parts(x);
    return kK * t.s * t.one_minus_s * (2.0L + kK * x * (t.one_minus_s - t.s));
  }
  const Tanh t = tanh_parts(x);
  return 4.0L * t.s * t.one_minus_s *
         (t.u1 + 0.5L * x * t.u2 - x * (t.s - t.one_minus_s) * t.u1 * t.u1);
}

}  // namespace ref

// Spacing of type T at |r| (subnormal spacing below T's normal range).
template <class T>
LD ulp(LD r) {
  using L = std::numeric_limits<T>;
  const int min_exp = L::min_exponent - 1;  // exponent of the smallest normal
  int e = 0;
  std::frexp(std::fabs(r), &e);  // |r| = m * 2^e, m in [0.5, 1)
  const int exp = (r == 0 || e - 1 < min_exp) ? min_exp : e - 1;
  return std::ldexp(1.0L, exp - (L::digits - 1));
}

// ---------------------------------------------------------------------------
// Tensors <-> long double
// ---------------------------------------------------------------------------
inline std::vector<LD> to_ld(const at::Tensor& t) {
  const at::Tensor d = t.to(at::kDouble).contiguous();
  const double* p = d.data_ptr<double>();
  return std::vector<LD>(p, p + d.numel());
}

inline at::Tensor from_doubles(const std::vector<double>& v, at::ScalarType dtype) {
  return at::tensor(v, at::kDouble).to(dtype);
}

inline at::Tensor from_bits32(const std::vector<uint32_t>& bits) {
  at::Tensor t = at::empty({static_cast<int64_t>(bits.size())}, at::kFloat);
  std::memcpy(t.data_ptr(), bits.data(), bits.size() * sizeof(uint32_t));
  return t;
}

// Every 16-bit pattern of a half type that is a finite number.
inline at::Tensor all_finite_16bit(at::ScalarType dtype) {
  at::Tensor bits = at::arange(0, 65536, at::kInt).to(at::kShort);
  at::Tensor all = bits.view(dtype);
  return all.masked_select(all.isfinite());
}

// Same dtype, shape and bytes, except that any NaN equals any NaN: IEEE 754
// leaves the sign and payload of a computed NaN open (on x86 they follow the
// operand order the compiler picked), and docs/DESIGN.md asks only NaN in -> NaN out.
inline ::testing::AssertionResult bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type()) {
    return ::testing::AssertionFailure()
           << "dtypes differ: " << a.scalar_type() << " vs " << b.scalar_type();
  }
  if (a.sizes() != b.sizes()) {
    return ::testing::AssertionFailure() << "shapes differ: " << a.sizes() << " vs " << b.sizes();
  }
  const at::Tensor ac = a.contiguous(), bc = b.contiguous();
  const auto* pa = static_cast<const unsigned char*>(ac.data_ptr());
  const auto* pb = static_cast<const unsigned char*>(bc.data_ptr());
  const int64_t es = a.element_size();
  const at::Tensor nan_a = ac.isnan(), nan_b = bc.isnan();
  const bool* na = nan_a.data_ptr<bool>();
  const bool* nb = nan_b.data_ptr<bool>();
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (na[i] && nb[i]) continue;
    if (std::memcmp(pa + i * es, pb + i * es, es) != 0) {
      return ::testing::AssertionFailure()
             << "first difference at flat index " << i << ": " << ac.reshape({-1})[i].item<double>()
             << " vs " << bc.reshape({-1})[i].item<double>();
    }
  }
  return ::testing::AssertionSuccess();
}

// Runs `fn`, expects a c10::Error whose message names `op` (and, for the
// forward op, not the backward one) and contains `needle`.
template <class Fn>
::testing::AssertionResult throws_naming(Fn&& fn, const std::string& op,
                                         const std::string& needle = "") {
  try {
    fn();
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    const bool names_op =
        msg.find(op) != std::string::npos &&
        (op != "gelu_ext::gelu" || msg.find("gelu_ext::gelu_backward") == std::string::npos);
    if (!names_op) return ::testing::AssertionFailure() << "message lacks " << op << ": " << msg;
    if (msg.find(needle) == std::string::npos) {
      return ::testing::AssertionFailure() << "message lacks '" << needle << "': " << msg;
    }
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-c10 exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace gelu_ext_test
