#include "sweep.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "gelu.h"

namespace gelu_ext_accuracy {

const char* impl_name(Impl impl) { return impl == kGeluExt ? "gelu_ext" : "native"; }
const char* mode_name(Approximation mode) { return gelu_ext::to_string(mode); }
const char* direction_name(Direction dir) {
  return dir == Direction::Forward ? "forward" : "backward";
}

void Cell::merge(const Cell& o) {
  for (int i = 0; i < kNumImpls; ++i) impl[i].merge(o.impl[i]);
  cpu_vs_cuda.merge(o.cpu_vs_cuda);
  ref_checked += o.ref_checked;
  ref_check.merge(o.ref_check);
}

std::vector<uint32_t> special_patterns(const Format& fmt) {
  const uint32_t sign = uint32_t(1) << (fmt.bits - 1);
  const uint32_t inf = (sign - 1) ^ ((uint32_t(1) << (fmt.digits - 1)) - 1);
  const uint32_t qnan = inf | (uint32_t(1) << (fmt.digits - 2));
  return {0, sign, inf, sign | inf, qnan, 1, sign | 1, inf - 1, sign | (inf - 1)};
}

namespace {

constexpr uint64_t kRefCheckEvery = 1021;  // a prime: no stride aliases with it
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The patterns a sweep of `fmt` visits, in chunks: i * stride for i = 0, 1,
// ... up to 2^bits - 1, then the special values that the stride skipped.
class Patterns {
 public:
  // Chunks: small for the 16-bit formats (several per thread), larger on a
  // CUDA device (fewer launches and synchronising copies per input).
  Patterns(const Format& fmt, uint64_t stride, bool cuda)
      : stride_(fmt.bits == 16 ? 1 : stride),
        chunk_(fmt.bits == 16 ? 4096 : (cuda ? 1 << 20 : 1 << 16)) {
    strided_ = ((uint64_t(1) << fmt.bits) - 1) / stride_ + 1;
    for (uint32_t p : special_patterns(fmt)) {
      if (p % stride_ != 0) extra_.push_back(p);
    }
  }
  uint64_t size() const { return strided_ + extra_.size(); }
  uint64_t extra() const { return extra_.size(); }
  uint64_t chunks() const { return (size() + chunk_ - 1) / chunk_; }
  void fill(uint64_t chunk, std::vector<uint32_t>& out) const {
    out.clear();
    const uint64_t end = std::min(size(), (chunk + 1) * chunk_);
    for (uint64_t i = chunk * chunk_; i < end; ++i) {
      out.push_back(i < strided_ ? static_cast<uint32_t>(i * stride_) : extra_[i - strided_]);
    }
  }

