// The ops as a LibTorch program sees them: registered schemas and kernels,
// the dispatcher call and the C++ API agreeing, and the accuracy contract of
// docs/DESIGN.md against a long double reference, per dtype and mode.
#include <ATen/core/dispatch/Dispatcher.h>

#include <string>
#include <tuple>
#include <vector>

#include "test_util.h"

namespace gelu_ext_test {
namespace {

c10::OperatorHandle handle(const char* op) {
  auto h = c10::Dispatcher::singleton().findSchema({op, ""});
  if (!h.has_value()) throw std::runtime_error(std::string(op) + " is not registered");
  return *h;
}

at::Tensor dispatch_gelu(const at::Tensor& x, const std::string& approximate) {
  static auto op =
      handle("gelu_ext::gelu").typed<at::Tensor(const at::Tensor&, c10::string_view)>();
  return op.call(x, approximate);
}

at::Tensor dispatch_gelu_backward(const at::Tensor& g, const at::Tensor& x,
                                  const std::string& approximate) {
  static auto op = handle("gelu_ext::gelu_backward")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, c10::string_view)>();
  return op.call(g, x, approximate);
}

TEST(Registration, SchemasAsDesigned) {
  for (const auto& [op, schema] : std::vector<std::pair<const char*, std::string>>{
           {"gelu_ext::gelu", "gelu_ext::gelu(Tensor self, str approximate=\"none\") -> Tensor"},
           {"gelu_ext::gelu_backward",
            "gelu_ext::gelu_backward(Tensor grad_output, Tensor self, str "
            "approximate=\"none\") -> Tensor"}}) {
    SCOPED_TRACE(op);
    auto h = c10::Dispatcher::singleton().findSchema({op, ""});
    ASSERT_TRUE(h.has_value()) << op << " is not registered: is the op library loaded?";
    EXPECT_EQ(c10::toString(h->schema()), schema);
    // Autograd is the alias key: one kernel for every backend's autograd.
    for (auto key : {c10::DispatchKey::CPU, c10::DispatchKey::Meta, c10::DispatchKey::Autograd}) {
      EXPECT_TRUE(h->hasKernelForDispatchKey(key)) << op << " has no kernel for " << key;
    }
  }
}

// The allocation-free variants: schemas, their kernels (Autograd refuses,
// ADInplaceOrView bumps the version, Functionalize serves torch.compile).
TEST(Registration, AllocationFreeVariants) {
  for (const auto& [op, overload, schema] :
       std::vector<std::tuple<const char*, const char*, std::string>>{
           {"gelu_ext::gelu", "out",
            "gelu_ext::gelu.out(Tensor self, str approximate=\"none\", *, Tensor(a!) out) -> "
            "Tensor(a!)"},
           {"gelu_ext::gelu_backward", "grad_input",
            "gelu_ext::gelu_backward.grad_input(Tensor grad_output, Tensor self, str "
            "approximate=\"none\", *, Tensor(a!) grad_input) -> Tensor(a!)"},
           {"gelu_ext::gelu_", "",
            "gelu_ext::gelu_(Tensor(a!) self, str approximate=\"none\") -> Tensor(a!)"}}) {
    SCOPED_TRACE(op);
    auto h = c10::Dispatcher::singleton().findSchema({op, overload});
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(c10::toString(h->schema()), schema);
    for (auto key : {c10::DispatchKey::CPU, c10::DispatchKey::Meta, c10::DispatchKey::Autograd,
                     c10::DispatchKey::ADInplaceOrView, c10::DispatchKey::Functionalize}) {
      EXPECT_TRUE(h->hasKernelForDispatchKey(key)) << op << " has no kernel for " << key;
    }
  }
}

// From C++: the same bits as the functional ops, into any layout; version
// bumped; refused where autograd would need what is overwritten.
TEST(Dispatcher, AllocationFreeVariantsFromCpp) {
  const at::Tensor x = at::randn({37, 29}, at::kFloat) * 4;
  const at::Tensor g = at::randn({37, 29}, at::kFloat);
  for (const char* mode : {"none", "tanh", "sigmoid"}) {
    SCOPED_TRACE(mode);
    at::Tensor out = at::empty({29, 37}, at::kFloat).t();  // a transposed output
    EXPECT_TRUE(gelu_ext::gelu_out(out, x, mode).is_same(out));
    EXPECT_TRUE(bitwise_equal(out, gelu_ext::gelu(x, mode)));
    at::Tensor gi = at::empty_like(x);
    gelu_ext::gelu_backward_out(gi, g, x, mode);
    EXPECT_TRUE(bitwise_equal(gi, gelu_ext::gelu_backward(g, x, mode)));
    at::Tensor y = x.clone();
    const auto version = y._version();
    EXPECT_TRUE(gelu_ext::gelu_(y, mode).is_same(y));
    EXPECT_EQ(y._version(), version + 1);
    EXPECT_TRUE(bitwise_equal(y, gelu_ext::gelu(x, mode)));
  }
  at::Tensor wrong = at::empty({3}, at::kFloat);
  EXPECT_THROW(gelu_ext::gelu_out(wrong, x), c10::Error);
  at::Tensor leaf = at::randn({4}).requires_grad_(true);
  try {
    gelu_ext::gelu_(leaf);
    ADD_FAILURE() << "gelu_ on a tensor that requires grad must throw";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("gelu_ext::gelu_: self requires grad"), std::string::npos)
        << e.what();
  }
  {
    at::NoGradGuard no_grad;
    EXPECT_NO_THROW(gelu_ext::gelu_(leaf));
  }
}

