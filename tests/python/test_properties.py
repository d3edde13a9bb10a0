"""Property-based tests (hypothesis): random shapes, views and values.

Every example draws a dtype, a mode, a tensor of 0 to 5 dimensions (zero-size
dimensions included) whose values mix ±0, ±inf, NaN, subnormals, huge
magnitudes, random bit patterns and ordinary numbers, and a chain of views
over it (slices with steps, transposes, permutations, expands, overlapping
``unfold`` windows and ``as_strided`` layouts that read elements more than
once). The op must then

* match the float64 reference within the docs/DESIGN.md accuracy contract
  (float64 itself against an mpmath reference),
* give exactly the result of the same call on a contiguous copy,
* keep ±0, ±inf and NaN behaviour (f(±0) = ±0, f(inf) = inf, f(-inf) = 0),
* leave every input bit untouched,
* differentiate twice: the first derivative is the backward op, the second
  matches f''(x) of docs/DESIGN.md within the rounding its formula allows.

CI runs the fixed "ci" profile (derandomized, same examples every run);
``HYPOTHESIS_PROFILE=long`` runs many more random examples (profiles are
registered in conftest.py).
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass

import gelu_ext
import mpmath
import pytest
import torch
from conftest import (
    DTYPES,
    HALF_DTYPES,
    MODES,
    all_16bit_values,
    bits,
    min_subnormal,
    ref_clamp,
    ref_gelu,
    ref_gelu_grad,
    ref_gelu_grad2,
    special_values,
    ulp,
)
from gelu_ext.cli.reference import (
    K_SIGMOID,
    K_SIGMOID_DECIMAL,
    KAPPA,
    KAPPA_DECIMAL,
    SQRT_2_OVER_PI,
    SQRT_2PI,
)
from hypothesis import event, given
from hypothesis import strategies as st

# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------
MAX_BASE_ELEMS = 96


def _f32_from_bits(b: int) -> float:
    return struct.unpack("<f", struct.pack("<I", b))[0]


def _f64_from_bits(b: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", b))[0]


# Stored fraction bits: the subnormals are k * min_subnormal, 0 < |k| < 2^bits.
FRACTION_BITS = {torch.float64: 52, torch.float32: 23, torch.bfloat16: 7, torch.float16: 10}


def _finite_only(values: torch.Tensor, finite: bool) -> list[float]:
    return (values[values.isfinite()] if finite else values).double().tolist()


@functools.lru_cache(maxsize=None)
def _special_list(dtype: torch.dtype, finite: bool) -> list[float]:
    return _finite_only(special_values(dtype), finite)


@functools.lru_cache(maxsize=None)
def _all_16bit_list(dtype: torch.dtype, finite: bool) -> list[float]:
    return _finite_only(all_16bit_values(dtype), finite)


def value_strategy(dtype: torch.dtype, finite: bool = False) -> st.SearchStrategy[float]:
    """Python floats exactly representable in ``dtype``, from every region
    (±inf and NaN too unless ``finite``)."""
    if dtype in HALF_DTYPES:
        any_bits = st.sampled_from(_all_16bit_list(dtype, finite))
    else:
        width = 32 if dtype == torch.float32 else 64
        any_bits = st.integers(0, 2**width - 1).map(
            _f32_from_bits if width == 32 else _f64_from_bits
        )
        if finite:
            any_bits = any_bits.filter(math.isfinite)  # rejects 1 draw in 256 or fewer
    sub = min_subnormal(dtype)
    k_max = 2 ** FRACTION_BITS[dtype] - 1
    subnormal = st.integers(-k_max, k_max)
    return st.one_of(
        st.sampled_from(_special_list(dtype, finite)),
        any_bits,
        subnormal.map(lambda k: k * sub),
        st.floats(-20.0, 20.0),  # where GELU bends
        st.floats(-45.0, -3.0),  # the negative tail, down to where f underflows
    )


def _exact(dtype: torch.dtype, values: list[float]) -> torch.Tensor:
    """float64 -> dtype: exact for the bit patterns, specials and subnormals
    drawn; values from ranges round to dtype (the reference sees the rounded
    values, as the op does)."""
    return torch.tensor(values, dtype=torch.float64).to(dtype)


def extents(hi: int) -> st.SearchStrategy[int]:
    """A dimension size in [0, hi], zero about one time in 16 (st.integers
    favours 0, which would make most tensors empty)."""
    return st.sampled_from(list(range(1, hi + 1)) * max(1, 16 // hi) + [0])


@st.composite
def base_tensors(draw, dtype: torch.dtype, values: st.SearchStrategy[float]) -> torch.Tensor:
    """A contiguous tensor of 0 to 5 dims (zero-size dims allowed)."""
    shape = [draw(extents(5)) for _ in range(draw(st.integers(0, 5)))]
    while math.prod(shape) > MAX_BASE_ELEMS:
        shape[shape.index(max(shape))] -= 1
    n = math.prod(shape)
    pool = draw(st.lists(values, min_size=1, max_size=min(max(n, 1), 24)))
    # Spread the drawn values over the tensor in a drawn order.
    seed = draw(st.integers(0, 2**31))
    order = torch.randperm(max(n, 1), generator=torch.Generator().manual_seed(seed))
    flat = _exact(dtype, pool)[order[:n] % len(pool)]
    return flat.reshape(shape)


@st.composite
def views(draw, base: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
    """A chain of 0-3 view operations applied to ``base`` (never a copy),
    drawn so that most examples are not contiguous."""
    x = base
    steps: list[str] = []
    for _ in range(draw(st.sampled_from([2, 3, 1, 0]))):
        kind = draw(
            st.sampled_from(["as_strided", "slice", "transpose", "expand", "unfold", "permute"])
        )
        nd = x.dim()
        if kind == "slice" and nd > 0:
            d = draw(st.integers(0, nd - 1))
            size = x.shape[d]
            start = draw(st.integers(0, size))
            stop = min(size, start + draw(extents(size + 1)))
            step = draw(st.sampled_from([2, 3, 1]))
            x = x.narrow(d, start, stop - start)[(slice(None),) * d + (slice(None, None, step),)]
            steps.append(f"dim {d}[{start}:{stop}:{step}]")
        elif kind == "transpose" and nd > 1:
            a, b = draw(st.integers(0, nd - 1)), draw(st.integers(0, nd - 1))
            x = x.transpose(a, b)
            steps.append(f"transpose({a}, {b})")
        elif kind == "permute" and nd > 1:
            perm = draw(st.permutations(range(nd)))
            x = x.permute(*perm)
            steps.append(f"permute{tuple(perm)}")
        elif kind == "expand" and nd < 5:
            d = draw(st.integers(0, nd))
            k = draw(extents(4))
            shape = list(x.shape)
            shape.insert(d, k)
            x = x.unsqueeze(d).expand(shape)
            steps.append(f"unsqueeze({d}).expand({shape})")
        elif kind == "unfold" and 0 < nd < 5:
            d = draw(st.integers(0, nd - 1))
            size = min(x.shape[d], draw(extents(3)))
            step = draw(st.integers(1, 2))
            x = x.unfold(d, size, step)  # overlapping windows when step < size
            steps.append(f"unfold({d}, {size}, {step})")
        elif kind == "as_strided" and x.numel() > 0:
            # Over the whole storage of base: sizes/strides drawn freely
            # (stride 0 and strides smaller than the extent of the inner
            # dimensions read elements several times), kept in bounds.
            storage = base.numel()
            ndim = draw(st.integers(0, 4))
            sizes = [draw(extents(4)) for _ in range(ndim)]
            strides = draw(st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim))
            reach = sum((s - 1) * t for s, t in zip(sizes, strides)) if 0 not in sizes else 0
            if reach >= storage:
                continue
            offset = draw(st.integers(0, storage - 1 - reach))
            x = base.as_strided(sizes, strides, offset)
            steps.append(f"as_strided({sizes}, {strides}, {offset})")
    if x.numel() > 1 and x.is_contiguous() and x.dim() < 5 and draw(st.booleans()):
        # Still contiguous (no-op views, size-1 windows): half of these get
        # one more view that surely is not.
        big = [d for d in range(x.dim()) if x.shape[d] > 1]
        how = draw(st.sampled_from(["transpose", "step", "broadcast"]))
        if how == "transpose" and len(big) > 1:
            x = x.transpose(big[0], big[-1])
            steps.append(f"transpose({big[0]}, {big[-1]})")
        elif how == "step" and x.shape[big[-1]] > 2:
            x = x[(slice(None),) * big[-1] + (slice(None, None, 2),)]
            steps.append(f"dim {big[-1]}[::2]")
        else:
            x = x.unsqueeze(0).expand((2, *x.shape))
            steps.append("unsqueeze(0).expand(2, ...)")
    return x, steps


@dataclass
class Case:
    dtype: torch.dtype
    mode: str
    base: torch.Tensor  # owns the storage that x views
    x: torch.Tensor
    steps: list[str]

    def __repr__(self) -> str:
        return (
            f"Case({self.dtype}, {self.mode!r}, shape={tuple(self.x.shape)}, "
            f"strides={self.x.stride()}, views={self.steps}, "
            f"x={self.x.double().flatten().tolist()})"
        )


@st.composite
def cases(draw) -> Case:
    dtype = draw(st.sampled_from(DTYPES))
    mode = draw(st.sampled_from(MODES))
    base = draw(base_tensors(dtype, value_strategy(dtype)))
    x, steps = draw(views(base))
    event(f"dtype {dtype}")
    event(
        "empty"
        if x.numel() == 0
        else "overlapping"
        if torch._debug_has_internal_overlap(x) == 1
        else "contiguous"
        if x.is_contiguous()
        else "strided"
    )
    return Case(dtype, mode, base, x, steps)


@st.composite
def like(draw, x: torch.Tensor, values: st.SearchStrategy[float]) -> torch.Tensor:
    """A tensor of x's shape and dtype in a drawn layout (its own storage)."""
    layout = draw(st.sampled_from(["contiguous", "transposed", "expanded"]))
    n = x.numel()
    vals = draw(st.lists(values, min_size=1, max_size=min(max(n, 1), 16)))
    if layout == "expanded":
        return _exact(x.dtype, vals[:1]).reshape((1,) * x.dim()).expand(x.shape)
    flat = _exact(x.dtype, vals).repeat(n // len(vals) + 1)[:n]
    if layout == "transposed" and x.dim() > 1:
        return flat.reshape(x.shape[::-1]).permute(*reversed(range(x.dim())))
    return flat.reshape(x.shape)


def moderate_values(dtype: torch.dtype) -> st.SearchStrategy[float]:
    """Finite gradients of ordinary size (exactly representable in dtype)."""
    return st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0]), st.floats(-1000.0, 1000.0)).map(
        lambda v: _exact(dtype, [v]).item()
    )


