// Threads from C++: many std::threads calling the ops through the dispatcher
// at once get exactly the serial results, and the intra-op thread count
// (at::set_num_threads) and repeated runs do not change a bit. Sizes are
// several times the CPU kernel's parallel grain (kGrainSize = 16384 in
// csrc/cpu/gelu_cpu.cpp) and not multiples of it, so the work is split
// into uneven chunks. Comparisons are bitwise with any NaN equal to any NaN
// (test_util.h, bitwise_equal).
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <limits>
#include <thread>

#include "test_util.h"

namespace gelu_ext_test {
namespace {

constexpr int64_t kGrain = 16384;
constexpr int64_t kLarge = 3 * kGrain + 4093;

// Restores the intra-op thread count on scope exit.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(at::get_num_threads()) {}
  ~ThreadCountGuard() { at::set_num_threads(saved_); }

 private:
  int saved_;
};

at::Tensor dispatch_gelu(const at::Tensor& x, const std::string& approximate) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("gelu_ext::gelu", "")
                       .typed<at::Tensor(const at::Tensor&, c10::string_view)>();
  return op.call(x, approximate);
}

// Seeded values with the special ones mixed in (NaN, +-inf, +-0, subnormal).
at::Tensor inputs(at::ScalarType dtype, int64_t n, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::Tensor x = at::randn({n}, gen, at::kDouble) * 4;
  const double specials[] = {0.0,
                             -0.0,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN(),
                             1e-40,
                             -1e-40,
                             -30.0,
                             1e30};
  for (int64_t i = 0; i < static_cast<int64_t>(std::size(specials)); ++i) {
    x[(i * 7919) % n] = specials[i];
  }
  return x.to(dtype);
}

// Every kind of call the tests repeat: forward and backward through the C++
// API and a bare dispatcher call, strided inputs, small inputs below the
// grain, and autograd.
std::vector<std::pair<std::string, std::function<at::Tensor()>>> calls(at::ScalarType dtype) {
  const at::Tensor x = inputs(dtype, kLarge, 1);
  const at::Tensor g = inputs(dtype, kLarge, 2);
  const at::Tensor square = inputs(dtype, 263 * 257, 3).reshape({263, 257}).t();
  const at::Tensor small = x.slice(0, 0, 1000);
  std::vector<std::pair<std::string, std::function<at::Tensor()>>> out;
  for (auto a : modes()) {
    const std::string m = name(a);
    out.emplace_back("forward " + m, [=] { return gelu_ext::gelu(x, m); });
    out.emplace_back("dispatcher forward " + m, [=] { return dispatch_gelu(x, m); });
    out.emplace_back("backward " + m, [=] { return gelu_ext::gelu_backward(g, x, m); });
    out.emplace_back("strided forward " + m, [=] { return gelu_ext::gelu(square, m); });
    out.emplace_back("strided backward " + m,
                     [=] { return gelu_ext::gelu_backward(square, square, m); });
    out.emplace_back("small forward " + m, [=] { return gelu_ext::gelu(small, m); });
    out.emplace_back("autograd " + m, [=] {
      const at::Tensor leaf = x.detach().clone().set_requires_grad(true);
      return torch::autograd::grad({gelu_ext::gelu(leaf, m)}, {leaf}, {g})[0];
    });
  }
  return out;
}

TEST(Threads, ConcurrentCallsMatchSerial) {
  for (auto dtype : float_dtypes()) {
    SCOPED_TRACE(c10::toString(dtype));
    const auto work = calls(dtype);
    std::vector<at::Tensor> serial;
    for (const auto& [what, fn] : work) serial.push_back(fn());

    constexpr int kThreads = 6;
    constexpr int kRounds = 1;
    std::atomic<int> ready{0};
    std::vector<std::vector<std::pair<size_t, at::Tensor>>> results(kThreads);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();  // start together
        try {
          for (int r = 0; r < kRounds; ++r) {
            for (size_t k = 0; k < work.size(); ++k) {
              const size_t i = (t + k * (r + 1)) % work.size();  // each thread its own order
              results[t].emplace_back(i, work[i].second());
            }
          }
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_EQ(errors[t], "") << "thread " << t << " threw";
      ASSERT_EQ(results[t].size(), kRounds * work.size());
      for (const auto& [i, value] : results[t]) {
        EXPECT_TRUE(bitwise_equal(value, serial[i])) << "thread " << t << ", " << work[i].first;
      }
    }
  }
}

TEST(Threads, IntraOpThreadCountAndRepeatsDoNotChangeBits) {
  ThreadCountGuard guard;
  for (auto dtype : float_dtypes()) {
    SCOPED_TRACE(c10::toString(dtype));
    const auto work = calls(dtype);
    at::set_num_threads(1);
    std::vector<at::Tensor> reference;
    for (const auto& [what, fn] : work) reference.push_back(fn());
    for (int n : {2, 3, 4, 7, 1}) {
      at::set_num_threads(n);
      ASSERT_EQ(at::get_num_threads(), n);
      for (int rep = 0; rep < 2; ++rep) {
        for (size_t i = 0; i < work.size(); ++i) {
          EXPECT_TRUE(bitwise_equal(work[i].second(), reference[i]))
              << n << " threads, run " << rep << ", " << work[i].first;
        }
      }
    }
  }
}

// Concurrent callers, each calling with parallel regions inside (2 intra-op
// threads), while the inputs are shared read-only: inputs stay untouched.
TEST(Threads, ConcurrentCallsLeaveInputsUntouched) {
  const at::Tensor x = inputs(at::kFloat, kLarge, 4);
  const at::Tensor before = x.clone();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 3; ++r) {
        (void)gelu_ext::gelu(x, t % 2 ? "tanh" : "none");
        (void)gelu_ext::gelu_backward(x, x, t % 2 ? "none" : "tanh");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(std::memcmp(x.data_ptr(), before.data_ptr(), x.nbytes()), 0);
}

}  // namespace
}  // namespace gelu_ext_test
