// Output formats, ulp arithmetic and the accuracy contract (docs/ACCURACY.md),
// and the statistics the sweep gathers for one (format, mode, direction, impl).
#pragma once

#include <c10/core/ScalarType.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace gelu_ext_accuracy {

enum class Direction { Forward, Backward };

struct Format {
  const char* name;
  at::ScalarType dtype;
  int bits;     // 32 or 16: the number of input patterns is 2^bits
  int digits;   // significand bits, the implicit one included
  int min_exp;  // the smallest normal number is 2^min_exp
};

inline constexpr Format kFloat32{"float32", at::kFloat, 32, 24, -126};
inline constexpr Format kBFloat16{"bfloat16", at::kBFloat16, 16, 8, -126};
inline constexpr Format kFloat16{"float16", at::kHalf, 16, 11, -14};

// 2^e as a double, for e in the normal double range.
inline double pow2(int e) {
  const uint64_t bits = static_cast<uint64_t>(e + 1023) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// The ulp used everywhere in this tool: the spacing of the output format in
// the binade of the *reference* value r (not of the computed result), that is
// 2^(e - digits + 1) for 2^e <= |r| < 2^(e+1) when |r| is a normal number of
// the format, and the subnormal spacing 2^(min_exp - digits + 1) below that
// (also for r = 0). An error in ulps is |out - r| / ulp(r).
inline double ulp(double r, const Format& fmt) {
  uint64_t bits;
  std::memcpy(&bits, &r, sizeof bits);
  const int e = static_cast<int>((bits >> 52) & 0x7ff) - 1023;  // -1023 for 0 and subnormals
  return pow2((e > fmt.min_exp ? e : fmt.min_exp) - fmt.digits + 1);
}

inline bool is_normal_in(double r, const Format& fmt) { return std::fabs(r) >= pow2(fmt.min_exp); }

// |out - r|, infinite when out is NaN or infinite (r is always finite here).
inline double abs_error(double out, double r) {
  if (!std::isfinite(out)) return std::numeric_limits<double>::infinity();
  return std::fabs(out - r);
}

// The largest |out - r| the contract allows (docs/ACCURACY.md):
//   float32 forward: 3 ulp where r is a normal float, 8 * 2^-149 where it is
//                    subnormal (or zero);
//   float32 backward (grad = 1): 4 ulp + 2^-26;
//   bfloat16, float16: 1 ulp.
inline double tolerance(double r, const Format& fmt, Direction dir) {
  if (fmt.bits == 16) return ulp(r, fmt);
  if (dir == Direction::Backward) return 4 * ulp(r, fmt) + pow2(-26);
  return is_normal_in(r, fmt) ? 3 * ulp(r, fmt) : 8 * pow2(-149);
}

// The contract for the agreement of CPU and CUDA results: at most this many
// representable numbers apart, 2 for float32 and 1 for the 16-bit types
// (docs/ACCURACY.md). Bitwise identity is not required; the sweep reports
// how many results differ.
inline constexpr uint64_t max_cpu_device_distance(const Format& fmt) {
  return fmt.bits == 32 ? 2 : 1;
}

// The worst case of some error measure, with where it occurred. Ties go to
// the smaller bit pattern, so results do not depend on thread scheduling.
struct Worst {
  double value = -1;  // < 0: nothing recorded
  uint32_t pattern = 0;
  double x = 0, out = 0, ref = 0;

  void update(double v, uint32_t p, double xi, double o, double r) {
    if (v > value || (v == value && p < pattern)) *this = {v, p, xi, o, r};
  }
  void merge(const Worst& o) {
    if (o.value >= 0) update(o.value, o.pattern, o.x, o.out, o.ref);
  }
};

// What the sweep records for one implementation in one cell.
struct Stats {
  uint64_t finite = 0;  // finite inputs checked against the reference
  // ulp statistics: all finite inputs, except for float32 forward, where
  // only inputs whose reference is a normal float count (the others are in
  // `subnormal`, in units of 2^-149).
  uint64_t ulp_count = 0;
  Worst max_ulp;
  Worst max_ulp_finite;  // the same over finite results only (overflow and NaN aside)
  uint64_t above_1 = 0, above_2 = 0, above_4 = 0;
  uint64_t subnormal_count = 0;
  Worst subnormal;
  // |out - r| / tolerance: above 1 breaks the contract.
  Worst contract;
  uint64_t violations = 0;
  // Exact limits: NaN -> NaN, f(+-0) = +-0, f(+inf) = inf, f(-inf) = 0,
  // f'(+inf) = 1, f'(-inf) = 0.
  uint64_t limits_checked = 0, limit_failures = 0;
  Worst first_limit_failure;  // value 0; the smallest failing pattern

  bool meets_contract() const { return violations == 0 && limit_failures == 0; }

  void merge(const Stats& o) {
    finite += o.finite;
    ulp_count += o.ulp_count;
    max_ulp.merge(o.max_ulp);
    max_ulp_finite.merge(o.max_ulp_finite);
    above_1 += o.above_1;
    above_2 += o.above_2;
    above_4 += o.above_4;
    subnormal_count += o.subnormal_count;
    subnormal.merge(o.subnormal);
    contract.merge(o.contract);
    violations += o.violations;
    limits_checked += o.limits_checked;
    limit_failures += o.limit_failures;
    first_limit_failure.merge(o.first_limit_failure);
  }
};

// CPU against CUDA results of gelu_ext: distance in representable numbers of
// the format (0 for equal values, either zero, or two NaNs).
struct Agreement {
  uint64_t compared = 0, differ = 0, above_limit = 0;
  Worst max_distance;

  void merge(const Agreement& o) {
    compared += o.compared;
    differ += o.differ;
    above_limit += o.above_limit;
    max_distance.merge(o.max_distance);
  }
};

}  // namespace gelu_ext_accuracy