# ---------------------------------------------------------------------------
# References and tolerances
# ---------------------------------------------------------------------------
MP_BITS = 160  # working precision of the mpmath reference (set locally, never globally)


@functools.lru_cache(maxsize=1 << 16)
def _mp_derivatives(x: float, mode: str) -> tuple[float, float, float]:
    """f, f', f'' at x (finite) with 160-bit arithmetic, rounded to float64."""
    with mpmath.workprec(MP_BITS):
        return _mp_derivatives_here(mpmath.mpf(x), mode)


def _mp_derivatives_here(xm: mpmath.mpf, mode: str) -> tuple[float, float, float]:
    if mode == "none":
        cdf = mpmath.erfc(-xm / mpmath.sqrt(2)) / 2
        pdf = mpmath.exp(-xm * xm / 2) / mpmath.sqrt(2 * mpmath.pi)
        return float(xm * cdf), float(cdf + xm * pdf), float(pdf * (2 - xm * xm))
    if mode == "sigmoid":
        k = mpmath.mpf(K_SIGMOID_DECIMAL)
        s = 1 / (1 + mpmath.exp(-k * xm))
        sm = 1 / (1 + mpmath.exp(k * xm))  # 1 - s
        f2 = k * s * sm * (2 + k * xm * (sm - s))
        return float(xm * s), float(s + k * xm * s * sm), float(f2)
    c, kappa = mpmath.sqrt(2 / mpmath.pi), mpmath.mpf(KAPPA_DECIMAL)
    u = c * (xm + kappa * xm**3)
    s = 1 / (1 + mpmath.exp(-2 * u))
    sm = 1 / (1 + mpmath.exp(2 * u))  # 1 - s
    du = c * (1 + 3 * kappa * xm * xm)
    d2u = 6 * c * kappa * xm
    f2 = 4 * s * sm * (du + xm * d2u / 2 - xm * (s - sm) * du * du)
    return float(xm * s), float(s + 2 * xm * du * s * sm), float(f2)