TEST(Dispatcher, DefaultApproximationIsNone) {
  const at::Tensor x = at::linspace(-6, 6, 1001, at::kFloat);
  const at::Tensor none = dispatch_gelu(x, "none");
  EXPECT_TRUE(bitwise_equal(gelu_ext::gelu(x), none));
  EXPECT_TRUE(bitwise_equal(gelu_ext::gelu(x, Approximation::None), none));
  EXPECT_TRUE(bitwise_equal(gelu_ext::gelu(x, Approximation::Tanh), dispatch_gelu(x, "tanh")));
  EXPECT_FALSE(bitwise_equal(dispatch_gelu(x, "tanh"), none)) << "the modes must differ";
  const at::Tensor g = at::ones_like(x);
  EXPECT_TRUE(bitwise_equal(gelu_ext::gelu_backward(g, x), dispatch_gelu_backward(g, x, "none")));
}

// The C++ API and a bare dispatcher call run the same kernels, in every
// dtype and mode, forward and backward; outputs keep dtype and shape.
TEST(Dispatcher, ApiMatchesDispatcherCall) {
  at::manual_seed(0);
  const at::Tensor base = at::linspace(-10, 10, 4097, at::kDouble).reshape({241, 17});
  const at::Tensor gbase = at::linspace(-2, 3, 4097, at::kDouble).reshape({241, 17});
  for (auto dtype : float_dtypes()) {
    const at::Tensor x = base.to(dtype), g = gbase.to(dtype);
    for (auto a : modes()) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " " + name(a));
      const at::Tensor y = dispatch_gelu(x, name(a));
      EXPECT_EQ(y.scalar_type(), dtype);
      EXPECT_EQ(y.sizes(), x.sizes());
      EXPECT_TRUE(bitwise_equal(gelu_ext::gelu(x, name(a)), y));
      const at::Tensor gi = dispatch_gelu_backward(g, x, name(a));
      EXPECT_EQ(gi.scalar_type(), dtype);
      EXPECT_TRUE(bitwise_equal(gelu_ext::gelu_backward(g, x, name(a)), gi));
    }
  }
}

// Meta tensors: shape, dtype and strides as the CPU kernel produces them.
TEST(Dispatcher, MetaKernelsMatchCpuLayout) {
  const at::Tensor cpu = at::randn({7, 5}, at::kFloat).t();
  const at::Tensor meta =
      at::empty_strided(cpu.sizes(), cpu.strides(), cpu.options().device(at::kMeta));
  for (auto a : modes()) {
    const at::Tensor y = gelu_ext::gelu(meta, name(a));
    EXPECT_TRUE(y.is_meta());
    EXPECT_EQ(y.sizes(), cpu.sizes());
    EXPECT_EQ(y.strides(), gelu_ext::gelu(cpu, name(a)).strides());
    const at::Tensor gi = gelu_ext::gelu_backward(meta, meta, name(a));
    EXPECT_TRUE(gi.is_meta());
    EXPECT_EQ(gi.sizes(), cpu.sizes());
    EXPECT_EQ(gi.scalar_type(), at::kFloat);
  }
}

// ---------------------------------------------------------------------------
// Accuracy (docs/DESIGN.md, "Accuracy contract")
// ---------------------------------------------------------------------------

// Finite float32 inputs: a stride through all 2^32 bit patterns (every
// binade, subnormals included) plus a dense grid where GELU bends.
at::Tensor float32_sample() {
  std::vector<uint32_t> bits;
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 4093) bits.push_back(static_cast<uint32_t>(b));
  at::Tensor x = from_bits32(bits);
  x = x.masked_select(x.isfinite());
  return at::cat({x, at::linspace(-12, 12, 400001, at::kFloat)});
}

