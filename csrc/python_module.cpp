// gelu_ext._C: build facts of the op library, for Python. The op library
// itself has no Python dependency; this module reads its C ABI
// (build_info.h) from the already loaded library, found by path.
#include <dlfcn.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

namespace py = pybind11;

// The version this module was built with (setup.py builds it together with
// the op library, from the same VERSION file).
#ifndef GELU_EXT_VERSION
#define GELU_EXT_VERSION "0.0.0+unknown"
#endif

namespace {

void* g_library = nullptr;

template <class Fn>
Fn symbol(const char* name) {
  if (g_library == nullptr) {
    throw std::runtime_error("gelu_ext._C: call gelu_ext._C.bind(library_path) first");
  }
  void* sym = dlsym(g_library, name);
  if (sym == nullptr) {
    throw std::runtime_error(std::string("gelu_ext._C: op library lacks symbol ") + name);
  }
  return reinterpret_cast<Fn>(sym);
}

std::string call_str(const char* name) { return symbol<const char* (*)()>(name)(); }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "Build facts of the gelu_ext op library.";
  m.def(
      "bind",
      [](const std::string& path) {
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
        if (handle == nullptr) {
          throw std::runtime_error("gelu_ext._C: op library not loaded: " + path);
        }
        g_library = handle;
      },
      py::arg("library_path"), "Attach to the loaded op library at library_path.");
  m.def("version", [] { return call_str("gelu_ext_version"); }, "gelu_ext version.");
  m.def(
      "package_version", [] { return std::string(GELU_EXT_VERSION); },
      "The version this Python module was built with; the op library must match it.");
  m.def(
      "torch_version", [] { return call_str("gelu_ext_torch_version"); },
      "PyTorch version the op library was compiled against (e.g. '2.14.1').");
  m.def(
      "cuda_compiled", [] { return symbol<int (*)()>("gelu_ext_cuda_compiled")() != 0; },
      "Whether CUDA kernels were compiled into the op library.");
  m.def(
      "cuda_archs", [] { return split(call_str("gelu_ext_cuda_archs"), ';'); },
      "CUDA architectures compiled (e.g. ['9.0+PTX']); empty without CUDA.");
  m.def(
      "simd_compiled", [] { return split(call_str("gelu_ext_simd_compiled"), ','); },
      "CPU SIMD paths compiled into the op library.");
  m.def(
      "simd_supported", [] { return split(call_str("gelu_ext_simd_supported"), ','); },
      "CPU SIMD paths this CPU can run.");
  m.def(
      "simd_selected", [] { return call_str("gelu_ext_simd_selected"); },
      "CPU SIMD path the kernels use now.");
  m.def(
      "set_simd",
      [](const std::string& name) {
        if (symbol<int (*)(const char*)>("gelu_ext_set_simd")(name.c_str()) != 0) {
          throw py::value_error("gelu_ext._C.set_simd: '" + name +
                                "' is not a SIMD path this CPU supports; supported: " +
                                call_str("gelu_ext_simd_supported"));
        }
      },
      py::arg("name"), "Switch the CPU kernels to another supported SIMD path.");
  m.def(
      "streaming_bytes", [] { return symbol<int64_t (*)()>("gelu_ext_streaming_bytes")(); },
      "Output size in bytes from which out= and in-place CPU calls write with "
      "non-temporal stores.");
  m.def(
      "set_streaming_bytes",
      [](int64_t bytes) {
        if (bytes < 0) {
          throw py::value_error("gelu_ext._C.set_streaming_bytes: bytes must be >= 0, got " +
                                std::to_string(bytes));
        }
        symbol<void (*)(int64_t)>("gelu_ext_set_streaming_bytes")(bytes);
      },
      py::arg("bytes"), "Set that size (tests and benchmarks).");
}
