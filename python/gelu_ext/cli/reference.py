"""The references gelu_ext is measured against, and errors in ulps.

One definition of each, shared by the ``accuracy`` command and the Python
tests (``tests/python``); the C++ sweep (``tools/accuracy``) keeps its own,
independent reference.

* ``gelu``, ``gelu_derivative``, ``gelu_second_derivative``: f, f', f'' in
  float64, in forms that keep full relative accuracy in the negative tail
  (Phi through erfc, no 1 + erf cancellation; the tanh form as
  x * sigmoid(2u), no 1 + tanh cancellation; the sigmoid form
  x * sigmoid(1.702 x) as it stands). Far more accurate than float32 and
  the 16-bit types, not than float64 itself;
* ``mp_gelu``: f and f' in 40-digit mpmath, for float64 results;
* ``textbook_gelu``, ``textbook_gelu_backward``: the seed article's formulas
  as written, in the input's own dtype; they cancel for x << 0 (the
  benchmark's "seed" contender, and the tests' proof that a comparison
  can fail); for the sigmoid mode, the composite x * torch.sigmoid(1.702 x)
  that models write;
* ``ulp``, ``ulp_error``: the spacing of a dtype at a reference value (the
  subnormal spacing below the normal range) and an error counted in it.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

SQRT2 = math.sqrt(2.0)
SQRT1_2 = math.sqrt(0.5)  # 1 / sqrt(2), correctly rounded
SQRT_2PI = math.sqrt(2.0 * math.pi)
INV_SQRT_2PI = 1.0 / SQRT_2PI
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
# The tanh form's cubic coefficient. The decimal 0.044715 defines it
# (PyTorch's too); mpmath takes the decimal, not the double nearest it: for
# float64 results deep in the tail (u ~ -350) their 1e-17 relative
# difference is worth hundreds of ulps.
KAPPA = 0.044715
KAPPA_DECIMAL = "0.044715"
# The sigmoid form's slope, x * sigmoid(K x) (the decimal defines it too).
K_SIGMOID = 1.702
K_SIGMOID_DECIMAL = "1.702"
MP_DIGITS = 40
# Beyond this |x| mp_gelu returns the exact limits (mpmath's erfc overflows).
MP_LIMIT = 1e4


def _checked(mode: str) -> str:
    """``mode`` itself; a mode without a reference raises."""
    if mode not in ("none", "tanh", "sigmoid"):
        raise ValueError(f"no reference for GELU mode {mode!r}")
    return mode


def derivative_clamp(mode: str) -> float:
    """|x| beyond which f' and f'' are exactly 0 or 1 in float64."""
    return 460.0 if _checked(mode) == "sigmoid" else 60.0


# ---------------------------------------------------------------------------
# float64 references
# ---------------------------------------------------------------------------
def normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """Phi(x) = erfc(-x / sqrt 2) / 2: full relative accuracy for x -> -inf.

    (``torch.special.ndtr`` is not used: in float64 it is 2% off at x = -8
    and returns 0 below about -8.3, because it goes through 1 + erf.)
    """
    return 0.5 * torch.special.erfc(-x * SQRT1_2)


def normal_pdf(x: torch.Tensor) -> torch.Tensor:
    """The density of N(0, 1)."""
    return INV_SQRT_2PI * torch.exp(-0.5 * x * x)


def _u(x: torch.Tensor) -> torch.Tensor:
    """The tanh form's argument sqrt(2/pi) (x + 0.044715 x^3)."""
    return SQRT_2_OVER_PI * (x + KAPPA * x**3)


