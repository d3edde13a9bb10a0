// Argument validation shared by every backend kernel (CPU, CUDA, Meta), so a
// bad call fails with the same message wherever it is dispatched.
#pragma once

#include <ATen/core/Tensor.h>

namespace gelu_ext {
namespace detail {

// A strided float32/float64/bfloat16/float16 tensor.
void check_input(const at::Tensor& t, const char* op, const char* arg);

// grad_output and self: both valid inputs, same dtype, device and shape.
void check_backward_inputs(const at::Tensor& grad_output, const at::Tensor& self);

}  // namespace detail
}  // namespace gelu_ext
