"""Write a TorchScript model that calls an operator no C++ library defines.

    python make_unknown_op_model.py OUT.pt

The operator gelu_ext_test::mystery is defined in this Python process only,
so a C++ program loading OUT.pt must fail with a clear "unknown operator"
error (tested with gelu_ext_infer).
"""

from __future__ import annotations

import sys
import warnings

import torch

torch.library.define("gelu_ext_test::mystery", "(Tensor x) -> Tensor")


@torch.library.impl("gelu_ext_test::mystery", "CompositeExplicitAutograd")
def _mystery(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


class UsesMystery(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.gelu_ext_test.mystery(x)


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(UsesMystery()).save(sys.argv[1])
