// The contiguous loops, written once over a value type V (float, double or a
// SIMD vector) and an I/O policy that widens storage types to V and rounds
// back once. Internal linkage: every kernel translation unit gets its own
// copy compiled for its own instruction set.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "../gelu_math.h"
#include "../gelu_math_f64.h"
#include "half_tables.h"
#include "kernels.h"

namespace gelu_ext {
namespace cpu {
namespace {

// Runs `body(i)` on full vectors and once on a zero-padded copy of the tail,
// so every element goes through the same vector code.
// (`full`: the elements the full vectors cover, a multiple of kLanes; the
// rest, at most kLanes, is the tail.)
template <int kLanes, class Body, class Tail>
inline void for_each_block(int64_t n, int64_t full, Body&& body, Tail&& tail) {
  int64_t i = 0;
  for (; i < full; i += kLanes) body(i);
  if (i < n) tail(i, n - i);
}
template <int kLanes, class Body, class Tail>
inline void for_each_block(int64_t n, Body&& body, Tail&& tail) {
  for_each_block<kLanes>(n, n / kLanes * kLanes, body, tail);
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
  template <Approximation A, bool kPrecise, bool kFull = false, class V>
  static V forward(V x) {
    return math::gelu_of<A, kPrecise, kFull>(x);
  }
  template <Approximation A, bool kPrecise, bool kFull = false, class V>
  static V derivative(V x) {
    return math::gelu_derivative_of<A, kPrecise, kFull>(x);
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

// An input whose elements are every second one of memory (a x[::2] view):
// element i at p[2 i]. The SIMD policies load a vector of them from two
// vectors' worth of memory with one shuffle (Vec::load_every_second), so such
// views run through the loops as they are, without the driver's staging copy
// (which cost as much as the kernel and could not overlap with it); the loops
// take one wherever they take an input pointer.
template <class T>
struct EverySecond {
  const T* p;
  EverySecond operator+(int64_t i) const { return {p + 2 * i}; }
  const T& operator[](int64_t i) const { return p[2 * i]; }
};
// Whether a vector load at element i of input X reads memory past element
// i + kLanes - 1: a loop may then run full vectors only while an element
// follows them (the last vector of an EverySecond input would read one
// element past its end, which may lie outside the allocation).
template <class X>
constexpr bool kReadsPast = false;
template <class T>
constexpr bool kReadsPast<EverySecond<T>> = true;
template <int kLanes, class T>
inline void prefetch_ahead(EverySecond<T> x) {  // its vector spans two vectors' worth
  prefetch_ahead<kLanes>(x.p);
  prefetch_ahead<kLanes>(x.p + kLanes);
}
// body(g, x) with each of the two inputs as a `const T*` (step 1) or an
// EverySecond<T> (step 2).
template <class T, class Body>
inline void with_steps(const void* g, int g_step, const void* x, int x_step, Body&& body) {
  const auto* gp = static_cast<const T*>(g);
  const auto* xp = static_cast<const T*>(x);
  if (g_step == 2 && x_step == 2) {
    body(EverySecond<T>{gp}, EverySecond<T>{xp});
  } else if (g_step == 2) {
    body(EverySecond<T>{gp}, xp);
  } else if (x_step == 2) {
    body(gp, EverySecond<T>{xp});
  } else {
    body(gp, xp);
  }
}
// Full vectors of a loop over n elements of inputs X...: the rest runs as
// the zero-padded tail.
template <int kLanes, class... X>
constexpr int64_t full_vectors(int64_t n) {
  const int64_t usable = (kReadsPast<X> || ...) && n > 0 ? n - 1 : n;
  return usable / kLanes * kLanes;
}

// Whether a loop screens each vector against math::NormalRange (Io::kScreened:
// the float32 SIMD policies). A screened vector with every input inside it
// runs the formulas as they are, and cannot produce a NaN (its inputs are
// numbers), so the forward needs no canonical_nan there; any other vector runs
// their full-range form, whose results are the same bits without the float
// operations on numbers below the normal range that would cost a microcode
// assist each (about 60 ns, measured on Intel; docs/PERFORMANCE.md).
template <class Io, class = void>
struct Screened : std::false_type {};
template <class Io>
struct Screened<Io, std::void_t<decltype(Io::kScreened)>> : std::bool_constant<Io::kScreened> {};

// The hot loops of the screened paths: from i on, while the vectors stay
// inside the normal range; return where they stopped. Out of line, and with
// no call inside, so that their constants and tables stay in registers (a
// call in the loop, whose callee may clobber every vector register, made the
// compiler reload them every iteration: 23 loads per vector, 10-18% slower);
// flatten, so that the formulas are inlined into them.
// The exact and tanh forwards have a third kind of run: vectors with no lane
// below their near form's bound (-math::kNearEnd, -math::kTanhForwardNearEnd)
// and no NaN (all_near_of; almost every vector of activations) take the near
// form alone (math::near_forward_of: the screened policies' formulas are
// math's), without the other form that the normal run's formula also
// computes for them and then discards; the normal run stops at such vectors.
// On AVX-512 (V::kHoldsTables, kNearRunTakesNormal) the near run holds its
// table in registers (V::resident: 18 of them, loaded at the top of its outer
// loop), and takes the normal formula itself for a vector inside the normal
// range with a lane beyond the near form (one in 31 vectors of N(0, 3^2)
// inputs in the exact forward, one in 7 in the tanh forward, one in 17 in the
// tanh backward, whose near run does the same), after its inner loop, where
// the table's registers are free: leaving for the normal run and coming back
// cost two calls and reloading both runs' constants for each. It stops only
// at a vector outside the normal range. (On AVX2 the near tables are read
// from memory, and the near run stops at every vector that is not all near,
// as before.)
template <Approximation A>
constexpr bool kHasNearRun = A == Approximation::None || A == Approximation::Tanh;
// Whether a near run (kNear: the mode has one) takes the normal range's
// other vectors itself, so that the normal run is left nothing to do.
template <bool kNear, class V>
constexpr bool kNearRunTakesNormal = kNear && V::kHoldsTables;
template <Approximation A, bool kPrecise, class F, class V, class Io, class X, class T>
[[gnu::noinline, gnu::flatten]] int64_t forward_normal_run(X x, T* y, int64_t i, int64_t n,
                                                           const Io& io) {
  for (; i + V::kSize <= n; i += V::kSize) {
    prefetch_ahead<V::kSize>(x + i);
    const V v = io.load(x + i);
    if (math::outside_normal_range<A, false>(v)) break;
    if constexpr (kHasNearRun<A>) {
      if (math::all_near_of<A>(v)) break;
    }
    io.store(y + i, F::template forward<A, kPrecise>(v));
  }
  return i;
}
template <Approximation A, bool kPrecise, class F, class V, class Io, class X, class T>
[[gnu::noinline, gnu::flatten]] int64_t forward_near_run(X x, T* y, int64_t i, int64_t n,
                                                         const Io& io) {
  while (i + V::kSize <= n) {
    const auto table = V::resident(math::near_forward_table_of<A>());
    V v;
    for (; i + V::kSize <= n; i += V::kSize) {
      prefetch_ahead<V::kSize>(x + i);
      v = io.load(x + i);
      if (!math::all_near_of<A>(v)) break;
      io.store(y + i, math::near_forward_of<A>(v, table));
    }
    if constexpr (!kNearRunTakesNormal<kHasNearRun<A>, V>) break;
    if (i + V::kSize > n || math::outside_normal_range<A, false>(v)) break;
    io.store(y + i, F::template forward<A, kPrecise>(v));
    i += V::kSize;
  }
  return i;
}
// The tanh backward likewise: vectors with no lane below -math::kTanhNearEnd
// and no NaN (all_tanh_near) take the near form alone
// (math::gelu_tanh_derivative_near), and the normal run stops at them.
template <Approximation A>
constexpr bool kHasBackwardNearRun = A == Approximation::Tanh;
template <Approximation A, bool kPrecise, class F, class V, class Io, class G, class X, class T>
[[gnu::noinline, gnu::flatten]] int64_t backward_normal_run(G g, X x, T* gi, int64_t i, int64_t n,
                                                            const Io& io) {
  // The exact backward's tail table in registers where V holds tables
  // (V::resident, as in the near runs below).
  constexpr bool kResident = A == Approximation::None && kPrecise && V::kHoldsTables;
  [[maybe_unused]] const auto table = [] {
    if constexpr (kResident) {
      return V::resident(math::tail_derivative_table());
    } else {
      return 0;
    }
  }();
  for (; i + V::kSize <= n; i += V::kSize) {
    prefetch_ahead<V::kSize>(g + i);
    prefetch_ahead<V::kSize>(x + i);
    const V v = io.load(x + i);
    if (math::outside_normal_range<A, true>(v)) break;
    if constexpr (kHasBackwardNearRun<A>) {
      if (math::all_tanh_near(v)) break;
    }
    if constexpr (kResident) {
      io.store(gi + i,
               canonical_nan(io.load(g + i) * math::gelu_exact_derivative_tables(v, table)));
    } else {
      io.store(gi + i, canonical_nan(io.load(g + i) * F::template derivative<A, kPrecise>(v)));
    }
  }
  return i;
}
template <Approximation A, bool kPrecise, class F, class V, class Io, class G, class X, class T>
[[gnu::noinline, gnu::flatten]] int64_t backward_near_run(G g, X x, T* gi, int64_t i, int64_t n,
                                                          const Io& io) {
  while (i + V::kSize <= n) {
    const auto table = V::resident(math::tanh_derivative_near_table());
    V v;
    for (; i + V::kSize <= n; i += V::kSize) {
      prefetch_ahead<V::kSize>(g + i);
      prefetch_ahead<V::kSize>(x + i);
      v = io.load(x + i);
      if (!math::all_tanh_near(v)) break;
      io.store(gi + i, canonical_nan(io.load(g + i) * math::gelu_tanh_derivative_near(v, table)));
    }
    if constexpr (!kNearRunTakesNormal<kHasBackwardNearRun<A>, V>) break;
    if (i + V::kSize > n || math::outside_normal_range<A, true>(v)) break;
    io.store(gi + i, canonical_nan(io.load(g + i) * F::template derivative<A, kPrecise>(v)));
    i += V::kSize;
  }
  return i;
}
// The full-range runs (rare; tools/vector_ops.py counts the loops without
// them): from i, a vector outside the range, on while the vectors stay
// outside, with the constants loaded once per run; return where they
// stopped. Vectors far on the positive side (math::all_far_positive) store
// x and g as they are: the formulas' own results there.
template <Approximation A, bool kPrecise, class F, class V, class Io, class X, class T>
[[gnu::noinline, gnu::cold, gnu::flatten]] int64_t forward_full_range_run(X x, T* y, int64_t i,
                                                                          int64_t n, const Io& io) {
  do {
    const V v = io.load(x + i);
    io.store(y + i, math::all_far_positive<A>(v)
                        ? v
                        : canonical_nan(F::template forward<A, kPrecise, true>(v)));
    i += V::kSize;
  } while (i + V::kSize <= n && math::outside_normal_range<A, false>(io.load(x + i)));
  return i;
}
template <Approximation A, bool kPrecise, class F, class V, class Io, class G, class X, class T>
[[gnu::noinline, gnu::cold, gnu::flatten]] int64_t backward_full_range_run(G g, X x, T* gi,
                                                                           int64_t i, int64_t n,
                                                                           const Io& io) {
  do {
    const V v = io.load(x + i);
    const V gv = io.load(g + i);
    io.store(gi + i,
             canonical_nan(math::all_far_positive<A>(v)
                               ? gv
                               : mul_quiet(gv, F::template derivative<A, kPrecise, true>(v))));
    i += V::kSize;
  } while (i + V::kSize <= n && math::outside_normal_range<A, true>(io.load(x + i)));
  return i;
}
// The screened loops over n elements, n a multiple of V::kSize (the tail
// goes through them as one zero-padded vector): the kinds of run in turn.
template <Approximation A, bool kPrecise, class F, class V, class Io, class X, class T>
void forward_screened(X x, T* y, int64_t n, const Io& io) {
  // Each run stops at a vector that another one takes (the normal run at one
  // outside the range, or, with a near run, at one all near; a near run that
  // takes the normal vectors too, at one outside the range), so every pass
  // advances.
  int64_t i = 0;
  while (i < n) {
    if constexpr (kHasNearRun<A>) i = forward_near_run<A, kPrecise, F, V>(x, y, i, n, io);
    if constexpr (!kNearRunTakesNormal<kHasNearRun<A>, V>) {
      if (i < n) i = forward_normal_run<A, kPrecise, F, V>(x, y, i, n, io);
    }
    if (i < n && math::outside_normal_range<A, false>(io.load(x + i))) {
      i = forward_full_range_run<A, kPrecise, F, V>(x, y, i, n, io);
    }
  }
}
template <Approximation A, bool kPrecise, class F, class V, class Io, class G, class X, class T>
void backward_screened(G g, X x, T* gi, int64_t n, const Io& io) {
  int64_t i = 0;  // the runs as in forward_screened
  while (i < n) {
    if constexpr (kHasBackwardNearRun<A>)
      i = backward_near_run<A, kPrecise, F, V>(g, x, gi, i, n, io);
    if constexpr (!kNearRunTakesNormal<kHasBackwardNearRun<A>, V>) {
      if (i < n) i = backward_normal_run<A, kPrecise, F, V>(g, x, gi, i, n, io);
    }
    if (i < n && math::outside_normal_range<A, true>(io.load(x + i))) {
      i = backward_full_range_run<A, kPrecise, F, V>(g, x, gi, i, n, io);
    }
  }
}

// x: a `const T*`, or (float32 SIMD policies) an EverySecond<T>.
template <class V, class Io, class X, class T>
void forward_loop(X x, T* y, int64_t n, const Io& io, Approximation approx) {
  constexpr int kLanes = Io::kLanes;
  // The tail from i: block(xb, yb) on one zero-padded vector.
  auto tail = [&](int64_t i, auto block) {
    T xb[kLanes] = {};
    T yb[kLanes];
    for (int64_t j = 0; i + j < n; ++j) xb[j] = x[i + j];
    block(xb, yb);
    for (int64_t j = 0; i + j < n; ++j) y[i + j] = yb[j];
  };
  using F = typename FormulasOf<Io>::type;
  with_mode(approx, [&](auto mode) {
    constexpr Approximation A = decltype(mode)::value;
    if constexpr (Screened<Io>::value) {
      const int64_t body = full_vectors<kLanes, X>(n);
      forward_screened<A, Io::kPrecise, F, V>(x, y, body, io);
      if (body < n) {
        tail(body, [&](const T* xb, T* yb) {
          forward_screened<A, Io::kPrecise, F, V>(xb, yb, kLanes, io);
        });
      }
    } else {
      auto f = [](V v) { return canonical_nan(F::template forward<A, Io::kPrecise>(v)); };
      for_each_block<kLanes>(
          n, full_vectors<kLanes, X>(n),
          [&](int64_t i) {
            prefetch_ahead<kLanes>(x + i);
            io.store(y + i, f(io.load(x + i)));
          },
          [&](int64_t i, int64_t) {
            tail(i, [&](const T* xb, T* yb) { io.store(yb, f(io.load(xb))); });
          });
    }
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

// g, x: `const T*`, or (float32 SIMD policies) EverySecond<T>, in any mix.
template <class V, class Io, class G, class X, class T>
void backward_loop(G g, X x, T* gi, int64_t n, const Io& io, Approximation approx) {
  constexpr int kLanes = Io::kLanes;
  // The tail from i: block(gb, xb, ob) on one zero-padded vector.
  auto tail = [&](int64_t i, auto block) {
    T gb[kLanes] = {};
    T xb[kLanes] = {};
    T ob[kLanes];
    for (int64_t j = 0; i + j < n; ++j) {
      gb[j] = g[i + j];
      xb[j] = x[i + j];
    }
    block(gb, xb, ob);
    for (int64_t j = 0; i + j < n; ++j) gi[i + j] = ob[j];
  };
  if constexpr (Screened<Io>::value) {
    using F = typename FormulasOf<Io>::type;
    with_mode(approx, [&](auto mode) {
      constexpr Approximation A = decltype(mode)::value;
      constexpr bool kP = Io::kPreciseDerivative;
      const int64_t body = full_vectors<kLanes, G, X>(n);
      backward_screened<A, kP, F, V>(g, x, gi, body, io);
      if (body < n) {
        tail(body, [&](const T* gb, const T* xb, T* ob) {
          backward_screened<A, kP, F, V>(gb, xb, ob, kLanes, io);
        });
      }
    });
  } else {
    with_derivative<V, Io>(approx, [&](auto df) {
      auto value = [df](V gv, V v) { return canonical_nan(gv * df(v)); };
      for_each_block<kLanes>(
          n, full_vectors<kLanes, G, X>(n),
          [&](int64_t i) {
            prefetch_ahead<kLanes>(g + i);
            prefetch_ahead<kLanes>(x + i);
            io.store(gi + i, value(io.load(g + i), io.load(x + i)));
          },
          [&](int64_t i, int64_t) {
            tail(i, [&](const T* gb, const T* xb, T* ob) {
              io.store(ob, value(io.load(gb), io.load(xb)));
            });
          });
    });
  }
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

// out[k] = table[x[kStep k]] for the indices in one 64-bit read of x (four
// at step 1, two at step 2).
template <int kStep, class E>
inline void table_lookup_word(const E* table, const uint16_t* x, E* out) {
  uint64_t w;
  std::memcpy(&w, x, sizeof w);
  for (int k = 0; k < 4 / kStep; ++k) out[k] = table[static_cast<uint16_t>(w >> (16 * kStep * k))];
}

#if defined(__x86_64__)
// The entries for the indices x[kStep k], k < 16 / sizeof(E), in one 16-byte
// register: each entry read by a scalar load and inserted into its lane
// (`vpinsrw` for the 16-bit results, `vpinsrd` for the float derivatives;
// SSE4.1, so only the SIMD kernel files, whose target pragmas enable it,
// instantiate these), the indices read 64 bits at a time.
template <int kStep, class E, int... k>
inline __m128i table_entries(const E* table, const uint16_t* x,
                             std::integer_sequence<int, 0, k...>) {
  constexpr int kPerRead = 4 / kStep;
  auto index = [x](int lane) {
    uint64_t w;
    std::memcpy(&w, x + 4 * (lane / kPerRead), sizeof w);
    return static_cast<uint16_t>(w >> (16 * kStep * (lane % kPerRead)));
  };
  if constexpr (sizeof(E) == sizeof(uint16_t)) {
    __m128i v = _mm_cvtsi32_si128(table[index(0)]);
    ((v = _mm_insert_epi16(v, table[index(k)], k)), ...);
    return v;
  } else {
    auto bits = [table](uint16_t i) {
      int32_t b;
      std::memcpy(&b, table + i, sizeof b);
      return b;
    };
    __m128i v = _mm_cvtsi32_si128(bits(index(0)));
    ((v = _mm_insert_epi32(v, bits(index(k)), k)), ...);
    return v;
  }
}
// A vector's worth of entries (sizeof(V) bytes: V::kSize floats, or twice
// as many 16-bit results) for the indices x[kStep i]: its 16-byte parts
// (table_entries) joined by V::of_parts, as V's bits.
template <class V, int kStep, class E, int... p>
inline V table_vector(const E* table, const uint16_t* x, std::integer_sequence<int, p...>) {
  constexpr int kPerPart = 16 / sizeof(E);
  return V::of_parts(table_entries<kStep>(table, x + kStep * kPerPart * p,
                                          std::make_integer_sequence<int, kPerPart>{})...);
}
template <class V, class E>
inline V table_vector(const E* table, const uint16_t* x) {
  return table_vector<V, 1>(table, x, std::make_integer_sequence<int, sizeof(V) / 16>{});
}
template <class V, class E>
inline V table_vector(const E* table, EverySecond<uint16_t> x) {
  return table_vector<V, 2>(table, x.p, std::make_integer_sequence<int, sizeof(V) / 16>{});
}
#endif

// out[i] = table[x[kStep i]], i < n: scalar loads, the indices read 64 bits
// at a time. At step 2 (x[::2] views) a read reaches one element of memory
// past its second index, so the reads stop an element earlier and the last
// ones go one at a time. On Ice Lake faster than the AVX-512 and AVX2
// gathers (0.29 against 0.53 and 1.09 ns per element, table in L1), and on
// Zen 4 and Zen 5 than the AVX-512 gather; slower than it on the Intel
// server cores from Sapphire Rapids on, where the avx512-gather table
// (gelu_kernel_avx512.cpp) is preferred.
// On x86-64 the entries are inserted into a 16-byte register and stored 16
// bytes at a time (table_entries): one store per 8 results or 4 derivatives
// instead of one per entry. On Zen 4 the stores were the limit: the lookups
// alone (a scratch program, N(0, 3^2) inputs, 1M elements, one thread) took
// 0.19-0.20 ns per element against 0.38-0.40 for bfloat16 results written
// one at a time, 0.20 against 0.44 for bfloat16 derivatives, 0.35 against
// 0.75 for float16's (docs/PERFORMANCE.md).
template <int kStep, class E>
inline void table_lookup_steps(const E* table, const uint16_t* x, E* out, int64_t n) {
  constexpr int kPerRead = 4 / kStep;
  constexpr int kPast = kStep - 1;  // elements the last read needs past its last index
  int64_t i = 0;
#if defined(__x86_64__)
  constexpr int kPerStore = 16 / sizeof(E);
  for (; i + kPerStore + kPast <= n; i += kPerStore) {
    _mm_storeu_si128(
        reinterpret_cast<__m128i*>(out + i),
        table_entries<kStep>(table, x + kStep * i, std::make_integer_sequence<int, kPerStore>{}));
  }
#endif
  for (; i + kPerRead + kPast <= n; i += kPerRead) {
    table_lookup_word<kStep>(table, x + kStep * i, out + i);
  }
  for (; i < n; ++i) out[i] = table[x[kStep * i]];
}
template <class E>
inline void table_lookup(const E* table, const uint16_t* x, E* out, int64_t n) {
  table_lookup_steps<1>(table, x, out, n);
}
template <class E>
inline void table_lookup(const E* table, EverySecond<uint16_t> x, E* out, int64_t n) {
  table_lookup_steps<2>(table, x.p, out, n);
}

// How a kernel table reads the 16-bit result tables: Lookup::get(table, x,
// out, n) for x a `const uint16_t*` or an EverySecond<uint16_t>, out[i] =
// table[x[i]]. ScalarLookup: table_lookup above. Other lookups (an AVX-512
// gather, gelu_kernel_avx512.cpp) move the same entries, so the bits do not
// depend on which one runs.
struct ScalarLookup {
  template <class E, class X>
  static void get(const E* table, X x, E* out, int64_t n) {
    table_lookup(table, x, out, n);
  }
  // Whether the lookup has get_streaming (get with non-temporal stores of
  // whole cache lines, for an output aligned to 64 bytes).
  static constexpr bool kStreams = false;
#if defined(__x86_64__)
  // Whether the backward takes its vectors of f'(x) from vector<V>(table, x)
  // (built in registers) instead of a chunk buffer filled by get().
  static constexpr bool kVectors = true;
  template <class V, class X>
  static V vector(const float* table, X x) {
    return table_vector<V>(table, x);
  }
#else
  static constexpr bool kVectors = false;
#endif
};

// The SIMD kernels: float32 computed by the loops; bfloat16 and float16
// read from the result tables that the scalar path fills (half_tables.h), so
// their forward bits are the scalar path's by construction, and their
// backward is backward_loop's arithmetic with f'(x) read instead of computed:
// g * f'(x) in float, every NaN canonical, rounded once.
template <class V, class FloatIo, template <bool> class HalfIo, class StreamIo,
          template <bool> class HalfStreamIo, class Lookup = ScalarLookup>
struct TableVecKernels {
  static constexpr int kLanes = V::kSize;

  static void forward(const void* x, void* y, int64_t n, Dtype dtype, Approximation approx) {
    if (dtype == Dtype::Float) {
      return forward_loop<V>(static_cast<const float*>(x), static_cast<float*>(y), n, FloatIo{},
                             approx);
    }
    Lookup::get(half_forward_table(dtype == Dtype::BFloat16, approx),
                static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n);
  }

  static void backward(const void* g, const void* x, void* gi, int64_t n, Dtype dtype,
                       Approximation approx) {
    if (dtype == Dtype::Float) {
      return backward_loop<V>(static_cast<const float*>(g), static_cast<const float*>(x),
                              static_cast<float*>(gi), n, FloatIo{}, approx);
    }
    half_backward<HalfIo>(g, x, gi, n, dtype, approx);
  }
  // The bfloat16/float16 backward with the I/O policy Io<bf16>.
  template <template <bool> class Io>
  static void half_backward(const void* g, const void* x, void* gi, int64_t n, Dtype dtype,
                            Approximation approx) {
    const float* df = half_derivative_table(dtype == Dtype::BFloat16, approx);
    const auto* gh = static_cast<const uint16_t*>(g);
    const auto* xh = static_cast<const uint16_t*>(x);
    auto* gih = static_cast<uint16_t*>(gi);
    if (dtype == Dtype::BFloat16) {
      backward_table_loop(gh, xh, gih, n, Io<true>{}, df);
    } else {
      backward_table_loop(gh, xh, gih, n, Io<false>{}, df);
    }
  }

  // Outputs written with non-temporal stores (ContigKernels), then a store
  // fence, so that they are visible before the call returns like ordinary
  // stores: float32 both ways, the 16-bit backward (two stores of half a
  // line each, back to back), and the 16-bit forward where the lookup has a
  // streamed form (GatherLookup). Only on AVX-512: the AVX2 float32 loops,
  // whose two half-line stores per line come far apart, measured 30-50%
  // slower streamed than with ordinary stores (16M float32). (if constexpr:
  // the AVX2 table compiles no streamed loops at all.)
  static constexpr bool kStreams = sizeof(V) >= 64;
  static bool forward_streaming(const void* x, void* y, int64_t n, Dtype dtype,
                                Approximation approx) {
    if constexpr (kStreams) {
      if (reinterpret_cast<uintptr_t>(y) % sizeof(V) != 0) return false;
      if (dtype == Dtype::Float) {
        forward_loop<V>(static_cast<const float*>(x), static_cast<float*>(y), n, StreamIo{},
                        approx);
        V::stream_fence();
        return true;
      }
      if constexpr (Lookup::kStreams) {  // bfloat16, float16 through a streaming lookup
        Lookup::get_streaming(half_forward_table(dtype == Dtype::BFloat16, approx),
                              static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n);
        V::stream_fence();
        return true;
      }
    }
    return false;
  }
  static bool backward_streaming(const void* g, const void* x, void* gi, int64_t n, Dtype dtype,
                                 Approximation approx) {
    if constexpr (kStreams) {
      if (reinterpret_cast<uintptr_t>(gi) % sizeof(V) != 0) return false;
      if (dtype == Dtype::Float) {
        backward_loop<V>(static_cast<const float*>(g), static_cast<const float*>(x),
                         static_cast<float*>(gi), n, StreamIo{}, approx);
      } else {  // bfloat16, float16: half a cache line per store, the halves back to back
        half_backward<HalfStreamIo>(g, x, gi, n, dtype, approx);
      }
      V::stream_fence();
      return true;
    }
    return false;
  }

  // float32 inputs read as every second element of memory (ContigKernels).
  static bool forward_every_second(const void* x, void* y, int64_t n, Dtype dtype,
                                   Approximation approx) {
    if (dtype == Dtype::Float) {
      forward_loop<V>(EverySecond<float>{static_cast<const float*>(x)}, static_cast<float*>(y), n,
                      FloatIo{}, approx);
    } else {
      Lookup::get(half_forward_table(dtype == Dtype::BFloat16, approx),
                  EverySecond<uint16_t>{static_cast<const uint16_t*>(x)}, static_cast<uint16_t*>(y),
                  n);
    }
    return true;
  }
  static bool backward_strided(const void* g, int g_step, const void* x, int x_step, void* gi,
                               int64_t n, Dtype dtype, Approximation approx) {
    if (dtype == Dtype::Float) {
      with_steps<float>(g, g_step, x, x_step, [&](auto gp, auto xp) {
        backward_loop<V>(gp, xp, static_cast<float*>(gi), n, FloatIo{}, approx);
      });
      return true;
    }
    const float* df = half_derivative_table(dtype == Dtype::BFloat16, approx);
    auto* gih = static_cast<uint16_t*>(gi);
    with_steps<uint16_t>(g, g_step, x, x_step, [&](auto gp, auto xp) {
      if (dtype == Dtype::BFloat16) {
        backward_table_loop(gp, xp, gih, n, HalfIo<true>{}, df);
      } else {
        backward_table_loop(gp, xp, gih, n, HalfIo<false>{}, df);
      }
    });
    return true;
  }

  // g * f'(x), rounded, with f'(x) from the derivative table: a vector of it
  // built in registers where the lookup can (Lookup::kVectors), else looked
  // up for a chunk at a time into a buffer, then the vector multiply and
  // rounding over the chunk. (g, x: `const uint16_t*` or
  // EverySecond<uint16_t>.)
  template <class Io, class G, class X>
  static void backward_table_loop(G g, X x, uint16_t* gi, int64_t n, const Io& io,
                                  const float* df) {
    if constexpr (Lookup::kVectors) {
      for_each_block<kLanes>(
          n, full_vectors<kLanes, G, X>(n),
          [&](int64_t i) {
            io.store(gi + i, canonical_nan(io.load(g + i) * Lookup::template vector<V>(df, x + i)));
          },
          [&](int64_t i, int64_t rest) {
            table_tail(g + i, gi + i, rest, io, [&](int64_t j) { return df[x[i + j]]; });
          });
      return;
    }
    constexpr int64_t kChunk = 256;
    alignas(64) float d[kChunk];
    for (int64_t c = 0; c < n; c += kChunk) {
      const int64_t m = n - c < kChunk ? n - c : kChunk;
      Lookup::get(df, x + c, d, m);
      for_each_block<kLanes>(
          m, c + m < n ? m / kLanes * kLanes : full_vectors<kLanes, G>(m),
          [&](int64_t i) {
            io.store(gi + c + i, canonical_nan(io.load(g + c + i) * V::load(d + i)));
          },
          [&](int64_t i, int64_t rest) {
            table_tail(g + c + i, gi + c + i, rest, io, [&](int64_t j) { return d[i + j]; });
          });
    }
  }
  // The last rest < kLanes elements of backward_table_loop, zero-padded to a
  // vector: gi[j] = g[j] * df(j), rounded as the full vectors are.
  template <class Io, class G, class Df>
  static void table_tail(G g, uint16_t* gi, int64_t rest, const Io& io, const Df& df) {
    uint16_t gb[kLanes] = {};
    float db[kLanes] = {};
    alignas(64) uint16_t ob[kLanes];  // a streaming io stores it aligned
    for (int64_t j = 0; j < rest; ++j) {
      gb[j] = g[j];
      db[j] = df(j);
    }
    io.store(ob, canonical_nan(io.load(gb) * V::load(db)));
    for (int64_t j = 0; j < rest; ++j) gi[j] = ob[j];
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
  static bool forward_streaming(const void* x, void* y, int64_t n, Dtype dtype,
                                Approximation approx) {
    return dtype != Dtype::Double && Kernels::forward_streaming(x, y, n, dtype, approx);
  }
  static bool backward_streaming(const void* g, const void* x, void* gi, int64_t n, Dtype dtype,
                                 Approximation approx) {
    return dtype != Dtype::Double && Kernels::backward_streaming(g, x, gi, n, dtype, approx);
  }
  static bool forward_every_second(const void* x, void* y, int64_t n, Dtype dtype,
                                   Approximation approx) {
    if (dtype != Dtype::Double) return Kernels::forward_every_second(x, y, n, dtype, approx);
    forward_loop<VD>(EverySecond<double>{static_cast<const double*>(x)}, static_cast<double*>(y), n,
                     DoubleIo{}, approx);
    return true;
  }
  static bool backward_strided(const void* g, int g_step, const void* x, int x_step, void* gi,
                               int64_t n, Dtype dtype, Approximation approx) {
    if (dtype != Dtype::Double) {
      return Kernels::backward_strided(g, g_step, x, x_step, gi, n, dtype, approx);
    }
    with_steps<double>(g, g_step, x, x_step, [&](auto gp, auto xp) {
      backward_loop<VD>(gp, xp, static_cast<double*>(gi), n, DoubleIo{}, approx);
    });
    return true;
  }
};

// float64 I/O for a vector of doubles (vec_*_f64.h).
template <class V>
struct SimdDoubleIo : math::PreciseResults {
  using Formulas = math::f64::Formulas;
  static constexpr int kLanes = V::kSize;
  V load(const double* p) const { return V::load(p); }
  V load(EverySecond<double> x) const { return V::load_every_second(x.p); }
  void store(double* p, V v) const { V::store(p, v); }
};

// I/O policies for a SIMD vector type with static load()/store() (vec_*.h).
// kStream: the outputs with non-temporal stores (Vec::stream; the output
// aligned to a vector), for outputs too large to stay in the caches.
template <class V, bool kStream = false>
struct SimdFloatIo : math::PreciseResults {
  static constexpr int kLanes = V::kSize;
  static constexpr bool kScreened = true;
  V load(const float* p) const { return V::load(p); }
  V load(EverySecond<float> x) const { return V::load_every_second(x.p); }
  void store(float* p, V v) const {
    if constexpr (kStream) {
      V::stream(p, v);
    } else {
      V::store(p, v);
    }
  }
};

template <class V, bool kStream = false>
struct SimdHalfIo {
  template <bool kBf16>
  struct Io : math::HalfResults<kBf16> {
    static constexpr int kLanes = V::kSize;
    V load(const uint16_t* p) const { return V::load(p, kBf16); }
    V load(EverySecond<uint16_t> x) const { return V::load_every_second(x.p, kBf16); }
    void store(uint16_t* p, V v) const {
      if constexpr (kStream) {
        V::stream(p, v, kBf16);
      } else {
        V::store(p, v, kBf16);
      }
    }
  };
};

// A SIMD path's kernels over its float lanes V and double lanes VD, and
// their ContigKernels table (gelu_kernel_avx2.cpp, gelu_kernel_avx512.cpp).
template <class V, class VD, class Lookup = ScalarLookup>
using SimdKernels =
    WithDouble<TableVecKernels<V, SimdFloatIo<V>, SimdHalfIo<V>::template Io, SimdFloatIo<V, true>,
                               SimdHalfIo<V, true>::template Io, Lookup>,
               VD, SimdDoubleIo<VD>>;
template <class Kernels>
ContigKernels simd_table(const char* name) {
  return {name,
          &Kernels::forward,
          &Kernels::backward,
          &Kernels::forward_every_second,
          &Kernels::backward_strided,
          &Kernels::forward_streaming,
          &Kernels::backward_streaming};
}

}  // namespace
}  // namespace cpu
}  // namespace gelu_ext
