#include "fresh_output.h"

#include <ATen/ATen.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace gelu_ext {
namespace cpu {
namespace {

// The whole `align`-sized blocks inside [p, p + bytes): [begin, end), empty
// when end <= begin.
struct AlignedSpan {
  uintptr_t begin, end;
};
AlignedSpan aligned_interior(const void* p, size_t bytes, uintptr_t align) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  return {(addr + align - 1) & ~(align - 1), (addr + bytes) & ~(align - 1)};
}

// Opt-in (GELU_EXT_HUGEPAGES=1): a fresh output of many megabytes costs more
// in first-touch page faults (one per 4 KiB page) than GELU's arithmetic.
// Asking for transparent huge pages on it before the kernel first writes it
// cuts the faults 512-fold where the kernel grants THP on request. It is off
// by default because it is a memory-policy choice with costs of its own: the
// first calls in a process can be slower while the kernel compacts memory
// (`python -m gelu_ext bench` with and without it: docs/PERFORMANCE.md).
bool huge_page_advice_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("GELU_EXT_HUGEPAGES");
    return env != nullptr && std::string(env) == "1";
  }();
  return enabled;
}

}  // namespace

at::Tensor allocate_output(const at::Tensor& like) {
  at::Tensor out = at::empty_like(like);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (out.nbytes() >= kFreshOutputBytes && huge_page_advice_enabled()) {
    const AlignedSpan s = aligned_interior(out.data_ptr(), out.nbytes(), uintptr_t{2} << 20);
    // Advice only: failure (e.g. THP disabled) leaves ordinary pages.
    if (s.end > s.begin) {
      (void)madvise(reinterpret_cast<void*>(s.begin), s.end - s.begin, MADV_HUGEPAGE);
    }
  }
#endif
  return out;
}

#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
namespace {
std::atomic<bool> populate_supported{true};
}  // namespace

// Advice only: on a kernel without MADV_POPULATE_WRITE (EINVAL) it stops
// asking; any other failure leaves the pages to be faulted in as usual.
void populate_for_write(char* p, int64_t bytes) {
  if (!populate_supported.load(std::memory_order_relaxed)) return;
  constexpr uintptr_t kPage = 4096;
  const AlignedSpan s = aligned_interior(p, static_cast<size_t>(bytes), kPage);
  if (s.end <= s.begin) return;
  unsigned char resident = 0;
  if (mincore(reinterpret_cast<void*>(s.end - kPage), kPage, &resident) == 0 && (resident & 1)) {
    return;
  }
  if (madvise(reinterpret_cast<void*>(s.begin), s.end - s.begin, MADV_POPULATE_WRITE) != 0 &&
      errno == EINVAL) {
    populate_supported.store(false, std::memory_order_relaxed);
  }
}
#else
void populate_for_write(char*, int64_t) {}
#endif

}  // namespace cpu
}  // namespace gelu_ext
