// The two GELU variants, as `approximate` spells them in PyTorch:
// "none" -> Approximation::None (x * Phi(x)), "tanh" -> Approximation::Tanh.
#pragma once

#include <cstdint>

namespace gelu_ext {

enum class Approximation : int8_t { None = 0, Tanh = 1 };

}  // namespace gelu_ext
