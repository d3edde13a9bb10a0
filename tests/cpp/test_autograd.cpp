// Autograd from C++ (no Python): gradients of gelu are gelu_backward, and
// double backward follows the analytic f'' of docs/DESIGN.md.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>

#include <algorithm>

#include "test_util.h"

namespace gelu_ext_test {
namespace {

using torch::autograd::grad;

at::Tensor leaf(const at::Tensor& t) { return t.detach().clone().set_requires_grad(true); }

TEST(Autograd, GradIsGeluBackward) {
  at::manual_seed(0);
  for (auto dtype : float_dtypes()) {
    const at::Tensor x = leaf(at::linspace(-8, 8, 2001, at::kDouble).to(dtype));
    const at::Tensor g = at::randn({2001}, at::kDouble).to(dtype);
    for (auto a : modes()) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " " + name(a));
      const at::Tensor y = gelu_ext::gelu(x, name(a));
      ASSERT_TRUE(y.requires_grad());
      ASSERT_TRUE(y.grad_fn() != nullptr);
      EXPECT_TRUE(bitwise_equal(y.detach(), gelu_ext::gelu(x.detach(), name(a))))
          << "autograd must not change the forward values";
      const at::Tensor gx = grad({y}, {x}, {g})[0];
      EXPECT_TRUE(bitwise_equal(gx, gelu_ext::gelu_backward(g, x.detach(), name(a))));
    }
  }
}

TEST(Autograd, NoGradWithoutRequiresGrad) {
  at::manual_seed(0);
  const at::Tensor x = at::randn({10}, at::kFloat);
  const at::Tensor y = gelu_ext::gelu(x, "tanh");
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
}

// Through a chain (sum of gelu(2x)): the chain rule sees our backward.
TEST(Autograd, ChainRule) {
  const at::Tensor x = leaf(at::linspace(-4, 4, 101, at::kDouble));
  for (auto a : modes()) {
    SCOPED_TRACE(name(a));
    const at::Tensor loss = gelu_ext::gelu(x * 2, name(a)).sum();
    const at::Tensor gx = grad({loss}, {x})[0];
    const std::vector<LD> xs = to_ld(x.detach()), gs = to_ld(gx);
    for (size_t i = 0; i < xs.size(); ++i) {
      EXPECT_NEAR(static_cast<double>(gs[i]),
                  static_cast<double>(2 * ref::derivative(2 * xs[i], a)), 1e-13)
          << "x = " << static_cast<double>(xs[i]);
    }
  }
}

// out = gelu_backward(g, x): d/dx = gg * g * f''(x), d/dg = gg * f'(x).
TEST(Autograd, DoubleBackwardMatchesAnalyticSecondDerivative) {
  at::manual_seed(0);
  std::vector<double> v;
  for (int i = 0; i <= 4000; ++i) v.push_back(-12.0 + 24.0 * i / 4000);
  for (double big : {20.0, -20.0, 30.0, -30.0, 45.0, -45.0, 1e3, -1e3}) v.push_back(big);
  const at::Tensor x = leaf(at::tensor(v, at::kDouble));
  const at::Tensor g = leaf(at::randn({static_cast<int64_t>(v.size())}, at::kDouble));
  const at::Tensor gg = at::randn({static_cast<int64_t>(v.size())}, at::kDouble);
  const std::vector<LD> xs = to_ld(x.detach()), gs = to_ld(g.detach()), ggs = to_ld(gg);
  for (auto a : modes()) {
    SCOPED_TRACE(name(a));
    const at::Tensor y = gelu_ext::gelu(x, name(a));
    const at::Tensor gx = grad({y}, {x}, {g}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    ASSERT_TRUE(gx.requires_grad()) << "create_graph=true must give a differentiable gradient";
    const auto second = grad({gx}, {x, g}, {gg});
    const std::vector<LD> dx = to_ld(second[0]), dg = to_ld(second[1]);
    for (size_t i = 0; i < xs.size(); ++i) {
      const LD rx = ggs[i] * gs[i] * ref::second_derivative(xs[i], a);
      const LD rg = ggs[i] * ref::derivative(xs[i], a);
      EXPECT_LE(static_cast<double>(std::fabs(dx[i] - rx)), 1e-10 * std::max(1.0L, std::fabs(rx)))
          << "d/dx at x = " << v[i] << ": expected " << static_cast<double>(rx) << ", got "
          << static_cast<double>(dx[i]);
      EXPECT_LE(static_cast<double>(std::fabs(dg[i] - rg)), 1e-13 * std::max(1.0L, std::fabs(rg)))
          << "d/dg at x = " << v[i];
    }
  }
}

// Double backward stays finite at the infinities (f'' = 0 there) and
// propagates NaN.
TEST(Autograd, DoubleBackwardSpecialValues) {
  const double inf = std::numeric_limits<double>::infinity();
  const at::Tensor x = leaf(at::tensor({inf, -inf, std::nan(""), 0.0}, at::kDouble));
  for (auto a : modes()) {
    SCOPED_TRACE(name(a));
    const at::Tensor y = gelu_ext::gelu(x, name(a));
    const at::Tensor gx = grad({y}, {x}, {at::ones_like(y)}, true, true)[0];
    const at::Tensor dx = grad({gx}, {x}, {at::ones_like(gx)})[0];
    EXPECT_EQ(dx[0].item<double>(), 0.0);
    EXPECT_EQ(dx[1].item<double>(), 0.0);
    EXPECT_TRUE(std::isnan(dx[2].item<double>()));
    EXPECT_NEAR(dx[3].item<double>(), static_cast<double>(ref::second_derivative(0.0L, a)), 1e-15);
  }
}

// Through the bare dispatcher too: the Autograd kernel is registered on the
// op, not only reachable from the C++ wrapper.
TEST(Autograd, ThroughDispatcherCall) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("gelu_ext::gelu_backward", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, c10::string_view)>();
  const at::Tensor x = leaf(at::linspace(-3, 3, 61, at::kDouble));
  const at::Tensor g = at::ones({61}, at::kDouble);
  const at::Tensor out = op.call(g, x, "tanh");
  ASSERT_TRUE(out.requires_grad());
  const at::Tensor dx = grad({out}, {x}, {at::ones_like(out)})[0];
  const std::vector<LD> xs = to_ld(x.detach()), ds = to_ld(dx);
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(ds[i]),
                static_cast<double>(ref::second_derivative(xs[i], Approximation::Tanh)), 1e-10);
  }
}

}  // namespace
}  // namespace gelu_ext_test
