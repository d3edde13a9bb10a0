// The contiguous loops, written once over a value type V (float, double or a
// SIMD vector) and an I/O policy that widens storage types to V and rounds
// back once. Internal linkage: every kernel translation unit gets its own
// copy compiled for its own instruction set.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../gelu_math.h"
#include "../gelu_math_f64.h"
#include "half_tables.h"
#include "kernels.h"

namespace gelu_ext {
namespace cpu {
namespace {

// Runs `body(i)` on full vectors and once on a zero-padded copy of the tail,
// so every element goes through the same vector code.
template <int kLanes, class Body, class Tail>
inline void for_each_block(int64_t n, Body&& body, Tail&& tail) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) body(i);
  if (i < n) tail(i, n - i);
}

inline bool isnan_(float a) { return a != a; }
inline bool isnan_(double a) { return a != a; }

// Every NaN result as one quiet NaN. Which NaN an IEEE operation returns
// (sign, payload) depends on its operand order, which the compiler picks per
// instruction form: without this, NaN bits could differ between the SIMD
// paths, between a loop's body and its tail, and so with the thread count.
template <class V>
inline V canonical_nan(V r) {
  using math::select;
  return select(isnan_(r), V(__builtin_nanf("")), r);
}

// The formulas a loop evaluates: gelu_math.h's, unless the I/O policy names
// its own (the float64 policies: gelu_math_f64.h's Formulas).
struct MathFormulas {
  template <Approximation A, bool kPrecise, class V>
  static V forward(V x) {
    return math::gelu_of<A, kPrecise>(x);
  }
  template <Approximation A, bool kPrecise, class V>
  static V derivative(V x) {
    return math::gelu_derivative_of<A, kPrecise>(x);
  }
};
template <class Io, class = void>
struct FormulasOf {
  using type = MathFormulas;
};
template <class Io>
struct FormulasOf<Io, std::void_t<typename Io::Formulas>> {
  using type = typename Io::Formulas;
};

// Vector loops ask for their inputs this far ahead. The exact forms do as
// much arithmetic per cache line as the memory takes to deliver it, so on
// their own they leave the next lines to the hardware prefetcher too late:
// at 16M float32 elements the prefetch took about 10% off the forward
// (scratch loop, AVX-512, 1 and 2 threads; docs/PERFORMANCE.md). A prefetch
// past the end of an array does not fault.
constexpr int64_t kPrefetchBytes = 4096;
template <int kLanes, class T>
inline void prefetch_ahead(const T* p) {
  if constexpr (kLanes > 1) __builtin_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes);
}

template <class V, class Io, class T>
void forward_loop(const T* x, T* y, int64_t n, const Io& io, Approximation approx) {
  constexpr int kLanes = Io::kLanes;
  auto run = [&](auto f) {
    for_each_block<kLanes>(
        n,
        [&](int64_t i) {
          prefetch_ahead<kLanes>(x + i);
          io.store(y + i, canonical_nan(f(io.load(x + i))));
        },
        [&](int64_t i, int64_t rest) {
          T xb[kLanes] = {};
          T yb[kLanes];
          for (int64_t j = 0; j < rest; ++j) xb[j] = x[i + j];
          io.store(yb, canonical_nan(f(io.load(xb))));
          for (int64_t j = 0; j < rest; ++j) y[i + j] = yb[j];
        });
  };
  using F = typename FormulasOf<Io>::type;
  with_mode(approx, [&](auto mode) {
    run([](V v) { return F::template forward<decltype(mode)::value, Io::kPrecise>(v); });
  });
}

// Calls `body(df)` with the derivative f' that `approx` and Io's accuracy
// variant select: the one choice backward_loop and derivative_loop share.
template <class V, class Io, class Body>
void with_derivative(Approximation approx, Body&& body) {
  using F = typename FormulasOf<Io>::type;
  with_mode(approx, [&](auto mode) {
    body([](V v) {
      return F::template derivative<decltype(mode)::value, Io::kPreciseDerivative>(v);
    });
  });
}

