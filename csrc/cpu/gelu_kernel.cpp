// CPU entry points for gelu and gelu_backward: validation, output allocation,
// TensorIterator over any layout, at::parallel_for, and the choice of SIMD
// path at run time.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "../gelu.h"
#include "../gelu_checks.h"
#include "gelu_cpu.h"
#include "simd_select.h"

namespace gelu_ext {
namespace cpu {
namespace {

// Below this many elements a call runs on one thread: thread wake-up costs
// more than the arithmetic. Same order as ATen's
// GELU_MIN_ELEMENTS_FOR_MULTI_THREADING; checked with
// `python -m gelu_ext.benchmark --sizes 4096,65536` (docs/PERFORMANCE.md).
constexpr int64_t kGrainSize = 16384;

// Strided operands are staged through a small buffer so that every element
// runs through the same contiguous kernel (bitwise equal results).
constexpr int64_t kStageElems = 512;

// Outputs the functional ops allocate themselves ("fresh") from this size
// on get the page treatment below; smaller ones are left to the allocator.
constexpr size_t kFreshOutputBytes = size_t{4} << 20;

// The whole `align`-sized blocks inside [p, p + bytes): [begin, end), empty
// when end <= begin.
struct AlignedSpan {
  uintptr_t begin, end;
};
AlignedSpan aligned_interior(const void* p, size_t bytes, uintptr_t align) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  return {(addr + align - 1) & ~(align - 1), (addr + bytes) & ~(align - 1)};
}

// Opt-in (GELU_EXT_HUGEPAGES=1): a fresh output of many megabytes costs more
// in first-touch page faults (one per 4 KiB page) than GELU's arithmetic.
// Asking for transparent huge pages on it before the kernel first writes it
// cuts the faults 512-fold where the kernel grants THP on request. It is off
// by default because it is a memory-policy choice with costs of its own: the
// first calls in a process can be slower while the kernel compacts memory
// (`python -m gelu_ext.benchmark` with and without it: docs/PERFORMANCE.md).
bool huge_page_advice_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("GELU_EXT_HUGEPAGES");
    return env != nullptr && std::string(env) == "1";
  }();
  return enabled;
}

at::Tensor allocate_output(const at::Tensor& like) {
  at::Tensor out = at::empty_like(like);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (out.nbytes() >= kFreshOutputBytes && huge_page_advice_enabled()) {
    const AlignedSpan s = aligned_interior(out.data_ptr(), out.nbytes(), uintptr_t{2} << 20);
    // Advice only: failure (e.g. THP disabled) leaves ordinary pages.
    if (s.end > s.begin) {
      (void)madvise(reinterpret_cast<void*>(s.begin), s.end - s.begin, MADV_HUGEPAGE);
    }
  }
#endif
  return out;
}

// A fresh output of many megabytes is often written into pages the process
// has never touched: allocations of 32 MiB and more come straight from
// mmap, and the first write to each 4 KiB page traps into the kernel; for
// 64 MB that costs about three times GELU's arithmetic. Each thread instead
// asks the kernel to populate the next kPopulateChunkBytes of its range in
// one call (MADV_POPULATE_WRITE, Linux 5.14+), then computes them while they
// are still in cache. Smaller outputs usually reuse heap memory whose pages
// are resident, where the call would only cost time, so each chunk first
// asks mincore whether its last page is resident and skips the call if so.
// Same memory, same results (`python -m gelu_ext bench --outputs both`:
// docs/PERFORMANCE.md). Outputs given by the caller (out=, in place) are
// left alone.
constexpr int64_t kPopulateChunkBytes = int64_t{1} << 20;

#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
std::atomic<bool> populate_supported{true};

