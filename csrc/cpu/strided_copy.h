// Copies between a strided operand and a packed buffer, for the CPU
// driver's staging of non-contiguous operands (csrc/cpu/gelu_cpu.cpp): typed
// element copies, SSE2 tile transposes for transposed operands and an SSE2
// gather of every second element for x[::2]-style views. Only bits move, so
// staged results are the contiguous kernels' own.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace gelu_ext {
namespace cpu {
namespace staging {

#if defined(__SSE2__)
// Transposes a tile of 16 / sizeof(E) rows of 16 bytes each: row r of `src`
// (rows `ss` bytes apart) becomes column r of `dst` (rows `ds` bytes apart).
inline __m128i load16(const char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
inline void store16(char* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

template <class E>
void transpose_tile(const char* src, int64_t ss, char* dst, int64_t ds);

template <>
inline void transpose_tile<uint64_t>(const char* src, int64_t ss, char* dst, int64_t ds) {
  const __m128i r0 = load16(src), r1 = load16(src + ss);
  store16(dst, _mm_unpacklo_epi64(r0, r1));
  store16(dst + ds, _mm_unpackhi_epi64(r0, r1));
}

template <>
inline void transpose_tile<uint32_t>(const char* src, int64_t ss, char* dst, int64_t ds) {
  __m128i r[4];
  for (int k = 0; k < 4; ++k) r[k] = load16(src + k * ss);
  const __m128i a0 = _mm_unpacklo_epi32(r[0], r[1]), a1 = _mm_unpackhi_epi32(r[0], r[1]);
  const __m128i a2 = _mm_unpacklo_epi32(r[2], r[3]), a3 = _mm_unpackhi_epi32(r[2], r[3]);
  store16(dst, _mm_unpacklo_epi64(a0, a2));
  store16(dst + ds, _mm_unpackhi_epi64(a0, a2));
  store16(dst + 2 * ds, _mm_unpacklo_epi64(a1, a3));
  store16(dst + 3 * ds, _mm_unpackhi_epi64(a1, a3));
}

template <>
inline void transpose_tile<uint16_t>(const char* src, int64_t ss, char* dst, int64_t ds) {
  __m128i r[8], a[8];
  for (int k = 0; k < 8; ++k) r[k] = load16(src + k * ss);
  for (int k = 0; k < 4; ++k) {
    a[k] = _mm_unpacklo_epi16(r[2 * k], r[2 * k + 1]);
    a[k + 4] = _mm_unpackhi_epi16(r[2 * k], r[2 * k + 1]);
  }
  // a[k]: columns 0-3 of rows 2k, 2k+1; a[k + 4]: columns 4-7
  for (int h = 0; h < 2; ++h) {
    const __m128i* q = a + 4 * h;
    const __m128i b0 = _mm_unpacklo_epi32(q[0], q[1]), b1 = _mm_unpackhi_epi32(q[0], q[1]);
    const __m128i b2 = _mm_unpacklo_epi32(q[2], q[3]), b3 = _mm_unpackhi_epi32(q[2], q[3]);
    char* d = dst + 4 * h * ds;
    store16(d, _mm_unpacklo_epi64(b0, b2));
    store16(d + ds, _mm_unpackhi_epi64(b0, b2));
    store16(d + 2 * ds, _mm_unpacklo_epi64(b1, b3));
    store16(d + 3 * ds, _mm_unpackhi_epi64(b1, b3));
  }
}
constexpr bool kTiles = true;

// buf[i] = element 2i of src (E-sized elements), a vector at a time, for the
// i whose vector reads nothing past element 2(n - 1); returns how many i.
template <class E>
inline int64_t gather_every_second(const char* src, E* buf, int64_t n) {
  constexpr int64_t kV = 16 / sizeof(E);
  int64_t i = 0;
  char* out = reinterpret_cast<char*>(buf);
  for (; i + kV < n; i += kV) {  // reads elements [2i, 2i + 2kV)
    const __m128i a = load16(src + 2 * i * sizeof(E)), b = load16(src + 2 * i * sizeof(E) + 16);
    __m128i r;
    if (sizeof(E) == 2) {
      // low halves of the 32-bit lanes, sign-extended: the signed pack is exact
      r = _mm_packs_epi32(_mm_srai_epi32(_mm_slli_epi32(a, 16), 16),
                          _mm_srai_epi32(_mm_slli_epi32(b, 16), 16));
    } else if (sizeof(E) == 4) {
      r = _mm_castps_si128(
          _mm_shuffle_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b), _MM_SHUFFLE(2, 0, 2, 0)));
    } else {
      r = _mm_unpacklo_epi64(a, b);
    }
    store16(out + i * sizeof(E), r);
  }
  return i;
}
#else
template <class E>
inline int64_t gather_every_second(const char*, E*, int64_t) {
  return 0;
}
template <class E>
inline void transpose_tile(const char*, int64_t, char*, int64_t) {}
constexpr bool kTiles = false;
#endif

// Rows of a transposed source asked for ahead of the tile transposes: its
// rows are 4 KiB or more apart, where the hardware prefetcher does not
// follow. 16 rows: 3-16% off the transposed calls in an interleaved A/B
// (docs/PERFORMANCE.md, "Non-contiguous inputs").
constexpr int64_t kPrefetchRows = 16;

// One 2-D block of an operand: element (i, j) at base + i * inner + j * outer
// (bytes), i < ni, j < nj, copied to or from a packed buffer whose row j
// starts at element j * pitch. Typed loads and stores (E: an unsigned integer
// of the element's size). Where the operand is contiguous along j (a
// transposed operand) the block is copied in square tiles transposed in
// registers; elsewhere the loop over the dimension with the smaller stride
// runs innermost.
template <class E, bool kToBuffer>
inline void copy_block(char* base, int64_t inner, int64_t outer, E* buf, int64_t pitch, int64_t ni,
                       int64_t nj) {
  auto move = [&](int64_t i, int64_t j) {
    E* b = buf + j * pitch + i;
    char* m = base + i * inner + j * outer;
    if (kToBuffer) {
      std::memcpy(b, m, sizeof(E));
    } else {
      std::memcpy(m, b, sizeof(E));
    }
  };
  int64_t ti = 0, tj = 0;  // the tiled part: [0, ti) x [0, tj)
  if (kTiles && outer == static_cast<int64_t>(sizeof(E)) && nj > 1) {
    constexpr int64_t kT = 16 / sizeof(E);
    ti = ni / kT * kT;
    tj = nj / kT * kT;
    const int64_t bpitch = pitch * static_cast<int64_t>(sizeof(E));
    for (int64_t i = 0; i < ti; i += kT) {
      if (kToBuffer) {  // a line of each row kPrefetchRows ahead (no fault past the end)
        for (int64_t r = 0; r < kT; ++r) {
          __builtin_prefetch(base + (i + kPrefetchRows + r) * inner);
        }
      }
      for (int64_t j = 0; j < tj; j += kT) {
        char* m = base + i * inner + j * outer;
        char* b = reinterpret_cast<char*>(buf + j * pitch + i);
        if (kToBuffer) {
          transpose_tile<E>(m, inner, b, bpitch);
        } else {
          transpose_tile<E>(b, bpitch, m, inner);
        }
      }
    }
  }
  if (kToBuffer && nj == 1 && inner == 2 * static_cast<int64_t>(sizeof(E))) {
    ti = gather_every_second<E>(base, buf, ni);
    tj = 1;
  }
  // The rest, outside the tiled part: rows tj.. for all i, then i >= ti.
  const bool j_inner = nj > 1 && std::abs(outer) < std::abs(inner);
  if (j_inner) {
    for (int64_t i = 0; i < ni; ++i) {
      for (int64_t j = i < ti ? tj : 0; j < nj; ++j) move(i, j);
    }
  } else {
    for (int64_t j = 0; j < nj; ++j) {
      for (int64_t i = j < tj ? ti : 0; i < ni; ++i) move(i, j);
    }
  }
}

}  // namespace staging
}  // namespace cpu
}  // namespace gelu_ext
