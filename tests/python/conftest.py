"""Shared helpers for the gelu_ext pytest suite.

* ``ref_gelu`` / ``ref_gelu_grad``: float64 references built from the
  docs/DESIGN.md formulas in forms that keep full relative accuracy in the
  negative tail (Phi via erfc, the tanh form as x * sigmoid(2u), the sigmoid
  form x * sigmoid(1.702 x) as it stands).
* ``ulp`` / ``assert_ulp_close``: error measured in ulps of the *output*
  dtype at the reference value (subnormal spacing below the normal range),
  as in the docs/DESIGN.md accuracy contract.
* Sample inputs: special values, seeded random data, tail grids, every bit
  pattern of the 16-bit types.
* Fixtures that restore global state the tests change (SIMD path, threads).
"""

from __future__ import annotations

import math

import pytest
import torch

import gelu_ext
from gelu_ext import _C

DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]
HALF_DTYPES = [torch.bfloat16, torch.float16]
MODES = ["none", "tanh", "sigmoid"]
TORCH_MODES = ["none", "tanh"]  # the modes torch.nn.functional.gelu has

# Significand bits (with the implicit bit) of each floating dtype.
PRECISION = {torch.float64: 53, torch.float32: 24, torch.bfloat16: 8, torch.float16: 11}
# Integer dtype of the same width, to compare tensors bit by bit.
BITS_DTYPE = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.bfloat16: torch.int16,
    torch.float16: torch.int16,
}

_SQRT1_2 = math.sqrt(0.5)
_C0 = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_KAPPA = 0.044715
_K = 1.702  # the sigmoid form's slope


def dtype_id(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


# ---------------------------------------------------------------------------
# float64 references
# ---------------------------------------------------------------------------
def _phi_cdf(x: torch.Tensor) -> torch.Tensor:
    # Phi(x) = erfc(-x/sqrt2)/2: full relative accuracy for x -> -inf.
    # (torch.special.ndtr is NOT used: in float64 it is 2% off at x = -8 and
    # returns 0 below about -8.3, because it goes through 1 + erf.)
    return 0.5 * torch.special.erfc(-x * _SQRT1_2)


def ref_clamp(approximate: str) -> float:
    """|x| beyond which f' and f'' are exactly 0 or 1 in float64."""
    return 460.0 if approximate == "sigmoid" else 60.0


def ref_gelu(x: torch.Tensor, approximate: str) -> torch.Tensor:
    """float64 reference GELU of ``x`` (any float dtype, widened exactly)."""
    x = x.detach().to(torch.float64)
    if approximate == "none":
        out = x * _phi_cdf(x)
    elif approximate == "sigmoid":
        # x * sigmoid(K x), except below x = -400, where sigmoid(K x) itself
        # is subnormal in float64: there -exp(K x + ln|x|) / (1 + exp(K x)),
        # whose exponential is rounded once however small the result.
        deep = -torch.exp(_K * x + torch.log(-x)) / (1.0 + torch.exp(_K * x))
        out = torch.where(x < -400.0, deep, x * torch.sigmoid(_K * x))
    else:
        u = _SQRT_2_OVER_PI * (x + _KAPPA * x * x * x)
        # x * sigmoid(2u): no 1 + tanh cancellation. 2u overflows to -inf far
        # out in the tail, where sigmoid(-inf) = 0 is the right limit.
        out = x * torch.sigmoid(2.0 * u)
    out = torch.where(x == -math.inf, torch.zeros_like(x), out)
    return torch.where(x == math.inf, x, out)


def ref_gelu_grad(x: torch.Tensor, approximate: str) -> torch.Tensor:
    """float64 reference GELU'(x) (docs/DESIGN.md "Math")."""
    x = x.detach().to(torch.float64)
    # f' is exactly 0 / 1 (in float64) long before |x| = 60 (460 for sigmoid);
    # clamping keeps x^3 and u' finite for huge inputs. NaN passes through clamp.
    xc = x.clamp(-ref_clamp(approximate), ref_clamp(approximate))
    if approximate == "none":
        out = _phi_cdf(xc) + xc * (_C0 * torch.exp(-0.5 * xc * xc))
    elif approximate == "sigmoid":
        s = torch.sigmoid(_K * xc)
        out = s + _K * xc * s * torch.sigmoid(-_K * xc)
    else:
        u = _SQRT_2_OVER_PI * (xc + _KAPPA * xc * xc * xc)
        s = torch.sigmoid(2.0 * u)
        one_minus_s = torch.sigmoid(-2.0 * u)  # 1 - s without cancellation
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _KAPPA * xc * xc)
        out = s + 2.0 * xc * du * s * one_minus_s
    return out


