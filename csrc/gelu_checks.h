// Argument validation shared by every backend kernel (CPU, CUDA, Meta), so a
// bad call fails with the same message wherever it is dispatched.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/DeviceType.h>
#include <c10/util/string_view.h>

#include <initializer_list>
#include <optional>
#include <utility>

#include "approximation.h"

namespace gelu_ext {
namespace detail {

// A defined float32/float64/bfloat16/float16 tensor. (Sparse, quantized and
// other non-strided layouts never get here: the dispatcher has no kernel for
// their keys and says so, naming the op.)
void check_input(const at::Tensor& t, const char* op, const char* arg);

// grad_output and self: both valid inputs, same dtype, device and shape.
void check_backward_inputs(const at::Tensor& grad_output, const at::Tensor& self,
                           const char* op = "gelu_ext::gelu_backward");

// An output the caller provides (gelu.out's out, gelu_backward.grad_input's
// grad_input, gelu_'s self): the dtype, device and shape of `like` (never
// resized: a wrong shape is an error). Works on symbolic shapes (Meta).
void check_output(const at::Tensor& out, const at::Tensor& like, const char* op, const char* arg);

// `out` has no element stored twice (e.g. expanded), and overlaps no input
// partially (the same memory with the same strides is fine: elementwise).
// Real kernels only: it looks at data pointers.
void check_output_memory(const at::Tensor& out, const char* op, const char* arg,
                         std::initializer_list<std::pair<const at::Tensor*, const char*>> inputs);

// Each op's checks, shared by its backend kernels (CPU, CUDA, Meta) so that a
// bad call fails the same way on each; they return the parsed `approximate`.
// `device`: the backend's device type, which self must have (std::nullopt for
// Meta, which also skips check_output_memory: it needs data pointers).
using BackendDevice = std::optional<c10::DeviceType>;
Approximation check_gelu_call(const at::Tensor& self, c10::string_view approximate,
                              BackendDevice device);
Approximation check_gelu_out_call(const at::Tensor& self, c10::string_view approximate,
                                  const at::Tensor& out, BackendDevice device);
Approximation check_gelu_inplace_call(const at::Tensor& self, c10::string_view approximate,
                                      BackendDevice device);
Approximation check_gelu_backward_call(const at::Tensor& grad_output, const at::Tensor& self,
                                       c10::string_view approximate, BackendDevice device);
Approximation check_gelu_backward_out_call(const at::Tensor& grad_output, const at::Tensor& self,
                                           c10::string_view approximate,
                                           const at::Tensor& grad_input, BackendDevice device);

// The tensor whose layout gelu_backward's output copies (with empty_like):
// grad_output, unless it is expanded (a stride-0 dimension), then self. That
// matches ATen's gelu_backward, whose TensorIterator orders dimensions by the
// first operand whose strides tell them apart.
const at::Tensor& backward_layout_source(const at::Tensor& grad_output, const at::Tensor& self);

}  // namespace detail
}  // namespace gelu_ext
