// runs_aoti_package PACKAGE.pt2 INPUT.pt EXPECTED.pt: runs an AOTInductor
// package that calls gelu_ext's ops on a saved input and compares the output
// with the saved one (torch.save files); prints "ok".
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

torch::Tensor load_tensor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in),
                                std::istreambuf_iterator<char>()};
  return torch::pickle_load(bytes).toTensor();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: runs_aoti_package PACKAGE.pt2 INPUT.pt EXPECTED.pt\n";
    return 2;
  }
  torch::inductor::AOTIModelPackageLoader loader(argv[1]);
  torch::InferenceMode guard;
  const torch::Tensor y = loader.run({load_tensor(argv[2])}).at(0);
  const torch::Tensor want = load_tensor(argv[3]);
  if (y.sizes() != want.sizes() || !torch::allclose(y, want, /*rtol=*/1e-4, /*atol=*/1e-5)) {
    std::cerr << "runs_aoti_package: the output differs from " << argv[3] << "\n";
    return 1;
  }
  std::cout << "ok\n";
  return 0;
}
