// The pages of outputs the functional ops allocate themselves ("fresh"
// outputs): optional transparent-huge-page advice at allocation, and
// population of the pages just before the kernel writes them. Outputs given
// by the caller (out=, in place) are never touched. Used by the CPU driver,
// csrc/cpu/gelu_cpu.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>

namespace gelu_ext {
namespace cpu {

// Outputs the functional ops allocate themselves ("fresh") from this size
// on get the page treatment below; smaller ones are left to the allocator.
constexpr size_t kFreshOutputBytes = size_t{4} << 20;

// at::empty_like(like), with the huge-page advice where enabled
// (GELU_EXT_HUGEPAGES=1, fresh_output.cpp).
at::Tensor allocate_output(const at::Tensor& like);

// A fresh output of many megabytes is often written into pages the process
// has never touched: allocations of 32 MiB and more come straight from
// mmap, and the first write to each 4 KiB page traps into the kernel; for
// 64 MB that costs about three times GELU's arithmetic. Each thread instead
// asks the kernel to populate the next kPopulateChunkBytes of its range in
// one call (MADV_POPULATE_WRITE, Linux 5.14+), then computes them while they
// are still in cache. Smaller outputs usually reuse heap memory whose pages
// are resident, where the call would only cost time, so each chunk first
// asks mincore whether its last page is resident and skips the call if so.
// Same memory, same results (`python -m gelu_ext bench --outputs both`:
// docs/PERFORMANCE.md). Outputs given by the caller (out=, in place) are
// left alone.
constexpr int64_t kPopulateChunkBytes = int64_t{1} << 20;
void populate_for_write(char* p, int64_t bytes);

}  // namespace cpu
}  // namespace gelu_ext
