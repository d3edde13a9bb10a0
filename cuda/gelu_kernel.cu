// CUDA kernels for gelu, gelu_backward and their out=/in-place variants:
// validation (shared with the CPU), outputs laid out as on the CPU, and one flat
// elementwise kernel with 128-bit vector loads/stores and 64-bit indexing.
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

// Threads per block, and 128-bit packs per thread per loop trip (so that
// every thread has several independent loads in flight). Chosen by reasoning
// about occupancy, not yet tuned on a GPU: `python -m gelu_ext bench --device cuda`
// is the benchmark to tune them with.
constexpr int kThreads = 256;
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

// f (kDerivative = false) or f' of mode A in the compute type: bfloat16 and
// float16 results, and float32's logistic forms, take the device formulas
// (gelu_math_device.h); float32 exact GELU and float64 the CPU's (gelu_math.h).
template <class T, Approximation kApprox, bool kDerivative>
__device__ __forceinline__ typename Policy<T>::Acc formula(typename Policy<T>::Acc v) {
  using P = Policy<T>;
  if constexpr (std::is_same_v<T, c10::BFloat16> || std::is_same_v<T, c10::Half>) {
    return math::device::half_formula<kApprox, kDerivative, std::is_same_v<T, c10::BFloat16>>(
        Instructions{}, v);
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
// and no read-only cache path). kN > 1: every pointer is 16-byte
// aligned and handled as packs of kN elements; the last n % kN elements
// (fewer than one pack) are done one by one after the loop. Grid-stride over
// blocks of kThreads * kUnroll packs; thread t of a block takes packs
// t, t + kThreads, ... so that each load instruction of a warp is coalesced.
template <int kN, int kUnroll, class Op, class T>
__global__ void __launch_bounds__(kThreads)
    elementwise_kernel(Inputs<T, Op::kInputs> in, T* out, int64_t n, Op op) {
  using P = Pack<T, kN>;
  constexpr int kIn = Op::kInputs;
  const int64_t packs = n / kN;
  const int64_t block_span = static_cast<int64_t>(kThreads) * kUnroll;
  const int64_t grid_span = block_span * gridDim.x;
  for (int64_t base = block_span * blockIdx.x + threadIdx.x; base < packs; base += grid_span) {
    P a[kUnroll][kIn];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + static_cast<int64_t>(u) * kThreads;
      if (i < packs) {
#pragma unroll
        for (int k = 0; k < kIn; ++k) a[u][k] = reinterpret_cast<const P*>(in.ptr[k])[i];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + static_cast<int64_t>(u) * kThreads;
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
  if (kN > 1) {
    const int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
    const int64_t i = packs * kN + t;
    if (i < n) {
      T e[kIn];
#pragma unroll
      for (int k = 0; k < kIn; ++k) e[k] = in.ptr[k][i];
      out[i] = apply(op, e);
    }
  }
}

using ResidentCache = std::array<std::atomic<int64_t>, C10_COMPILE_TIME_MAX_GPUS>;

// Blocks of `kernel` the current device keeps resident at once, from the
// occupancy calculator (register use differs per instantiation). Cached per
// kernel (the caller owns `cache`) and device: a runtime query per call would
// show in small calls.
template <class Kernel>
int64_t resident_blocks(Kernel kernel, ResidentCache& cache) {
  const c10::DeviceIndex dev = c10::cuda::current_device();
  int64_t blocks = cache[dev].load(std::memory_order_relaxed);
  if (blocks == 0) {
    int sms = 0;
    int per_sm = 0;
    C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    C10_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0));
    blocks = static_cast<int64_t>(sms) * (per_sm > 0 ? per_sm : 1);
    cache[dev].store(blocks, std::memory_order_relaxed);
  }
  return blocks;
}

template <int kN, class Op, class T>
void launch_kernel(const Inputs<T, Op::kInputs>& in, T* out, int64_t n, const Op& op) {
  constexpr int kUnroll = unroll_for<T>();
  const int64_t work = (n / kN > 0 ? n / kN : 1);
  const int64_t wanted = (work + kThreads * kUnroll - 1) / (kThreads * kUnroll);
  // Never more blocks than the device keeps resident: the grid-stride loop
  // covers the rest without paying for block scheduling again.
  const auto kernel = &elementwise_kernel<kN, kUnroll, Op, T>;
  static ResidentCache cache{};
  const int64_t resident = resident_blocks(kernel, cache);
  const int64_t blocks = wanted < resident ? wanted : resident;
  kernel<<<static_cast<unsigned>(blocks), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(in, out,
                                                                                            n, op);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kBytesPerPack == 0; }

// Vector path when every operand is 16-byte aligned (a fresh allocation
// always is; a view with a storage offset may not be), else one by one.
template <class Op, class T>
void launch(const Inputs<T, Op::kInputs>& in, T* out, int64_t n, const Op& op) {
  bool all_aligned = aligned(out);
  for (int k = 0; k < Op::kInputs; ++k) all_aligned = all_aligned && aligned(in.ptr[k]);
  if (all_aligned) {
    launch_kernel<kBytesPerPack / static_cast<int>(sizeof(T))>(in, out, n, op);
  } else {
    launch_kernel<1>(in, out, n, op);
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
