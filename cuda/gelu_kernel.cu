// CUDA kernels for gelu, gelu_backward and their out=/in-place variants:
// validation (shared with the CPU), outputs laid out as on the CPU, and one flat
// elementwise kernel with 128-bit vector loads/stores and 64-bit indexing. Its
// launch: blocks of 256 threads, split down to 32 for mid-size tensors so that
// the grid covers the multiprocessors, and at most the resident blocks (a
// grid-stride loop beyond); views off a 16-byte boundary by the same amount in
// every operand (in place on x[1:]) do their first elements one by one in the
// same launch and the rest as packs, others go element by element.
//
// The numerics: float32 results are csrc/gelu_math.h, instantiated with the
// same Precision variants as the CPU loops (csrc/cpu/gelu_loops.h Io
// policies), so they are meant to be the CPU's bits (the same formulas and
// tables, every FMA placed explicitly, nvcc with --fmad=false, IEEE division
// and denormals kept). bfloat16/float16 results are csrc/gelu_math_device.h,
// built on ex2.approx and rcp.approx, within 1 ulp of the type of the CPU's
// (checked on the CPU over every input, tests/cpp/test_device_math.cpp);
// the contract asks for 2 ulp (float32) and 1 ulp of the type (16-bit).
// float64 goes through the device's exp/erfc (the CPU has its own float64
// formulas), a few ulp apart.
//
// Only c10's CUDA headers are used (not ATen/cuda/CUDAContext.h, which pulls
// in cuBLAS/cuSPARSE headers that a minimal toolkit lacks), and only the ATen
// headers needed (not ATen/ATen.h: a quarter less nvcc time).
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAMacros.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <torch/library.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <type_traits>

#include "../csrc/gelu.h"
#include "../csrc/gelu_checks.h"
#include "../csrc/gelu_math.h"
#include "../csrc/gelu_math_device.h"

