// The memory floor of an elementwise kernel on this machine: how long a plain
// copy of N float32 values takes on T threads, with ordinary stores (what
// torch's copy_ and every gelu_ext kernel use) and with non-temporal
// stores (which skip reading the destination into the cache first). No
// elementwise kernel that reads N floats and writes N floats can be faster
// than the faster of the two. docs/PERFORMANCE.md quotes it.
//
//   c++ -O2 -mavx2 -pthread tools/stream_copy.cpp -o stream_copy
//   ./stream_copy [elements=16777216] [threads=2] [repeats=21]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void copy_range(const float* src, float* dst, size_t begin, size_t end, bool streaming) {
  size_t i = begin;
  if (streaming) {
    for (; i + 8 <= end; i += 8) _mm256_stream_ps(dst + i, _mm256_load_ps(src + i));
    _mm_sfence();
  } else {
    for (; i + 8 <= end; i += 8) _mm256_store_ps(dst + i, _mm256_load_ps(src + i));
  }
  for (; i < end; ++i) dst[i] = src[i];
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : size_t{1} << 24;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 21;
  if (n == 0 || threads < 1 || repeats < 1) {
    std::fprintf(stderr, "usage: stream_copy [elements>0] [threads>0] [repeats>0]\n");
    return 2;
  }
  const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  auto* src = static_cast<float*>(std::aligned_alloc(64, bytes));
  auto* dst = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (src == nullptr || dst == nullptr) {
    std::fprintf(stderr, "stream_copy: cannot allocate 2 x %zu bytes\n", bytes);
    return 2;
  }
  std::memset(src, 1, bytes);  // both buffers resident before timing
  std::memset(dst, 1, bytes);
  // Chunks of a multiple of 8 elements keep every thread's vector stores aligned.
  const size_t chunk = (n / threads + 7) / 8 * 8;
  std::printf("copy of %zu float32 (%.1f MB each way), %d threads, median of %d\n", n, n * 4 / 1e6,
              threads, repeats);
  for (const bool streaming : {false, true}) {
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
      const double t0 = now();
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) {
        const size_t begin = std::min(n, t * chunk);
        const size_t end = t + 1 == threads ? n : std::min(n, begin + chunk);
        pool.emplace_back(copy_range, src, dst, begin, end, streaming);
      }
      for (auto& th : pool) th.join();
      times.push_back(now() - t0);
    }
    std::sort(times.begin(), times.end());
    const double t = times[times.size() / 2];
    std::printf("%-20s %9.1f us  %6.2f GB/s (read + write)\n",
                streaming ? "non-temporal stores" : "ordinary stores", t * 1e6,
                2.0 * n * 4 / t / 1e9);
  }
  std::free(src);
  std::free(dst);
  return 0;
}
