// Limits that must hold exactly (docs/DESIGN.md), empty and 0-dim tensors, and
// strided inputs giving the contiguous result bit for bit.
#include <cmath>

#include "test_util.h"

namespace gelu_ext_test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Limit {
  double x, f, df;     // f(x), f'(x); NaN means "must be NaN"
  bool negative_zero;  // f(x) must be -0
};

// f'(+-0) = 1/2 is not among the exact limits: within the accuracy contract.
double half_tolerance(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return 4 * std::ldexp(1.0, -24) + std::ldexp(1.0, -26);
    case at::kDouble:
      return 1e-13;
    case at::kBFloat16:
      return std::ldexp(1.0, -8);
    default:
      return std::ldexp(1.0, -11);
  }
}

TEST(SpecialValues, ExactLimitsEveryDtypeAndMode) {
  const std::vector<Limit> limits{{0.0, 0.0, 0.5, false},
                                  {-0.0, -0.0, 0.5, true},
                                  {kInf, kInf, 1.0, false},
                                  {-kInf, 0.0, 0.0, false},
                                  {kNaN, kNaN, kNaN, false}};
  std::vector<double> xs;
  for (const auto& l : limits) xs.push_back(l.x);
  for (auto dtype : float_dtypes()) {
    const at::Tensor x = from_doubles(xs, dtype);
    for (auto a : modes()) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " " + name(a));
      const at::Tensor y = gelu_ext::gelu(x, name(a)).to(at::kDouble);
      const at::Tensor d = gelu_ext::gelu_backward(at::ones_like(x), x, name(a)).to(at::kDouble);
      for (size_t i = 0; i < limits.size(); ++i) {
        const Limit& l = limits[i];
        const double yi = y[i].item<double>(), di = d[i].item<double>();
        SCOPED_TRACE("x = " + std::to_string(l.x) + (std::signbit(l.x) ? " (negative)" : ""));
        if (std::isnan(l.f)) {
          EXPECT_TRUE(std::isnan(yi)) << "f = " << yi;
          EXPECT_TRUE(std::isnan(di)) << "f' = " << di;
          continue;
        }
        EXPECT_EQ(yi, l.f);
        if (l.x == 0) {
          EXPECT_EQ(std::signbit(yi), l.negative_zero) << "sign of f(" << l.x << ")";
          EXPECT_NEAR(di, l.df, half_tolerance(dtype));
        } else {
          EXPECT_EQ(di, l.df);
        }
      }
    }
  }
}

// NaN in grad_output propagates; an infinite grad times f'(x) = 0 at -inf is
// the IEEE product, not hidden.
TEST(SpecialValues, GradOutputNaNPropagates) {
  for (auto dtype : float_dtypes()) {
    const at::Tensor x = from_doubles({-1.0, 0.0, 2.0}, dtype);
    const at::Tensor g = from_doubles({kNaN, kNaN, kNaN}, dtype);
    for (auto a : modes()) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " " + name(a));
      EXPECT_TRUE(gelu_ext::gelu_backward(g, x, name(a)).isnan().all().item<bool>());
    }
  }
}

TEST(Shapes, EmptyTensors) {
  for (auto dtype : float_dtypes()) {
    for (const auto& shape : std::vector<std::vector<int64_t>>{{0}, {3, 0}, {0, 4, 5}}) {
      const at::Tensor x = at::empty(shape, dtype);
      for (auto a : modes()) {
        const at::Tensor y = gelu_ext::gelu(x, name(a));
        EXPECT_EQ(y.sizes(), x.sizes());
        EXPECT_EQ(y.scalar_type(), dtype);
        const at::Tensor d = gelu_ext::gelu_backward(x, x, name(a));
        EXPECT_EQ(d.sizes(), x.sizes());
        EXPECT_EQ(d.scalar_type(), dtype);
      }
    }
  }
}

TEST(Shapes, ZeroDimTensor) {
  for (auto dtype : float_dtypes()) {
    const at::Tensor x = at::scalar_tensor(-1.25, dtype);
    const at::Tensor g = at::scalar_tensor(2.0, dtype);
    const at::Tensor x1 = x.reshape({1}), g1 = g.reshape({1});
    for (auto a : modes()) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " " + name(a));
      const at::Tensor y = gelu_ext::gelu(x, name(a));
      EXPECT_EQ(y.dim(), 0);
      EXPECT_TRUE(bitwise_equal(y, gelu_ext::gelu(x1, name(a)).reshape({})));
      const at::Tensor d = gelu_ext::gelu_backward(g, x, name(a));
      EXPECT_EQ(d.dim(), 0);
      EXPECT_TRUE(bitwise_equal(d, gelu_ext::gelu_backward(g1, x1, name(a)).reshape({})));
      const LD r = ref::gelu(-1.25L, a);
      EXPECT_NEAR(y.item<double>(), static_cast<double>(r),
                  0.01 * std::fabs(static_cast<double>(r)));
    }
  }
}

// Transposed, sliced, broadcast (stride 0) and offset views: the same
// elements give the same bits as a contiguous copy, forward and backward,
// in sizes that cross the multi-threading grain and the staging buffer.
TEST(Shapes, NonContiguousEqualsContiguousBitwise) {
  at::manual_seed(0);
  const at::Tensor base = at::randn({257, 130}, at::kDouble) * 4;
  const at::Tensor gbase = at::randn({257, 130}, at::kDouble);
  for (auto dtype : float_dtypes()) {
    const at::Tensor b = base.to(dtype), gb = gbase.to(dtype);
    const std::vector<std::pair<std::string, std::pair<at::Tensor, at::Tensor>>> views{
        {"transpose", {b.t(), gb.t()}},
        {"slice step 2", {b.slice(1, 1, 130, 2), gb.slice(1, 0, 129, 2)}},
        {"column", {b.select(1, 7), gb.select(1, 3)}},
        {"broadcast", {b.select(0, 5).expand({300, 130}), gb.repeat({2, 1}).narrow(0, 0, 300)}},
        {"offset", {b.narrow(1, 3, 100), gb.narrow(1, 1, 100).t().contiguous().t()}}};
    for (const auto& [what, xg] : views) {
      const auto& [x, g] = xg;
      ASSERT_EQ(x.sizes(), g.sizes()) << what;
      for (auto a : modes()) {
        SCOPED_TRACE(std::string(c10::toString(dtype)) + " " + name(a) + " " + what);
        ASSERT_FALSE(x.is_contiguous());
        EXPECT_TRUE(
            bitwise_equal(gelu_ext::gelu(x, name(a)), gelu_ext::gelu(x.contiguous(), name(a))));
        EXPECT_TRUE(
            bitwise_equal(gelu_ext::gelu_backward(g, x, name(a)),
                          gelu_ext::gelu_backward(g.contiguous(), x.contiguous(), name(a))));
      }
    }
  }
}

// The input is read, never written.
TEST(Shapes, InputsUnchanged) {
  at::manual_seed(0);
  const at::Tensor x = at::randn({1000}, at::kFloat) * 5;
  const at::Tensor g = at::randn({1000}, at::kFloat);
  const at::Tensor x0 = x.clone(), g0 = g.clone();
  for (auto a : modes()) {
    gelu_ext::gelu(x, name(a));
    gelu_ext::gelu_backward(g, x, name(a));
  }
  EXPECT_TRUE(bitwise_equal(x, x0));
  EXPECT_TRUE(bitwise_equal(g, g0));
}

}  // namespace
}  // namespace gelu_ext_test
