// gelu_ext::gelu found and run through the dispatcher alone; prints "ok".
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <iostream>

int main() {
  const auto schema = c10::Dispatcher::singleton().findSchema({"gelu_ext::gelu", ""});
  if (!schema.has_value()) {
    std::cerr << "gelu_ext::gelu is not registered: the op library was not linked\n";
    return 1;
  }
  const auto op = schema->typed<at::Tensor(const at::Tensor&, c10::string_view)>();
  const at::Tensor x = at::linspace(-6.0, 6.0, 241);
  for (const char* mode : {"none", "tanh"}) {
    const double diff = (op.call(x, mode) - at::gelu(x, mode)).abs().max().item<double>();
    if (!(diff < 1e-6)) {
      std::cerr << "gelu_ext::gelu(" << mode << ") differs from at::gelu by " << diff << "\n";
      return 1;
    }
  }
  std::cout << "ok\n";
  return 0;
}