namespace gelu_ext {
namespace cuda {
namespace {

// Threads per group (one block, or for mid-size tensors 2, 4 or 8 blocks:
// kBlockSizes block sizes, see launch_kernel), and 128-bit packs per thread
// per loop trip (so that every thread has several independent loads in
// flight). Chosen by reasoning about occupancy, not yet tuned on a GPU:
// `python -m gelu_ext bench --device cuda` is the benchmark to tune them with.
constexpr int kMaxThreads = 256;
constexpr int kBlockSizes = 4;  // 256, 128, 64, 32 threads
constexpr int kBytesPerPack = 16;

template <class T>
constexpr int unroll_for() {
  // 16-bit types carry 8 elements per pack and the most arithmetic each.
  return sizeof(T) == 2 ? 2 : 4;
}

// Compute type per storage type; the accuracy variant is the rule of
// gelu_math.h (PreciseResults, HalfResults) that the CPU's I/O policies
// follow too.
template <class T>
struct Policy;
template <>
struct Policy<float> : math::PreciseResults {
  using Acc = float;
};
template <>
struct Policy<double> : math::PreciseResults {
  using Acc = double;
};
template <>
struct Policy<c10::BFloat16> : math::HalfResults<true> {
  using Acc = float;
};
template <>
struct Policy<c10::Half> : math::HalfResults<false> {
  using Acc = float;
};

// The GPU's approximate instructions, as csrc/gelu_math_device.h models
// them: ex2.approx.ftz.f32 (MUFU.EX2) and rcp.approx.ftz.f32 (MUFU.RCP).
struct Instructions {
  __device__ __forceinline__ float ex2(float t) const {
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(t));
    return r;
  }
  __device__ __forceinline__ float rcp(float v) const {
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
    return r;
  }
};

// The float32 tanh f below -kTanhForwardNearEnd and f' below -kTanhNearEnd
// (and for NaN): rare, so out of line, and the loops hold the near forms
// alone (as the CPU's cold runs).
__device__ __noinline__ float tanh_beyond_near(float x) {
  return math::device::f32_logistic<true, false>(Instructions{}, x);
}
__device__ __noinline__ float tanh_derivative_beyond_near(float x) {
  return math::device::f32_logistic<true, true>(Instructions{}, x);
}

// f (kDerivative = false) or f' of mode A in the compute type: bfloat16 and
// float16 results, and float32's logistic forms, take the device formulas
// (gelu_math_device.h), the float32 tanh f and f' from their near forms'
// bounds up the CPU's near forms; float32 exact GELU and float64 the CPU's
// (gelu_math.h).
template <class T, Approximation kApprox, bool kDerivative>
__device__ __forceinline__ typename Policy<T>::Acc formula(typename Policy<T>::Acc v) {
  using P = Policy<T>;
  if constexpr (std::is_same_v<T, c10::BFloat16> || std::is_same_v<T, c10::Half>) {
    return math::device::half_formula<kApprox, kDerivative, std::is_same_v<T, c10::BFloat16>>(
        Instructions{}, v);
  } else if constexpr (std::is_same_v<T, float> && kApprox == Approximation::Tanh && kDerivative) {
    return v >= -math::kTanhNearEnd ? math::gelu_tanh_derivative_near(v)
                                    : tanh_derivative_beyond_near(v);
  } else if constexpr (std::is_same_v<T, float> && kApprox == Approximation::Tanh) {
    return v >= -math::kTanhForwardNearEnd ? math::gelu_tanh_near(v) : tanh_beyond_near(v);
  } else if constexpr (std::is_same_v<T, float> && kApprox != Approximation::None) {
    return math::device::f32_logistic<kApprox == Approximation::Tanh, kDerivative>(Instructions{},
                                                                                   v);
  } else {
    return math::formula_of<kApprox, kDerivative,
                            kDerivative ? P::kPreciseDerivative : P::kPrecise>(v);
  }
}

// y = f(x), widened to the compute type and rounded once.
template <class T, Approximation kApprox>
struct Forward {
  static constexpr int kInputs = 1;
  __device__ __forceinline__ T operator()(T x) const {
    return static_cast<T>(formula<T, kApprox, false>(static_cast<typename Policy<T>::Acc>(x)));
  }
};

// grad_input = g * f'(x), the product formed in the compute type and rounded
// once (as on the CPU).
template <class T, Approximation kApprox>
struct Backward {
  static constexpr int kInputs = 2;
  __device__ __forceinline__ T operator()(T g, T x) const {
    using Acc = typename Policy<T>::Acc;
    const Acc d = formula<T, kApprox, true>(static_cast<Acc>(x));
    return static_cast<T>(static_cast<Acc>(g) * d);
  }
};

template <class T, int kN>
struct alignas(kBytesPerPack) Pack {
  T v[kN];
};

template <class T, int kInputs>
struct Inputs {
  const T* ptr[kInputs];
};

template <class Op, class T>
__device__ __forceinline__ T apply(const Op& op, const T (&in)[1]) {
  return op(in[0]);
}
template <class Op, class T>
__device__ __forceinline__ T apply(const Op& op, const T (&in)[2]) {
  return op(in[0], in[1]);
}

// out[i] = op(in0[i], ...) for i in [0, n), all operands dense with the same
// layout (so one flat index serves all); out may be an input (in place: each
// element is read, then written, by the same thread, hence no __restrict__
// and no read-only cache path).
//
// kN > 1: every pointer is 16-byte aligned and elements [0, n) are handled
// as packs of kN elements, except the last n % kN; those and the `head`
// elements before the pointers, [-head, 0) (a misaligned view's first
// elements, up to its first 16-byte boundary: see launch()), are done one
// by one after the loop, one element per thread of the first block. kN == 1:
// head is 0 and every element is a pack.
//
// The grid is groups of kMaxThreads threads: group g is the blocks
// (g, 0 .. gridDim.y - 1), 2^s blocks of kMaxThreads >> s threads
// (launch_kernel picks s per call: 0 for large tensors; a lone group may
// have fewer blocks, its missing lanes having no pack). A group spans
// kMaxThreads * kUnroll packs, and lane l of a group takes packs
// l, l + kMaxThreads, ... of its span, so that each load instruction of a
// warp is coalesced and, the offsets and the span being constants, the
// loop is the same machine code whatever the block size. Grid-stride over
// the gridDim.x groups.
template <int kN, int kUnroll, class Op, class T>
__global__ void __launch_bounds__(kMaxThreads)
    elementwise_kernel(Inputs<T, Op::kInputs> in, T* out, int64_t n, int head, Op op) {
  using P = Pack<T, kN>;
  constexpr int kIn = Op::kInputs;
  constexpr int64_t kSpan = static_cast<int64_t>(kMaxThreads) * kUnroll;
  const int64_t packs = n / kN;
  const int lane = static_cast<int>(blockIdx.y * blockDim.x + threadIdx.x);
  for (int64_t base = kSpan * blockIdx.x + lane; base < packs; base += kSpan * gridDim.x) {
    P a[kUnroll][kIn];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + static_cast<int64_t>(u) * kMaxThreads;
      if (i < packs) {
#pragma unroll
        for (int k = 0; k < kIn; ++k) a[u][k] = reinterpret_cast<const P*>(in.ptr[k])[i];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + static_cast<int64_t>(u) * kMaxThreads;
      if (i < packs) {
        P r;
#pragma unroll
        for (int j = 0; j < kN; ++j) {
          T e[kIn];
#pragma unroll
          for (int k = 0; k < kIn; ++k) e[k] = a[u][k].v[j];
          r.v[j] = apply(op, e);
        }
        reinterpret_cast<P*>(out)[i] = r;
      }
    }
  }
  if (kN > 1 && blockIdx.x == 0) {
    // head + tail < 2 * kN <= 16 elements, fewer than the smallest block:
    // lane l < head of group 0 takes element l - head, the next `tail`
    // lanes the elements after the last pack.
    const int tail = static_cast<int>(n - packs * kN);
    const int j = lane - head;
    if (j < tail) {
      const int64_t i = j < 0 ? j : packs * kN + j;
      T e[kIn];
#pragma unroll
      for (int k = 0; k < kIn; ++k) e[k] = in.ptr[k][i];
      out[i] = apply(op, e);
    }
  }
}

// Multiprocessors of device `dev`, cached per device: launch_kernel sizes
// every grid by it, and an attribute query per call would show in small
// calls.
int64_t multiprocessors(c10::DeviceIndex dev) {
  static std::array<std::atomic<int>, C10_COMPILE_TIME_MAX_GPUS> cache{};
  int sms = cache[dev].load(std::memory_order_relaxed);
  if (sms == 0) {
    C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    if (sms < 1) sms = 1;
    cache[dev].store(sms, std::memory_order_relaxed);
  }
  return sms;
}

// Per device, blocks per multiprocessor for each block size (index s:
// kMaxThreads >> s threads); 0 until asked.
using ResidentCache =
    std::array<std::array<std::atomic<int>, kBlockSizes>, C10_COMPILE_TIME_MAX_GPUS>;

// Blocks of `kernel` with kMaxThreads >> s threads that a multiprocessor of
// device `dev` (the current one) keeps resident at once, from the occupancy
// calculator (register use differs per instantiation). Cached per kernel
// (the caller owns `cache`), device and block size: a runtime query per
// call would show in small calls.
template <class Kernel>
int64_t blocks_per_multiprocessor(Kernel kernel, int s, c10::DeviceIndex dev,
                                  ResidentCache& cache) {
  int per_sm = cache[dev][s].load(std::memory_order_relaxed);
  if (per_sm == 0) {
    C10_CUDA_CHECK(
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kMaxThreads >> s, 0));
    if (per_sm < 1) per_sm = 1;
    cache[dev][s].store(per_sm, std::memory_order_relaxed);
  }
  return per_sm;
}

// The launch shape. The work is groups of kMaxThreads * kUnroll packs, one
// group of kMaxThreads threads each (see elementwise_kernel). With one
// block per group, a mid-size tensor (2^16 to 2^20 elements: 16 to 256
// groups in float32 and the 16-bit types) would leave multiprocessors
// idle; so each group is split into 2^s blocks of kMaxThreads >> s
// threads, s growing (down to one warp per block) while the grid would
// have fewer than two blocks per multiprocessor. Splitting keeps the
// threads and each thread's packs (kUnroll per trip); a lone group
// launches only its blocks that have a pack. Large tensors keep s = 0 and
// at most as many blocks as the device keeps resident: the grid-stride
// loop covers the rest without paying for block scheduling again.
template <int kN, int kUnroll, class Op, class T>
void launch_shaped(const Inputs<T, Op::kInputs>& in, T* out, int64_t n, int head, const Op& op,
                   c10::DeviceIndex dev, int64_t sms) {
  constexpr int64_t kSpan = static_cast<int64_t>(kMaxThreads) * kUnroll;
  // Packs; one at least, so that a block runs for the head and tail elements.
  const int64_t work = (n / kN > 0 ? n / kN : 1);
  const int64_t wanted = (work + kSpan - 1) / kSpan;  // groups
  int s = 0;
  while (s + 1 < kBlockSizes && (wanted << s) < 2 * sms) ++s;
  const int threads = kMaxThreads >> s;
  const auto kernel = &elementwise_kernel<kN, kUnroll, Op, T>;
  static ResidentCache cache{};
  // Whole groups, at least one (even if the device keeps fewer blocks
  // resident: they then run in turn).
  const int64_t resident = (sms * blocks_per_multiprocessor(kernel, s, dev, cache)) >> s;
  const int64_t groups = wanted < resident ? wanted : (resident > 0 ? resident : 1);
  // Blocks per group: all 2^s, but only those whose lanes have a pack when
  // there are fewer packs than lanes (then there is one group).
  const int64_t lanes = work < kMaxThreads ? work : kMaxThreads;
  const dim3 grid(static_cast<unsigned>(groups),
                  static_cast<unsigned>((lanes + threads - 1) / threads));
  kernel<<<grid, threads, 0, c10::cuda::getCurrentCUDAStream()>>>(in, out, n, head, op);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// The vector kernel with kUnroll packs per thread per trip, or, for a tensor
// too small to give two blocks of one warp to every multiprocessor that
// way (below ~2^17 elements on an H200), its variant with one pack per
// thread per trip, which has kUnroll times the blocks.
template <int kN, class Op, class T>
void launch_kernel(const Inputs<T, Op::kInputs>& in, T* out, int64_t n, int head, const Op& op) {
  constexpr int kUnroll = unroll_for<T>();
  const c10::DeviceIndex dev = c10::cuda::current_device();
  const int64_t sms = multiprocessors(dev);
  if constexpr (kN > 1 && kUnroll > 1) {
    constexpr int64_t kSpan = static_cast<int64_t>(kMaxThreads) * kUnroll;
    const int64_t groups = (n / kN + kSpan - 1) / kSpan;
    if ((groups << (kBlockSizes - 1)) < 2 * sms) {
      launch_shaped<kN, 1>(in, out, n, head, op, dev, sms);
      return;
    }
  }
  launch_shaped<kN, kUnroll>(in, out, n, head, op, dev, sms);
}

// Bytes from the last 16-byte boundary to p.
uintptr_t misalignment(const void* p) { return reinterpret_cast<uintptr_t>(p) % kBytesPerPack; }

// Vector path when every operand is as far past a 16-byte boundary as the
// others, a whole number of elements: a fresh allocation is on a boundary;
// a view with a storage offset (in place on x[1:], out= into such a view,
// or backward with all three tensors such views) may be off by the same
// amount in every operand. Then the first `head` elements (up to the next
// boundary, fewer than one pack, at most n) are done one by one by the
// vector kernel itself and the rest as aligned packs: one launch, the same
// functor per element, so the same bits as on an aligned tensor.
// Operands off by different amounts (gelu(x[1:]), whose fresh output is
// aligned; views with different offsets) have no common boundary and are
// done one element at a time.
template <class Op, class T>
void launch(const Inputs<T, Op::kInputs>& in, T* out, int64_t n, const Op& op) {
  constexpr int kSize = static_cast<int>(sizeof(T));
  const uintptr_t off = misalignment(out);
  bool common = off % kSize == 0;
  for (int k = 0; k < Op::kInputs; ++k) common = common && misalignment(in.ptr[k]) == off;
  if (common) {
    const int64_t to_boundary = off == 0 ? 0 : static_cast<int64_t>(kBytesPerPack - off) / kSize;
    const int head = static_cast<int>(to_boundary < n ? to_boundary : n);
    Inputs<T, Op::kInputs> aligned = in;
    for (int k = 0; k < Op::kInputs; ++k) aligned.ptr[k] += head;
    launch_kernel<kBytesPerPack / kSize>(aligned, out + head, n - head, head, op);
  } else {
    launch_kernel<1>(in, out, n, 0, op);
  }
}

// `t` itself when it has the memory layout of `out` (a dense tensor: same
// strides wherever a size is above 1), else a copy of `t` in that layout.
// Then one flat index addresses the same element in every operand. Inputs
// that are strided, expanded or laid out unlike the output pay one copy
// (speed there is secondary); the result keeps the output's layout, which
// follows the CPU's (and ATen's) rules.
at::Tensor with_layout_of(const at::Tensor& t, const at::Tensor& out) {
  const auto sizes = out.sizes();
  const auto want = out.strides();
  const auto have = t.strides();
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] != 1 && want[d] != have[d]) return at::empty_like(out).copy_(t);
  }
  return t;
}

