#include "simd_select.h"

#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "../simd.h"

namespace gelu_ext {
namespace cpu {
namespace {

bool cpu_has(const std::string& name) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (name == "avx2") {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  }
  if (name == "avx512") {
    return cpu_has("avx2") && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq");
  }
  if (name == "avx512-gather") return cpu_has("avx512");
#endif
  return name == "scalar";
}

// Whether the CPU's AVX-512 gathers beat scalar loads for the 16-bit result
// tables: the Intel server cores from Sapphire Rapids on, where they were
// measured faster in almost every cell (up to 2.1x), and not Ice Lake
// or Zen 4/5, where they were measured slower (docs/PERFORMANCE.md). Two signs,
// either of which is enough, since hypervisors have been seen to hide each:
// AVX512-FP16 (CPUID leaf 7, EDX bit 23), which those cores have and the
// slower ones lack, and the CPU model (family 6: Sapphire Rapids 0x8F,
// Emerald Rapids 0xCF, Granite Rapids 0xAD and 0xAE) on a GenuineIntel CPU.
// Only a preference: both tables give the same bits.
bool fast_gathers() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 23 & 1u) != 0) return true;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
  // "GenuineIntel", as EBX, EDX, ECX hold it
  const bool intel = b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu;
  if (!intel || !__get_cpuid(1, &a, &b, &c, &d)) return false;
  const unsigned family = a >> 8 & 0xfu;
  const unsigned model = (a >> 4 & 0xfu) | (a >> 12 & 0xf0u);
  return family == 6 && (model == 0x8f || model == 0xcf || model == 0xad || model == 0xae);
#else
  return false;
#endif
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

const ContigKernels* table(const std::string& name) {
  if (name == "scalar") return &scalar_kernels();
  if (name == "avx2") return avx2_kernels();
  if (name == "avx512") return avx512_kernels();
  if (name == "avx512-gather") return avx512_gather_kernels();
  return nullptr;
}

const ContigKernels* best_table() {
  const std::vector<std::string> supported = supported_simd_paths();
  const char* env = std::getenv("GELU_EXT_SIMD");
  if (env != nullptr && *env != '\0') {
    for (const auto& s : supported) {
      if (s == env) return table(s);
    }
  }
  return table(supported.back());
}

std::atomic<const ContigKernels*>& current() {
  static std::atomic<const ContigKernels*> ptr{best_table()};
  return ptr;
}

}  // namespace

std::vector<std::string> compiled_simd_paths() {
  std::vector<std::string> out;
  for (const char* name : {"scalar", "avx2", "avx512", "avx512-gather"}) {
    if (table(name) != nullptr) out.emplace_back(name);
  }
  return out;
}

std::vector<std::string> supported_simd_paths() {
  std::vector<std::string> out;
  for (const auto& name : compiled_simd_paths()) {
    if (cpu_has(name)) out.push_back(name);
  }
  // Best last: the gather table only where gathers are fast.
  const auto gather = std::find(out.begin(), out.end(), "avx512-gather");
  if (gather != out.end() && !fast_gathers()) std::iter_swap(gather, gather - 1);
  return out;
}

const ContigKernels& selected_kernels() { return *current().load(std::memory_order_acquire); }

bool set_simd_path(const std::string& name) {
  for (const auto& s : supported_simd_paths()) {
    if (s == name) {
      current().store(table(s), std::memory_order_release);
      return true;
    }
  }
  return false;
}

namespace {
std::atomic<int64_t>& streaming_threshold() {
  static std::atomic<int64_t> bytes{[] {
    // The last-level cache, at most 32 MiB: the large ones of server parts
    // (260-480 MiB seen in VMs) are shared with every other core of the
    // socket, so an output of more than 32 MiB leaves them before its next
    // reader comes (float32 at 16M elements, 64 MiB: 1.27-1.30x faster
    // streamed on a VM reporting 260 MiB, docs/PERFORMANCE.md).
    constexpr int64_t kCap = int64_t{32} << 20;
    int64_t llc = 0;
#if defined(_SC_LEVEL3_CACHE_SIZE)
    llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    return llc > 0 ? std::min(llc, kCap) : kCap;
  }()};
  return bytes;
}
}  // namespace

int64_t streaming_bytes() { return streaming_threshold().load(std::memory_order_relaxed); }
void set_streaming_bytes(int64_t bytes) {
  streaming_threshold().store(bytes, std::memory_order_relaxed);
}

}  // namespace cpu
}  // namespace gelu_ext

// The C ABI of simd.h.
const char* gelu_ext_simd_compiled() {
  static const std::string s = gelu_ext::cpu::join(gelu_ext::cpu::compiled_simd_paths());
  return s.c_str();
}

const char* gelu_ext_simd_supported() {
  static const std::string s = gelu_ext::cpu::join(gelu_ext::cpu::supported_simd_paths());
  return s.c_str();
}

const char* gelu_ext_simd_selected() { return gelu_ext::cpu::selected_kernels().name; }

int gelu_ext_set_simd(const char* name) {
  return name != nullptr && gelu_ext::cpu::set_simd_path(name) ? 0 : -1;
}

int64_t gelu_ext_streaming_bytes() { return gelu_ext::cpu::streaming_bytes(); }
void gelu_ext_set_streaming_bytes(int64_t bytes) { gelu_ext::cpu::set_streaming_bytes(bytes); }
