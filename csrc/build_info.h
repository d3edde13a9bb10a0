// Build facts of the op library, as a C ABI so that the pybind11 module (and
// any program that dlopens the library) can read them without linking it.
#pragma once

#define GELU_EXT_C_API extern "C" __attribute__((visibility("default")))

GELU_EXT_C_API const char* gelu_ext_version();
// PyTorch version whose headers this library was compiled against ("2.14.1").
GELU_EXT_C_API const char* gelu_ext_torch_version();
// 1 when the CUDA kernels were compiled into this library.
GELU_EXT_C_API int gelu_ext_cuda_compiled();
// CUDA architectures compiled (";"-separated, as TORCH_CUDA_ARCH_LIST); "" if none.
GELU_EXT_C_API const char* gelu_ext_cuda_archs();
// SIMD paths compiled / usable on this CPU / in use (","-separated).
GELU_EXT_C_API const char* gelu_ext_simd_compiled();
GELU_EXT_C_API const char* gelu_ext_simd_supported();
GELU_EXT_C_API const char* gelu_ext_simd_selected();
// Switches the CPU kernels to another supported path; 0 on success, -1 if
// the path is unknown or not supported by this CPU.
GELU_EXT_C_API int gelu_ext_set_simd(const char* name);