def reference(x: torch.Tensor, mode: str, order: int) -> torch.Tensor:
    """f (order 0), f' (1) or f'' (2) at x, float64. float64 inputs get the
    mpmath reference (a float64 formula is no more accurate than the op)."""
    if x.dtype != torch.float64:
        return (ref_gelu, ref_gelu_grad, ref_gelu_grad2)[order](x, mode)
    xs = x.detach().flatten().tolist()
    # Beyond ref_clamp (±inf, huge values) and at NaN the float64 formulas are
    # exact: f is x or 0, f' is 1 or 0, f'' is 0 in float64.
    limits = (ref_gelu, ref_gelu_grad, ref_gelu_grad2)[order](x, mode).flatten().tolist()
    out = [
        _mp_derivatives(v, mode)[order] if abs(v) <= ref_clamp(mode) else lim
        for v, lim in zip(xs, limits)
    ]
    return torch.tensor(out, dtype=torch.float64).reshape(x.shape)


def _f64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float64)


def assert_close_tol(
    got: torch.Tensor, ref: torch.Tensor, tol: torch.Tensor, case: Case, what: str
) -> None:
    """|got - ref| <= tol elementwise, NaN exactly where ref is NaN; an
    infinity of ref's sign passes where the tolerance window reaches beyond the
    dtype's largest finite value (rounding there may overflow)."""
    fmax = torch.finfo(got.dtype).max
    o, r, t = _f64(got).flatten(), ref.flatten(), tol.flatten()
    nan_ok = o.isnan() == r.isnan()
    both_finite_or_equal = (o == r) | ((o - r).abs() <= t)
    overflow = (r.abs() + t >= fmax) & (o == r.sign() * math.inf)
    ok = nan_ok & (r.isnan() | both_finite_or_equal | overflow)
    if not bool(ok.all()):
        i = int((~ok).nonzero()[0])
        xs = _f64(case.x).flatten()
        raise AssertionError(
            f"{what}: {int((~ok).sum())} of {ok.numel()} elements out of tolerance; first at "
            f"flat index {i}: x={xs[i].item()!r} got {o[i].item()!r}, reference "
            f"{r[i].item()!r}, tolerance {t[i].item()!r}\n{case!r}"
        )


