// Which contiguous-kernel table the CPU kernels use: the best one the CPU
// supports, unless overridden (for tests and benchmarks) by set_simd_path
// or the GELU_EXT_SIMD environment variable ("scalar", "avx2", "avx512").
#pragma once

#include <string>
#include <vector>

#include "kernels.h"

namespace gelu_ext {
namespace cpu {

const ContigKernels& selected_kernels();
// Paths compiled into this build (always includes "scalar").
std::vector<std::string> compiled_simd_paths();
// Paths this CPU can run, best last.
std::vector<std::string> supported_simd_paths();
// Returns false (and changes nothing) for an unknown or unsupported path.
bool set_simd_path(const std::string& name);

}  // namespace cpu
}  // namespace gelu_ext
