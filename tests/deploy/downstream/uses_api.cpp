// The C++ API of the installed headers, gradients included; prints "ok".
#include <ATen/ATen.h>
#include <gelu_ext/build_info.h>
#include <gelu_ext/gelu.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstring>
#include <iostream>

int main() {
  const char* version = gelu_ext::load();
  if (std::strcmp(version, gelu_ext_version()) != 0) {
    std::cerr << "gelu_ext::load() returned " << version << "\n";
    return 1;
  }
  const at::Tensor x = at::linspace(-6.0, 6.0, 241, at::kDouble).requires_grad_(true);
  const at::Tensor y = gelu_ext::gelu(x, gelu_ext::Approximation::Tanh);
  const auto grad = torch::autograd::grad({y.sum()}, {x})[0];
  const at::Tensor want = gelu_ext::gelu_backward(at::ones_like(x), x.detach(), "tanh");
  const double diff = (grad - want).abs().max().item<double>();
  const double ref = (y - at::gelu(x, "tanh")).abs().max().item<double>();
  if (!(diff == 0.0 && ref < 1e-12)) {
    std::cerr << "gradient differs by " << diff << ", value by " << ref << "\n";
    return 1;
  }
  std::cout << "ok (gelu_ext " << version << ")\n";
  return 0;
}
