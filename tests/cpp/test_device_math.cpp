// The GPU's 16-bit formulas (csrc/gelu_math_device.h), checked on the CPU
// without a GPU: every bfloat16 and float16 input, every mode, forward and
// derivative, with each approximate instruction's result (ex2.approx,
// rcp.approx) correctly rounded or pushed to either end of an error bound
// (all nine combinations). Each result must meet the accuracy contract
// against the float64 reference (docs/ACCURACY.md: 1 ulp of the type) and
// agree with the CPU's result within 1 ulp of the type. The worst cases are
// printed; docs/ACCURACY.md quotes them.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../../tools/accuracy/contract.h"
#include "../../tools/accuracy/reference.h"
#include "gelu_math.h"
#include "gelu_math_device.h"

namespace gelu_ext_test {
namespace {

using gelu_ext::Approximation;
namespace acc = gelu_ext_accuracy;

// The approximate instructions with an error bound of their own choosing:
// each result is the float nearest to exact * (1 + end * bound) that stays
// within the bound (end = 0: correctly rounded). The bounds are wider than
// the PTX ISA's (ex2.approx.f32: about 2 ulp; rcp.approx.f32: 1 ulp).
struct EmulatedInstructions {
  int ex2_end = 0, rcp_end = 0;  // -1, 0 or +1
  double ex2_bound = 0x1p-21, rcp_bound = 0x1p-21;

