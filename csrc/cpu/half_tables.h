// Result tables for bfloat16 and float16: each type has only 65,536 inputs,
// so the SIMD paths read f(x) and f'(x) from tables instead of computing
// them. The tables are filled from the scalar path's own loops (the formulas
// of gelu_math.h, whatever they are at the time), once per process and mode,
// on first use. Memory: 128 KiB per forward table and 256 KiB per derivative
// table, at most 4 of each (2 types x 2 modes): 1.5 MiB in all.
#pragma once

#include <cstdint>

#include "../approximation.h"

namespace gelu_ext {
namespace cpu {

constexpr int64_t kHalfPatterns = int64_t{1} << 16;

// Entry b: the forward result for the input with bit pattern b.
const uint16_t* half_forward_table(bool bf16, Approximation approx);

// Entry b: f'(x) as float for the input x with bit pattern b, before the
// multiply by the gradient and the rounding that the backward applies.
const float* half_derivative_table(bool bf16, Approximation approx);

}  // namespace cpu
}  // namespace gelu_ext
