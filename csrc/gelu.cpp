// The op schemas (defined once), `approximate` parsing, and the
// dispatcher-calling C++ API of gelu.h. (Argument checks: gelu_checks.cpp.)
#include "gelu.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include "build_info.h"

namespace gelu_ext {

Approximation parse_approximation(c10::string_view approximate, const char* op) {
  if (approximate == "none") return Approximation::None;
  if (approximate == "tanh") return Approximation::Tanh;
  if (approximate == "sigmoid") return Approximation::Sigmoid;
  TORCH_CHECK_VALUE(false, op, ": approximate must be 'none', 'tanh' or 'sigmoid', got '",
                    std::string(approximate), "'");
}

const char* to_string(Approximation approx) {
  switch (approx) {
    case Approximation::Tanh:
      return "tanh";
    case Approximation::Sigmoid:
      return "sigmoid";
    case Approximation::None:
      break;
  }
  return "none";
}

const char* load() {
  for (const char* name : {"gelu_ext::gelu", "gelu_ext::gelu_backward"}) {
    TORCH_CHECK(c10::Dispatcher::singleton().findSchema({name, ""}).has_value(),
                "gelu_ext::load: operator ", name,
                " is not registered: the op library's static registrations did not run");
  }
  return gelu_ext_version();
}

at::Tensor gelu(const at::Tensor& self, c10::string_view approximate) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("gelu_ext::gelu", "")
                       .typed<at::Tensor(const at::Tensor&, c10::string_view)>();
  return op.call(self, approximate);
}

at::Tensor gelu(const at::Tensor& self, Approximation approximate) {
  return gelu_ext::gelu(self, to_string(approximate));
}

at::Tensor gelu_backward(const at::Tensor& grad_output, const at::Tensor& self,
                         c10::string_view approximate) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("gelu_ext::gelu_backward", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, c10::string_view)>();
  return op.call(grad_output, self, approximate);
}

at::Tensor& gelu_out(at::Tensor& out, const at::Tensor& self, c10::string_view approximate) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("gelu_ext::gelu", "out")
                       .typed<at::Tensor&(const at::Tensor&, c10::string_view, at::Tensor&)>();
  return op.call(self, approximate, out);
}

at::Tensor& gelu_(at::Tensor& self, c10::string_view approximate) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("gelu_ext::gelu_", "")
                       .typed<at::Tensor&(at::Tensor&, c10::string_view)>();
  return op.call(self, approximate);
}

at::Tensor& gelu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output,
                              const at::Tensor& self, c10::string_view approximate) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("gelu_ext::gelu_backward", "grad_input")
                       .typed<at::Tensor&(const at::Tensor&, const at::Tensor&, c10::string_view,
                                          at::Tensor&)>();
  return op.call(grad_output, self, approximate, grad_input);
}

TORCH_LIBRARY(gelu_ext, m) {
  m.def("gelu(Tensor self, str approximate=\"none\") -> Tensor");
  m.def("gelu_backward(Tensor grad_output, Tensor self, str approximate=\"none\") -> Tensor");
  // Allocation-free variants: write into memory the caller owns.
  m.def("gelu.out(Tensor self, str approximate=\"none\", *, Tensor(a!) out) -> Tensor(a!)");
  m.def(
      "gelu_backward.grad_input(Tensor grad_output, Tensor self, str approximate=\"none\", *, "
      "Tensor(a!) grad_input) -> Tensor(a!)");
  m.def("gelu_(Tensor(a!) self, str approximate=\"none\") -> Tensor(a!)");
}

}  // namespace gelu_ext
