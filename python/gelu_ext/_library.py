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
    Where several builds lie side by side (say, one left by an older build
    under another file name), the most recently built one is chosen;
    :func:`load` then checks its version.
    """
    candidates = glob.glob(os.path.join(_HERE, "_ops*.so"))
    if not candidates:
        raise FileNotFoundError(
            f"gelu_ext: compiled op library not found next to {__file__}; "
            "build the package first (pip install --no-build-isolation -e .)"
        )
    return max(candidates, key=os.path.getmtime)


def check_version(library_version: str, package_version: str, path: str) -> None:
    """Raises ImportError unless the op library is the package's own build."""
    if library_version != package_version:
        raise ImportError(
            f"gelu_ext: the op library {path} is version {library_version}, but the package "
            f"is {package_version}: a stale build. Rebuild the package "
            "(pip install --no-build-isolation -e .) or remove the old library."
        )


def load() -> str:
    """Load the op library into this process (idempotent) and check that its
    version is the package's; returns its path."""
    from . import _C

    path = library_path()
    torch.ops.load_library(path)
    _C.bind(path)
    check_version(_C.version(), _C.package_version(), path)
    return path
