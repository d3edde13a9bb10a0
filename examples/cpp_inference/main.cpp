// gelu_ext_infer: load a TorchScript model that uses gelu_ext's ops and run it
// from C++ (no Python): prints the output's shape, a checksum and the mean
// latency.
//
//   gelu_ext_infer MODEL.pt [--device cpu|cuda] [--batch N] [--runs N]
//                  [--warmup N] [--input FILE] [--expected FILE]
//                  [--load-library PATH]...
//
// The input is FILE (a tensor written by Python's torch.save) or, without
// --input, a seeded standard-normal tensor of shape [batch, in_features]
// (the model's int attribute `in_features`, else the input width of its
// first 2-D weight). The latency is the mean over --runs runs after
// --warmup runs (TorchScript profiles and optimises the first ones). --expected compares the output
// with a saved tensor and fails when they differ. --load-library loads further op libraries that
// the model needs. Exit status: 0 on success, 1 if the output does not match, 2 on any error (one
// line on stderr).
#include <gelu_ext/gelu.h>
#include <gelu_ext/loader.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/serialize.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <regex>
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
      << " MODEL.pt [--device cpu|cuda] [--batch N] [--runs N] [--warmup N]\n"
         "                      [--input FILE] [--expected FILE] [--load-library PATH]...\n"
         "Runs a TorchScript model that uses gelu_ext; prints the output's shape, a\n"
         "checksum and the mean latency over --runs runs (default 20) after --warmup\n"
         "runs (default 5), on a [batch, in_features] input (default batch 8) or FILE.\n";
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

torch::jit::Module load_model(const std::string& path) {
  if (!std::ifstream(path, std::ios::binary)) {
    throw std::runtime_error("cannot open model '" + path + "': no such file or not readable");
  }
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
    throw std::runtime_error("model '" + path + "' needs operator " + m[1].str() +
                             ", which no loaded op library registers; load the library "
                             "that defines it with --load-library PATH");
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

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

int run(const Options& o) {
  for (const auto& lib : o.libraries) gelu_ext::load_library(lib);
  const char* version = gelu_ext::load();
  if (o.device == "cuda" && !torch::cuda::is_available()) {
    throw std::runtime_error(
        "--device cuda requested but CUDA is not available here (no CUDA device, or a "
        "LibTorch built without CUDA)");
  }
  const torch::Device device(o.device == "cuda" ? torch::kCUDA : torch::kCPU);

  torch::jit::Module model = load_model(o.model);
  model.eval();
  model.to(device);

  torch::Tensor x;
  if (!o.input.empty()) {
    x = load_tensor(o.input, "input");
  } else {
    torch::manual_seed(0);
    x = torch::randn({o.batch, input_features(model)});
  }
  x = x.to(device);

  torch::InferenceMode guard;
  std::vector<torch::IValue> inputs{x};
  torch::Tensor y = model.forward(inputs).toTensor();
  for (int64_t i = 1; i < o.warmup; ++i) y = model.forward(inputs).toTensor();
  sync(device);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < o.runs; ++i) model.forward(inputs);
  sync(device);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      static_cast<double>(o.runs);

  const torch::Tensor y64 = y.to(torch::kCPU, torch::kDouble);
  std::printf("gelu_ext %s, model %s, device %s\n", version, o.model.c_str(), o.device.c_str());
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
    // Float32 through two Linear layers: summation order may differ from the
    // exporting process (other BLAS blocking), so compare with a tolerance.
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
