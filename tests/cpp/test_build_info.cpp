// The build facts C ABI (build_info.h) reports what CMake built.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "build_info.h"
#include "test_util.h"

namespace {

using gelu_ext_test::split_csv;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(BuildInfo, VersionIsTheVersionFile) {
  ASSERT_NE(gelu_ext_version(), nullptr);
  EXPECT_STREQ(gelu_ext_version(), GELU_EXT_EXPECTED_VERSION);
}

TEST(BuildInfo, TorchVersionIsTheHeadersVersion) {
  const std::string want = std::to_string(TORCH_VERSION_MAJOR) + "." +
                           std::to_string(TORCH_VERSION_MINOR) + "." +
                           std::to_string(TORCH_VERSION_PATCH);
  ASSERT_NE(gelu_ext_torch_version(), nullptr);
  EXPECT_EQ(gelu_ext_torch_version(), want);
}

TEST(BuildInfo, CudaFactsMatchTheConfiguration) {
  EXPECT_EQ(gelu_ext_cuda_compiled(), GELU_EXT_EXPECTED_CUDA);
  ASSERT_NE(gelu_ext_cuda_archs(), nullptr);
  EXPECT_STREQ(gelu_ext_cuda_archs(), GELU_EXT_EXPECTED_CUDA ? GELU_EXT_EXPECTED_CUDA_ARCHS : "");
}

TEST(BuildInfo, SimdListsAreConsistent) {
  const auto compiled = split_csv(gelu_ext_simd_compiled());
  const auto supported = split_csv(gelu_ext_simd_supported());
  const std::string selected = gelu_ext_simd_selected();
  ASSERT_FALSE(compiled.empty());
  EXPECT_EQ(compiled.front(), "scalar");
#if defined(__x86_64__)
  EXPECT_TRUE(contains(compiled, "avx2")) << gelu_ext_simd_compiled();
  EXPECT_TRUE(contains(compiled, "avx512")) << gelu_ext_simd_compiled();
  EXPECT_TRUE(contains(compiled, "avx512-gather")) << gelu_ext_simd_compiled();
#endif
  ASSERT_FALSE(supported.empty());
  EXPECT_EQ(supported.front(), "scalar");
  for (const auto& s : supported) EXPECT_TRUE(contains(compiled, s)) << s;
  // The best supported path, unless GELU_EXT_SIMD names another supported one
  // (ctest clears it).
  const char* env = std::getenv("GELU_EXT_SIMD");
  const bool overridden = env != nullptr && contains(supported, env);
  EXPECT_EQ(selected, overridden ? std::string(env) : supported.back());
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
TEST(BuildInfo, SupportedPathsFollowCpuFeatures) {
  __builtin_cpu_init();
  const auto supported = split_csv(gelu_ext_simd_supported());
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
  EXPECT_EQ(contains(supported, "avx2"), avx2) << gelu_ext_simd_supported();
  EXPECT_EQ(contains(supported, "avx512"), avx512) << gelu_ext_simd_supported();
  EXPECT_EQ(contains(supported, "avx512-gather"), avx512) << gelu_ext_simd_supported();
}
#endif

// The op library is a NEEDED dependency of this program (its static
// registrars ran), and exports the C ABI under its plain names so that a
// program or the Python module can dlsym it.
TEST(BuildInfo, LoadedLibraryExportsTheCAbi) {
  void* lib = dlopen("libgelu_ext_ops.so", RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(lib, nullptr) << "libgelu_ext_ops.so is not loaded in this process";
  for (const char* sym :
       {"gelu_ext_version", "gelu_ext_cuda_compiled", "gelu_ext_cuda_archs",
        "gelu_ext_simd_compiled", "gelu_ext_simd_supported", "gelu_ext_simd_selected",
        "gelu_ext_set_simd", "gelu_ext_torch_version"}) {
    EXPECT_NE(dlsym(lib, sym), nullptr) << sym;
  }
  using Fn = const char* (*)();
  const auto version = reinterpret_cast<Fn>(dlsym(lib, "gelu_ext_version"));
  ASSERT_NE(version, nullptr);
  EXPECT_STREQ(version(), GELU_EXT_EXPECTED_VERSION);
  dlclose(lib);
}

}  // namespace
