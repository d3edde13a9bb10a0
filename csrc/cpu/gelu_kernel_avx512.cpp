// AVX-512 (F, BW, VL, DQ) instantiation of the contiguous loops. Compiled with the
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
// GCC 12 reports its own avx512fintrin.h helpers (_mm512_undefined_*) as
// "(maybe) used uninitialized" under a target pragma; a known false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#include "gelu_loops.h"
#include "vec_avx512.h"
#include "vec_avx512_f64.h"

namespace gelu_ext {
namespace cpu {
namespace {
using V = avx512::Vec;
using VD = avx512_f64::Vec;
using Kernels = SimdKernels<V, VD>;
}  // namespace

const ContigKernels* avx512_kernels() {
  static const ContigKernels table = simd_table<Kernels>("avx512");
  return &table;
}

}  // namespace cpu
}  // namespace gelu_ext
#pragma GCC diagnostic pop
#pragma GCC pop_options

#else
const gelu_ext::cpu::ContigKernels* gelu_ext::cpu::avx512_kernels() { return nullptr; }
#endif