// Advice only: on a kernel without MADV_POPULATE_WRITE (EINVAL) it stops
// asking; any other failure leaves the pages to be faulted in as usual.
void populate_for_write(char* p, int64_t bytes) {
  if (!populate_supported.load(std::memory_order_relaxed)) return;
  constexpr uintptr_t kPage = 4096;
  const AlignedSpan s = aligned_interior(p, static_cast<size_t>(bytes), kPage);
  if (s.end <= s.begin) return;
  unsigned char resident = 0;
  if (mincore(reinterpret_cast<void*>(s.end - kPage), kPage, &resident) == 0 && (resident & 1)) {
    return;
  }
  if (madvise(reinterpret_cast<void*>(s.begin), s.end - s.begin, MADV_POPULATE_WRITE) != 0 &&
      errno == EINVAL) {
    populate_supported.store(false, std::memory_order_relaxed);
  }
}
#else
void populate_for_write(char*, int64_t) {}
#endif

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

const ContigKernels& kernels_for(Dtype) { return selected_kernels(); }

void gather(char* dst, const char* src, int64_t stride, int64_t n, int64_t esize) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * esize, src + i * stride, esize);
}

void scatter(char* dst, int64_t stride, const char* src, int64_t n, int64_t esize) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * stride, src + i * esize, esize);
}

// Runs `contig(out, in...)` over a TensorIterator with operands
// [out, in0, in1...]: directly on contiguous rows, staged otherwise.
// `fresh`: out was just allocated here (see populate_for_write).
template <int kInputs, class Contig>
void run(at::TensorIterator& iter, int64_t esize, bool fresh, const Contig& contig) {
  constexpr int kOps = kInputs + 1;
  const bool populate = fresh && iter.output().nbytes() >= kFreshOutputBytes;
  iter.for_each(
      [&](char** data, const int64_t* strides, int64_t n0, int64_t n1) {
        alignas(64) char stage[kOps][kStageElems * 8];
        bool contiguous = true;
        for (int k = 0; k < kOps; ++k) contiguous = contiguous && strides[k] == esize;
        for (int64_t j = 0; j < n1; ++j) {
          char* ptr[kOps];
          for (int k = 0; k < kOps; ++k) ptr[k] = data[k] + j * strides[kOps + k];
          if (contiguous && populate && n0 * esize >= 2 * kPopulateChunkBytes) {
            const int64_t chunk = kPopulateChunkBytes / esize;
            for (int64_t i = 0; i < n0; i += chunk) {
              const int64_t n = std::min(chunk, n0 - i);
              char* piece[kOps];
              for (int k = 0; k < kOps; ++k) piece[k] = ptr[k] + i * esize;
              populate_for_write(piece[0], n * esize);
              contig(piece, n);
            }
            continue;
          }
          if (contiguous) {
            contig(ptr, n0);
            continue;
          }
          for (int64_t i = 0; i < n0; i += kStageElems) {
            const int64_t n = std::min(kStageElems, n0 - i);
            char* staged[kOps];
            for (int k = 0; k < kOps; ++k) {
              staged[k] = stage[k];
              if (k > 0) gather(stage[k], ptr[k] + i * strides[k], strides[k], n, esize);
            }
            contig(staged, n);
            scatter(ptr[0] + i * strides[0], strides[0], stage[0], n, esize);
          }
        }
      },
      kGrainSize);
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
  auto iter = iterator_into(out, {&self});
  const Dtype dtype = to_dtype(self.scalar_type());
  const ContigKernels& k = kernels_for(dtype);
  run<1>(iter, self.element_size(), fresh,
         [&](char** p, int64_t n) { k.forward(p[1], p[0], n, dtype, approx); });
}

// out = grad_output * f'(self); out may be either input.
void backward_into(const at::Tensor& out, const at::Tensor& grad_output, const at::Tensor& self,
                   Approximation approx, bool fresh = false) {
  if (self.numel() == 0) return;
  auto iter = iterator_into(out, {&grad_output, &self});
  const Dtype dtype = to_dtype(self.scalar_type());
  const ContigKernels& k = kernels_for(dtype);
  run<2>(iter, self.element_size(), fresh,
         [&](char** p, int64_t n) { k.backward(p[1], p[2], p[0], n, dtype, approx); });
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
  const Approximation approx = detail::check_gelu_backward_out_call(grad_output, self, approximate,
                                                                    grad_input, at::kCPU);
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
