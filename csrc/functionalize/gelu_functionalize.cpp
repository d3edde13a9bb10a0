// Functionalization of the mutating variants (gelu.out, gelu_backward.
// grad_input, gelu_), which torch.compile, torch.export and AOTAutograd need:
// they trace graphs of pure ops. PyTorch's generic functionalization cannot
// handle custom ops that return an alias of a mutated argument, so these
// kernels do what PyTorch generates for its own out=/in-place ops: compute
// the functional op on the unwrapped values, then make the written tensor's
// wrapper point at the result (replace_ + commit_update), which turns into a
// copy_ back into the caller's memory at the end of the graph.
#include <ATen/FunctionalTensorWrapper.h>
#include <ATen/core/Tensor.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <initializer_list>

#include "../gelu.h"

namespace gelu_ext {
namespace {

namespace fimpl = at::functionalization::impl;

// The function's result written into `out` (a FunctionalTensorWrapper).
void write_functional(const at::Tensor& out, const at::Tensor& value) {
  fimpl::replace_(out, value);
  fimpl::commit_update(out);
  fimpl::sync(out);
}

// The plain tensor behind a functional one (and any other tensor as is),
// synced with pending updates first.
at::Tensor unwrap(const at::Tensor& t) {
  if (!fimpl::isFunctionalTensor(t)) return t;
  fimpl::sync(t);
  return fimpl::from_functional_tensor(t);
}

// Below the Functionalize key: for calls where nothing is functional.
struct SkipFunctionalize {
  c10::impl::ExcludeDispatchKeyGuard guard{c10::DispatchKey::Functionalize};
};

bool any_functional(std::initializer_list<const at::Tensor*> tensors) {
  for (const at::Tensor* t : tensors) {
    if (fimpl::isFunctionalTensor(*t)) return true;
  }
  return false;
}

void check_written_is_functional(const at::Tensor& written, const char* op, const char* arg) {
  TORCH_CHECK(fimpl::isFunctionalTensor(written), op, ": cannot write a functional result into ",
              arg,
              ", which is not a functional tensor (mutating a tensor from outside the "
              "traced function)");
}

// dest (functional) <- gelu(self), computed below functionalization.
void write_gelu(const at::Tensor& dest, const at::Tensor& self, c10::string_view approximate) {
  const at::Tensor x = unwrap(self);
  at::Tensor value;
  {
    SkipFunctionalize skip;
    value = gelu_ext::gelu(x, approximate);
  }
  write_functional(dest, value);
}

at::Tensor& gelu_out_functionalize(const at::Tensor& self, c10::string_view approximate,
                                   at::Tensor& out) {
  if (!any_functional({&self, &out})) {
    SkipFunctionalize skip;
    return gelu_ext::gelu_out(out, self, approximate);
  }
  check_written_is_functional(out, "gelu_ext::gelu.out", "out");
  write_gelu(out, self, approximate);
  return out;
}

at::Tensor& gelu_inplace_functionalize(at::Tensor& self, c10::string_view approximate) {
  if (!fimpl::isFunctionalTensor(self)) {
    SkipFunctionalize skip;
    return gelu_ext::gelu_(self, approximate);
  }
  write_gelu(self, self, approximate);
  return self;
}

at::Tensor& gelu_backward_out_functionalize(const at::Tensor& grad_output, const at::Tensor& self,
                                            c10::string_view approximate, at::Tensor& grad_input) {
  if (!any_functional({&grad_output, &self, &grad_input})) {
    SkipFunctionalize skip;
    return gelu_ext::gelu_backward_out(grad_input, grad_output, self, approximate);
  }
  check_written_is_functional(grad_input, "gelu_ext::gelu_backward.grad_input", "grad_input");
  const at::Tensor g = unwrap(grad_output);
  const at::Tensor x = unwrap(self);
  at::Tensor value;
  {
    SkipFunctionalize skip;
    value = gelu_ext::gelu_backward(g, x, approximate);
  }
  write_functional(grad_input, value);
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(gelu_ext, Functionalize, m) {
  m.impl("gelu.out", &gelu_out_functionalize);
  m.impl("gelu_", &gelu_inplace_functionalize);
  m.impl("gelu_backward.grad_input", &gelu_backward_out_functionalize);
}

}  // namespace gelu_ext