// out = f(self). out may be self itself (gelu_); other overlaps were refused.
// A dense out is written directly; any other (a strided out= view) gets the
// result through a dense temporary and copy_.
void forward_into(const at::Tensor& out, const at::Tensor& self, Approximation approx) {
  const int64_t n = out.numel();
  if (n == 0) return;
  if (!out.is_non_overlapping_and_dense()) {
    const at::Tensor dense = at::empty_like(out);
    forward_into(dense, self, approx);
    out.copy_(dense);
    return;
  }
  const at::Tensor x = with_layout_of(self, out);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "gelu_cuda", [&] {
    const Inputs<scalar_t, 1> in{{x.const_data_ptr<scalar_t>()}};
    scalar_t* y = out.mutable_data_ptr<scalar_t>();
    with_mode(approx,
              [&](auto mode) { launch(in, y, n, Forward<scalar_t, decltype(mode)::value>{}); });
  });
}

// out = grad_output * f'(self); out may be either input (same memory and
// strides), as forward_into.
void backward_into(const at::Tensor& out, const at::Tensor& grad_output, const at::Tensor& self,
                   Approximation approx) {
  const int64_t n = out.numel();
  if (n == 0) return;
  if (!out.is_non_overlapping_and_dense()) {
    const at::Tensor dense = at::empty_like(out);
    backward_into(dense, grad_output, self, approx);
    out.copy_(dense);
    return;
  }
  const at::Tensor g = with_layout_of(grad_output, out);
  const at::Tensor x = with_layout_of(self, out);
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, self.scalar_type(), "gelu_backward_cuda", [&] {
        const Inputs<scalar_t, 2> in{{g.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>()}};
        scalar_t* gi = out.mutable_data_ptr<scalar_t>();
        with_mode(approx, [&](auto mode) {
          launch(in, gi, n, Backward<scalar_t, decltype(mode)::value>{});
        });
      });
}

