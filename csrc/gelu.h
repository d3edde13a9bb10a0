// gelu_ext public C++ API. Every function calls through the PyTorch
// dispatcher, so autograd, device dispatch and tracing apply as for any op.
// Link the op library (CMake: gelu_ext::gelu_ext) so the ops are registered;
// installed, the header is <gelu_ext/gelu.h>.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include "approximation.h"

namespace gelu_ext {

// Checks that gelu_ext's ops are registered with the dispatcher (throws
// c10::Error naming the missing op otherwise) and returns the library's
// version. Calling it also makes a program depend on the op library by
// symbol, so no linker option can drop the library and its registrations.
const char* load();

// "none", "tanh" or "sigmoid"; anything else throws c10::ValueError naming
// `op`.
Approximation parse_approximation(c10::string_view approximate, const char* op);
const char* to_string(Approximation approx);

// GELU(x) = x * Phi(x) ("none"), its tanh approximation ("tanh", as
// torch::nn::functional::gelu) or x * sigmoid(1.702 x) ("sigmoid"), with
// gelu_ext's accuracy.
at::Tensor gelu(const at::Tensor& self, c10::string_view approximate = "none");
at::Tensor gelu(const at::Tensor& self, Approximation approximate);

// grad_output * GELU'(self); differentiable again (double backward).
at::Tensor gelu_backward(const at::Tensor& grad_output, const at::Tensor& self,
                         c10::string_view approximate = "none");

// Allocation-free variants (ATen's argument order: the output first). `out`
// and `grad_input` must already have the input's shape, dtype and device
// (they are not resized) and may be the input itself. Not differentiable:
// they refuse inputs that require grad while grad mode is on. gelu_ refuses
// a `self` that requires grad (its backward needs the overwritten values).
at::Tensor& gelu_out(at::Tensor& out, const at::Tensor& self,
                     c10::string_view approximate = "none");
at::Tensor& gelu_(at::Tensor& self, c10::string_view approximate = "none");
at::Tensor& gelu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output,
                              const at::Tensor& self, c10::string_view approximate = "none");

}  // namespace gelu_ext