template <class V, class Io, class T>
void backward_loop(const T* g, const T* x, T* gi, int64_t n, const Io& io, Approximation approx) {
  constexpr int kLanes = Io::kLanes;
  with_derivative<V, Io>(approx, [&](auto df) {
    for_each_block<kLanes>(
        n,
        [&](int64_t i) {
          prefetch_ahead<kLanes>(g + i);
          prefetch_ahead<kLanes>(x + i);
          io.store(gi + i, canonical_nan(io.load(g + i) * df(io.load(x + i))));
        },
        [&](int64_t i, int64_t rest) {
          T gb[kLanes] = {};
          T xb[kLanes] = {};
          T ob[kLanes];
          for (int64_t j = 0; j < rest; ++j) {
            gb[j] = g[i + j];
            xb[j] = x[i + j];
          }
          io.store(ob, canonical_nan(io.load(gb) * df(io.load(xb))));
          for (int64_t j = 0; j < rest; ++j) gi[i + j] = ob[j];
        });
  });
}

// df[i] = f'(x[i]) in V's own precision, before the multiply by the gradient
// and the rounding that backward_loop applies (one element at a time: V is a
// scalar type; this fills the 16-bit derivative tables, half_tables.h).
template <class V, class Io, class T>
void derivative_loop(const T* x, V* df, int64_t n, const Io& io, Approximation approx) {
  with_derivative<V, Io>(approx, [&](auto d) {
    for (int64_t i = 0; i < n; ++i) df[i] = d(io.load(x + i));
  });
}

// The scalar path's table entries, which compute every dtype but float64:
// Float in precise mode; the 16-bit types need only float accuracy before
// their single rounding. HalfIo<true> is bfloat16, HalfIo<false> float16.
template <class V, class FloatIo, template <bool> class HalfIo>
struct VecKernels {
  static void forward(const void* x, void* y, int64_t n, Dtype dtype, Approximation approx) {
    if (dtype == Dtype::Float) {
      forward_loop<V>(static_cast<const float*>(x), static_cast<float*>(y), n, FloatIo{}, approx);
    } else if (dtype == Dtype::BFloat16) {
      forward_loop<V>(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n, HalfIo<true>{},
                      approx);
    } else {
      forward_loop<V>(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n,
                      HalfIo<false>{}, approx);
    }
  }
  static void backward(const void* g, const void* x, void* gi, int64_t n, Dtype dtype,
                       Approximation approx) {
    if (dtype == Dtype::Float) {
      backward_loop<V>(static_cast<const float*>(g), static_cast<const float*>(x),
                       static_cast<float*>(gi), n, FloatIo{}, approx);
    } else if (dtype == Dtype::BFloat16) {
      backward_loop<V>(static_cast<const uint16_t*>(g), static_cast<const uint16_t*>(x),
                       static_cast<uint16_t*>(gi), n, HalfIo<true>{}, approx);
    } else {
      backward_loop<V>(static_cast<const uint16_t*>(g), static_cast<const uint16_t*>(x),
                       static_cast<uint16_t*>(gi), n, HalfIo<false>{}, approx);
    }
  }
};

// out[i] = table[x[i]]: scalar loads, the indices read four at a time. On
// the Ice Lake server CPU this was measured on, faster than the AVX-512 and
// AVX2 gathers (0.29 against 0.53 and 1.09 ns per element, table in L1).
template <class E>
inline void table_lookup(const E* table, const uint16_t* x, E* out, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint64_t w;
    std::memcpy(&w, x + i, sizeof w);
    out[i] = table[static_cast<uint16_t>(w)];
    out[i + 1] = table[static_cast<uint16_t>(w >> 16)];
    out[i + 2] = table[static_cast<uint16_t>(w >> 32)];
    out[i + 3] = table[static_cast<uint16_t>(w >> 48)];
  }
  for (; i < n; ++i) out[i] = table[x[i]];
}

// The SIMD kernels: float32 computed by the loops; bfloat16 and float16
// read from the result tables that the scalar path fills (half_tables.h), so
// their forward bits are the scalar path's by construction, and their
// backward is backward_loop's arithmetic with f'(x) read instead of computed:
// g * f'(x) in float, every NaN canonical, rounded once.
template <class V, class FloatIo, template <bool> class HalfIo>
struct TableVecKernels {
  static constexpr int kLanes = V::kSize;

  static void forward(const void* x, void* y, int64_t n, Dtype dtype, Approximation approx) {
    if (dtype == Dtype::Float) {
      return forward_loop<V>(static_cast<const float*>(x), static_cast<float*>(y), n, FloatIo{},
                             approx);
    }
    table_lookup(half_forward_table(dtype == Dtype::BFloat16, approx),
                 static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n);
  }

