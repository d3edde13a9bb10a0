// gelu_ext_infer: run a model that uses gelu_ext's ops from C++ (no Python):
// an AOTInductor package (.pt2, from torch._inductor.aoti_compile_and_package)
// or, the legacy path, a TorchScript file (.pt). Prints the output's shape, a
// checksum and the mean latency.
//
//   gelu_ext_infer MODEL [--format auto|aoti|torchscript] [--device cpu|cuda]
//                  [--batch N] [--runs N] [--warmup N] [--input FILE]
//                  [--expected FILE] [--load-library PATH]...
//
// --format auto (the default) tells the two apart by the archive's content.
// The input is FILE (a tensor written by Python's torch.save) or, without
// --input, a seeded standard-normal tensor: for a package, of the shape in its
// metadata (gelu_ext.input_shape) with dimension 0 (dynamic) set to --batch;
// for TorchScript, [batch, in_features] (the model's int attribute
// `in_features`, else the input width of its first 2-D weight). The latency is
// the mean over --runs runs after --warmup runs. --expected compares the output
// with a saved tensor and fails when they differ. --load-library loads op
// libraries that the model needs (gelu_ext's own, when the program does not
// link it). Exit status: 0 on success, 1 if the output does not match, 2 on
// any error (one line on stderr).
//
// The program references no symbol of the op library: linked (CMake target
// gelu_ext::gelu_ext links it --no-as-needed) or loaded with --load-library,
// its ops are found through the dispatcher.
#include <ATen/core/dispatch/Dispatcher.h>
#include <caffe2/serialize/inline_container.h>
#include <dlfcn.h>
#include <gelu_ext/loader.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/serialize.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr const char* kProg = "gelu_ext_infer";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string model;
  std::string format = "auto";
  std::string device = "cpu";
  int64_t batch = 8;
  int64_t runs = 20;
  int64_t warmup = 5;
  std::string input;
  std::string expected;
  std::vector<std::string> libraries;
};

void print_usage(std::ostream& out) {
  out << "usage: " << kProg
      << " MODEL [--format auto|aoti|torchscript] [--device cpu|cuda] [--batch N]\n"
         "                      [--runs N] [--warmup N] [--input FILE] [--expected FILE]\n"
         "                      [--load-library PATH]...\n"
         "Runs an AOTInductor package (.pt2) or a TorchScript model (.pt) that uses\n"
         "gelu_ext; prints the output's shape, a checksum and the mean latency over\n"
         "--runs runs (default 20) after --warmup runs (default 5), on a generated\n"
         "input (default batch 8) or FILE.\n";
}

int64_t parse_positive(const std::string& flag, const std::string& value) {
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || n < 1) {
    throw UsageError(flag + " must be a positive integer, got '" + value + "'");
  }
  return n;
}

Options parse_args(int argc, char** argv) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (a == "-h" || a == "--help") {
      print_usage(std::cout);
      std::exit(0);
    } else if (a == "--format") {
      o.format = value();
      if (o.format != "auto" && o.format != "aoti" && o.format != "torchscript") {
        throw UsageError("--format must be 'auto', 'aoti' or 'torchscript', got '" + o.format +
                         "'");
      }
    } else if (a == "--device") {
      o.device = value();
      if (o.device != "cpu" && o.device != "cuda") {
        throw UsageError("--device must be 'cpu' or 'cuda', got '" + o.device + "'");
      }
    } else if (a == "--batch") {
      o.batch = parse_positive(a, value());
    } else if (a == "--runs") {
      o.runs = parse_positive(a, value());
    } else if (a == "--warmup") {
      o.warmup = parse_positive(a, value());
    } else if (a == "--input") {
      o.input = value();
    } else if (a == "--expected") {
      o.expected = value();
    } else if (a == "--load-library") {
      o.libraries.push_back(value());
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("unknown option '" + a + "'");
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      throw UsageError("more than one model given ('" + o.model + "', '" + a + "')");
    }
  }
  if (o.model.empty()) throw UsageError("no model given");
  return o;
}

std::vector<char> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot open ") + what + " '" + path + "'");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A tensor written by Python's torch.save(tensor, path).
torch::Tensor load_tensor(const std::string& path, const char* what) {
  const torch::IValue value = torch::pickle_load(read_file(path, what));
  if (!value.isTensor()) {
    throw std::runtime_error(std::string(what) + " '" + path + "' does not hold a tensor");
  }
  return value.toTensor();
}

const std::string kMissingOpHint =
    ", which no loaded op library registers; load the library that defines it with "
    "--load-library PATH";

void check_readable(const std::string& path) {
  if (!std::ifstream(path, std::ios::binary)) {
    throw std::runtime_error("cannot open model '" + path + "': no such file or not readable");
  }
}

