// Argument validation shared by every backend kernel (gelu_checks.h).
#include "gelu_checks.h"

#include <ATen/MemoryOverlap.h>
#include <c10/util/Exception.h>

#include "gelu.h"

namespace gelu_ext {

namespace detail {

void check_input(const at::Tensor& t, const char* op, const char* arg) {
  TORCH_CHECK(t.defined(), op, ": ", arg, " is an undefined tensor");
  const auto dtype = t.scalar_type();
  TORCH_CHECK_TYPE(
      dtype == at::kFloat || dtype == at::kDouble || dtype == at::kBFloat16 || dtype == at::kHalf,
      op, ": ", arg,
      " must be a floating-point tensor (float32, float64, bfloat16 or float16), "
      "got ",
      dtype);
}

void check_backward_inputs(const at::Tensor& grad_output, const at::Tensor& self, const char* op) {
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

void check_output(const at::Tensor& out, const at::Tensor& like, const char* op, const char* arg) {
  TORCH_CHECK(out.defined(), op, ": ", arg, " is an undefined tensor");
  TORCH_CHECK_TYPE(out.scalar_type() == like.scalar_type(), op, ": ", arg, " must have dtype ",
                   like.scalar_type(), " (the input's), got ", out.scalar_type());
  TORCH_CHECK(out.device() == like.device(), op, ": ", arg, " must be on ", like.device(),
              " (the input's device), got ", out.device());
  TORCH_CHECK(out.sym_sizes() == like.sym_sizes(), op, ": ", arg, " must have shape ",
              like.sym_sizes(), " (the input's; it is not resized), got ", out.sym_sizes());
}

namespace {

// [first, last] byte addresses an element of t can occupy.
std::pair<const char*, const char*> byte_extent(const at::Tensor& t) {
  int64_t lo = 0, hi = 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t span = (t.size(d) - 1) * t.stride(d);
    (span < 0 ? lo : hi) += span;
  }
  const auto* base = static_cast<const char*>(t.data_ptr());
  return {base + lo * t.element_size(), base + (hi + 1) * t.element_size() - 1};
}

// True unless out and input are provably safe for an elementwise kernel:
// different memory, or exactly the same elements in the same order. Layouts
// that ATen cannot decide ("too hard": both non-dense, interleaved) count as
// overlapping when their byte extents intersect: a clear error rather than
// an answer that depends on the order of the writes.
bool may_overlap_partially(const at::Tensor& out, const at::Tensor& input) {
  switch (at::get_overlap_status(out, input)) {
    case at::MemOverlapStatus::Full:
    case at::MemOverlapStatus::No:
      return false;
    case at::MemOverlapStatus::Partial:
      return true;
    case at::MemOverlapStatus::TooHard:
      break;
  }
  if (out.numel() == 0 || input.numel() == 0 || !out.storage().is_alias_of(input.storage())) {
    return false;
  }
  if (out.data_ptr() == input.data_ptr() && out.sizes() == input.sizes() &&
      out.strides() == input.strides()) {
    return false;
  }
  const auto [a0, a1] = byte_extent(out);
  const auto [b0, b1] = byte_extent(input);
  return a0 <= b1 && b0 <= a1;
}

}  // namespace

void check_output_memory(const at::Tensor& out, const char* op, const char* arg,
                         std::initializer_list<std::pair<const at::Tensor*, const char*>> inputs) {
  TORCH_CHECK(at::has_internal_overlap(out) != at::MemOverlap::Yes, op, ": ", arg,
              " has elements that share memory (e.g. an expanded tensor); every output "
              "element needs memory of its own");
  for (const auto& [input, name] : inputs) {
    TORCH_CHECK(!may_overlap_partially(out, *input), op, ": ", arg, " overlaps ", name,
                " in memory without being the same tensor layout; use separate memory, or ", name,
                " itself");
  }
}

namespace {

void check_device(const at::Tensor& t, BackendDevice device, const char* op, const char* arg) {
  if (!device) return;
  TORCH_CHECK(t.device().type() == *device, op, ": ", arg, " must be a ",
              c10::DeviceTypeName(*device), " tensor for the ", c10::DeviceTypeName(*device),
              " kernel, got ", t.device());
}

// The forward ops' common part: `approximate`, then self's dtype/layout and
// device, in that order.
Approximation check_forward_self(const at::Tensor& self, c10::string_view approximate,
                                 BackendDevice device, const char* op) {
  const Approximation approx = parse_approximation(approximate, op);
  check_input(self, op, "self");
  check_device(self, device, op, "self");
  return approx;
}

// The backward ops' common part: `approximate`, then the two inputs (dtype,
// layout, shapes, devices against each other) and self's device.
Approximation check_backward_pair(const at::Tensor& grad_output, const at::Tensor& self,
                                  c10::string_view approximate, BackendDevice device,
                                  const char* op) {
  const Approximation approx = parse_approximation(approximate, op);
  check_backward_inputs(grad_output, self, op);
  check_device(self, device, op, "self");
  return approx;
}

}  // namespace

Approximation check_gelu_call(const at::Tensor& self, c10::string_view approximate,
                              BackendDevice device) {
  return check_forward_self(self, approximate, device, "gelu_ext::gelu");
}

Approximation check_gelu_out_call(const at::Tensor& self, c10::string_view approximate,
                                  const at::Tensor& out, BackendDevice device) {
  constexpr const char* op = "gelu_ext::gelu.out";
  const Approximation approx = check_forward_self(self, approximate, device, op);
  check_output(out, self, op, "out");
  if (device) check_output_memory(out, op, "out", {{&self, "self"}});
  return approx;
}

Approximation check_gelu_inplace_call(const at::Tensor& self, c10::string_view approximate,
                                      BackendDevice device) {
  constexpr const char* op = "gelu_ext::gelu_";
  const Approximation approx = check_forward_self(self, approximate, device, op);
  if (device) check_output_memory(self, op, "self", {});
  return approx;
}

Approximation check_gelu_backward_call(const at::Tensor& grad_output, const at::Tensor& self,
                                       c10::string_view approximate, BackendDevice device) {
  return check_backward_pair(grad_output, self, approximate, device, "gelu_ext::gelu_backward");
}

Approximation check_gelu_backward_out_call(const at::Tensor& grad_output, const at::Tensor& self,
                                           c10::string_view approximate,
                                           const at::Tensor& grad_input, BackendDevice device) {
  constexpr const char* op = "gelu_ext::gelu_backward.grad_input";
  const Approximation approx = check_backward_pair(grad_output, self, approximate, device, op);
  check_output(grad_input, self, op, "grad_input");
  if (device) {
    check_output_memory(grad_input, op, "grad_input",
                        {{&grad_output, "grad_output"}, {&self, "self"}});
  }
  return approx;
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

}  // namespace gelu_ext
