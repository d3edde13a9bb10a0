// The CPU backend of the ops (dispatch key CPU): validation, the output
// (fresh_output.h for the ones allocated here), the flat memory blocks of
// one-thread calls whose operands all have the output's dense layout, and a
// TensorIterator over any other call (its for_each runs the threads), with
// non-contiguous operands staged through small buffers (strided_copy.h), and
// a call into the contiguous kernel table that simd_select.cpp selected.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "../gelu.h"
#include "../gelu_checks.h"
#include "fresh_output.h"
#include "kernels.h"
#include "simd_select.h"
#include "strided_copy.h"

namespace gelu_ext {
namespace cpu {
namespace {

// Below this many elements a call runs on one thread: thread wake-up costs
// more than the arithmetic. Same order as ATen's
// GELU_MIN_ELEMENTS_FOR_MULTI_THREADING; checked with
// `python -m gelu_ext bench --sizes 4096,65536` (docs/PERFORMANCE.md).
constexpr int64_t kGrainSize = 16384;

// Strided operands are staged through a small buffer per operand so that
// every element runs through the same contiguous kernel (bitwise equal
// results); operands that are contiguous along the inner dimension are used
// in place.
constexpr int64_t kStageBytes = 16384;

Dtype to_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return Dtype::Float;
    case at::kDouble:
      return Dtype::Double;
    case at::kBFloat16:
      return Dtype::BFloat16;
    default:
      return Dtype::Half;
  }
}

// How a call writes its output: populated a chunk at a time just before it
// is written (`populate`: an output allocated here, `fresh`, of
// kFreshOutputBytes or more), or by non-temporal stores where the table can
// (`stream`: a caller's output of streaming_bytes() or more).
struct OutputWrites {
  bool populate, stream;
};
OutputWrites output_writes(const at::Tensor& out, bool fresh) {
  const auto bytes = static_cast<int64_t>(out.nbytes());
  return {fresh && bytes >= static_cast<int64_t>(kFreshOutputBytes),
          !fresh && bytes >= streaming_bytes()};
}

// One row of operands that are all contiguous: `contig(ptr, n)`, the output
// written as `w` says.
template <int kOps, class Contig, class Streaming>
void run_row(char** ptr, int64_t n0, int64_t esize, OutputWrites w, const Contig& contig,
             const Streaming& streaming) {
  if (w.populate && n0 * esize >= 2 * kPopulateChunkBytes) {
    const int64_t chunk = kPopulateChunkBytes / esize;
    for (int64_t i = 0; i < n0; i += chunk) {
      const int64_t n = std::min(chunk, n0 - i);
      char* piece[kOps];
      for (int k = 0; k < kOps; ++k) piece[k] = ptr[k] + i * esize;
      populate_for_write(piece[0], n * esize);
      contig(piece, n);
    }
  } else if (!(w.stream && streaming(ptr, n0))) {
    contig(ptr, n0);
  }
}

// Runs `contig(out, in...)` over a TensorIterator with operands
// [out, in0, in1...] whose elements are E-sized: directly on contiguous rows,
// staged otherwise. Staging takes a block of rows at once when some operand
// is contiguous along the outer dimension instead (a transposed operand), so
// that its cache lines are used whole. `fresh`: out was just allocated here
// (see populate_for_write).
// Inputs that are every second element of memory (x[::2] views) beside a
// contiguous output skip the staging where the kernel table reads them in
// its loop: `every_second(ptr, steps, n)` runs a row (steps: each input's
// stride in elements, 1 or 2) and returns false where it cannot.
// Outputs given by the caller from streaming_bytes() on (simd_select.h) are
// written with non-temporal stores where the kernel table can
// (`streaming(ptr, n)`, false where it cannot). Outputs the functional ops
// allocate are populated page by page just before the kernel writes them
// (populate_for_write), and keep ordinary stores.
template <class E, int kInputs, class Contig, class EverySecond, class Streaming>
void run_typed(at::TensorIterator& iter, bool fresh, const Contig& contig,
               const EverySecond& every_second, const Streaming& streaming) {
  constexpr int kOps = kInputs + 1;
  constexpr int64_t esize = sizeof(E);
  constexpr int64_t kStageElems = kStageBytes / esize;
  // Rows per block for a transposed operand: one cache line of them.
  constexpr int64_t kBlockRows = 64 / esize;
  const OutputWrites writes = output_writes(iter.output(), fresh);
  iter.for_each(
      [&](char** data, const int64_t* strides, int64_t n0, int64_t n1) {
        bool staged[kOps];
        bool contiguous = true;
        bool transposed = false;
        for (int k = 0; k < kOps; ++k) {
          staged[k] = strides[k] != esize;
          contiguous = contiguous && !staged[k];
          transposed = transposed || (staged[k] && n1 > 1 && strides[kOps + k] == esize);
        }
        if (contiguous) {
          for (int64_t j = 0; j < n1; ++j) {
            char* ptr[kOps];
            for (int k = 0; k < kOps; ++k) ptr[k] = data[k] + j * strides[kOps + k];
            run_row<kOps>(ptr, n0, esize, writes, contig, streaming);
          }
          return;
        }
        if (!transposed && !staged[0]) {
          int steps[kOps];
          bool strided = true;
          for (int k = 1; k < kOps; ++k) {
            steps[k] = static_cast<int>(strides[k] / esize);
            strided = strided && strides[k] % esize == 0 && (steps[k] == 1 || steps[k] == 2);
          }
          bool done = strided;
          for (int64_t j = 0; j < n1 && done; ++j) {
            char* ptr[kOps];
            for (int k = 0; k < kOps; ++k) ptr[k] = data[k] + j * strides[kOps + k];
            done = every_second(ptr, steps, n0);  // the same answer for every row
          }
          if (done) return;
        }
        alignas(64) E stage[kOps][kStageElems];
        // A block: `rows` rows of `cols` elements (whole rows when they are short).
        const int64_t cols = std::min(n0, transposed ? kStageElems / kBlockRows : kStageElems);
        const int64_t rows = kStageElems / cols;
        // Whole rows that lie back to back in every operand (staged ones: in
        // the buffer) run through the kernel as one.
        bool merge = cols == n0;
        for (int k = 0; k < kOps; ++k) {
          merge = merge && (staged[k] || strides[kOps + k] == n0 * esize);
        }
        for (int64_t j0 = 0; j0 < n1; j0 += rows) {
          const int64_t nj = std::min(rows, n1 - j0);
          for (int64_t i0 = 0; i0 < n0; i0 += cols) {
            const int64_t ni = std::min(cols, n0 - i0);
            char* corner[kOps];
            for (int k = 0; k < kOps; ++k) {
              corner[k] = data[k] + i0 * strides[k] + j0 * strides[kOps + k];
              if (k > 0 && staged[k]) {
                staging::copy_block<E, true>(corner[k], strides[k], strides[kOps + k], stage[k],
                                             cols, ni, nj);
              }
            }
            if (merge) {
              char* ptr[kOps];
              for (int k = 0; k < kOps; ++k) {
                ptr[k] = staged[k] ? reinterpret_cast<char*>(stage[k]) : corner[k];
              }
              contig(ptr, ni * nj);
            }
            for (int64_t j = 0; j < nj && !merge; ++j) {
              char* ptr[kOps];
              for (int k = 0; k < kOps; ++k) {
                ptr[k] = staged[k] ? reinterpret_cast<char*>(stage[k] + j * cols)
                                   : corner[k] + j * strides[kOps + k];
              }
              contig(ptr, ni);
            }
            if (staged[0])
              staging::copy_block<E, false>(corner[0], strides[0], strides[kOps], stage[0], cols,
                                            ni, nj);
          }
        }
      },
      kGrainSize);
}

template <int kInputs, class Contig, class EverySecond, class Streaming>
void run(at::TensorIterator& iter, int64_t esize, bool fresh, const Contig& contig,
         const EverySecond& every_second, const Streaming& streaming) {
  switch (esize) {
    case 2:
      return run_typed<uint16_t, kInputs>(iter, fresh, contig, every_second, streaming);
    case 4:
      return run_typed<uint32_t, kInputs>(iter, fresh, contig, every_second, streaming);
    default:
      return run_typed<uint64_t, kInputs>(iter, fresh, contig, every_second, streaming);
  }
}

// Whether the call can skip the TensorIterator: it runs on one thread (as
// TensorIterator::for_each would run it: below kGrainSize elements, or one
// thread set), every input has out's strides, and out's elements fill their
// memory without gaps (contiguous, channels-last, or transposed alike). Then
// element i of the memory block is element i of every operand, and the
// kernel runs once on the flat blocks. The iterator's set-up is a large share
// of a call on a few thousand elements; above kGrainSize it is small, and
// for_each's threads (libtorch's OpenMP, which this library's own code does
// not compile against) run the call. The checks have already matched the
// shapes and dtypes.
bool runs_flat(const at::Tensor& out, std::initializer_list<const at::Tensor*> inputs) {
  if (out.numel() >= kGrainSize && at::get_num_threads() > 1) return false;
  if (!out.is_non_overlapping_and_dense()) return false;
  for (const at::Tensor* t : inputs) {
    if (t->strides() != out.strides()) return false;
  }
  return true;
}

// `contig` on the flat blocks of [out, inputs...] (runs_flat), as one row.
template <int kInputs, class Contig, class Streaming>
void run_flat(const at::Tensor& out, std::initializer_list<const at::Tensor*> inputs, bool fresh,
              const Contig& contig, const Streaming& streaming) {
  constexpr int kOps = kInputs + 1;
  char* ptr[kOps];
  ptr[0] = static_cast<char*>(out.data_ptr());
  int k = 1;
  for (const at::Tensor* t : inputs) ptr[k++] = static_cast<char*>(t->data_ptr());
  const int64_t esize = out.element_size();
  run_row<kOps>(ptr, out.numel(), esize, output_writes(out, fresh), contig, streaming);
}

// A TensorIterator that writes `out` as it is (its layout kept) from `inputs`.
at::TensorIterator iterator_into(const at::Tensor& out,
                                 std::initializer_list<const at::Tensor*> inputs) {
  at::TensorIteratorConfig config;
  config.add_output(out).resize_outputs(false);
  for (const at::Tensor* t : inputs) config.add_const_input(*t);
  return config.build();
}

// out = f(self); out may be self.
void forward_into(const at::Tensor& out, const at::Tensor& self, Approximation approx,
                  bool fresh = false) {
  if (self.numel() == 0) return;
  const Dtype dtype = to_dtype(self.scalar_type());
  const ContigKernels& k = selected_kernels();
  auto contig = [&](char** p, int64_t n) { k.forward(p[1], p[0], n, dtype, approx); };
  auto streaming = [&](char** p, int64_t n) {
    return k.forward_streaming && k.forward_streaming(p[1], p[0], n, dtype, approx);
  };
  if (runs_flat(out, {&self})) return run_flat<1>(out, {&self}, fresh, contig, streaming);
  auto iter = iterator_into(out, {&self});
  run<1>(
      iter, self.element_size(), fresh, contig,
      [&](char** p, const int* steps, int64_t n) {
        return steps[1] == 2 && k.forward_every_second &&
               k.forward_every_second(p[1], p[0], n, dtype, approx);
      },
      streaming);
}

// out = grad_output * f'(self); out may be either input.
void backward_into(const at::Tensor& out, const at::Tensor& grad_output, const at::Tensor& self,
                   Approximation approx, bool fresh = false) {
  if (self.numel() == 0) return;
  const Dtype dtype = to_dtype(self.scalar_type());
  const ContigKernels& k = selected_kernels();
  auto contig = [&](char** p, int64_t n) { k.backward(p[1], p[2], p[0], n, dtype, approx); };
  auto streaming = [&](char** p, int64_t n) {
    return k.backward_streaming && k.backward_streaming(p[1], p[2], p[0], n, dtype, approx);
  };
  if (runs_flat(out, {&grad_output, &self})) {
    return run_flat<2>(out, {&grad_output, &self}, fresh, contig, streaming);
  }
  auto iter = iterator_into(out, {&grad_output, &self});
  run<2>(
      iter, self.element_size(), fresh, contig,
      [&](char** p, const int* steps, int64_t n) {
        return k.backward_strided &&
               k.backward_strided(p[1], steps[1], p[2], steps[2], p[0], n, dtype, approx);
      },
      streaming);
}

at::Tensor gelu_cpu(const at::Tensor& self, c10::string_view approximate) {
  const Approximation approx = detail::check_gelu_call(self, approximate, at::kCPU);
  at::Tensor out = allocate_output(self);
  forward_into(out, self, approx, /*fresh=*/true);
  return out;
}

at::Tensor& gelu_out_cpu(const at::Tensor& self, c10::string_view approximate, at::Tensor& out) {
  forward_into(out, self, detail::check_gelu_out_call(self, approximate, out, at::kCPU));
  return out;
}

at::Tensor& gelu_inplace_cpu(at::Tensor& self, c10::string_view approximate) {
  forward_into(self, self, detail::check_gelu_inplace_call(self, approximate, at::kCPU));
  return self;
}

at::Tensor gelu_backward_cpu(const at::Tensor& grad_output, const at::Tensor& self,
                             c10::string_view approximate) {
  const Approximation approx =
      detail::check_gelu_backward_call(grad_output, self, approximate, at::kCPU);
  at::Tensor out = allocate_output(detail::backward_layout_source(grad_output, self));
  backward_into(out, grad_output, self, approx, /*fresh=*/true);
  return out;
}

at::Tensor& gelu_backward_out_cpu(const at::Tensor& grad_output, const at::Tensor& self,
                                  c10::string_view approximate, at::Tensor& grad_input) {
  const Approximation approx =
      detail::check_gelu_backward_out_call(grad_output, self, approximate, grad_input, at::kCPU);
  backward_into(grad_input, grad_output, self, approx);
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(gelu_ext, CPU, m) {
  m.impl("gelu", &gelu_cpu);
  m.impl("gelu.out", &gelu_out_cpu);
  m.impl("gelu_", &gelu_inplace_cpu);
  m.impl("gelu_backward", &gelu_backward_cpu);
  m.impl("gelu_backward.grad_input", &gelu_backward_out_cpu);
}

}  // namespace cpu
}  // namespace gelu_ext
