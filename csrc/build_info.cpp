#include "build_info.h"

#include <torch/version.h>

#include <string>

#ifndef GELU_EXT_VERSION
#define GELU_EXT_VERSION "0.0.0+unknown"
#endif
#ifndef GELU_EXT_CUDA_ARCHS
#define GELU_EXT_CUDA_ARCHS ""
#endif

const char* gelu_ext_version() { return GELU_EXT_VERSION; }

const char* gelu_ext_torch_version() {
  // Built from the numeric macros, which every supported torch defines.
  static const std::string s = std::to_string(TORCH_VERSION_MAJOR) + "." +
                               std::to_string(TORCH_VERSION_MINOR) + "." +
                               std::to_string(TORCH_VERSION_PATCH);
  return s.c_str();
}

int gelu_ext_cuda_compiled() {
#if defined(GELU_EXT_WITH_CUDA)
  return 1;
#else
  return 0;
#endif
}

const char* gelu_ext_cuda_archs() { return gelu_ext_cuda_compiled() ? GELU_EXT_CUDA_ARCHS : ""; }
