// The op schemas (defined once), argument parsing and validation, and the
// dispatcher-calling C++ API.
#include "gelu.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include "build_info.h"
#include "gelu_checks.h"

namespace gelu_ext {

Approximation parse_approximation(c10::string_view approximate, const char* op) {
  if (approximate == "none") return Approximation::None;
  if (approximate == "tanh") return Approximation::Tanh;
  TORCH_CHECK_VALUE(false, op, ": approximate must be 'none' or 'tanh', got '",
                    std::string(approximate), "'");
}

const char* to_string(Approximation approx) {
  return approx == Approximation::Tanh ? "tanh" : "none";
}

namespace detail {

void check_input(const at::Tensor& t, const char* op, const char* arg) {
  TORCH_CHECK(t.defined(), op, ": ", arg, " is an undefined tensor");
  const auto dtype = t.scalar_type();
  TORCH_CHECK_TYPE(dtype == at::kFloat || dtype == at::kDouble || dtype == at::kBFloat16 ||
                       dtype == at::kHalf,
                   op, ": ", arg,
                   " must be a floating-point tensor (float32, float64, bfloat16 or float16), "
                   "got ",
                   dtype);
}

void check_backward_inputs(const at::Tensor& grad_output, const at::Tensor& self) {
  constexpr const char* op = "gelu_ext::gelu_backward";
  check_input(grad_output, op, "grad_output");
  check_input(self, op, "self");
  TORCH_CHECK_TYPE(grad_output.scalar_type() == self.scalar_type(), op,
                   ": grad_output and self must have the same dtype, got ",
                   grad_output.scalar_type(), " and ", self.scalar_type());
  TORCH_CHECK(grad_output.device() == self.device(), op,
              ": grad_output and self must be on the same device, got ", grad_output.device(),
              " and ", self.device());
  TORCH_CHECK(grad_output.sym_sizes() == self.sym_sizes(), op,
              ": grad_output and self must have the same shape, got ", grad_output.sym_sizes(),
              " and ", self.sym_sizes());
}

const at::Tensor& backward_layout_source(const at::Tensor& grad_output, const at::Tensor& self) {
  const auto sizes = grad_output.sym_sizes();
  const auto strides = grad_output.sym_strides();
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (strides[d] == 0 && sizes[d] != 1) return self;
  }
  return grad_output;
}

}  // namespace detail

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
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("gelu_ext::gelu_backward", "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, c10::string_view)>();
  return op.call(grad_output, self, approximate);
}

TORCH_LIBRARY(gelu_ext, m) {
  m.def("gelu(Tensor self, str approximate=\"none\") -> Tensor");
  m.def("gelu_backward(Tensor grad_output, Tensor self, str approximate=\"none\") -> Tensor");
}

}  // namespace gelu_ext