// "aoti" or "torchscript", from the archive's records: an AOTInductor package
// holds data/aotinductor/, a TorchScript file data.pkl and code/.
std::string detect_format(const std::string& path) {
  std::vector<std::string> records;
  try {
    records = caffe2::serialize::PyTorchStreamReader(path).getAllRecords();
  } catch (const c10::Error&) {
    throw std::runtime_error("model '" + path +
                             "' is not a PyTorch archive (neither an AOTInductor package nor "
                             "TorchScript)");
  }
  bool pickle = false;
  for (const auto& r : records) {
    if (r.rfind("data/aotinductor/", 0) == 0) return "aoti";
    pickle = pickle || r == "data.pkl";
  }
  if (pickle) return "torchscript";
  throw std::runtime_error("model '" + path +
                           "' is neither an AOTInductor package nor TorchScript (a torch.export "
                           "program? compile it with torch._inductor.aoti_compile_and_package)");
}

// A loaded model, either kind.
struct Model {
  std::function<torch::Tensor(const torch::Tensor&)> forward;
  std::function<torch::Tensor(int64_t batch)> make_input;  // seeded standard normal
};

torch::jit::Module load_torchscript(const std::string& path) {
  std::string what;
  try {
    return torch::jit::load(path);
  } catch (const c10::Error& e) {
    what = e.what_without_backtrace();
  } catch (const std::exception& e) {  // the TorchScript compiler's ErrorReport
    what = e.what();
  }
  // A model whose code calls an operator that no loaded library registers.
  static const std::regex unknown_op(R"(Unknown builtin op: ([A-Za-z0-9_]+::[A-Za-z0-9_]+))");
  std::smatch m;
  if (std::regex_search(what, m, unknown_op)) {
    throw std::runtime_error("model '" + path + "' needs operator " + m[1].str() + kMissingOpHint);
  }
  throw std::runtime_error("cannot load model '" + path + "': " + what);
}

int64_t input_features(const torch::jit::Module& model) {
  if (model.hasattr("in_features") && model.attr("in_features").isInt()) {
    return model.attr("in_features").toInt();
  }
  for (const auto& p : model.named_parameters(/*recurse=*/true)) {
    if (p.value.dim() == 2) return p.value.size(1);
  }
  throw std::runtime_error(
      "cannot tell the model's input width (no int attribute 'in_features' and no 2-D "
      "weight); give an input tensor with --input FILE");
}

Model torchscript_model(const std::string& path, const torch::Device& device) {
  auto module = std::make_shared<torch::jit::Module>(load_torchscript(path));
  module->eval();
  module->to(device);
  Model m;
  m.forward = [module](const torch::Tensor& x) {
    return module->forward(std::vector<torch::IValue>{x}).toTensor();
  };
  m.make_input = [module](int64_t batch) { return torch::randn({batch, input_features(*module)}); };
  return m;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

// Each gelu_ext op the package calls (its metadata gelu_ext.ops, written by
// python -m gelu_ext export) must be registered with the same schema: AOTI's
// proxy executor matches arguments by name and would otherwise fail late or
// silently drop an argument.
void check_package_ops(const std::string& path,
                       const std::unordered_map<std::string, std::string>& metadata) {
  const auto it = metadata.find("gelu_ext.ops");
  if (it == metadata.end()) return;
  for (const auto& wanted : split(it->second, ';')) {
    const std::string full_name = wanted.substr(0, wanted.find('('));
    const size_t dot = full_name.find('.');
    const std::string name = full_name.substr(0, dot);
    const std::string overload = dot == std::string::npos ? "" : full_name.substr(dot + 1);
    const auto op = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!op.has_value()) {
      throw std::runtime_error("package '" + path + "' needs operator " + full_name +
                               kMissingOpHint);
    }
    const std::string registered = c10::toString(op->schema());
    if (registered != wanted) {
      throw std::runtime_error("package '" + path + "' was exported for " + wanted +
                               " but the loaded op library registers " + registered +
                               "; export the package again with this gelu_ext, or load the "
                               "op library it was exported with");
    }
  }
}

