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
#if defined(__SSE2__)
#include <emmintrin.h>
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

// Strided operands are staged through a small buffer per operand so that
// every element runs through the same contiguous kernel (bitwise equal
// results); operands that are contiguous along the inner dimension are used
// in place.
constexpr int64_t kStageBytes = 16384;

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

#if defined(__SSE2__)
// Transposes a tile of 16 / sizeof(E) rows of 16 bytes each: row r of `src`
// (rows `ss` bytes apart) becomes column r of `dst` (rows `ds` bytes apart).
inline __m128i load16(const char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
inline void store16(char* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

template <class E>
void transpose_tile(const char* src, int64_t ss, char* dst, int64_t ds);

template <>
void transpose_tile<uint64_t>(const char* src, int64_t ss, char* dst, int64_t ds) {
  const __m128i r0 = load16(src), r1 = load16(src + ss);
  store16(dst, _mm_unpacklo_epi64(r0, r1));
  store16(dst + ds, _mm_unpackhi_epi64(r0, r1));
}

template <>
void transpose_tile<uint32_t>(const char* src, int64_t ss, char* dst, int64_t ds) {
  __m128i r[4];
  for (int k = 0; k < 4; ++k) r[k] = load16(src + k * ss);
  const __m128i a0 = _mm_unpacklo_epi32(r[0], r[1]), a1 = _mm_unpackhi_epi32(r[0], r[1]);
  const __m128i a2 = _mm_unpacklo_epi32(r[2], r[3]), a3 = _mm_unpackhi_epi32(r[2], r[3]);
  store16(dst, _mm_unpacklo_epi64(a0, a2));
  store16(dst + ds, _mm_unpackhi_epi64(a0, a2));
  store16(dst + 2 * ds, _mm_unpacklo_epi64(a1, a3));
  store16(dst + 3 * ds, _mm_unpackhi_epi64(a1, a3));
}

template <>
void transpose_tile<uint16_t>(const char* src, int64_t ss, char* dst, int64_t ds) {
  __m128i r[8], a[8];
  for (int k = 0; k < 8; ++k) r[k] = load16(src + k * ss);
  for (int k = 0; k < 4; ++k) {
    a[k] = _mm_unpacklo_epi16(r[2 * k], r[2 * k + 1]);
    a[k + 4] = _mm_unpackhi_epi16(r[2 * k], r[2 * k + 1]);
  }
  // a[k]: columns 0-3 of rows 2k, 2k+1; a[k + 4]: columns 4-7
  for (int h = 0; h < 2; ++h) {
    const __m128i* q = a + 4 * h;
    const __m128i b0 = _mm_unpacklo_epi32(q[0], q[1]), b1 = _mm_unpackhi_epi32(q[0], q[1]);
    const __m128i b2 = _mm_unpacklo_epi32(q[2], q[3]), b3 = _mm_unpackhi_epi32(q[2], q[3]);
    char* d = dst + 4 * h * ds;
    store16(d, _mm_unpacklo_epi64(b0, b2));
    store16(d + ds, _mm_unpackhi_epi64(b0, b2));
    store16(d + 2 * ds, _mm_unpacklo_epi64(b1, b3));
    store16(d + 3 * ds, _mm_unpackhi_epi64(b1, b3));
  }
}
constexpr bool kTiles = true;

// buf[i] = element 2i of src (E-sized elements), a vector at a time, for the
// i whose vector reads nothing past element 2(n - 1); returns how many i.
template <class E>
int64_t gather_every_second(const char* src, E* buf, int64_t n) {
  constexpr int64_t kV = 16 / sizeof(E);
  int64_t i = 0;
  char* out = reinterpret_cast<char*>(buf);
  for (; i + kV < n; i += kV) {  // reads elements [2i, 2i + 2kV)
    const __m128i a = load16(src + 2 * i * sizeof(E)), b = load16(src + 2 * i * sizeof(E) + 16);
    __m128i r;
    if (sizeof(E) == 2) {
      // low halves of the 32-bit lanes, sign-extended: the signed pack is exact
      r = _mm_packs_epi32(_mm_srai_epi32(_mm_slli_epi32(a, 16), 16),
                          _mm_srai_epi32(_mm_slli_epi32(b, 16), 16));
    } else if (sizeof(E) == 4) {
      r = _mm_castps_si128(
          _mm_shuffle_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b), _MM_SHUFFLE(2, 0, 2, 0)));
    } else {
      r = _mm_unpacklo_epi64(a, b);
    }
    store16(out + i * sizeof(E), r);
  }
  return i;
}
#else
template <class E>
int64_t gather_every_second(const char*, E*, int64_t) { return 0; }
template <class E>
void transpose_tile(const char*, int64_t, char*, int64_t) {}
constexpr bool kTiles = false;
#endif

