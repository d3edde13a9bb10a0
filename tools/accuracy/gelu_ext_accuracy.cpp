// gelu_ext_accuracy: the exhaustive accuracy sweep of docs/ACCURACY.md.
//
// Every float32 bit pattern (or every k-th, --stride) and every bfloat16 and
// float16 pattern goes through gelu_ext's ops (via the dispatcher) and
// through PyTorch's native at::gelu / at::gelu_backward (grad = 1), for both
// modes; each result is compared with reference.h. Exit status: 0 when
// gelu_ext meets the contract of docs/ACCURACY.md everywhere swept, 1 when
// it does not (native results are reported, never judged), 2 on a usage
// error or when the run cannot be made (e.g. --device cuda without a CUDA
// device).
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "build_info.h"
#include "report.h"

namespace gelu_ext_accuracy {
namespace {

const char* kUsage = R"(usage: gelu_ext_accuracy [options]

Sweeps gelu_ext's GELU and GELU' (grad = 1) and PyTorch's native ones over
every float32, bfloat16 and float16 bit pattern and checks gelu_ext against
the accuracy contract (docs/ACCURACY.md). Exit status 0: contract met;
1: broken; 2: usage error or the run cannot be made.

  --stride K        float32: every K-th bit pattern plus all special values
                    (default 1: all 2^32); 16-bit types are always swept in full
  --dtype LIST      float32,bfloat16,float16 or all (default all)
  --mode LIST       none,tanh,sigmoid or all (default all); PyTorch has no
                    sigmoid GELU, so there "native" is the composite
                    x * sigmoid(1.702 x) and its autograd backward
  --direction LIST  forward,backward or all (default all)
  --device D        cpu (default) or cuda: run both implementations on the
                    first CUDA device and compare gelu_ext there with gelu_ext
                    on the CPU (float32: at most 2 representable numbers apart)
  --threads N       worker threads (default: all hardware threads)
  --simd PATH       gelu_ext CPU path: scalar, avx2, avx512 (default: the best)
  --json FILE       also write the results as JSON
  --quiet           no progress lines on stderr
  --inject-error U  testing the tool: add U ulp to every finite gelu_ext
                    result before checking (the run must then fail)
)";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "gelu_ext_accuracy: %s\n(--help lists the options)\n", msg.c_str());
  std::exit(2);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t comma; (comma = s.find(',', start)) != std::string::npos; start = comma + 1) {
    out.push_back(s.substr(start, comma - start));
  }
  out.push_back(s.substr(start));
  return out;
}

// A comma-separated subset of `names` ("all" for every one), as values.
template <class T>
std::vector<T> parse_list(const std::string& opt, const std::string& arg,
                          const std::vector<std::pair<std::string, T>>& names) {
  std::vector<T> out;
  std::string valid;
  for (const auto& n : names) valid += (valid.empty() ? "" : ", ") + n.first;
  for (const std::string& item : split(arg)) {
    bool found = false;
    for (const auto& n : names) {
      if (item == n.first || item == "all") {
        out.push_back(n.second);
        found = true;
      }
    }
    if (!found) usage_error(opt + ": unknown value '" + item + "' (valid: " + valid + ", all)");
  }
  return out;
}

uint64_t parse_positive(const std::string& opt, const std::string& arg) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(arg.c_str(), &end, 10);
  if (arg.empty() || *end != '\0' || v == 0 || arg[0] == '-') {
    usage_error(opt + " needs a positive integer, got '" + arg + "'");
  }
  return v;
}

struct Cli {
  Options opt;
  std::string json, simd;
};