def ref_gelu_grad2(x: torch.Tensor, approximate: str) -> torch.Tensor:
    """float64 reference GELU''(x) (docs/DESIGN.md "Math")."""
    x = x.detach().to(torch.float64)
    x = x.clamp(-ref_clamp(approximate), ref_clamp(approximate))
    if approximate == "none":
        return _C0 * torch.exp(-0.5 * x * x) * (2.0 - x * x)
    if approximate == "sigmoid":
        s = torch.sigmoid(_K * x)
        sm = torch.sigmoid(-_K * x)
        return _K * s * sm * (2.0 + _K * x * (sm - s))
    u = _SQRT_2_OVER_PI * (x + _KAPPA * x**3)
    s = torch.sigmoid(2.0 * u)
    sm = torch.sigmoid(-2.0 * u)
    du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _KAPPA * x * x)
    d2u = 6.0 * _SQRT_2_OVER_PI * _KAPPA * x
    return 4.0 * s * sm * (du + 0.5 * x * d2u - x * (s - sm) * du * du)


def textbook_gelu(x: torch.Tensor, approximate: str) -> torch.Tensor:
    """The textbook formulas evaluated in x's own dtype (cancel for x << 0)."""
    if approximate == "none":
        return 0.5 * x * (1.0 + torch.erf(x * _SQRT1_2))
    if approximate == "sigmoid":
        return x * torch.sigmoid(_K * x)
    u = _SQRT_2_OVER_PI * (x + _KAPPA * x * x * x)
    return 0.5 * x * (1.0 + torch.tanh(u))


def native_gelu(x: torch.Tensor, approximate: str) -> torch.Tensor:
    """PyTorch's own way to compute the mode: F.gelu, or for "sigmoid" (which
    PyTorch lacks) the composite that models write, in float for the 16-bit
    types (as F.gelu computes them) and rounded once."""
    if approximate == "sigmoid":
        xf = x.float() if x.dtype in HALF_DTYPES else x
        return (xf * torch.sigmoid(_K * xf)).to(x.dtype)
    return torch.nn.functional.gelu(x, approximate=approximate)


def native_gelu_backward(g: torch.Tensor, x: torch.Tensor, approximate: str) -> torch.Tensor:
    """aten.gelu_backward, or autograd through native_gelu for "sigmoid"."""
    if approximate != "sigmoid":
        return torch.ops.aten.gelu_backward(g, x, approximate=approximate)
    xr = x.detach().requires_grad_()
    with torch.enable_grad():
        (gx,) = torch.autograd.grad(native_gelu(xr, approximate), xr, g)
    return gx


# ---------------------------------------------------------------------------
# ulp arithmetic
# ---------------------------------------------------------------------------
def min_subnormal(dtype: torch.dtype) -> float:
    fi = torch.finfo(dtype)
    return fi.smallest_normal * fi.eps


def ulp(ref: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Spacing of ``dtype`` at |ref| (float64 tensor in, float64 out)."""
    a = ref.to(torch.float64).abs()
    _, e = torch.frexp(a)  # a = m * 2^e, m in [0.5, 1)
    spacing = torch.ldexp(torch.ones_like(a), (e - PRECISION[dtype]).to(torch.float64))
    fi = torch.finfo(dtype)
    return torch.where(
        a < fi.smallest_normal, torch.full_like(a, min_subnormal(dtype)), spacing
    )


def ulp_error(out: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """|out - ref| in ulps of dtype at ref (0 where both are equal, incl. inf)."""
    o = out.detach().to(torch.float64)
    r = ref.to(torch.float64)
    err = (o - r).abs()
    err = torch.where(o == r, torch.zeros_like(err), err)
    return err / ulp(r, dtype)


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
    err = (o - r).abs()
    err = torch.where(o == r, torch.zeros_like(err), err)  # inf == inf
    excess = (err - abs_tol).clamp(min=0.0) / ulp(r, dtype)
    excess = torch.where(err.isnan(), torch.full_like(err, math.inf), excess)
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
        "ci", derandomize=True, max_examples=200, deadline=None, database=None,
        print_blob=True,
        suppress_health_check=[_HealthCheck.too_slow, _HealthCheck.data_too_large],
    )
    _settings.register_profile(
        "long", max_examples=3000, deadline=None, database=None, print_blob=True,
        suppress_health_check=[_HealthCheck.too_slow, _HealthCheck.data_too_large],
    )
    _settings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE", "ci"))