struct Worst {
  double err = 0;  // in the unit of the check
  LD x = 0, ref = 0, got = 0;
  void offer(double e, LD xi, LD r, LD g) {
    if (e > err || std::isnan(e)) *this = {std::isnan(e) ? INFINITY : e, xi, r, g};
  }
};
std::ostream& operator<<(std::ostream& os, const Worst& w) {
  return os << "worst " << w.err << " at x = " << static_cast<double>(w.x) << " (expected "
            << static_cast<double>(w.ref) << ", got " << static_cast<double>(w.got) << ")";
}

TEST(Accuracy, Float32ForwardWithin3UlpOr8SubnormalUlp) {
  const at::Tensor x = float32_sample();
  const std::vector<LD> xs = to_ld(x);
  for (auto a : modes()) {
    SCOPED_TRACE(name(a));
    const std::vector<LD> ys = to_ld(gelu_ext::gelu(x, name(a)));
    Worst normal, subnormal;
    for (size_t i = 0; i < xs.size(); ++i) {
      const LD r = ref::gelu(xs[i], a);
      const LD err = std::fabs(ys[i] - r);
      if (std::fabs(r) >= std::numeric_limits<float>::min()) {
        normal.offer(static_cast<double>(err / ulp<float>(r)), xs[i], r, ys[i]);
      } else {
        subnormal.offer(static_cast<double>(err / std::ldexp(1.0L, -149)), xs[i], r, ys[i]);
      }
    }
    EXPECT_LE(normal.err, 3.0) << "ulp, normal results: " << normal;
    EXPECT_LE(subnormal.err, 8.0) << "units of 2^-149, subnormal results: " << subnormal;
  }
}

TEST(Accuracy, Float32BackwardWithin4UlpPlus2PowMinus26) {
  const at::Tensor x = float32_sample();
  const std::vector<LD> xs = to_ld(x);
  for (auto a : modes()) {
    SCOPED_TRACE(name(a));
    const std::vector<LD> gs = to_ld(gelu_ext::gelu_backward(at::ones_like(x), x, name(a)));
    Worst worst;  // error / (4 ulp + 2^-26): <= 1 passes
    for (size_t i = 0; i < xs.size(); ++i) {
      const LD r = ref::derivative(xs[i], a);
      const LD tol = 4 * ulp<float>(r) + std::ldexp(1.0L, -26);
      worst.offer(static_cast<double>(std::fabs(gs[i] - r) / tol), xs[i], r, gs[i]);
    }
    EXPECT_LE(worst.err, 1.0) << "in units of the tolerance: " << worst;
  }
}

// grad_output is multiplied in after f'(x), with one rounding: in float32
// and float64, gelu_backward(g, x) == g * gelu_backward(1, x) exactly.
TEST(Accuracy, BackwardIsGradOutputTimesDerivative) {
  at::manual_seed(0);
  for (auto dtype : {at::kFloat, at::kDouble}) {
    const at::Tensor x = at::linspace(-9, 9, 20001, dtype);
    const at::Tensor g = at::randn({20001}, dtype) * 100;
    for (auto a : modes()) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " " + name(a));
      const at::Tensor d = gelu_ext::gelu_backward(at::ones_like(x), x, name(a));
      EXPECT_TRUE(bitwise_equal(gelu_ext::gelu_backward(g, x, name(a)), g * d));
    }
  }
}

// bfloat16 / float16: every finite input, computed in float and rounded
// once: within 1 ulp of the half type at the reference of the widened input.
template <class T>
void check_half_exhaustive(at::ScalarType dtype) {
  const at::Tensor x = all_finite_16bit(dtype);
  ASSERT_GT(x.numel(), 60000);
  const std::vector<LD> xs = to_ld(x);
  for (auto a : modes()) {
    SCOPED_TRACE(name(a));
    const std::vector<LD> ys = to_ld(gelu_ext::gelu(x, name(a)));
    const std::vector<LD> gs = to_ld(gelu_ext::gelu_backward(at::ones_like(x), x, name(a)));
    Worst fwd, bwd;
    for (size_t i = 0; i < xs.size(); ++i) {
      const LD r = ref::gelu(xs[i], a), d = ref::derivative(xs[i], a);
      fwd.offer(static_cast<double>(std::fabs(ys[i] - r) / ulp<T>(r)), xs[i], r, ys[i]);
      bwd.offer(static_cast<double>(std::fabs(gs[i] - d) / ulp<T>(d)), xs[i], d, gs[i]);
    }
    EXPECT_LE(fwd.err, 1.0) << "forward, ulp: " << fwd;
    EXPECT_LE(bwd.err, 1.0) << "backward, ulp: " << bwd;
  }
}

