// Contiguous CPU kernels, one table per instruction set (scalar, AVX2,
// AVX-512: gelu_kernel_*.cpp). simd_select.cpp picks the table the CPU
// driver (gelu_cpu.cpp) calls: the best one the CPU supports, unless set
// otherwise.
#pragma once

#include <cstdint>

#include "../approximation.h"

namespace gelu_ext {
namespace cpu {

enum class Dtype : int8_t { Float, Double, BFloat16, Half };

struct ContigKernels {
  const char* name;
  // y[i] = f(x[i])
  void (*forward)(const void* x, void* y, int64_t n, Dtype dtype, Approximation approx);
  // gi[i] = g[i] * f'(x[i])
  void (*backward)(const void* g, const void* x, void* gi, int64_t n, Dtype dtype,
                   Approximation approx);
  // The same where an input is every second element of memory (an x[::2]
  // view: element i at x[2 i]; g_step, x_step are 1 or 2), read in the loop
  // itself. nullptr, or false returned, where the table has no such loop for
  // the dtype: the caller then stages the input through a packed buffer.
  bool (*forward_every_second)(const void* x, void* y, int64_t n, Dtype dtype,
                               Approximation approx) = nullptr;
  bool (*backward_strided)(const void* g, int g_step, const void* x, int x_step, void* gi,
                           int64_t n, Dtype dtype, Approximation approx) = nullptr;
  // forward and backward with the output written by non-temporal stores,
  // not read for ownership and not kept in the caches: for outputs larger
  // than the last-level cache, which would be evicted before they are read
  // again. nullptr, or false returned, where the table has no such loop
  // (the AVX-512 tables have them for float32, a vector per cache line, and
  // for the bfloat16/float16 backward, two vectors per line; the 16-bit
  // forward only on avx512-gather, two gathers per line) or the output is
  // not aligned to its vectors: the caller then runs forward or backward.
  bool (*forward_streaming)(const void* x, void* y, int64_t n, Dtype dtype,
                            Approximation approx) = nullptr;
  bool (*backward_streaming)(const void* g, const void* x, void* gi, int64_t n, Dtype dtype,
                             Approximation approx) = nullptr;
};

// Portable C++ (any CPU, every dtype).
const ContigKernels& scalar_kernels();
// df[i] = f'(x[i]) as float for bfloat16 or float16 inputs, by the scalar
// path's formulas: what its backward multiplies the gradient by before
// rounding (fills the derivative tables, half_tables.h).
void scalar_half_derivative(const uint16_t* x, float* df, int64_t n, Dtype dtype,
                            Approximation approx);
// nullptr where the path was not compiled (non-x86 builds). Every table
// handles every dtype.
const ContigKernels* avx2_kernels();
const ContigKernels* avx512_kernels();
// The AVX-512 table with the 16-bit result tables read by gathers (the same
// results; faster on some CPUs, simd_select.cpp).
const ContigKernels* avx512_gather_kernels();

}  // namespace cpu
}  // namespace gelu_ext
