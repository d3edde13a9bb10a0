"""Locating and loading the compiled op library."""

from __future__ import annotations

import glob
import os

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))


def library_path() -> str:
    """Path of the compiled op library (``_ops*.so``).

    Pass it to :func:`torch.ops.load_library` in another process, or link /
    ``dlopen`` it from a C++ program. The library has no Python dependency.
    """
    candidates = sorted(glob.glob(os.path.join(_HERE, "_ops*.so")))
    if not candidates:
        raise FileNotFoundError(
            f"gelu_ext: compiled op library not found next to {__file__}; "
            "build the package first (pip install --no-build-isolation -e .)"
        )
    return candidates[0]


def load() -> str:
    """Load the op library into this process (idempotent); returns its path."""
    path = library_path()
    torch.ops.load_library(path)
    return path