Cli parse(int argc, char** argv) {
  Cli cli;
  cli.opt.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (a == "--quiet") {
      cli.opt.progress = false;
      continue;
    }
    if (i + 1 >= argc) usage_error(a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--stride") {
      cli.opt.stride = parse_positive(a, v);
      if (cli.opt.stride > (uint64_t(1) << 32)) usage_error("--stride must be at most 2^32");
    } else if (a == "--dtype") {
      cli.opt.formats = parse_list<const Format*>(
          a, v, {{"float32", &kFloat32}, {"bfloat16", &kBFloat16}, {"float16", &kFloat16}});
    } else if (a == "--mode") {
      cli.opt.modes = parse_list<Approximation>(a, v,
                                                {{"none", Approximation::None},
                                                 {"tanh", Approximation::Tanh},
                                                 {"sigmoid", Approximation::Sigmoid}});
    } else if (a == "--direction") {
      cli.opt.directions = parse_list<Direction>(
          a, v, {{"forward", Direction::Forward}, {"backward", Direction::Backward}});
    } else if (a == "--device") {
      if (v != "cpu" && v != "cuda") usage_error("--device must be cpu or cuda, got '" + v + "'");
      cli.opt.cuda = v == "cuda";
    } else if (a == "--threads") {
      cli.opt.threads = static_cast<int>(std::min<uint64_t>(parse_positive(a, v), 1024));
    } else if (a == "--simd") {
      cli.simd = v;
    } else if (a == "--json") {
      cli.json = v;
    } else if (a == "--inject-error") {
      char* end = nullptr;
      cli.opt.inject_ulps = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0') usage_error("--inject-error needs a number, got '" + v + "'");
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  return cli;
}

// Refuses, with the reason, a CUDA run that cannot be made.
void require_cuda() {
  const char* reason = nullptr;
  if (!gelu_ext_cuda_compiled()) {
    reason = "this gelu_ext library was built without its CUDA kernels";
  } else if (!torch::cuda::is_available()) {
    reason = "no CUDA device is available to this process";
  }
  if (reason != nullptr) {
    std::fprintf(stderr, "gelu_ext_accuracy: --device cuda: %s\n", reason);
    std::exit(2);
  }
}

int run_main(int argc, char** argv) {
  const Cli cli = parse(argc, argv);
  const Options& opt = cli.opt;
  if (opt.cuda) require_cuda();
  if (!cli.simd.empty() && gelu_ext_set_simd(cli.simd.c_str()) != 0) {
    usage_error("--simd '" + cli.simd +
                "' is not a path this CPU supports (supported: " + gelu_ext_simd_supported() + ")");
  }
  // The workers call the ops concurrently, each on its own chunk: the ops'
  // own intra-op parallelism would only oversubscribe the cores.
  at::set_num_threads(1);

  RunInfo info;
  info.gelu_ext_version = gelu_ext_version();
  info.torch_version = gelu_ext_torch_version();
  info.device = opt.cuda ? "cuda" : "cpu";
  info.simd = gelu_ext_simd_selected();
  const auto start = std::chrono::steady_clock::now();
  std::vector<FormatReport> reports;
  for (const Format* f : opt.formats) {
    // Special values first, on this thread: the first call of each op also
    // initialises the library's state before the workers share it.
    std::vector<SpecialRow> specials = special_values(*f, opt);
    reports.push_back({sweep(*f, opt), std::move(specials)});
  }
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  print_text(stdout, info, opt, reports);
  bool met = true;
  for (const FormatReport& r : reports) met = met && meets_contract(r.result, opt);
  std::printf("\n%.1f s with %d threads\nRESULT: gelu_ext %s the contract\n", info.seconds,
              opt.threads, met ? "meets" : "BREAKS");
  if (!cli.json.empty() && !write_json(cli.json, info, opt, reports)) {
    std::fprintf(stderr, "gelu_ext_accuracy: cannot write %s: %s\n", cli.json.c_str(),
                 std::strerror(errno));
    return 2;
  }
  return met ? 0 : 1;
}

}  // namespace
}  // namespace gelu_ext_accuracy

int main(int argc, char** argv) {
  try {
    return gelu_ext_accuracy::run_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gelu_ext_accuracy: %s\n", e.what());
    return 2;
  }
}
