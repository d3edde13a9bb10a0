// Bad calls fail with a c10::Error that names the op and says what was wrong,
// on every path a call can take (CPU, Meta, Autograd).
#include "test_util.h"

namespace gelu_ext_test {
namespace {

constexpr const char* kGelu = "gelu_ext::gelu";
constexpr const char* kBackward = "gelu_ext::gelu_backward";

// Inputs as the CPU kernel, the Meta kernel and the Autograd kernel see them.
std::vector<std::pair<std::string, at::Tensor>> variants(const at::Tensor& t) {
  std::vector<std::pair<std::string, at::Tensor>> out{{"cpu", t}, {"meta", t.to(at::kMeta)}};
  if (at::isFloatingType(t.scalar_type()))
    out.emplace_back("requires_grad", t.clone().set_requires_grad(true));
  return out;
}

TEST(Errors, IntegerAndBoolInputsRejected) {
  for (auto dtype : {at::kInt, at::kLong, at::kByte, at::kBool}) {
    const at::Tensor bad = at::ones({4}, dtype);
    const at::Tensor good = at::ones({4}, at::kFloat);
    for (const auto& [where, t] : variants(bad)) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " " + where);
      const at::Tensor ok = where == "meta" ? good.to(at::kMeta) : good;
      EXPECT_TRUE(throws_naming([&] { gelu_ext::gelu(t); }, kGelu, "floating-point"));
      EXPECT_TRUE(
          throws_naming([&] { gelu_ext::gelu_backward(t, t); }, kBackward, "floating-point"));
      EXPECT_TRUE(throws_naming([&] { gelu_ext::gelu_backward(ok, t); }, kBackward, "self"));
      EXPECT_TRUE(throws_naming([&] { gelu_ext::gelu_backward(t, ok); }, kBackward, "grad_output"));
    }
  }
}

TEST(Errors, BadApproximateListsValidValues) {
  const at::Tensor x = at::ones({4}, at::kFloat);
  for (const char* bad : {"", "Tanh", "erf", "none ", "exact"}) {
    for (const auto& [where, t] : variants(x)) {
      SCOPED_TRACE(std::string("'") + bad + "' " + where);
      const char* valid = "'none', 'tanh' or 'sigmoid'";
      EXPECT_TRUE(throws_naming([&] { gelu_ext::gelu(t, bad); }, kGelu, valid));
      EXPECT_TRUE(throws_naming([&] { gelu_ext::gelu_backward(t, t, bad); }, kBackward, valid));
      try {
        gelu_ext::gelu(t, bad);
      } catch (const c10::ValueError&) {
        SUCCEED();
        continue;
      } catch (...) {
      }
      ADD_FAILURE() << "a bad approximate must raise c10::ValueError (Python ValueError)";
    }
  }
  EXPECT_TRUE(throws_naming([] { gelu_ext::parse_approximation("bogus", "my_op"); }, "my_op",
                            "got 'bogus'"));
  EXPECT_EQ(gelu_ext::parse_approximation("none", "op"), Approximation::None);
  EXPECT_EQ(gelu_ext::parse_approximation("tanh", "op"), Approximation::Tanh);
  EXPECT_EQ(gelu_ext::parse_approximation("sigmoid", "op"), Approximation::Sigmoid);
  for (Approximation a : {Approximation::None, Approximation::Tanh, Approximation::Sigmoid}) {
    EXPECT_EQ(gelu_ext::parse_approximation(gelu_ext::to_string(a), "op"), a);
  }
}

TEST(Errors, BackwardShapeMismatch) {
  const at::Tensor x = at::ones({3, 4}, at::kFloat);
  for (const auto& shape : std::vector<std::vector<int64_t>>{{4, 3}, {12}, {3, 1}, {1, 3, 4}}) {
    const at::Tensor g = at::ones(shape, at::kFloat);
    for (size_t v = 0; v < 3; ++v) {
      const auto xv = variants(x)[v], gv = variants(g)[v];
      SCOPED_TRACE(xv.first);
      EXPECT_TRUE(throws_naming([&] { gelu_ext::gelu_backward(gv.second, xv.second); }, kBackward,
                                "same shape"));
    }
  }
}

TEST(Errors, BackwardDtypeMismatch) {
  const at::Tensor x = at::ones({5}, at::kFloat);
  const at::Tensor g = at::ones({5}, at::kDouble);
  EXPECT_TRUE(throws_naming([&] { gelu_ext::gelu_backward(g, x); }, kBackward, "same dtype"));
  EXPECT_TRUE(throws_naming([&] { gelu_ext::gelu_backward(g.to(at::kMeta), x.to(at::kMeta)); },
                            kBackward, "same dtype"));
}

TEST(Errors, UndefinedAndComplexInputs) {
  EXPECT_ANY_THROW(gelu_ext::gelu(at::Tensor()));
  EXPECT_TRUE(throws_naming([] { gelu_ext::gelu(at::ones({2}, at::kComplexFloat)); }, kGelu,
                            "floating-point"));
}

}  // namespace
}  // namespace gelu_ext_test