at::Tensor gelu_cuda(const at::Tensor& self, c10::string_view approximate) {
  const Approximation approx = detail::check_gelu_call(self, approximate, at::kCUDA);
  const c10::cuda::CUDAGuard guard(self.device());
  at::Tensor out = at::empty_like(self);
  forward_into(out, self, approx);
  return out;
}

at::Tensor& gelu_out_cuda(const at::Tensor& self, c10::string_view approximate, at::Tensor& out) {
  const Approximation approx = detail::check_gelu_out_call(self, approximate, out, at::kCUDA);
  const c10::cuda::CUDAGuard guard(self.device());
  forward_into(out, self, approx);
  return out;
}

at::Tensor& gelu_inplace_cuda(at::Tensor& self, c10::string_view approximate) {
  const Approximation approx = detail::check_gelu_inplace_call(self, approximate, at::kCUDA);
  const c10::cuda::CUDAGuard guard(self.device());
  forward_into(self, self, approx);
  return self;
}

at::Tensor gelu_backward_cuda(const at::Tensor& grad_output, const at::Tensor& self,
                              c10::string_view approximate) {
  const Approximation approx =
      detail::check_gelu_backward_call(grad_output, self, approximate, at::kCUDA);
  const c10::cuda::CUDAGuard guard(self.device());
  at::Tensor out = at::empty_like(detail::backward_layout_source(grad_output, self));
  backward_into(out, grad_output, self, approx);
  return out;
}

at::Tensor& gelu_backward_out_cuda(const at::Tensor& grad_output, const at::Tensor& self,
                                   c10::string_view approximate, at::Tensor& grad_input) {
  const Approximation approx =
      detail::check_gelu_backward_out_call(grad_output, self, approximate, grad_input, at::kCUDA);
  const c10::cuda::CUDAGuard guard(self.device());
  backward_into(grad_input, grad_output, self, approx);
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(gelu_ext, CUDA, m) {
  m.impl("gelu", &gelu_cuda);
  m.impl("gelu.out", &gelu_out_cuda);
  m.impl("gelu_", &gelu_inplace_cuda);
  m.impl("gelu_backward", &gelu_backward_cuda);
  m.impl("gelu_backward.grad_input", &gelu_backward_out_cuda);
}

}  // namespace cuda
}  // namespace gelu_ext
