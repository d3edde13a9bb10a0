// The sweep: every (or every k-th) bit pattern of a format through gelu_ext
// and through PyTorch's native at::gelu / at::gelu_backward, each result
// checked against reference.h, on worker threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "contract.h"
#include "reference.h"

namespace gelu_ext_accuracy {

enum Impl { kGeluExt = 0, kNative = 1, kNumImpls = 2 };
const char* impl_name(Impl impl);
const char* mode_name(Approximation mode);
const char* direction_name(Direction dir);

struct Options {
  std::vector<const Format*> formats{&kFloat32, &kBFloat16, &kFloat16};
  std::vector<Approximation> modes{Approximation::None, Approximation::Tanh,
                                   Approximation::Sigmoid};
  std::vector<Direction> directions{Direction::Forward, Direction::Backward};
  uint64_t stride = 1;  // float32 only: the 16-bit formats are always swept in full
  bool cuda = false;    // ops on a CUDA device, compared with gelu_ext on the CPU too
  int threads = 1;
  double inject_ulps = 0;  // testing the tool: added to every finite gelu_ext result
  bool progress = true;
};

// Results of one (format, mode, direction).
struct Cell {
  std::array<Stats, kNumImpls> impl;
  Agreement cpu_vs_cuda;  // gelu_ext, --device cuda only
  // The double reference against its long double evaluation, in ulps of
  // the format, on every 1021st pattern (every pattern of a 16-bit format).
  uint64_t ref_checked = 0;
  Worst ref_check;

  void merge(const Cell& o);
};

constexpr int kNumModes = 3;  // Approximation's values, in order

// All cells of one format, indexed by [mode][direction].
struct FormatResult {
  const Format* format = nullptr;
  uint64_t patterns = 0;  // bit patterns swept (the strided ones plus extra special values)
  uint64_t special_extra = 0;
  std::array<std::array<Cell, 2>, kNumModes> cells;

  Cell& cell(Approximation m, Direction d) {
    return cells[static_cast<int>(m)][static_cast<int>(d)];
  }
  const Cell& cell(Approximation m, Direction d) const {
    return cells[static_cast<int>(m)][static_cast<int>(d)];
  }
  void merge(const FormatResult& o) {
    for (int m = 0; m < kNumModes; ++m) {
      for (int d = 0; d < 2; ++d) cells[m][d].merge(o.cells[m][d]);
    }
  }
};

FormatResult sweep(const Format& fmt, const Options& opt);

// Bit patterns of the special values: +0, -0, +inf, -inf, NaN, the smallest
// subnormal (both signs), the largest finite number (both signs).
std::vector<uint32_t> special_patterns(const Format& fmt);

// One special value through every mode, direction and implementation.
struct SpecialRow {
  uint32_t pattern;
  double x;
  // [mode][direction]: reference (the exact limit for non-finite x), gelu_ext, native
  std::array<std::array<std::array<double, 3>, 2>, kNumModes> value;
};
std::vector<SpecialRow> special_values(const Format& fmt, const Options& opt);

}  // namespace gelu_ext_accuracy
