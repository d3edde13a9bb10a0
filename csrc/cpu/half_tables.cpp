#include "half_tables.h"

#include <memory>

#include "kernels.h"

namespace gelu_ext {
namespace cpu {
namespace {

// Every bit pattern once, in order: the inputs the tables are built from.
const uint16_t* all_patterns() {
  static const std::unique_ptr<uint16_t[]> p = [] {
    std::unique_ptr<uint16_t[]> a(new uint16_t[kHalfPatterns]);
    for (int64_t b = 0; b < kHalfPatterns; ++b) a[b] = static_cast<uint16_t>(b);
    return a;
  }();
  return p.get();
}

// The scalar path's results (forward) and derivatives (backward) for every
// input.
void fill(uint16_t* table, Dtype dtype, Approximation approx) {
  scalar_kernels().forward(all_patterns(), table, kHalfPatterns, dtype, approx);
}
void fill(float* table, Dtype dtype, Approximation approx) {
  scalar_half_derivative(all_patterns(), table, kHalfPatterns, dtype, approx);
}

// One table per entry type, 16-bit type and mode, a function-local static:
// built once, on first use, thread-safe.
template <class E, bool kBf16, Approximation kApprox>
const E* table() {
  struct Table {
    alignas(64) E v[kHalfPatterns];
    E pad[16];  // zeros: a gather of 32-bit words at the last 16-bit entry reads into it
  };
  static const std::unique_ptr<Table> t = [] {
    auto built = std::make_unique<Table>();
    fill(built->v, kBf16 ? Dtype::BFloat16 : Dtype::Half, kApprox);
    return built;
  }();
  return t->v;
}

template <class E>
const E* table_for(bool bf16, Approximation approx) {
  return with_mode(approx, [bf16](auto mode) {
    constexpr Approximation kMode = decltype(mode)::value;
    return bf16 ? table<E, true, kMode>() : table<E, false, kMode>();
  });
}

}  // namespace

const uint16_t* half_forward_table(bool bf16, Approximation approx) {
  return table_for<uint16_t>(bf16, approx);
}

const float* half_derivative_table(bool bf16, Approximation approx) {
  return table_for<float>(bf16, approx);
}

}  // namespace cpu
}  // namespace gelu_ext
