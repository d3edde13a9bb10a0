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
  detail::check_gelu_call(self, approximate, std::nullopt);
  return at::empty_like(self);
}

at::Tensor gelu_backward_meta(const at::Tensor& grad_output, const at::Tensor& self,
                              c10::string_view approximate) {
  detail::check_gelu_backward_call(grad_output, self, approximate, std::nullopt);
  return at::empty_like(detail::backward_layout_source(grad_output, self));
}

at::Tensor& gelu_out_meta(const at::Tensor& self, c10::string_view approximate, at::Tensor& out) {
  detail::check_gelu_out_call(self, approximate, out, std::nullopt);
  return out;
}

at::Tensor& gelu_inplace_meta(at::Tensor& self, c10::string_view approximate) {
  detail::check_gelu_inplace_call(self, approximate, std::nullopt);
  return self;
}

at::Tensor& gelu_backward_out_meta(const at::Tensor& grad_output, const at::Tensor& self,
                                   c10::string_view approximate, at::Tensor& grad_input) {
  detail::check_gelu_backward_out_call(grad_output, self, approximate, grad_input, std::nullopt);
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(gelu_ext, Meta, m) {
  m.impl("gelu", &gelu_meta);
  m.impl("gelu.out", &gelu_out_meta);
  m.impl("gelu_", &gelu_inplace_meta);
  m.impl("gelu_backward", &gelu_backward_meta);
  m.impl("gelu_backward.grad_input", &gelu_backward_out_meta);
}

}  // namespace gelu_ext
