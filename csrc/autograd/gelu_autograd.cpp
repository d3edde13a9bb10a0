// Autograd for both ops, in C++ so that gradients work wherever the op
// library is loaded: Python eager, TorchScript, and C++ programs without
// Python. Each Function saves what its backward needs, drops below autograd
// and re-dispatches; backward calls ops again so that it stays differentiable.
#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/library.h>

#include "../gelu.h"
#include "../gelu_math.h"

namespace gelu_ext {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// f''(x) from differentiable ATen ops (docs/DESIGN.md, "Math"), used only by
// double backward. Half types are widened to float (x^3 * u'^2 overflows
// float16 at |x| ~ 22), and the result stays float so that gg * g * f'' is
// formed in float too (gg * g alone overflows float16 where the result does
// not). Inputs are clamped where f'' is already 0, so the formulas never
// meet 0 * inf; NaN passes through clamp. s (1 - s) is formed as
// sigma(a) sigma(-a) and 2s - 1 as tanh(a/2): no subtraction near 1. For
// sigmoid (a = K x): f'' = K s (1 - s) (2 + K x (1 - 2s)).
at::Tensor gelu_second_derivative(const at::Tensor& self, Approximation approx) {
  const bool widen = self.scalar_type() == at::kHalf || self.scalar_type() == at::kBFloat16;
  const at::Tensor x = widen ? self.to(at::kFloat) : self;
  at::Tensor out;
  if (approx == Approximation::None) {
    const at::Tensor xc = x.clamp(-math::Clamp<double>::kExact, math::Clamp<double>::kExact);
    const at::Tensor x2 = xc * xc;
    out = (x2 * -0.5).exp() * math::kC0.hi * (2.0 - x2);
  } else if (approx == Approximation::Sigmoid) {
    const double k = math::kK.hi;
    const at::Tensor xc = x.clamp(-math::Clamp<double>::kSigmoid, math::Clamp<double>::kSigmoid);
    const at::Tensor a = k * xc;
    const at::Tensor s_1ms = a.sigmoid() * (-a).sigmoid();  // s (1 - s)
    out = k * s_1ms * (2.0 - k * xc * (0.5 * a).tanh());
  } else {
    const double c = math::kSqrt2OverPi;
    const double kappa = math::kKappa;
    const at::Tensor xc = x.clamp(-math::Clamp<double>::kTanh, math::Clamp<double>::kTanh);
    const at::Tensor x2 = xc * xc;
    const at::Tensor du = c * (1.0 + 3.0 * kappa * x2);  // u'
    const at::Tensor d2u = (6.0 * c * kappa) * xc;       // u''
    const at::Tensor u = c * (xc + kappa * x2 * xc);
    const at::Tensor s_1ms = (2.0 * u).sigmoid() * (-2.0 * u).sigmoid();  // s (1 - s)
    out = 4.0 * s_1ms * (du + 0.5 * xc * d2u - xc * u.tanh() * du * du);
  }
  return out;  // float for the half types: the caller narrows once
}

class GeluFunction : public torch::autograd::Function<GeluFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self,
                            const std::string& approximate) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({self});
    ctx->saved_data["approximate"] = approximate;
    return gelu_ext::gelu(self, approximate);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor self = ctx->get_saved_variables()[0];
    const std::string approximate = ctx->saved_data["approximate"].toStringRef();
    return {gelu_ext::gelu_backward(grads[0], self, approximate), at::Tensor()};
  }
};

class GeluBackwardFunction : public torch::autograd::Function<GeluBackwardFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad_output,
                            const at::Tensor& self, const std::string& approximate) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({grad_output, self});
    ctx->saved_data["approximate"] = approximate;
    return gelu_ext::gelu_backward(grad_output, self, approximate);
  }

  // out = g * f'(x): d/dg = f'(x), d/dx = g * f''(x).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& grad_output = saved[0];
    const at::Tensor& self = saved[1];
    const std::string approximate = ctx->saved_data["approximate"].toStringRef();
    const at::Tensor& gg = grads[0];
    at::Tensor d_grad_output, d_self;
    if (ctx->needs_input_grad(0)) d_grad_output = gelu_ext::gelu_backward(gg, self, approximate);
    if (ctx->needs_input_grad(1)) {
      const Approximation approx =
          parse_approximation(approximate, "gelu_ext::gelu_backward (double backward)");
      const at::Tensor f2 = gelu_second_derivative(self, approx);
      d_self = f2.scalar_type() == self.scalar_type()
                   ? gg * grad_output * f2
                   : (gg.to(f2.scalar_type()) * grad_output.to(f2.scalar_type()) * f2)
                         .to(self.scalar_type());
    }
    return {d_grad_output, d_self, at::Tensor()};
  }
};

