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

// The 16-bit result tables read by AVX-512 gathers, 16 entries per
// instruction, instead of scalar loads: the same entries, so the same bits.
// Faster on the Intel server cores from Sapphire Rapids on (two measured),
// slower on Ice Lake and Zen 5 (docs/PERFORMANCE.md), so simd_select.cpp
// prefers the table that uses it only on the former. The
// backward gathers f'(x) into its chunk buffer like the scalar lookup: in a
// scratch A/B that was no slower than gathering straight into the multiply.
struct GatherLookup {
  static __m512i indices(const uint16_t* x) {  // x[0..16) widened
    return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
  }
  // x[2i], i < 16: the low halves of 16 32-bit words (the last word's high
  // half is one element past x[30]: full_vectors stops before the end).
  static __m512i indices(EverySecond<uint16_t> x) {
    return _mm512_and_si512(_mm512_loadu_si512(x.p), _mm512_set1_epi32(0xffff));
  }
  // 32-bit words at 2-byte steps, entry j in each word's low half (the table
  // is padded past its last entry, half_tables.cpp), narrowed.
  static __m256i gathered(const uint16_t* table, __m512i j) {
    return _mm512_cvtepi32_epi16(_mm512_i32gather_epi32(j, table, 2));
  }
  static void gather(const uint16_t* table, __m512i j, uint16_t* out) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), gathered(table, j));
  }
  static void gather(const float* table, __m512i j, float* out) {
    _mm512_storeu_ps(out, _mm512_i32gather_ps(j, table, 4));
  }
  template <class E, class X>
  static void get(const E* table, X x, E* out, int64_t n) {
    constexpr int kLanes = 16;
    const int64_t full = full_vectors<kLanes, X>(n);
    int64_t i = 0;
    for (; i < full; i += kLanes) gather(table, indices(x + i), out + i);
    if (i < n) table_lookup(table, x + i, out + i, n - i);
  }
  static constexpr bool kVectors = false;  // the backward gathers into its chunk buffer
  // get() for a contiguous x into an output aligned to 64 bytes, each cache
  // line of it (32 entries, two gathers) written by one non-temporal store.
  static constexpr bool kStreams = true;
  static void get_streaming(const uint16_t* table, const uint16_t* x, uint16_t* out, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      const __m256i lo = gathered(table, indices(x + i));
      const __m256i hi = gathered(table, indices(x + i + 16));
      _mm512_stream_si512(reinterpret_cast<__m512i*>(out + i),
                          _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
    }
    if (i < n) get(table, x + i, out + i, n - i);
  }
};

// The scalar lookups of gelu_loops.h (ScalarLookup) with a streamed form for
// the 16-bit forward: a cache line of 32 entries (table_vector: four 16-byte
// registers of them), written by one non-temporal store. The same entries,
// so the same bits.
struct StreamedScalarLookup : ScalarLookup {
  static constexpr bool kStreams = true;
  static void get_streaming(const uint16_t* table, const uint16_t* x, uint16_t* out, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(out + i),
                          _mm512_castps_si512(table_vector<V>(table, x + i).v));
    }
    if (i < n) get(table, x + i, out + i, n - i);
  }
};
}  // namespace

const ContigKernels* avx512_kernels() {
  static const ContigKernels table = simd_table<SimdKernels<V, VD, StreamedScalarLookup>>("avx512");
  return &table;
}

const ContigKernels* avx512_gather_kernels() {
  static const ContigKernels table = simd_table<SimdKernels<V, VD, GatherLookup>>("avx512-gather");
  return &table;
}

}  // namespace cpu
}  // namespace gelu_ext
#pragma GCC diagnostic pop
#pragma GCC pop_options

#else
const gelu_ext::cpu::ContigKernels* gelu_ext::cpu::avx512_kernels() { return nullptr; }
const gelu_ext::cpu::ContigKernels* gelu_ext::cpu::avx512_gather_kernels() { return nullptr; }
#endif