def contract_tol_forward(ref: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """docs/DESIGN.md forward contract as an absolute tolerance per element."""
    u = ulp(ref, dtype)
    fi = torch.finfo(dtype)
    if dtype in HALF_DTYPES:
        return u  # <= 1 ulp of the half type
    normal = ref.abs() >= fi.smallest_normal
    n_ulp = 3.0 if dtype == torch.float32 else 4.0
    return torch.where(normal, n_ulp * u, torch.full_like(u, 8 * min_subnormal(dtype)))


def contract_tol_derivative(ref: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """docs/DESIGN.md backward contract (grad_output = 1): float32 4 ulp + 2^-26,
    half types 1 ulp; float64 (no contract) 4 ulp + 2^-53, the float64
    analogue and the C++ suite's absolute floor."""
    u = ulp(ref, dtype)
    if dtype in HALF_DTYPES:
        return u
    return 4.0 * u + (2.0**-26 if dtype == torch.float32 else 2.0**-53)


def _bits_equal_nan_aware(a: torch.Tensor, b: torch.Tensor) -> bool:
    nan = a.isnan() & b.isnan()
    return bool(((bits(a) == bits(b)) | nan).all()) and bool(torch.equal(a.isnan(), b.isnan()))


def assert_unmodified(t: torch.Tensor, before: torch.Tensor, what: str) -> None:
    assert torch.equal(bits(t), bits(before)), f"{what} was modified by the op"


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------
@given(cases())
def test_forward(case: Case):
    x, dtype = case.x, case.dtype
    base_before = case.base.clone()
    out = gelu_ext.gelu(x, case.mode)
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device, case
    if out.numel() > 0:
        assert out.untyped_storage().data_ptr() != case.base.untyped_storage().data_ptr()
    assert_unmodified(case.base, base_before, "input")

    ref = reference(x, case.mode, 0)
    assert_close_tol(out, ref, contract_tol_forward(ref, dtype), case, "forward")
    # Signed zeros and the limits hold exactly.
    xd, od = _f64(x), _f64(out)
    zero = xd == 0
    assert torch.equal(torch.signbit(od[zero]), torch.signbit(xd[zero])), f"f(±0) sign {case!r}"
    assert bool((od[xd == math.inf] == math.inf).all()), case
    assert bool((od[xd == -math.inf] == 0).all()), case
    # Same bits as the same values laid out contiguously (NaNs aside).
    assert _bits_equal_nan_aware(out, gelu_ext.gelu(x.contiguous(), case.mode)), case


@given(st.data())
def test_backward(data):
    case: Case = data.draw(cases(), label="case")
    x, dtype, mode = case.x, case.dtype, case.mode
    # Finite grad_output of any magnitude (an infinite one times an f' that
    # rounds to 0 is NaN by IEEE rules, not by the op).
    g = data.draw(like(x, value_strategy(dtype, finite=True)), label="grad_output")
    base_before, g_before = case.base.clone(), g.clone()

    ones = torch.ones_like(x)
    d = gelu_ext.gelu_backward(ones, x, mode)
    out = gelu_ext.gelu_backward(g, x, mode)
    assert out.shape == x.shape and out.dtype == dtype, case
    assert_unmodified(case.base, base_before, "self")
    assert_unmodified(g, g_before, "grad_output")

    dref = reference(x, mode, 1)
    assert_close_tol(d, dref, contract_tol_derivative(dref, dtype), case, "f'(x)")
    gd = _f64(g)
    ref = gd * dref
    if dtype in HALF_DTYPES:
        # f' is formed in float and multiplied by g before one rounding: the
        # contract's 1 ulp bounds f' before rounding by 1.5 ulp.
        tol = gd.abs() * 1.5 * ulp(dref, dtype) + ulp(ref, dtype)
    else:
        tol = gd.abs() * contract_tol_derivative(dref, dtype) + ulp(ref, dtype)
        # and grad_output enters with one rounding: g * f'(x) exactly
        assert _bits_equal_nan_aware(out, g * d), f"g * f'(x) {case!r}"
    assert_close_tol(out, ref, tol, case, "grad_output * f'(x)")
    assert _bits_equal_nan_aware(
        out, gelu_ext.gelu_backward(g.contiguous(), x.contiguous(), mode)
    ), case


def _second_derivative_scales(x: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """f''(x) of docs/DESIGN.md is E(x) * B(x): a Gaussian or logistic factor E
    (phi(x), or 4 s (1 - s)) times a polynomial bracket B. Returns (|E| |B|_+,
    |B|_+), |B|_+ being the sum of the bracket's term magnitudes: the scale of
    the rounding error of any evaluation of the formula, and the factor by
    which an error in E (e.g. E flushed to 0 below the normal range) shows."""
    x = x.clamp(-60.0, 60.0)
    if mode == "none":
        bracket = 2 + x * x
        factor = torch.exp(-0.5 * x * x) / SQRT_2PI
    elif mode == "sigmoid":
        k = K_SIGMOID  # f'' = s (1 - s) * K (2 + K x (1 - 2s))
        bracket = k * (2 + k * x.abs() * torch.tanh(0.5 * k * x).abs())
        factor = torch.sigmoid(k * x) * torch.sigmoid(-k * x)
    else:
        c, k = SQRT_2_OVER_PI, KAPPA
        u = c * (x + k * x**3)
        du = c * (1 + 3 * k * x * x)
        bracket = 4 * (du + 3 * c * k * x * x + x.abs() * torch.tanh(u).abs() * du * du)
        factor = torch.sigmoid(2 * u) * torch.sigmoid(-2 * u)
    return factor * bracket, bracket


@given(st.data())
def test_double_backward(data):
    case: Case = data.draw(cases(), label="case")
    x, dtype, mode = case.x, case.dtype, case.mode
    g = data.draw(like(x, moderate_values(dtype)), label="grad_output")
    gg = data.draw(like(x, moderate_values(dtype)), label="grad_grad")
    base_before, g_before, gg_before = case.base.clone(), g.clone(), gg.clone()

    # Leaves with the drawn (possibly overlapping) layouts.
    xv = x.detach().requires_grad_()
    gv = g.detach().requires_grad_()
    y = gelu_ext.gelu(xv, mode)
    (gx,) = torch.autograd.grad(y, xv, gv, create_graph=True)
    assert _bits_equal_nan_aware(gx.detach(), gelu_ext.gelu_backward(g, x, mode)), case
    if x.numel() == 0:
        return
    dxx, dgg = torch.autograd.grad(gx, (xv, gv), gg)
    assert dxx.shape == x.shape and dxx.dtype == dtype, case
    assert_unmodified(case.base, base_before, "self")
    assert_unmodified(g, g_before, "grad_output")
    assert_unmodified(gg, gg_before, "grad_grad")

    # d/dg: f'(x) applied to gg, i.e. the backward op itself.
    assert _bits_equal_nan_aware(dgg, gelu_ext.gelu_backward(gg, x, mode)), case

    # d/dx: gg * g * f''(x).
    xd = _f64(x)
    f2 = reference(x, mode, 2)
    scale = _f64(gg).abs() * _f64(g).abs()
    ref = _f64(gg) * _f64(g) * f2
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    eps_c = torch.finfo(compute).eps
    xc = xd.clamp(-60.0, 60.0)
    # f'' evaluated in the compute type: the exponential's argument carries
    # x^2 rounding (relative error ~ x^2 eps), each term a few eps; a factor
    # E below the compute type's normal range may be flushed to 0.
    magnitude, bracket = _second_derivative_scales(xd, mode)
    f2_err = (32.0 + 4.0 * xc * xc) * eps_c * magnitude + bracket * torch.finfo(
        compute
    ).smallest_normal
    tol = scale * f2_err + 2.0 * ref.abs() * torch.finfo(dtype).eps + ulp(ref, dtype)
    if dtype in HALF_DTYPES:
        tol = tol + scale * ulp(f2, dtype)  # f'' is rounded to the half type first
    assert_close_tol(dxx, ref, tol, case, "gg * g * f''(x)")


@pytest.mark.parametrize("mode", MODES)
def test_reference_sanity(mode):
    """The mpmath reference agrees with the float64 formulas of conftest.py
    where those are accurate (moderate x), so both describe the same f."""
    x = torch.linspace(-6, 6, 97, dtype=torch.float64)
    for order, fn in enumerate((ref_gelu, ref_gelu_grad, ref_gelu_grad2)):
        torch.testing.assert_close(reference(x, mode, order), fn(x, mode), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_double_backward_half_grad_product_in_range(mode):
    """gg * g * f''(x) is representable, so it must not come back as inf.

    A case the property above found: with float16 g = 240 and gg = 273 at
    x = 0, gg * g = 65520 already overflows float16 although the result
    (about 52300) does not. PyTorch's own double backward has the same
    defect; computing the product in float (as the half types compute
    everything else) avoids it."""
    x = torch.zeros(1, dtype=torch.float16, requires_grad=True)
    g = torch.full((1,), 240.0, dtype=torch.float16, requires_grad=True)
    gg = torch.full((1,), 273.0, dtype=torch.float16)
    (gx,) = torch.autograd.grad(gelu_ext.gelu(x, mode), x, g, create_graph=True)
    (dxx,) = torch.autograd.grad(gx, x, gg)
    # f''(0) of the mode: 2 phi(0) exact and tanh, K/2 sigmoid
    expected = 240.0 * 273.0 * ref_gelu_grad2(x, mode)
    assert dxx.isfinite().all(), f"got {dxx.item()}, expected {expected.item()}"
    assert abs(dxx.double() - expected).item() <= 2 * ulp(expected, torch.float16).item()


def test_float64_forward_within_4_ulp_where_a_random_search_found_more():
    """docs/DESIGN.md: float64 forward within 4 ulp. A random search against the
    mpmath reference (40 000 points in [-38, 10]) found 4.90 ulp in exact
    mode at this input."""
    x = torch.tensor([-2.525375374849462], dtype=torch.float64)
    with mpmath.workprec(MP_BITS):
        xm = mpmath.mpf(x.item())
        exact = xm * mpmath.erfc(-xm / mpmath.sqrt(2)) / 2  # not rounded to float64
        got = mpmath.mpf(gelu_ext.gelu(x, "none").item())
        err = float(abs(got - exact)) / ulp(torch.tensor([float(exact)]), torch.float64).item()
    assert err <= 4.0, f"{err:.2f} ulp at x = {x.item()!r}"


@pytest.mark.parametrize("mode", MODES)
def test_shared_float64_reference_against_mpmath(mode):
    """The float64 references that this suite and the accuracy command share
    (gelu_ext.cli.reference) against this file's own 160-bit mpmath f, f'
    and f'', over [-20, 10] (the tail included) and the root of f'."""
    x = torch.cat(
        [
            torch.linspace(-20.0, 10.0, 1201, dtype=torch.float64),
            torch.linspace(-0.80, -0.70, 101, dtype=torch.float64),
        ]
    )
    exact = torch.tensor([_mp_derivatives(v, mode) for v in x.tolist()], dtype=torch.float64)
    for order, fn in enumerate((ref_gelu, ref_gelu_grad, ref_gelu_grad2)):
        torch.testing.assert_close(
            fn(x, mode),
            exact[:, order],
            rtol=5e-13,
            atol=1e-15,
            msg=lambda m, order=order: f"order {order}: {m}",
        )