// One 2-D block of an operand: element (i, j) at base + i * inner + j * outer
// (bytes), i < ni, j < nj, copied to or from a packed buffer whose row j
// starts at element j * pitch. Typed loads and stores (E: an unsigned integer
// of the element's size). Where the operand is contiguous along j (a
// transposed operand) the block is copied in square tiles transposed in
// registers; elsewhere the loop over the dimension with the smaller stride
// runs innermost.
template <class E, bool kToBuffer>
void copy_block(char* base, int64_t inner, int64_t outer, E* buf, int64_t pitch, int64_t ni,
                int64_t nj) {
  auto move = [&](int64_t i, int64_t j) {
    E* b = buf + j * pitch + i;
    char* m = base + i * inner + j * outer;
    if (kToBuffer) {
      std::memcpy(b, m, sizeof(E));
    } else {
      std::memcpy(m, b, sizeof(E));
    }
  };
  int64_t ti = 0, tj = 0;  // the tiled part: [0, ti) x [0, tj)
  if (kTiles && outer == static_cast<int64_t>(sizeof(E)) && nj > 1) {
    constexpr int64_t kT = 16 / sizeof(E);
    ti = ni / kT * kT;
    tj = nj / kT * kT;
    const int64_t bpitch = pitch * static_cast<int64_t>(sizeof(E));
    for (int64_t i = 0; i < ti; i += kT) {
      for (int64_t j = 0; j < tj; j += kT) {
        char* m = base + i * inner + j * outer;
        char* b = reinterpret_cast<char*>(buf + j * pitch + i);
        if (kToBuffer) {
          transpose_tile<E>(m, inner, b, bpitch);
        } else {
          transpose_tile<E>(b, bpitch, m, inner);
        }
      }
    }
  }
  if (kToBuffer && nj == 1 && inner == 2 * static_cast<int64_t>(sizeof(E))) {
    ti = gather_every_second<E>(base, buf, ni);
    tj = 1;
  }
  // The rest, outside the tiled part: rows tj.. for all i, then i >= ti.
  const bool j_inner = nj > 1 && std::abs(outer) < std::abs(inner);
  if (j_inner) {
    for (int64_t i = 0; i < ni; ++i) {
      for (int64_t j = i < ti ? tj : 0; j < nj; ++j) move(i, j);
    }
  } else {
    for (int64_t j = 0; j < nj; ++j) {
      for (int64_t i = j < tj ? ti : 0; i < ni; ++i) move(i, j);
    }
  }
}

// Runs `contig(out, in...)` over a TensorIterator with operands
// [out, in0, in1...] whose elements are E-sized: directly on contiguous rows,
// staged otherwise. Staging takes a block of rows at once when some operand
// is contiguous along the outer dimension instead (a transposed operand), so
// that its cache lines are used whole. `fresh`: out was just allocated here
// (see populate_for_write).
template <class E, int kInputs, class Contig>
void run_typed(at::TensorIterator& iter, bool fresh, const Contig& contig) {
  constexpr int kOps = kInputs + 1;
  constexpr int64_t esize = sizeof(E);
  constexpr int64_t kStageElems = kStageBytes / esize;
  // Rows per block for a transposed operand: one cache line of them.
  constexpr int64_t kBlockRows = 64 / esize;
  const bool populate = fresh && iter.output().nbytes() >= kFreshOutputBytes;
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
            if (populate && n0 * esize >= 2 * kPopulateChunkBytes) {
              const int64_t chunk = kPopulateChunkBytes / esize;
              for (int64_t i = 0; i < n0; i += chunk) {
                const int64_t n = std::min(chunk, n0 - i);
                char* piece[kOps];
                for (int k = 0; k < kOps; ++k) piece[k] = ptr[k] + i * esize;
                populate_for_write(piece[0], n * esize);
                contig(piece, n);
              }
            } else {
              contig(ptr, n0);
            }
          }
          return;
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
                copy_block<E, true>(corner[k], strides[k], strides[kOps + k], stage[k], cols, ni,
                                    nj);
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
            if (staged[0]) copy_block<E, false>(corner[0], strides[0], strides[kOps], stage[0],
                                                cols, ni, nj);
          }
        }
      },
      kGrainSize);
}

template <int kInputs, class Contig>
void run(at::TensorIterator& iter, int64_t esize, bool fresh, const Contig& contig) {
  switch (esize) {
    case 2:
      return run_typed<uint16_t, kInputs>(iter, fresh, contig);
    case 4:
      return run_typed<uint32_t, kInputs>(iter, fresh, contig);
    default:
      return run_typed<uint64_t, kInputs>(iter, fresh, contig);
  }
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
  const ContigKernels& k = selected_kernels();
  run<1>(iter, self.element_size(), fresh,
         [&](char** p, int64_t n) { k.forward(p[1], p[0], n, dtype, approx); });
}

// out = grad_output * f'(self); out may be either input.
void backward_into(const at::Tensor& out, const at::Tensor& grad_output, const at::Tensor& self,
                   Approximation approx, bool fresh = false) {
  if (self.numel() == 0) return;
  auto iter = iterator_into(out, {&grad_output, &self});
  const Dtype dtype = to_dtype(self.scalar_type());
  const ContigKernels& k = selected_kernels();
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
