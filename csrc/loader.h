// Loading an op library at run time, for programs that do not link it (for
// example a model server that learns from its configuration which op
// libraries a model needs). Header-only: using it needs no gelu_ext symbol.
//
//   #include <gelu_ext/loader.h>
//   gelu_ext::load_library("/opt/gelu_ext/lib/libgelu_ext_ops.so");
//   auto module = torch::jit::load("model.pt");  // finds gelu_ext::gelu now
//
// Programs that link the library (CMake: gelu_ext::gelu_ext) do not need
// this; they may call gelu_ext::load() (gelu.h) to check the registration.
#pragma once

#include <dlfcn.h>

#include <stdexcept>
#include <string>

namespace gelu_ext {

// dlopen()s the library at `path` with RTLD_NOW | RTLD_GLOBAL, which runs its
// op registrations; loading the same library again is a no-op. The handle is
// never closed: registered ops must outlive every use. Throws
// std::runtime_error with the loader's message when the library cannot be
// loaded (missing file, missing dependency, unresolved symbol).
inline void load_library(const std::string& path) {
  if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    const char* why = dlerror();
    throw std::runtime_error("gelu_ext::load_library: cannot load '" + path +
                             "': " + (why != nullptr ? why : "unknown error"));
  }
}

}  // namespace gelu_ext