def gelu(x: torch.Tensor, mode: str) -> torch.Tensor:
    """float64 GELU of ``x`` (any float dtype, widened exactly); exact at +-inf."""
    x = x.detach().to(torch.float64)
    if _checked(mode) == "tanh":
        # x * sigmoid(2u): no 1 + tanh cancellation. 2u overflows to -inf far
        # out in the tail, where sigmoid(-inf) = 0 is the right limit.
        out = x * torch.sigmoid(2.0 * _u(x))
    elif mode == "sigmoid":
        # x * sigmoid(K x), except below x = -400, where sigmoid(K x) itself
        # is subnormal in float64: there -exp(K x + ln|x|) / (1 + exp(K x)),
        # whose exponential is rounded once however small the result.
        k = K_SIGMOID
        deep = -torch.exp(k * x + torch.log(-x)) / (1.0 + torch.exp(k * x))
        out = torch.where(x < -400.0, deep, x * torch.sigmoid(k * x))
    else:
        out = x * normal_cdf(x)
    out = torch.where(x == -math.inf, torch.zeros_like(x), out)
    return torch.where(x == math.inf, x, out)


def gelu_derivative(x: torch.Tensor, mode: str) -> torch.Tensor:
    """float64 GELU'(x) (docs/DESIGN.md "Math")."""
    # f' is exactly 0 / 1 (in float64) long before |x| = 60 (460 for
    # sigmoid); clamping keeps x^3 and u' finite for huge inputs. NaN passes
    # through clamp.
    lim = derivative_clamp(mode)
    x = x.detach().to(torch.float64).clamp(-lim, lim)
    if mode == "none":
        return normal_cdf(x) + x * normal_pdf(x)
    if mode == "sigmoid":
        s = torch.sigmoid(K_SIGMOID * x)
        return s + K_SIGMOID * x * s * torch.sigmoid(-K_SIGMOID * x)
    u = _u(x)
    s = torch.sigmoid(2.0 * u)
    one_minus_s = torch.sigmoid(-2.0 * u)  # 1 - s without cancellation
    du = SQRT_2_OVER_PI * (1.0 + 3.0 * KAPPA * x * x)
    return s + 2.0 * x * du * s * one_minus_s


def gelu_second_derivative(x: torch.Tensor, mode: str) -> torch.Tensor:
    """float64 GELU''(x) (docs/DESIGN.md "Math")."""
    lim = derivative_clamp(mode)
    x = x.detach().to(torch.float64).clamp(-lim, lim)
    if mode == "none":
        return normal_pdf(x) * (2.0 - x * x)
    if mode == "sigmoid":  # K s (1 - s) (2 + K x (1 - 2s))
        s = torch.sigmoid(K_SIGMOID * x)
        sm = torch.sigmoid(-K_SIGMOID * x)
        return K_SIGMOID * s * sm * (2.0 + K_SIGMOID * x * (sm - s))
    u = _u(x)
    s = torch.sigmoid(2.0 * u)
    sm = torch.sigmoid(-2.0 * u)
    du = SQRT_2_OVER_PI * (1.0 + 3.0 * KAPPA * x * x)
    d2u = 6.0 * SQRT_2_OVER_PI * KAPPA * x
    return 4.0 * s * sm * (du + 0.5 * x * d2u - x * (s - sm) * du * du)


