"""Shared helpers for the gelu_ext pytest suite.

* ``ref_gelu`` / ``ref_gelu_grad`` / ``ref_gelu_grad2``: the float64
  references of ``gelu_ext.cli.reference`` (shared with the ``accuracy``
  command), built from the docs/DESIGN.md formulas in forms that keep full
  relative accuracy in the negative tail (Phi via erfc, the tanh form as
  x * sigmoid(2u), the sigmoid form x * sigmoid(1.702 x) as it stands).
* ``native_gelu`` / ``native_gelu_backward``: PyTorch's way to compute a
  mode (F.gelu, or the composite for "sigmoid").
* ``ulp`` / ``ulp_error`` (from the same module) / ``assert_ulp_close``:
  error measured in ulps of the *output* dtype at the reference value
  (subnormal spacing below the normal range), as in the docs/DESIGN.md
  accuracy contract.
* Sample inputs: special values, seeded random data, tail grids, every bit
  pattern of the 16-bit types.
* Fixtures that restore global state the tests change (SIMD path, threads).
* ``load_script``: a repository script (tools/, examples/) as a module.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys

import gelu_ext
import pytest
import torch
from gelu_ext import _C
from gelu_ext.cli.reference import K_SIGMOID, min_subnormal, textbook_gelu, ulp, ulp_error
from gelu_ext.cli.reference import derivative_clamp as ref_clamp
from gelu_ext.cli.reference import gelu as ref_gelu
from gelu_ext.cli.reference import gelu_derivative as ref_gelu_grad
from gelu_ext.cli.reference import gelu_second_derivative as ref_gelu_grad2

__all__ = [
    "ref_clamp",
    "ref_gelu",
    "ref_gelu_grad",
    "ref_gelu_grad2",
    "min_subnormal",
    "textbook_gelu",
    "ulp",
    "ulp_error",
]

DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]
HALF_DTYPES = [torch.bfloat16, torch.float16]
MODES = ["none", "tanh", "sigmoid"]
TORCH_MODES = ["none", "tanh"]  # the modes torch.nn.functional.gelu has

# Integer dtype of the same width, to compare tensors bit by bit.
BITS_DTYPE = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.bfloat16: torch.int16,
    torch.float16: torch.int16,
}


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_script(relpath: str):
    """The script at ``relpath`` (from the repository root) imported as a
    module named after its file, and registered in sys.modules (dataclasses
    look their module up there)."""
    name = os.path.splitext(os.path.basename(relpath))[0]
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO_ROOT, relpath))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def dtype_id(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def native_gelu(x: torch.Tensor, approximate: str) -> torch.Tensor:
    """PyTorch's own way to compute the mode: F.gelu, or for "sigmoid" (which
    PyTorch lacks) the composite that models write, in float for the 16-bit
    types (as F.gelu computes them) and rounded once."""
    if approximate == "sigmoid":
        xf = x.float() if x.dtype in HALF_DTYPES else x
        return (xf * torch.sigmoid(K_SIGMOID * xf)).to(x.dtype)
    return torch.nn.functional.gelu(x, approximate=approximate)


def native_gelu_backward(g: torch.Tensor, x: torch.Tensor, approximate: str) -> torch.Tensor:
    """aten.gelu_backward, or autograd through native_gelu for "sigmoid"."""
    if approximate != "sigmoid":
        return torch.ops.aten.gelu_backward(g, x, approximate=approximate)
    xr = x.detach().requires_grad_()
    with torch.enable_grad():
        (gx,) = torch.autograd.grad(native_gelu(xr, approximate), xr, g)
    return gx


def assert_ulp_close(
    out: torch.Tensor,
    ref: torch.Tensor,
    x: torch.Tensor,
    *,
    max_ulp: float,
    abs_tol: float = 0.0,
    what: str = "",
) -> None:
    """Every element of ``out`` within ``max_ulp`` ulp(ref) + ``abs_tol`` of ``ref``.

    NaN must match NaN; ``x`` is only used to name the worst input.
    """
    dtype = out.dtype
    o = out.detach().to(torch.float64).flatten()
    r = ref.to(torch.float64).flatten()
    xs = x.detach().to(torch.float64).flatten()
    nan_o, nan_r = o.isnan(), r.isnan()
    bad_nan = nan_o != nan_r
    assert not bad_nan.any(), (
        f"{what}: NaN mismatch at x={xs[bad_nan][:8].tolist()}: "
        f"got {o[bad_nan][:8].tolist()}, ref {r[bad_nan][:8].tolist()}"
    )
    keep = ~nan_r
    o, r, xs = o[keep], r[keep], xs[keep]
    excess = ulp_error(o, r, dtype, abs_tol)  # inf == inf counts as 0, a NaN error as inf
    if excess.numel() == 0:
        return
    worst = int(excess.argmax())
    assert excess[worst] <= max_ulp, (
        f"{what}: {int((excess > max_ulp).sum())} of {excess.numel()} elements exceed "
        f"{max_ulp} ulp + {abs_tol:g}; worst x={xs[worst].item()!r}: "
        f"got {o[worst].item()!r}, ref {r[worst].item()!r} "
        f"({excess[worst].item():.3g} ulp beyond abs tol)"
    )


def bits(t: torch.Tensor) -> torch.Tensor:
    """Bit pattern of a floating tensor (to compare -0/+0 and NaNs exactly)."""
    return t.detach().contiguous().view(BITS_DTYPE[t.dtype])


def assert_bitwise_equal(a: torch.Tensor, b: torch.Tensor, what: str = "") -> None:
    assert a.shape == b.shape and a.dtype == b.dtype, (what, a.shape, b.shape, a.dtype, b.dtype)
    ba, bb = bits(a).flatten(), bits(b).flatten()
    diff = ba != bb
    if diff.any():
        i = int(diff.nonzero()[0])
        raise AssertionError(
            f"{what}: {int(diff.sum())} of {diff.numel()} elements differ bitwise; first at "
            f"flat index {i}: {a.flatten()[i].item()!r} vs {b.flatten()[i].item()!r}"
        )


# ---------------------------------------------------------------------------
# Sample inputs
# ---------------------------------------------------------------------------
def special_values(dtype: torch.dtype) -> torch.Tensor:
    """Zeros, infinities, NaN, subnormals, normal-range edges, huge values."""
    fi = torch.finfo(dtype)
    sub = min_subnormal(dtype)
    mags = [
        0.0,
        math.inf,
        sub,
        3 * sub,
        fi.smallest_normal / 2,  # subnormal
        fi.smallest_normal,
        fi.smallest_normal * 3,
        fi.eps,
        1e-3,
        0.5,
        0.75179,  # near the root of f' (exact)
        0.75246,  # near the root of f' (tanh)
        1.0,
        2.70,  # largest |tanh - exact| gap
        3.0,
        4.3,
        5.0,
        8.0,
        10.0,
        11.0,
        15.0,
        23.0,
        40.0,
        1e4,
        fi.max,
    ]
    if fi.max > 1e30:
        mags += [1e30, 3e38]
    vals = [s * m for m in mags for s in (1.0, -1.0)] + [math.nan]
    return torch.tensor(vals, dtype=torch.float64).to(dtype)


def random_values(dtype: torch.dtype, n: int, seed: int = 0) -> torch.Tensor:
    """Seeded mix: N(0, 3^2), uniform [-16, 16], log-uniform magnitudes."""
    g = torch.Generator().manual_seed(seed)
    k = n // 3
    parts = [
        torch.randn(k, generator=g, dtype=torch.float64) * 3.0,
        (torch.rand(k, generator=g, dtype=torch.float64) * 32.0) - 16.0,
    ]
    mag = torch.exp(torch.empty(n - 2 * k, dtype=torch.float64).uniform_(-30.0, 6.0, generator=g))
    sign = torch.where(torch.rand(n - 2 * k, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
    parts.append(mag * sign)
    return torch.cat(parts).to(dtype)


def all_16bit_values(dtype: torch.dtype) -> torch.Tensor:
    """Every one of the 65536 bit patterns of a 16-bit float type."""
    assert dtype in HALF_DTYPES
    return torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(dtype)


def accuracy_inputs(dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """Finite inputs used for the float32/float64 accuracy tests."""
    if dtype in HALF_DTYPES:
        x = all_16bit_values(dtype)
        return x[x.isfinite()]
    n = 300_000 if dtype == torch.float32 else 60_000
    grid = torch.linspace(-16.0, 8.0, 48_001, dtype=torch.float64).to(dtype)
    x = torch.cat([random_values(dtype, n, seed), grid, special_values(dtype)])
    return x[x.isfinite()]


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------
@pytest.fixture
def restore_simd():
    """Restores the CPU SIMD path selected before the test."""
    before = _C.simd_selected()
    try:
        yield before
    finally:
        _C.set_simd(before)
    assert _C.simd_selected() == before


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    try:
        yield before
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _check_global_state_unchanged():
    """Every test must leave the SIMD path and thread count as it found them."""
    simd, threads = _C.simd_selected(), torch.get_num_threads()
    yield
    assert _C.simd_selected() == simd, "test changed the SIMD path without restoring it"
    assert torch.get_num_threads() == threads, "test changed the thread count"


def pytest_report_header(config):
    return (
        f"gelu_ext {gelu_ext.__version__} ({gelu_ext.library_path()}); torch {torch.__version__}; "
        f"simd supported {_C.simd_supported()}, selected {_C.simd_selected()}; "
        f"cuda compiled {_C.cuda_compiled()}, cuda available {torch.cuda.is_available()}"
    )


# ---------------------------------------------------------------------------
# Hypothesis profiles (test_properties.py). "ci" (the default) is
# derandomized: the same examples on every run and machine. "long" draws
# fresh random examples, many more of them:
#     HYPOTHESIS_PROFILE=long python -m pytest tests/python/test_properties.py
# Neither keeps an example database (nothing is written into the tree).
# ---------------------------------------------------------------------------
# (Only where hypothesis is installed: scripts/setup.sh installs it; a GPU
# machine that runs just test_cuda.py may not have it.)
import os as _os  # noqa: E402

try:
    from hypothesis import HealthCheck as _HealthCheck
    from hypothesis import settings as _settings
except ImportError:  # pragma: no cover - test_properties.py then fails to import, visibly
    _settings = None

if _settings is not None:
    _settings.register_profile(
        "ci",
        derandomize=True,
        max_examples=200,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[_HealthCheck.too_slow, _HealthCheck.data_too_large],
    )
    _settings.register_profile(
        "long",
        max_examples=3000,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[_HealthCheck.too_slow, _HealthCheck.data_too_large],
    )
    _settings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE", "ci"))
