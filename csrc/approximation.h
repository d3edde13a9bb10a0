// The GELU variants, as `approximate` spells them: "none" ->
// Approximation::None (x * Phi(x)) and "tanh" -> Approximation::Tanh, as in
// PyTorch, and "sigmoid" -> Approximation::Sigmoid (x * sigma(1.702 x), the
// GELU paper's sigmoid approximation, CLIP's QuickGELU).
#pragma once

#include <cstdint>

namespace gelu_ext {

enum class Approximation : int8_t { None = 0, Tanh = 1, Sigmoid = 2 };

}  // namespace gelu_ext
