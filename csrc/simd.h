// The CPU kernels' SIMD paths ("scalar", "avx2", "avx512"), as a C ABI like
// build_info.h: which were compiled, which this CPU can run, which is in use,
// and the switch to another one. Implemented beside the selection itself,
// csrc/cpu/simd_select.cpp.
#pragma once

#include <cstdint>

#ifndef GELU_EXT_C_API
#define GELU_EXT_C_API extern "C" __attribute__((visibility("default")))
#endif

// SIMD paths compiled / usable on this CPU / in use (","-separated).
GELU_EXT_C_API const char* gelu_ext_simd_compiled();
GELU_EXT_C_API const char* gelu_ext_simd_supported();
GELU_EXT_C_API const char* gelu_ext_simd_selected();
// Switches the CPU kernels to another supported path; 0 on success, -1 if
// the path is unknown or not supported by this CPU. The environment variable
// GELU_EXT_SIMD chooses the path the library starts with.
GELU_EXT_C_API int gelu_ext_set_simd(const char* name);
// Outputs given by the caller of at least this many bytes are written with
// non-temporal stores (float32 on the AVX-512 path; csrc/cpu/simd_select.h).
GELU_EXT_C_API int64_t gelu_ext_streaming_bytes();
GELU_EXT_C_API void gelu_ext_set_streaming_bytes(int64_t bytes);
