// Shape/dtype-only kernels: what torch.compile, torch.export and
// FakeTensor see. They validate exactly like the real kernels and allocate
// the same layout (empty_like), with symbolic sizes allowed.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../gelu.h"
#include "../gelu_checks.h"

namespace gelu_ext {
namespace {

at::Tensor gelu_meta(const at::Tensor& self, c10::string_view approximate) {
  parse_approximation(approximate, "gelu_ext::gelu");
  detail::check_input(self, "gelu_ext::gelu", "self");
  return at::empty_like(self);
}

at::Tensor gelu_backward_meta(const at::Tensor& grad_output, const at::Tensor& self,
                              c10::string_view approximate) {
  parse_approximation(approximate, "gelu_ext::gelu_backward");
  detail::check_backward_inputs(grad_output, self);
  return at::empty_like(detail::backward_layout_source(grad_output, self));
}

}  // namespace

TORCH_LIBRARY_IMPL(gelu_ext, Meta, m) {
  m.impl("gelu", &gelu_meta);
  m.impl("gelu_backward", &gelu_backward_meta);
}

}  // namespace gelu_ext
