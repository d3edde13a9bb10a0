// The GELU variants, as `approximate` spells them: "none" ->
// Approximation::None (x * Phi(x)) and "tanh" -> Approximation::Tanh, as in
// PyTorch, and "sigmoid" -> Approximation::Sigmoid (x * sigma(1.702 x), the
// GELU paper's sigmoid approximation, CLIP's QuickGELU).
#pragma once

#include <cstdint>
#include <type_traits>

namespace gelu_ext {

enum class Approximation : int8_t { None = 0, Tanh = 1, Sigmoid = 2 };

// The mode as a type, so that kernels can take it as a template argument.
template <Approximation A>
using ModeTag = std::integral_constant<Approximation, A>;

// body(ModeTag<approx>{}): the one place where a run-time mode becomes a
// compile-time one (every kernel and table dispatches through it).
template <class Body>
decltype(auto) with_mode(Approximation approx, Body&& body) {
  switch (approx) {
    case Approximation::Tanh:
      return body(ModeTag<Approximation::Tanh>{});
    case Approximation::Sigmoid:
      return body(ModeTag<Approximation::Sigmoid>{});
    case Approximation::None:
      break;
  }
  return body(ModeTag<Approximation::None>{});
}

}  // namespace gelu_ext