# ---------------------------------------------------------------------------
# High precision, for float64 results
# ---------------------------------------------------------------------------
def mp_gelu(
    xs: Sequence[float], mode: str, scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x) and f'(x) for each finite float x, in 40-digit mpmath, each times
    ``scale`` before its one rounding to float64. Beyond |x| = MP_LIMIT, the
    exact limits (x or -0, 1 or 0)."""
    import mpmath  # a dependency of torch (through sympy)

    ctx = mpmath.mp.clone()
    ctx.dps = MP_DIGITS
    c, kappa = ctx.sqrt(2 / ctx.pi), ctx.mpf(KAPPA_DECIMAL)
    k = ctx.mpf(K_SIGMOID_DECIMAL)
    _checked(mode)
    fs, dfs = [], []
    for v in xs:
        if abs(v) > MP_LIMIT:
            fs.append(scale * (v if v > 0 else -0.0))
            dfs.append(scale * (1.0 if v > 0 else 0.0))
            continue
        x = ctx.mpf(v)
        if mode == "sigmoid":
            s, one_minus_s = 1 / (1 + ctx.exp(-k * x)), 1 / (1 + ctx.exp(k * x))
            f, df = x * s, s + k * x * s * one_minus_s
        elif mode == "tanh":
            u = c * (x + kappa * x**3)
            s, one_minus_s = 1 / (1 + ctx.exp(-2 * u)), 1 / (1 + ctx.exp(2 * u))
            f, df = x * s, s + 2 * x * c * (1 + 3 * kappa * x * x) * s * one_minus_s
        else:
            cdf = ctx.erfc(-x / ctx.sqrt(2)) / 2
            f, df = x * cdf, cdf + x * ctx.npdf(x)
        fs.append(float(f * scale))
        dfs.append(float(df * scale))
    return torch.tensor(fs, dtype=torch.float64), torch.tensor(dfs, dtype=torch.float64)


# ---------------------------------------------------------------------------
# The textbook formulas
# ---------------------------------------------------------------------------
def textbook_gelu(x: torch.Tensor, mode: str) -> torch.Tensor:
    """GELU as the seed article writes it, one eager op at a time in x's dtype:
    0.5 x (1 + erf(x / sqrt 2)), or 0.5 x (1 + tanh u); x * sigmoid(1.702 x)."""
    if _checked(mode) == "sigmoid":
        return x * torch.sigmoid(K_SIGMOID * x)
    if mode == "tanh":
        return 0.5 * x * (1.0 + torch.tanh(_u(x)))
    return 0.5 * x * (1.0 + torch.erf(x * SQRT1_2))


def textbook_gelu_backward(g: torch.Tensor, x: torch.Tensor, mode: str) -> torch.Tensor:
    """g * GELU'(x) from the seed article's formulas, one eager op at a time
    (for sigmoid: the kernels autograd runs for the composite)."""
    if _checked(mode) == "sigmoid":
        s = torch.sigmoid(K_SIGMOID * x)
        return g * s + torch.ops.aten.sigmoid_backward(g * x, s) * K_SIGMOID
    if mode == "tanh":
        t = torch.tanh(_u(x))
        du = SQRT_2_OVER_PI * (1.0 + 3.0 * KAPPA * x * x)
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
    cdf = 0.5 * (1.0 + torch.erf(x * SQRT1_2))
    return g * (cdf + x * torch.exp(-0.5 * x * x) * INV_SQRT_2PI)


# ---------------------------------------------------------------------------
# ulp arithmetic
# ---------------------------------------------------------------------------
def significand_bits(dtype: torch.dtype) -> int:
    """Bits of the significand, the implicit one included (float32: 24)."""
    return 1 - int(math.log2(torch.finfo(dtype).eps))


def min_subnormal(dtype: torch.dtype) -> float:
    """The smallest positive subnormal number of ``dtype``."""
    fi = torch.finfo(dtype)
    return fi.smallest_normal * fi.eps


def ulp(ref: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Spacing of ``dtype`` at |ref| (float64 out); the subnormal spacing
    below the normal range."""
    a = ref.to(torch.float64).abs()
    _, e = torch.frexp(a)  # a = m * 2^e with m in [0.5, 1)
    spacing = torch.ldexp(torch.ones_like(a), (e - significand_bits(dtype)).to(torch.float64))
    fi = torch.finfo(dtype)
    return torch.where(a < fi.smallest_normal, torch.full_like(a, min_subnormal(dtype)), spacing)


def ulp_error(
    got: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype, allowance: float = 0.0
) -> torch.Tensor:
    """|got - ref| beyond an absolute ``allowance``, in ulps of ``dtype`` at
    ``ref``: 0 where both are equal (inf included), inf where it is NaN."""
    g, r = got.detach().to(torch.float64), ref.to(torch.float64)
    err = (g - r).abs()
    err = torch.where(g == r, torch.zeros_like(err), err)
    out = (err - allowance).clamp_min(0.0) / ulp(r, dtype)
    return torch.where(err.isnan(), torch.full_like(out, math.inf), out)