 private:
  uint64_t stride_, chunk_, strided_;
  std::vector<uint32_t> extra_;
};

at::Tensor make_input(const Format& fmt, const std::vector<uint32_t>& patterns) {
  const auto n = static_cast<int64_t>(patterns.size());
  if (fmt.bits == 32) {
    at::Tensor t = at::empty({n}, at::kInt);
    std::memcpy(t.data_ptr(), patterns.data(), patterns.size() * sizeof(uint32_t));
    return t.view(at::kFloat);
  }
  at::Tensor t = at::empty({n}, at::kShort);
  auto* d = t.data_ptr<int16_t>();
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<int16_t>(static_cast<uint16_t>(patterns[i]));
  return t.view(fmt.dtype);
}

// Values of a (CPU or CUDA) tensor of any floating dtype, widened exactly.
std::vector<float> as_floats(const at::Tensor& t) {
  const at::Tensor f = t.to(at::kCPU).to(at::kFloat).contiguous();
  const float* p = f.data_ptr<float>();
  return std::vector<float>(p, p + f.numel());
}

// PyTorch has no sigmoid GELU: "native" is the composite x * sigmoid(1.702 x)
// that models write, and for backward what autograd computes for it, each
// step in x's dtype.
at::Tensor run_native_sigmoid(const at::Tensor& x, Direction dir) {
  constexpr double kK = 1.702;
  const at::Tensor s = at::sigmoid(x * kK);
  if (dir == Direction::Forward) return x * s;
  const at::Tensor grad = at::ones_like(x);
  return grad * s + at::sigmoid_backward(grad * x, s) * kK;
}

at::Tensor run(Impl impl, const at::Tensor& x, Approximation mode, Direction dir) {
  const char* m = mode_name(mode);
  if (impl == kNative && mode == Approximation::Sigmoid) return run_native_sigmoid(x, dir);
  if (dir == Direction::Forward) return impl == kGeluExt ? gelu_ext::gelu(x, m) : at::gelu(x, m);
  const at::Tensor grad = at::ones_like(x);
  return impl == kGeluExt ? gelu_ext::gelu_backward(grad, x, m) : at::gelu_backward(grad, x, m);
}

// The exact limit at a non-finite x: f(inf) = inf, f'(inf) = 1, f(-inf) =
// f'(-inf) = 0, NaN for NaN.
double limit_value(double x, Direction dir) {
  if (std::isnan(x)) return kNaN;
  if (x < 0) return 0.0;
  return dir == Direction::Forward ? kInf : 1.0;
}

// Non-finite inputs, and +-0 forward (whose result must keep the sign).
bool has_exact_limit(double x, Direction dir) {
  return !std::isfinite(x) || (x == 0 && dir == Direction::Forward);
}
bool limit_holds(double x, double out, Direction dir) {
  if (std::isnan(x)) return std::isnan(out);
  if (x == 0) return out == 0 && std::signbit(out) == std::signbit(x);
  return out == limit_value(x, dir);  // -0 == 0: either zero at -inf
}

void check(Stats& s, const Format& fmt, Direction dir, uint32_t p, double x, double out,
           double ref) {
  if (has_exact_limit(x, dir)) {
    ++s.limits_checked;
    if (!limit_holds(x, out, dir)) {
      ++s.limit_failures;
      s.first_limit_failure.update(0, p, x, out, std::isfinite(x) ? x : limit_value(x, dir));
    }
    if (!std::isfinite(x)) return;
  }
  ++s.finite;
  const double err = abs_error(out, ref);
  if (fmt.bits == 32 && dir == Direction::Forward && !is_normal_in(ref, fmt)) {
    ++s.subnormal_count;
    s.subnormal.update(err / pow2(-149), p, x, out, ref);
  } else {
    ++s.ulp_count;
    const double u = err / ulp(ref, fmt);
    s.max_ulp.update(u, p, x, out, ref);
    if (std::isfinite(out)) s.max_ulp_finite.update(u, p, x, out, ref);
    s.above_1 += u > 1;
    s.above_2 += u > 2;
    s.above_4 += u > 4;
  }
  const double c = err / tolerance(ref, fmt, dir);
  s.contract.update(c, p, x, out, ref);
  s.violations += c > 1;
}

// Position of v among the numbers of `fmt` (v is one of them), signed, so
// that the difference of two positions counts the numbers between them.
int64_t ordinal(float v, const Format& fmt) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  if (fmt.bits == 16) b = fmt.dtype == at::kBFloat16 ? b >> 16 : c10::Half(v).x;
  const uint32_t sign = uint32_t(1) << (fmt.bits - 1);
  const auto mag = static_cast<int64_t>(b & (sign - 1));
  return (b & sign) ? -mag : mag;
}

double distance(float a, float b, const Format& fmt) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : kInf;
  return static_cast<double>(std::llabs(ordinal(a, fmt) - ordinal(b, fmt)));
}