// What must be refused before Function::apply, which reads the tensors'
// devices and sizes: undefined tensors and nested tensors (whose sizes it
// cannot ask for). The backends check the rest.
void check_autograd_input(const at::Tensor& t, const char* op, const char* arg) {
  TORCH_CHECK(t.defined(), op, ": ", arg, " is an undefined tensor");
  TORCH_CHECK_NOT_IMPLEMENTED(!t.is_nested(), op, ": ", arg,
                              " must be a dense (strided) tensor, got a nested tensor");
}

at::Tensor gelu_autograd(const at::Tensor& self, c10::string_view approximate) {
  check_autograd_input(self, "gelu_ext::gelu", "self");
  return GeluFunction::apply(self, std::string(approximate));
}

at::Tensor gelu_backward_autograd(const at::Tensor& grad_output, const at::Tensor& self,
                                  c10::string_view approximate) {
  check_autograd_input(grad_output, "gelu_ext::gelu_backward", "grad_output");
  check_autograd_input(self, "gelu_ext::gelu_backward", "self");
  return GeluBackwardFunction::apply(grad_output, self, std::string(approximate));
}

// The allocation-free variants are not differentiable. Autograd key: refuse
// when a graph would have to be recorded, then go on below autograd to the
// ADInplaceOrView kernels, which bump the written tensor's version (so that
// a backward that saved it notices the write) and call the backend.
void refuse_grad(const char* op, const char* why,
                 std::initializer_list<std::pair<const at::Tensor*, const char*>> tensors) {
  for (const auto& [t, name] : tensors) check_autograd_input(*t, op, name);
  if (!at::GradMode::is_enabled()) return;
  for (const auto& [t, name] : tensors) {
    TORCH_CHECK(!t->requires_grad(), op, ": ", name, " requires grad, but ", why,
                "; use the functional op, or run under torch.no_grad()");
  }
}

constexpr const char* kOutNoGrad = "out= variants do not support automatic differentiation";

at::Tensor& gelu_out_autograd(const at::Tensor& self, c10::string_view approximate,
                              at::Tensor& out) {
  refuse_grad("gelu_ext::gelu.out", kOutNoGrad, {{&self, "self"}, {&out, "out"}});
  at::AutoDispatchBelowAutograd guard;
  return gelu_ext::gelu_out(out, self, approximate);
}

at::Tensor& gelu_inplace_autograd(at::Tensor& self, c10::string_view approximate) {
  refuse_grad("gelu_ext::gelu_",
              "its gradient would need the input values that the in-place op overwrites",
              {{&self, "self"}});
  at::AutoDispatchBelowAutograd guard;
  return gelu_ext::gelu_(self, approximate);
}

at::Tensor& gelu_backward_out_autograd(const at::Tensor& grad_output, const at::Tensor& self,
                                       c10::string_view approximate, at::Tensor& grad_input) {
  refuse_grad("gelu_ext::gelu_backward.grad_input", kOutNoGrad,
              {{&grad_output, "grad_output"}, {&self, "self"}, {&grad_input, "grad_input"}});
  at::AutoDispatchBelowAutograd guard;
  return gelu_ext::gelu_backward_out(grad_input, grad_output, self, approximate);
}

at::Tensor& gelu_out_inplace_or_view(const at::Tensor& self, c10::string_view approximate,
                                     at::Tensor& out) {
  {
    at::AutoDispatchBelowADInplaceOrView guard;
    gelu_ext::gelu_out(out, self, approximate);
  }
  torch::autograd::impl::bump_version(out);
  return out;
}

at::Tensor& gelu_inplace_inplace_or_view(at::Tensor& self, c10::string_view approximate) {
  {
    at::AutoDispatchBelowADInplaceOrView guard;
    gelu_ext::gelu_(self, approximate);
  }
  torch::autograd::impl::bump_version(self);
  return self;
}

at::Tensor& gelu_backward_out_inplace_or_view(const at::Tensor& grad_output, const at::Tensor& self,
                                              c10::string_view approximate,
                                              at::Tensor& grad_input) {
  {
    at::AutoDispatchBelowADInplaceOrView guard;
    gelu_ext::gelu_backward_out(grad_input, grad_output, self, approximate);
  }
  torch::autograd::impl::bump_version(grad_input);
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(gelu_ext, Autograd, m) {
  m.impl("gelu", &gelu_autograd);
  m.impl("gelu_backward", &gelu_backward_autograd);
  m.impl("gelu.out", &gelu_out_autograd);
  m.impl("gelu_", &gelu_inplace_autograd);
  m.impl("gelu_backward.grad_input", &gelu_backward_out_autograd);
}

TORCH_LIBRARY_IMPL(gelu_ext, ADInplaceOrView, m) {
  m.impl("gelu.out", &gelu_out_inplace_or_view);
  m.impl("gelu_", &gelu_inplace_inplace_or_view);
  m.impl("gelu_backward.grad_input", &gelu_backward_out_inplace_or_view);
}

}  // namespace gelu_ext