TEST(Accuracy, BFloat16ExhaustiveWithin1Ulp) {
  check_half_exhaustive<c10::BFloat16>(at::kBFloat16);
}
TEST(Accuracy, Float16ExhaustiveWithin1Ulp) { check_half_exhaustive<c10::Half>(at::kHalf); }

// float64: relative 1e-13 on a dense sweep wherever the result is a normal
// double (|x| <= 37.5 on the negative side), backward with an absolute floor
// of 2^-53 near the root of f'.
TEST(Accuracy, Float64DenseSweep) {
  std::vector<double> v;
  for (int i = 0; i <= 300000; ++i) v.push_back(-37.5 + 75.0 * i / 300000);
  for (double e = -300; e <= 300; e += 0.37) v.push_back(std::pow(10.0, e));
  for (double e = -300; e <= 1; e += 0.37) v.push_back(-std::pow(10.0, e));
  const at::Tensor x = at::tensor(v, at::kDouble);
  const std::vector<LD> xs = to_ld(x);
  for (auto a : modes()) {
    SCOPED_TRACE(name(a));
    const std::vector<LD> ys = to_ld(gelu_ext::gelu(x, name(a)));
    const std::vector<LD> gs = to_ld(gelu_ext::gelu_backward(at::ones_like(x), x, name(a)));
    Worst fwd, bwd;
    for (size_t i = 0; i < xs.size(); ++i) {
      const LD r = ref::gelu(xs[i], a), d = ref::derivative(xs[i], a);
      if (std::fabs(r) >= std::numeric_limits<double>::min()) {
        fwd.offer(static_cast<double>(std::fabs(ys[i] - r) / std::fabs(r)), xs[i], r, ys[i]);
      }
      const LD tol = 1e-13L * std::fabs(d) + std::ldexp(1.0L, -53);
      bwd.offer(static_cast<double>(std::fabs(gs[i] - d) / tol), xs[i], d, gs[i]);
    }
    EXPECT_LE(fwd.err, 1e-13) << "forward, relative: " << fwd;
    EXPECT_LE(bwd.err, 1.0) << "backward, in units of the tolerance: " << bwd;
  }
}

// docs/DESIGN.md's reference facts tie the reference to the published numbers.
TEST(Accuracy, ReferenceFacts) {
  // max |tanh - exact| = 4.73e-4 at |x| ~ 2.70
  LD worst = 0, where = 0;
  for (int i = 0; i <= 20000; ++i) {
    const LD xi = 10.0L * i / 20000;
    const LD d = std::fabs(ref::gelu(xi, Approximation::Tanh) - ref::gelu(xi, Approximation::None));
    if (d > worst) worst = d, where = xi;
  }
  EXPECT_NEAR(static_cast<double>(worst), 4.73e-4, 0.01e-4);
  EXPECT_NEAR(static_cast<double>(where), 2.70, 0.01);
  // max |sigmoid - exact| = 0.02033 at |x| ~ 2.27 (mpmath)
  worst = 0, where = 0;
  for (int i = 0; i <= 20000; ++i) {
    const LD xi = 10.0L * i / 20000;
    const LD d =
        std::fabs(ref::gelu(xi, Approximation::Sigmoid) - ref::gelu(xi, Approximation::None));
    if (d > worst) worst = d, where = xi;
  }
  EXPECT_NEAR(static_cast<double>(worst), 0.02033, 0.00001);
  EXPECT_NEAR(static_cast<double>(where), 2.27, 0.01);
  // roots of f': -0.75179 (exact), -0.75246 (tanh), -0.75115 (sigmoid; mpmath)
  const auto dgelu = [](double x, const char* a) {
    const at::Tensor t = at::scalar_tensor(x, at::kDouble);
    return gelu_ext::gelu_backward(at::ones_like(t), t, a).item<double>();
  };
  EXPECT_NEAR(dgelu(-0.75179, "none"), 0.0, 2e-5);
  EXPECT_NEAR(dgelu(-0.75246, "tanh"), 0.0, 2e-5);
  EXPECT_NEAR(dgelu(-0.751154, "sigmoid"), 0.0, 2e-5);
  EXPECT_GT(std::fabs(dgelu(-0.75246, "sigmoid")), 1e-4) << "the sigmoid root differs";
  EXPECT_GT(std::fabs(dgelu(-0.75246, "none")), 1e-4) << "the two roots differ";
  // min f ~ -0.16997
  const at::Tensor y = gelu_ext::gelu(at::linspace(-3, 0, 30001, at::kDouble));
  EXPECT_NEAR(y.min().item<double>(), -0.16997, 1e-5);
}

}  // namespace
}  // namespace gelu_ext_test
