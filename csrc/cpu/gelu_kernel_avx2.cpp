// AVX2 + FMA + F16C instantiation of the contiguous loops. Compiled with the
// project's ordinary flags; the target pragma enables the instructions for
// this file only, and the dispatcher calls it only where the CPU has them.
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// Everything not ours is included before the pragma.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#include "gelu_loops.h"
#include "vec_avx2.h"
#include "vec_avx2_f64.h"

namespace gelu_ext {
namespace cpu {
namespace {
using V = avx2::Vec;
using VD = avx2_f64::Vec;
using Kernels = SimdKernels<V, VD>;
}  // namespace

const ContigKernels* avx2_kernels() {
  static const ContigKernels table = simd_table<Kernels>("avx2");
  return &table;
}

}  // namespace cpu
}  // namespace gelu_ext
#pragma GCC pop_options

#else
const gelu_ext::cpu::ContigKernels* gelu_ext::cpu::avx2_kernels() { return nullptr; }
#endif
