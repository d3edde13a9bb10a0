// The CPU kernels: every SIMD path this CPU supports computes the same bits,
// and those bits are gelu_math.h's scalar formulas (the single source of the
// numerics), rounded once for the half types; float64's are gelu_math_f64.h's.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <sstream>

#include "build_info.h"
#include "gelu_math.h"
#include "gelu_math_f64.h"
#include "test_util.h"

namespace gelu_ext_test {
namespace {

// gelu_math.h's formula for one value, the mode chosen at run time (the
// kernels hoist that choice out of their loops).
template <bool kPrecise = true>
float math_gelu(float x, Approximation a) {
  return gelu_ext::with_mode(
      a, [x](auto m) { return gelu_ext::math::gelu_of<decltype(m)::value, kPrecise>(x); });
}
float math_gelu_derivative(float x, Approximation a) {
  return gelu_ext::with_mode(
      a, [x](auto m) { return gelu_ext::math::gelu_derivative_of<decltype(m)::value>(x); });
}

// Restores the SIMD path that was selected when the test began.
class SimdPaths : public ::testing::Test {
 protected:
  void SetUp() override { original_ = gelu_ext_simd_selected(); }
  void TearDown() override {
    EXPECT_EQ(gelu_ext_set_simd(original_.c_str()), 0);
    EXPECT_EQ(original_, gelu_ext_simd_selected());
  }
  std::string original_;
};

// Inputs that reach every branch: specials, subnormals, both tails, the
// clamps, dense middle; an odd length so vector tails are exercised.
at::Tensor kernel_inputs() {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> v{0.0,     -0.0,   inf,     -inf,   std::nan(""), 1e-40, -1e-40, 1e-310,
                        -1e-310, 5e-324, -5e-324, 3.4e38, -3.4e38,      1e300, -1e300};
  for (double c : {11.0, 15.0, 23.0, 40.0}) {
    for (double s : {-1.0, 1.0}) {
      v.push_back(s * c);
      v.push_back(s * std::nextafter(c, 0.0));
      v.push_back(s * std::nextafter(c, 100.0));
    }
  }
  at::Tensor x =
      at::cat({at::tensor(v, at::kDouble), at::linspace(-45, 45, 30011, at::kDouble),
               at::randn({7001}, at::kDouble) * 3, at::randn({1001}, at::kDouble).exp() * 1e-3});
  return x;
}

struct Outputs {
  std::vector<at::Tensor> tensors;
  std::vector<std::string> labels;
};

Outputs run_all(const at::Tensor& x64, const at::Tensor& g64) {
  Outputs out;
  for (auto dtype : float_dtypes()) {
    const at::Tensor x = x64.to(dtype), g = g64.to(dtype);
    const at::Tensor xs = at::stack({x, x}, 1).select(1, 1);  // stride 2
    for (auto a : modes()) {
      const std::string tag = std::string(c10::toString(dtype)) + " " + name(a);
      out.tensors.push_back(gelu_ext::gelu(x, name(a)));
      out.labels.push_back(tag + " forward");
      out.tensors.push_back(gelu_ext::gelu(xs, name(a)));
      out.labels.push_back(tag + " forward strided");
      out.tensors.push_back(gelu_ext::gelu_backward(g, x, name(a)));
      out.labels.push_back(tag + " backward");
    }
  }
  return out;
}

TEST_F(SimdPaths, EverySupportedPathGivesIdenticalBits) {
  at::manual_seed(0);
  const std::vector<std::string> paths = split_csv(gelu_ext_simd_supported());
  ASSERT_FALSE(paths.empty());
  EXPECT_EQ(paths.front(), "scalar");
  ASSERT_EQ(gelu_ext_set_simd("scalar"), 0);
  const at::Tensor x = kernel_inputs();
  const at::Tensor g = at::randn_like(x);
  const Outputs expected = run_all(x, g);
  for (const auto& path : paths) {
    SCOPED_TRACE("SIMD path " + path);
    ASSERT_EQ(gelu_ext_set_simd(path.c_str()), 0);
    EXPECT_EQ(path, gelu_ext_simd_selected());
    const Outputs got = run_all(x, g);
    for (size_t i = 0; i < got.tensors.size(); ++i) {
      EXPECT_TRUE(bitwise_equal(got.tensors[i], expected.tensors[i])) << got.labels[i];
    }
  }
#if defined(__x86_64__)
  if (std::find(paths.begin(), paths.end(), "avx2") == paths.end()) {
    std::cout << "note: this CPU runs only " << gelu_ext_simd_supported() << "\n";
  }
#endif
}

TEST_F(SimdPaths, UnknownOrUnsupportedPathRefused) {
  const std::string before = gelu_ext_simd_selected();
  EXPECT_EQ(gelu_ext_set_simd("sse9"), -1);
  EXPECT_EQ(gelu_ext_set_simd(""), -1);
  EXPECT_EQ(gelu_ext_set_simd(nullptr), -1);
  const std::vector<std::string> supported = split_csv(gelu_ext_simd_supported());
  for (const auto& path : split_csv(gelu_ext_simd_compiled())) {
    if (std::find(supported.begin(), supported.end(), path) == supported.end()) {
      EXPECT_EQ(gelu_ext_set_simd(path.c_str()), -1) << path << " is not supported here";
    }
  }
  EXPECT_EQ(before, gelu_ext_simd_selected()) << "a refused switch must change nothing";
}

// The kernels compute exactly gelu_math.h's formulas: float32 and float64 in
// precise mode, the half types in float (kPrecise = false) then rounded once.
TEST_F(SimdPaths, KernelsAreTheMathHeader) {
  at::manual_seed(0);
  namespace m = gelu_ext::math;
  const at::Tensor x64 = kernel_inputs();
  for (const auto& path : split_csv(gelu_ext_simd_supported())) {
    SCOPED_TRACE("SIMD path " + path);
    ASSERT_EQ(gelu_ext_set_simd(path.c_str()), 0);
    for (auto a : modes()) {
      SCOPED_TRACE(name(a));
      {
        const at::Tensor x = x64.to(at::kFloat);
        const at::Tensor y = gelu_ext::gelu(x, name(a));
        const at::Tensor d = gelu_ext::gelu_backward(at::ones_like(x), x, name(a));
        at::Tensor ey = at::empty_like(x), ed = at::empty_like(x);
        for (int64_t i = 0; i < x.numel(); ++i) {
          const float xi = x.data_ptr<float>()[i];
          ey.data_ptr<float>()[i] = math_gelu<true>(xi, a);
          ed.data_ptr<float>()[i] = 1.0f * math_gelu_derivative(xi, a);
        }
        EXPECT_TRUE(bitwise_equal(y, ey)) << "float32 forward";
        EXPECT_TRUE(bitwise_equal(d, ed)) << "float32 backward";
      }
      {
        namespace f64 = m::f64;
        const at::Tensor y = gelu_ext::gelu(x64, name(a));
        const at::Tensor d = gelu_ext::gelu_backward(at::ones_like(x64), x64, name(a));
        at::Tensor ey = at::empty_like(x64), ed = at::empty_like(x64);
        for (int64_t i = 0; i < x64.numel(); ++i) {
          const double xi = x64.data_ptr<double>()[i];
          gelu_ext::with_mode(a, [&](auto m) {
            constexpr Approximation kMode = decltype(m)::value;
            ey.data_ptr<double>()[i] = f64::Formulas::forward<kMode, true>(xi);
            ed.data_ptr<double>()[i] = 1.0 * f64::Formulas::derivative<kMode, true>(xi);
          });
        }
        EXPECT_TRUE(bitwise_equal(y, ey)) << "float64 forward";
        EXPECT_TRUE(bitwise_equal(d, ed)) << "float64 backward";
      }
      for (auto dtype : {at::kBFloat16, at::kHalf}) {
        const at::Tensor x = all_finite_16bit(dtype);
        const at::Tensor y = gelu_ext::gelu(x, name(a));
        const at::Tensor xf = x.to(at::kFloat);
        at::Tensor ey = at::empty_like(xf);
        for (int64_t i = 0; i < xf.numel(); ++i) {
          ey.data_ptr<float>()[i] = math_gelu<false>(xf.data_ptr<float>()[i], a);
        }
        EXPECT_TRUE(bitwise_equal(y, ey.to(dtype))) << c10::toString(dtype) << " forward";
      }
    }
  }
}

}  // namespace
}  // namespace gelu_ext_test
