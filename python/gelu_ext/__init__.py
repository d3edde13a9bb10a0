"""gelu_ext: fused, accurate GELU for PyTorch.

Importing the package loads the op library, which registers
``torch.ops.gelu_ext.gelu`` and ``torch.ops.gelu_ext.gelu_backward`` (CPU,
CUDA when compiled, Meta, and C++ autograd).
"""

from __future__ import annotations

import torch  # noqa: F401  (loads libtorch before our extension modules)

from . import _C
from ._library import library_path, load

load()  # binds _C to the op library and checks that their versions match

from .nn import GELU, LeftAlone, Replacement, ReplaceReport, replace_gelu  # noqa: E402
from .ops import Approximate, gelu, gelu_, gelu_backward  # noqa: E402

__version__: str = _C.version()

__all__ = [
    "GELU",
    "Approximate",
    "LeftAlone",
    "ReplaceReport",
    "Replacement",
    "gelu",
    "gelu_",
    "gelu_backward",
    "library_path",
    "replace_gelu",
    "__version__",
]