  static void backward(const void* g, const void* x, void* gi, int64_t n, Dtype dtype,
                       Approximation approx) {
    if (dtype == Dtype::Float) {
      return backward_loop<V>(static_cast<const float*>(g), static_cast<const float*>(x),
                              static_cast<float*>(gi), n, FloatIo{}, approx);
    }
    const float* df = half_derivative_table(dtype == Dtype::BFloat16, approx);
    const auto* gh = static_cast<const uint16_t*>(g);
    const auto* xh = static_cast<const uint16_t*>(x);
    auto* gih = static_cast<uint16_t*>(gi);
    if (dtype == Dtype::BFloat16) {
      backward_table_loop(gh, xh, gih, n, HalfIo<true>{}, df);
    } else {
      backward_table_loop(gh, xh, gih, n, HalfIo<false>{}, df);
    }
  }

  // f'(x) looked up for a chunk at a time into a buffer, then the vector
  // multiply and rounding over the chunk.
  template <class Io>
  static void backward_table_loop(const uint16_t* g, const uint16_t* x, uint16_t* gi, int64_t n,
                                  const Io& io, const float* df) {
    constexpr int64_t kChunk = 256;
    alignas(64) float d[kChunk];
    for (int64_t c = 0; c < n; c += kChunk) {
      const int64_t m = n - c < kChunk ? n - c : kChunk;
      table_lookup(df, x + c, d, m);
      for_each_block<kLanes>(
          m,
          [&](int64_t i) {
            io.store(gi + c + i, canonical_nan(io.load(g + c + i) * V::load(d + i)));
          },
          [&](int64_t i, int64_t rest) {
            uint16_t gb[kLanes] = {};
            float db[kLanes] = {};
            uint16_t ob[kLanes];
            for (int64_t j = 0; j < rest; ++j) {
              gb[j] = g[c + i + j];
              db[j] = d[i + j];
            }
            io.store(ob, canonical_nan(io.load(gb) * V::load(db)));
            for (int64_t j = 0; j < rest; ++j) gi[c + i + j] = ob[j];
          });
    }
  }
};

// A kernel table's entries for every dtype: float64 through the loops over VD
// (a double or a vector of doubles) with DoubleIo, the rest through Kernels
// (a VecKernels or TableVecKernels).
template <class Kernels, class VD, class DoubleIo>
struct WithDouble {
  static void forward(const void* x, void* y, int64_t n, Dtype dtype, Approximation approx) {
    if (dtype == Dtype::Double) {
      forward_loop<VD>(static_cast<const double*>(x), static_cast<double*>(y), n, DoubleIo{},
                       approx);
    } else {
      Kernels::forward(x, y, n, dtype, approx);
    }
  }
  static void backward(const void* g, const void* x, void* gi, int64_t n, Dtype dtype,
                       Approximation approx) {
    if (dtype == Dtype::Double) {
      backward_loop<VD>(static_cast<const double*>(g), static_cast<const double*>(x),
                        static_cast<double*>(gi), n, DoubleIo{}, approx);
    } else {
      Kernels::backward(g, x, gi, n, dtype, approx);
    }
  }
};

// float64 I/O for a vector of doubles (vec_*_f64.h).
template <class V>
struct SimdDoubleIo : math::PreciseResults {
  using Formulas = math::f64::Formulas;
  static constexpr int kLanes = V::kSize;
  V load(const double* p) const { return V::load(p); }
  void store(double* p, V v) const { V::store(p, v); }
};

// I/O policies for a SIMD vector type with static load()/store() (vec_*.h).
template <class V>
struct SimdFloatIo : math::PreciseResults {
  static constexpr int kLanes = V::kSize;
  V load(const float* p) const { return V::load(p); }
  void store(float* p, V v) const { V::store(p, v); }
};

template <class V>
struct SimdHalfIo {
  template <bool kBf16>
  struct Io : math::HalfResults<kBf16> {
    static constexpr int kLanes = V::kSize;
    V load(const uint16_t* p) const { return V::load(p, kBf16); }
    void store(uint16_t* p, V v) const { V::store(p, v, kBf16); }
  };
};

}  // namespace
}  // namespace cpu
}  // namespace gelu_ext
