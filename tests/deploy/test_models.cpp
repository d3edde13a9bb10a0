// A model exported from Python (python -m gelu_ext export, run by ctest as a
// fixture into GELU_EXT_TEST_MODEL_DIR) loaded and run from C++ with
// torch::jit::load: the same output as in Python, and gradients through the
// scripted module with torch::autograd::grad.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/serialize.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gelu.h"

namespace {

std::string model_dir() {
  const char* dir = std::getenv("GELU_EXT_TEST_MODEL_DIR");
  return dir != nullptr ? dir : "";
}

torch::Tensor load_tensor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return torch::pickle_load(bytes).toTensor();
}

class ExportedModel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // Set by ctest; running the binary by hand needs the directory too.
    ASSERT_FALSE(model_dir().empty())
        << "GELU_EXT_TEST_MODEL_DIR is not set: run python -m gelu_ext export --out DIR first";
    stem_ = model_dir() + "/mlp_" + GetParam();
    module_ = torch::jit::load(stem_ + ".pt");
    module_.eval();
    input_ = load_tensor(stem_ + "_input.pt");
  }

  torch::Tensor forward(const torch::Tensor& x) { return module_.forward({x}).toTensor(); }

  std::string stem_;
  torch::jit::Module module_;
  torch::Tensor input_;
};

// The same kernels on the same machine; only the Linear layers' summation
// order may differ between the two processes.
void expect_close(const torch::Tensor& got, const torch::Tensor& want) {
  ASSERT_EQ(got.sizes(), want.sizes());
  ASSERT_EQ(got.scalar_type(), want.scalar_type());
  EXPECT_TRUE(torch::allclose(got.cpu(), want, /*rtol=*/1e-5, /*atol=*/1e-6))
      << "max |diff| = " << (got.cpu() - want).abs().max().item<double>();
}

TEST_P(ExportedModel, UsesTheOp) {
  bool found = false;
  for (const auto& m : module_.named_modules()) {
    const auto graph = m.value.get_method("forward").graph();
    for (const auto* node : graph->nodes()) {
      found = found || node->kind().toQualString() == std::string("gelu_ext::gelu");
    }
  }
  EXPECT_TRUE(found) << "the exported block does not call gelu_ext::gelu";
  EXPECT_EQ(module_.attr("in_features").toInt(), input_.size(1));
}

TEST_P(ExportedModel, MatchesPythonOutput) {
  torch::InferenceMode guard;
  expect_close(forward(input_), load_tensor(stem_ + "_expected.pt"));
}

TEST_P(ExportedModel, GradientThroughScriptedModule) {
  const torch::Tensor x = input_.clone().requires_grad_(true);
  const torch::Tensor y = forward(x);
  const auto grads = torch::autograd::grad({y.sum()}, {x});
  expect_close(grads[0], load_tensor(stem_ + "_input_grad.pt"));
}

TEST_P(ExportedModel, MatchesPythonOutputOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device available";
  module_.to(torch::kCUDA);
  torch::InferenceMode guard;
  const torch::Tensor y = forward(input_.cuda());
  EXPECT_TRUE(y.is_cuda());
  // Other devices sum the Linear layers in another order: float32 tolerance.
  const torch::Tensor want = load_tensor(stem_ + "_expected.pt");
  EXPECT_TRUE(torch::allclose(y.cpu(), want, /*rtol=*/1e-4, /*atol=*/1e-5))
      << "max |diff| = " << (y.cpu() - want).abs().max().item<double>();
}

INSTANTIATE_TEST_SUITE_P(Modes, ExportedModel, ::testing::Values("none", "tanh"),
                         [](const auto& info) { return info.param; });

}  // namespace
