// Portable instantiation of the contiguous loops: one element at a time, any
// CPU, every dtype.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "gelu_loops.h"
#include "kernels.h"

namespace gelu_ext {
namespace cpu {
namespace {

template <class T>
struct ScalarIo : math::PreciseResults {
  static constexpr int kLanes = 1;
  T load(const T* p) const { return *p; }
  void store(T* p, T v) const { *p = v; }
};

template <bool kBf16>
struct ScalarHalfIo : math::HalfResults<kBf16> {
  static constexpr int kLanes = 1;
  float load(const uint16_t* p) const {
    return kBf16 ? c10::detail::f32_from_bits(*p) : c10::detail::fp16_ieee_to_fp32_value(*p);
  }
  void store(uint16_t* p, float v) const {
    *p = kBf16 ? c10::detail::round_to_nearest_even(v) : c10::detail::fp16_ieee_from_fp32_value(v);
  }
};

// float64 evaluates gelu_math_f64.h's formulas, as the SIMD paths do.
struct ScalarDoubleIo : ScalarIo<double> {
  using Formulas = math::f64::Formulas;
};

using Kernels =
    WithDouble<VecKernels<float, ScalarIo<float>, ScalarHalfIo>, double, ScalarDoubleIo>;

}  // namespace

void scalar_half_derivative(const uint16_t* x, float* df, int64_t n, Dtype dtype,
                            Approximation approx) {
  if (dtype == Dtype::BFloat16) {
    derivative_loop<float>(x, df, n, ScalarHalfIo<true>{}, approx);
  } else {
    derivative_loop<float>(x, df, n, ScalarHalfIo<false>{}, approx);
  }
}

const ContigKernels& scalar_kernels() {
  static const ContigKernels table{"scalar", &Kernels::forward, &Kernels::backward};
  return table;
}

}  // namespace cpu
}  // namespace gelu_ext
