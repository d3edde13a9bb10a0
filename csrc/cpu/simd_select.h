// Which contiguous-kernel table the CPU kernels use: the best one the CPU
// supports, unless overridden (for tests and benchmarks) by set_simd_path
// or the GELU_EXT_SIMD environment variable ("scalar", "avx2", "avx512",
// "avx512-gather": AVX-512 with the 16-bit result tables read by gathers).
#pragma once

#include <cstdint>
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
// Outputs given by the caller (out=, in place) of at least this many bytes
// are written with non-temporal stores where the kernel table has such a
// loop (ContigKernels::forward_streaming): no read for ownership of each
// output line, and no eviction of other data for lines that would leave the
// last-level cache before anyone read them again. The default is the
// last-level cache's size, at most 32 MiB (32 MiB where the size is unknown).
int64_t streaming_bytes();
void set_streaming_bytes(int64_t bytes);

}  // namespace cpu
}  // namespace gelu_ext