void process_chunk(const Format& fmt, const Options& opt, const std::vector<uint32_t>& pats,
                   FormatResult& res) {
  const at::Tensor x = make_input(fmt, pats);
  const std::vector<float> xs = as_floats(x);
  const at::Tensor xd = opt.cuda ? x.to(at::kCUDA) : x;
  const size_t n = pats.size();
  std::vector<Value<double>> refs(n);
  for (Approximation mode : opt.modes) {
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(xs[i])) continue;
      refs[i] = reference_value(xs[i], mode);
      if (fmt.bits == 32 && pats[i] % kRefCheckEvery != 0) continue;
      const Value<long double> wide = reference<long double>(xs[i], mode);
      for (Direction dir : opt.directions) {
        const bool fwd = dir == Direction::Forward;
        const double r = fwd ? refs[i].f : refs[i].df;
        const auto w = static_cast<double>(fwd ? wide.f : wide.df);
        Cell& cell = res.cell(mode, dir);
        ++cell.ref_checked;
        cell.ref_check.update(std::fabs(r - w) / ulp(w, fmt), pats[i], xs[i], r, w);
      }
    }
    for (Direction dir : opt.directions) {
      Cell& cell = res.cell(mode, dir);
      const bool fwd = dir == Direction::Forward;
      std::vector<float> device_ext;
      for (Impl impl : {kGeluExt, kNative}) {
        std::vector<float> out = as_floats(run(impl, xd, mode, dir));
        const bool inject = impl == kGeluExt && opt.inject_ulps != 0;
        for (size_t i = 0; i < n; ++i) {
          double o = out[i];
          if (inject && std::isfinite(o)) o += opt.inject_ulps * ulp(o, fmt);
          check(cell.impl[impl], fmt, dir, pats[i], xs[i], o, fwd ? refs[i].f : refs[i].df);
        }
        if (impl == kGeluExt) device_ext = std::move(out);
      }
      if (!opt.cuda) continue;
      const std::vector<float> cpu = as_floats(run(kGeluExt, x, mode, dir));
      Agreement& a = cell.cpu_vs_cuda;
      for (size_t i = 0; i < n; ++i) {
        const double d = distance(cpu[i], device_ext[i], fmt);
        ++a.compared;
        a.differ += d > 0;
        a.above_limit += d > static_cast<double>(max_cpu_device_distance(fmt));
        a.max_distance.update(d, pats[i], xs[i], device_ext[i], cpu[i]);
      }
    }
  }
}

}  // namespace

FormatResult sweep(const Format& fmt, const Options& opt) {
  const Patterns patterns(fmt, opt.stride, opt.cuda);
  FormatResult total;
  total.format = &fmt;
  total.patterns = patterns.size();
  total.special_extra = patterns.extra();
  const uint64_t chunks = patterns.chunks();
  std::atomic<uint64_t> next{0}, done{0};
  std::atomic<int> running{0};
  std::mutex mu;
  std::exception_ptr error;

  auto work = [&] {
    try {
      c10::InferenceMode guard;
      FormatResult local;
      std::vector<uint32_t> pats;
      for (uint64_t c; (c = next++) < chunks; ++done) {
        patterns.fill(c, pats);
        process_chunk(fmt, opt, pats, local);
      }
      std::lock_guard<std::mutex> lock(mu);
      total.merge(local);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
      next = chunks;  // the others stop after their current chunk
    }
    --running;
  };

  const int nthreads = static_cast<int>(std::min<uint64_t>(opt.threads, chunks));
  running = nthreads;
  std::vector<std::thread> pool;
  for (int t = 0; t < nthreads; ++t) pool.emplace_back(work);
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t reported = 0; running > 0;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const uint64_t tenth = 10 * done / chunks;
    if (opt.progress && chunks >= 1000 && tenth > reported && tenth < 10) {
      reported = tenth;
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "  %s: %d0%% after %.0f s\n", fmt.name, static_cast<int>(tenth), s);
    }
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return total;
}

std::vector<SpecialRow> special_values(const Format& fmt, const Options& opt) {
  const std::vector<uint32_t> pats = special_patterns(fmt);
  const at::Tensor x = make_input(fmt, pats);
  const std::vector<float> xs = as_floats(x);
  const at::Tensor xd = opt.cuda ? x.to(at::kCUDA) : x;
  std::vector<SpecialRow> rows(pats.size());
  for (size_t i = 0; i < pats.size(); ++i) {
    rows[i].pattern = pats[i];
    rows[i].x = xs[i];
  }
  for (Approximation mode : opt.modes) {
    for (Direction dir : opt.directions) {
      const bool fwd = dir == Direction::Forward;
      const std::vector<float> ext = as_floats(run(kGeluExt, xd, mode, dir));
      const std::vector<float> nat = as_floats(run(kNative, xd, mode, dir));
      for (size_t i = 0; i < pats.size(); ++i) {
        double ref = limit_value(xs[i], dir);
        if (std::isfinite(xs[i])) {
          const Value<double> r = reference_value(xs[i], mode);
          ref = fwd ? r.f : r.df;
        }
        rows[i].value[static_cast<int>(mode)][static_cast<int>(dir)] = {ref, ext[i], nat[i]};
      }
    }
  }
  return rows;
}

}  // namespace gelu_ext_accuracy