  static float push(double exact, int end, double bound) {
    if (end == 0) return static_cast<float>(exact);
    float r = static_cast<float>(exact * (1 + end * bound));
    if (std::fabs(static_cast<double>(r) - exact) > bound * exact) {
      r = std::nextafter(r, static_cast<float>(exact));
    }
    return r;
  }
  float ex2(float t) const {
    const float r = push(std::exp2(static_cast<double>(t)), ex2_end, ex2_bound);
    return r < 0x1p-126f ? 0.0f : r;  // .ftz: subnormal results flushed
  }
  float rcp(float v) const { return push(1.0 / static_cast<double>(v), rcp_end, rcp_bound); }
};

float bits_to_float(uint16_t b, bool bf16) {
  if (bf16) return static_cast<float>(c10::BFloat16(b, c10::BFloat16::from_bits()));
  return static_cast<float>(c10::Half(b, c10::Half::from_bits()));
}
// float -> 16-bit type, rounded to nearest even, as the kernels store it.
uint16_t round_to(float v, bool bf16) { return bf16 ? c10::BFloat16(v).x : c10::Half(v).x; }
// Position on the number line of a 16-bit value (monotonic in its value,
// -0 and +0 adjacent), so that |a - b| is the distance in representable
// numbers.
int32_t ordinal(uint16_t b) {
  return (b & 0x8000u) ? -static_cast<int32_t>(b & 0x7fffu) : static_cast<int32_t>(b);
}
bool is_nan16(uint16_t b, bool bf16) {
  return bf16 ? (b & 0x7f80u) == 0x7f80u && (b & 0x7fu) : (b & 0x7c00u) == 0x7c00u && (b & 0x3ffu);
}

template <Approximation A, bool kDerivative, bool kBf16, class M>
float device_value(const M& m, float x) {
  return gelu_ext::math::device::half_formula<A, kDerivative, kBf16>(m, x);
}
// The CPU's value before rounding: gelu_math.h with the accuracy variant
// that the CPU's I/O policy takes for this type (HalfResults).
template <Approximation A, bool kDerivative, bool kBf16>
float cpu_value(float x) {
  using P = gelu_ext::math::HalfResults<kBf16>;
  return gelu_ext::math::formula_of<A, kDerivative,
                                    kDerivative ? P::kPreciseDerivative : P::kPrecise>(x);
}

struct CellResult {
  double max_ulp = 0;  // worst error against the reference, in ulps of the type
  float worst_x = 0;
  int32_t max_distance = 0;  // worst distance from the CPU's result
  long differ = 0;           // inputs (of one instruction model) that differ from the CPU
  long failures = 0;
};

template <Approximation A, bool kDerivative, bool kBf16>
CellResult sweep(const EmulatedInstructions& m) {
  const acc::Format& fmt = kBf16 ? acc::kBFloat16 : acc::kFloat16;
  CellResult c;
  for (uint32_t b = 0; b < 65536; ++b) {
    const float x = bits_to_float(static_cast<uint16_t>(b), kBf16);
    const uint16_t dev = round_to(device_value<A, kDerivative, kBf16>(m, x), kBf16);
    const uint16_t cpu = round_to(cpu_value<A, kDerivative, kBf16>(x), kBf16);
    if (std::isnan(x)) {
      c.failures += !is_nan16(dev, kBf16);
      continue;
    }
    const double out = static_cast<double>(bits_to_float(dev, kBf16));
    if (std::isinf(x)) {  // f(inf) = inf, f(-inf) = 0, f'(inf) = 1, f'(-inf) = 0
      const double want = kDerivative ? (x > 0 ? 1.0 : 0.0) : (x > 0 ? x : 0.0);
      c.failures += out != want;
      continue;
    }
    const acc::Value<double> ref = acc::reference_value(static_cast<double>(x), A);
    const double r = kDerivative ? ref.df : ref.f;
    const double err = acc::abs_error(out, r) / acc::ulp(r, fmt);
    if (err > c.max_ulp) {
      c.max_ulp = err;
      c.worst_x = x;
    }
    c.failures += acc::abs_error(out, r) > acc::tolerance(r, fmt, acc::Direction::Forward);
    const int32_t dist = std::abs(ordinal(dev) - ordinal(cpu));
    c.differ += dist != 0;
    if (dist > c.max_distance) c.max_distance = dist;
    c.failures += dist > 1;
    // f(+-0) = +-0 bit for bit.
    if (!kDerivative && x == 0) c.failures += dev != b;
  }
  return c;
}

const char* mode_name(Approximation a) {
  return a == Approximation::Tanh ? "tanh" : a == Approximation::Sigmoid ? "sigmoid" : "none";
}

template <Approximation A, bool kDerivative, bool kBf16>
void check_cell(double bound) {
  CellResult worst;
  long most_differ = 0;
  for (int e = -1; e <= 1; ++e) {
    for (int r = -1; r <= 1; ++r) {
      EmulatedInstructions m;
      m.ex2_end = e;
      m.rcp_end = r;
      m.ex2_bound = m.rcp_bound = bound;
      const CellResult c = sweep<A, kDerivative, kBf16>(m);
      EXPECT_EQ(c.failures, 0) << (kBf16 ? "bfloat16 " : "float16 ") << mode_name(A)
                               << (kDerivative ? " derivative" : " forward") << " ex2 end " << e
                               << " rcp end " << r << ": worst " << c.max_ulp
                               << " ulp at x = " << c.worst_x << ", " << c.max_distance
                               << " apart from the CPU";
      if (c.max_ulp > worst.max_ulp) {
        worst.max_ulp = c.max_ulp;
        worst.worst_x = c.worst_x;
      }
      if (c.max_distance > worst.max_distance) worst.max_distance = c.max_distance;
      if (c.differ > most_differ) most_differ = c.differ;
    }
  }
  std::printf(
      "device %-8s %-7s %-3s bound 2^%.0f: max %.3f ulp (x = %.6g), CPU vs device <= %d"
      " apart, %ld of 65536 inputs differ (worst instruction model)\n",
      kBf16 ? "bfloat16" : "float16", mode_name(A), kDerivative ? "bwd" : "fwd", std::log2(bound),
      worst.max_ulp, static_cast<double>(worst.worst_x), worst.max_distance, most_differ);
}

template <bool kBf16>
void check_type(double bound) {
  check_cell<Approximation::None, false, kBf16>(bound);
  check_cell<Approximation::None, true, kBf16>(bound);
  check_cell<Approximation::Tanh, false, kBf16>(bound);
  check_cell<Approximation::Tanh, true, kBf16>(bound);
  check_cell<Approximation::Sigmoid, false, kBf16>(bound);
  check_cell<Approximation::Sigmoid, true, kBf16>(bound);
}

TEST(DeviceMath, BFloat16EveryInputEveryInstructionBound) { check_type<true>(0x1p-21); }
TEST(DeviceMath, Float16EveryInputEveryInstructionBound) { check_type<false>(0x1p-21); }

// float32's logistic forms on the GPU (f32_logistic: the CPU's formulas with
// the exponent's rounding by a shift, the scaling by two multiplies, the
// division by rcp.approx and one correction; the tanh forward's exponent in
// double). A strided sample of every float32 pattern (every 4099th, all
// binades, both signs) and the 2^-7 around the roots of f', with rcp's result
// at either end of its bound: the float32 contract against the reference and
// at most 2 apart from the CPU.
int64_t ordinal32(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return (b & 0x80000000u) ? -static_cast<int64_t>(b & 0x7fffffffu) : static_cast<int64_t>(b);
}

template <bool kTanh, bool kDerivative>
void check_f32(double bound) {
  constexpr Approximation A = kTanh ? Approximation::Tanh : Approximation::Sigmoid;
  const acc::Direction dir = kDerivative ? acc::Direction::Backward : acc::Direction::Forward;
  std::vector<float> xs;
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 4099) {
    float x;
    const uint32_t u = static_cast<uint32_t>(b);
    std::memcpy(&x, &u, sizeof x);
    if (!std::isnan(x)) xs.push_back(x);
  }
  for (float x = -0.7578125f; x < -0.7421875f; x = std::nextafter(x, 0.0f)) xs.push_back(x);
  double worst = 0;
  float worst_x = 0;
  int64_t max_distance = 0;
  long differ = 0, failures = 0;
  for (int end = -1; end <= 1; ++end) {
    EmulatedInstructions m;
    m.rcp_end = end;
    m.rcp_bound = bound;
    long differ_here = 0;
    for (float x : xs) {
      const float dev = gelu_ext::math::device::f32_logistic<kTanh, kDerivative>(m, x);
      const float cpu = gelu_ext::math::formula_of<A, kDerivative, true>(x);
      const int64_t dist = std::llabs(ordinal32(dev) - ordinal32(cpu));
      differ_here += dist != 0;
      max_distance = std::max(max_distance, dist);
      failures += dist > 2;
      if (std::isinf(x)) {
        const float want = kDerivative ? (x > 0 ? 1.0f : 0.0f) : (x > 0 ? x : 0.0f);
        failures += dev != want;
        continue;
      }
      const acc::Value<double> ref = acc::reference_value(static_cast<double>(x), A);
      const double r = kDerivative ? ref.df : ref.f;
      const double err = acc::abs_error(dev, r);
      failures += err > acc::tolerance(r, acc::kFloat32, dir);
      const double ratio = err / acc::tolerance(r, acc::kFloat32, dir);
      if (ratio > worst) {
        worst = ratio;
        worst_x = x;
      }
    }
    differ = std::max(differ, differ_here);
  }
  EXPECT_EQ(failures, 0) << (kTanh ? "tanh" : "sigmoid") << (kDerivative ? " bwd" : " fwd")
                         << ": worst error/tolerance " << worst << " at x = " << worst_x << ", "
                         << max_distance << " apart from the CPU";
  std::printf(
      "device float32  %-7s %s bound 2^%.0f: worst error/tolerance %.3f (x = %.9g),"
      " CPU vs device <= %lld apart, %ld of %zu inputs differ (worst instruction model)\n",
      kTanh ? "tanh" : "sigmoid", kDerivative ? "bwd" : "fwd", std::log2(bound), worst,
      static_cast<double>(worst_x), static_cast<long long>(max_distance), differ, xs.size());
}

TEST(DeviceMath, Float32LogisticFormsOnASample) {
  check_f32<true, false>(0x1p-21);
  check_f32<true, true>(0x1p-21);
  check_f32<false, false>(0x1p-21);
  check_f32<false, true>(0x1p-21);
}

// The same with bounds 32 times wider than the PTX ISA's: the 16-bit results
// do not lean on the instructions' last bits, and float32's correction step
// absorbs rcp's error.
TEST(DeviceMath, WideInstructionBoundsStillMeetTheContract) {
  check_type<true>(0x1p-16);
  check_type<false>(0x1p-16);
  check_f32<true, false>(0x1p-16);
  check_f32<true, true>(0x1p-16);
  check_f32<false, false>(0x1p-16);
  check_f32<false, true>(0x1p-16);
}

// A broken formula fails the sweep (the check can fail): a relative error of
// 2^-9 in ex2, far outside any bound, breaks float16's contract.
TEST(DeviceMath, TheSweepCatchesAnInaccurateInstruction) {
  EmulatedInstructions m;
  m.ex2_end = 1;
  m.ex2_bound = 0x1p-9;
  EXPECT_GT((sweep<Approximation::None, false, false>(m).failures), 0);
}

}  // namespace
}  // namespace gelu_ext_test