Model aoti_model(const std::string& path, const torch::Device& device) {
  using torch::inductor::AOTIModelPackageLoader;
  std::unordered_map<std::string, std::string> metadata;
  try {
    metadata = AOTIModelPackageLoader::load_metadata_from_package(path, "model");
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot read AOTInductor package '" + path +
                             "': " + e.what_without_backtrace());
  }
  const std::string compiled_for =
      metadata.count("AOTI_DEVICE_KEY") != 0 ? metadata.at("AOTI_DEVICE_KEY") : std::string("cpu");
  if (compiled_for != device.str()) {
    throw std::runtime_error("package '" + path + "' was compiled for " + compiled_for +
                             ", not for --device " + device.str() +
                             " (python -m gelu_ext export writes one package per device)");
  }
  check_package_ops(path, metadata);

  std::shared_ptr<AOTIModelPackageLoader> loader;
  try {
    loader = std::make_shared<AOTIModelPackageLoader>(path, "model", /*run_single_threaded=*/false,
                                                      /*num_runners=*/1, device.index());
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    // A package without gelu_ext's metadata: the proxy executor's message.
    static const std::regex missing(R"(Could not find schema for ([A-Za-z0-9_]+::[A-Za-z0-9_.]+))");
    std::smatch m;
    if (std::regex_search(what, m, missing)) {
      throw std::runtime_error("package '" + path + "' needs operator " + m[1].str() +
                               kMissingOpHint);
    }
    throw std::runtime_error("cannot load AOTInductor package '" + path +
                             "': " + what.substr(0, what.find('\n')));
  }
  std::vector<int64_t> shape;
  if (metadata.count("gelu_ext.input_shape") != 0) {
    for (const auto& d : split(metadata.at("gelu_ext.input_shape"), ',')) {
      shape.push_back(std::stoll(d));
    }
  }
  Model m;
  m.forward = [loader](const torch::Tensor& x) { return loader->run({x}).at(0); };
  m.make_input = [shape, path](int64_t batch) {
    if (shape.empty()) {
      throw std::runtime_error("package '" + path +
                               "' does not record its input shape (gelu_ext.input_shape); "
                               "give an input tensor with --input FILE");
    }
    std::vector<int64_t> sizes = shape;
    sizes[0] = batch;
    return torch::randn(sizes);
  };
  return m;
}

// The op library's version, when one is loaded (a C symbol, looked up so that
// this program does not depend on the library at link time).
std::string library_version() {
  using VersionFn = const char* (*)();
  auto fn = reinterpret_cast<VersionFn>(dlsym(RTLD_DEFAULT, "gelu_ext_version"));
  return fn != nullptr ? fn() : "(op library not loaded)";
}

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

int run(const Options& o) {
  for (const auto& lib : o.libraries) gelu_ext::load_library(lib);
  if (o.device == "cuda" && !torch::cuda::is_available()) {
    throw std::runtime_error(
        "--device cuda requested but CUDA is not available here (no CUDA device, or a "
        "LibTorch built without CUDA)");
  }
  const torch::Device device(o.device == "cuda" ? torch::kCUDA : torch::kCPU);

  check_readable(o.model);
  const std::string format = o.format == "auto" ? detect_format(o.model) : o.format;
  Model model = format == "aoti" ? aoti_model(o.model, device) : torchscript_model(o.model, device);

  torch::Tensor x;
  if (!o.input.empty()) {
    x = load_tensor(o.input, "input");
  } else {
    torch::manual_seed(0);
    x = model.make_input(o.batch);
  }
  x = x.to(device);

  torch::InferenceMode guard;
  torch::Tensor y = model.forward(x);
  for (int64_t i = 1; i < o.warmup; ++i) y = model.forward(x);
  sync(device);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < o.runs; ++i) model.forward(x);
  sync(device);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      static_cast<double>(o.runs);

  const torch::Tensor y64 = y.to(torch::kCPU, torch::kDouble);
  std::printf("gelu_ext %s, model %s (%s), device %s\n", library_version().c_str(), o.model.c_str(),
              format.c_str(), o.device.c_str());
  std::cout << "input:  shape " << x.sizes() << ", dtype " << x.scalar_type() << "\n";
  std::cout << "output: shape " << y.sizes() << ", dtype " << y.scalar_type() << "\n";
  std::printf("checksum: sum %.9g, sum|y| %.9g\n", y64.sum().item<double>(),
              y64.abs().sum().item<double>());
  std::printf("latency: %.4f ms per run (mean of %lld runs)\n", ms, static_cast<long long>(o.runs));

  if (!o.expected.empty()) {
    const torch::Tensor want = load_tensor(o.expected, "expected output").to(torch::kDouble);
    if (want.sizes() != y64.sizes()) {
      std::cout << "expected: MISMATCH, shape " << want.sizes() << "\n";
      return 1;
    }
    const double diff = (y64 - want).abs().max().item<double>();
    // Float32 through Linear layers: summation order may differ from the
    // exporting process (other BLAS blocking, compiled kernels), so compare
    // with a tolerance.
    const bool ok = torch::allclose(y64, want, /*rtol=*/1e-4, /*atol=*/1e-5);
    std::printf("expected: max |y - expected| %.3g: %s\n", diff, ok ? "match" : "MISMATCH");
    return ok ? 0 : 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_args(argc, argv));
  } catch (const UsageError& e) {
    print_usage(std::cerr);
    std::cerr << kProg << ": error: " << e.what() << "\n";
  } catch (const c10::Error& e) {
    std::cerr << kProg << ": error: " << e.what_without_backtrace() << "\n";
  } catch (const std::exception& e) {
    std::cerr << kProg << ": error: " << e.what() << "\n";
  }
  return 2;
}
