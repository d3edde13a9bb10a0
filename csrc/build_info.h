// Build facts of the op library, as a C ABI so that the pybind11 module (and
// any program that dlopens the library) can read them without linking it.
// The CPU's SIMD paths, compiled and selected, are in simd.h (included).
#pragma once

#include "simd.h"

GELU_EXT_C_API const char* gelu_ext_version();
// PyTorch version whose headers this library was compiled against ("2.14.1").
GELU_EXT_C_API const char* gelu_ext_torch_version();
// 1 when the CUDA kernels were compiled into this library.
GELU_EXT_C_API int gelu_ext_cuda_compiled();
// CUDA architectures compiled (";"-separated, as TORCH_CUDA_ARCH_LIST); "" if none.
GELU_EXT_C_API const char* gelu_ext_cuda_archs();
