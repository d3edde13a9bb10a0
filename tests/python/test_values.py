"""Forward and backward values against a float64 reference, torch.nn.functional
and the docs/DESIGN.md accuracy contract; special values; the negative tail."""

from __future__ import annotations

import math

import gelu_ext
import pytest
import torch
from conftest import (
    DTYPES,
    HALF_DTYPES,
    MODES,
    accuracy_inputs,
    all_16bit_values,
    assert_bitwise_equal,
    assert_ulp_close,
    dtype_id,
    min_subnormal,
    native_gelu,
    native_gelu_backward,
    random_values,
    ref_gelu,
    ref_gelu_grad,
    special_values,
    textbook_gelu,
    ulp,
    ulp_error,
)
from gelu_ext.cli.reference import mp_gelu

# Tolerances: the docs/DESIGN.md accuracy contract, in ulps of the output dtype at
# the reference, plus an absolute allowance.
TOL = {
    # <= 3 ulp; where the reference is subnormal, <= 8 * 2^-149 absolute.
    (torch.float32, "forward"): dict(max_ulp=3, abs_tol=8 * min_subnormal(torch.float32)),
    # <= 4 ulp + 2^-26 absolute (the absolute part covers the root of f').
    (torch.float32, "backward"): dict(max_ulp=4, abs_tol=2.0**-26),
    # <= 4 ulp (checked against mpmath: a float64 oracle is not accurate enough).
    (torch.float64, "forward"): dict(max_ulp=4, abs_tol=0.0),
    # Near the root of f' the absolute error is up to 2^-53.
    (torch.float64, "backward"): dict(max_ulp=4, abs_tol=2.0**-52),
    # Contract: <= 1 ulp of the 16-bit type for all 65536 inputs.
    (torch.bfloat16, "forward"): dict(max_ulp=1, abs_tol=0.0),
    (torch.bfloat16, "backward"): dict(max_ulp=1, abs_tol=0.0),
    (torch.float16, "forward"): dict(max_ulp=1, abs_tol=0.0),
    (torch.float16, "backward"): dict(max_ulp=1, abs_tol=0.0),
}


def run(direction: str, x: torch.Tensor, mode: str, grad: torch.Tensor | None = None):
    if direction == "forward":
        return gelu_ext.gelu(x, mode)
    return gelu_ext.gelu_backward(torch.ones_like(x) if grad is None else grad, x, mode)


def reference(direction: str, x: torch.Tensor, mode: str) -> torch.Tensor:
    return ref_gelu(x, mode) if direction == "forward" else ref_gelu_grad(x, mode)


# ---------------------------------------------------------------------------
# Against the float64 reference
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32], ids=dtype_id)
def test_matches_float64_reference(dtype, mode, direction):
    """float32 against a float64 evaluation of the formulas. (float64 itself is
    checked against mpmath below: a float64 oracle is not accurate enough.)"""
    x = accuracy_inputs(dtype)
    out = run(direction, x, mode)
    assert out.dtype == dtype and out.shape == x.shape
    assert_ulp_close(
        out,
        reference(direction, x, mode),
        x,
        **TOL[(dtype, direction)],
        what=f"{dtype_id(dtype)} {mode} {direction}",
    )


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "dtype",
    [torch.bfloat16, torch.float16],
    ids=dtype_id,
)
def test_16bit_exhaustive_within_1_ulp(dtype, mode, direction):
    """All 65536 inputs: computed in float, rounded once -> <= 1 ulp of the type."""
    x = all_16bit_values(dtype)
    x = x[x.isfinite()]
    out = run(direction, x, mode)
    # The reference is computed in float64 from the SAME 16-bit input, widened.
    assert_ulp_close(
        out,
        reference(direction, x, mode),
        x,
        **TOL[(dtype, direction)],
        what=f"{dtype_id(dtype)} {mode} {direction}",
    )


def _mp_reference(xs: list[float], mode: str, derivative: bool, scale: float = 1.0) -> torch.Tensor:
    """f or f' at xs in 40-digit mpmath (times ``scale``, before the rounding
    to float64), from ``gelu_ext.cli.reference``."""
    pytest.importorskip("mpmath")
    return mp_gelu(xs, mode, scale)[1 if derivative else 0]


# float64 outputs stay normal (and exp(-x^2/2) / exp(-2u) stay normal) above these.
F64_LOWER = {"none": -37.0, "tanh": -20.5, "sigmoid": -410.0}


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("mode", MODES)
def test_float64_vs_high_precision(mode, direction):
    """float64 <= 4 ulp against mpmath (40 digits) over a dense range and the tails.

    A float64 reference computed in float64 cannot check this: the rounding of
    u (or x/sqrt 2) alone costs |2u| ulp in exp(-2u)."""
    lo = F64_LOWER[mode]
    g = torch.Generator().manual_seed(1)
    x = torch.cat(
        [
            torch.linspace(lo, 12.0, 2501, dtype=torch.float64),
            torch.randn(500, generator=g, dtype=torch.float64) * 2.0,
            torch.linspace(-0.80, -0.70, 201, dtype=torch.float64),  # root of f'
        ]
    )
    ref = _mp_reference(x.tolist(), mode, direction == "backward")
    out = run(direction, x, mode)
    assert_ulp_close(
        out, ref, x, **TOL[(torch.float64, direction)], what=f"float64 {mode} {direction} vs mpmath"
    )


# Where float64 results become subnormal (exact: x < -37.5; tanh: x < -21.3;
# sigmoid: x < -419.6) down to where they are 0.
F64_SUBNORMAL_RANGE = {"none": (-38.7, -37.3), "tanh": (-22.6, -21.1), "sigmoid": (-441.5, -418.0)}


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("mode", MODES)
def test_float64_deep_tail_rounded_once(mode, direction):
    """Results near and below the smallest normal double keep their relative
    accuracy and are rounded once: within 4 ulp of the 53-bit binade (however
    small) plus half the subnormal spacing, against mpmath. A result rounded
    twice or flushed is off by up to a whole subnormal spacing, or more."""
    lo, hi = F64_SUBNORMAL_RANGE[mode]
    x = torch.linspace(lo, hi, 1501, dtype=torch.float64)
    out = run(direction, x, mode)
    # Compared scaled by 2^200 (exact for out): mpmath's own conversion to a
    # subnormal double rounds twice, and the bound stays representable.
    scale = 2.0**200
    ref = _mp_reference(x.tolist(), mode, direction == "backward", scale)
    sub = min_subnormal(torch.float64)
    tiny = (ref != 0) & (ref.abs() < torch.finfo(torch.float64).smallest_normal * scale)
    assert tiny.sum() > 300
    _, e = torch.frexp(ref)
    ulp53 = torch.ldexp(torch.ones_like(ref), (e - 53).double())  # scaled: not bounded below
    err = (out * scale - ref).abs()
    bound = 4 * ulp53 + sub * scale / 2
    worst = int((err / bound).argmax())
    assert (err <= bound).all(), (x[worst].item(), out[worst].item(), ref[worst].item() / scale)


@pytest.mark.parametrize("mode", MODES)
def test_float64_relative_1e13(mode):
    x = torch.cat(
        [
            random_values(torch.float64, 30_000, seed=5),
            torch.linspace(-12, 12, 10_001, dtype=torch.float64),
        ]
    )
    x = x[x.abs() <= 12]
    torch.testing.assert_close(gelu_ext.gelu(x, mode), ref_gelu(x, mode), rtol=1e-13, atol=0)
    # f' has a root near -0.752: relative error is meaningless there.
    torch.testing.assert_close(
        gelu_ext.gelu_backward(torch.ones_like(x), x, mode),
        ref_gelu_grad(x, mode),
        rtol=1e-13,
        atol=1e-15,
    )


# ---------------------------------------------------------------------------
# Inputs that broke the contract in earlier versions of the kernels (the ids
# say by how much); kept as regression tests against mpmath.
# ---------------------------------------------------------------------------
CONTRACT_CASES = [
    # (dtype, mode, direction, x, max_ulp, abs_tol)
    pytest.param(
        torch.float32,
        "none",
        "forward",
        0.014529580250382423,
        3,
        0.0,
        id="f32-exact-fwd-x=0.01453(4.9ulp)",
    ),
    pytest.param(
        torch.float32,
        "none",
        "forward",
        -0.33711397647857666,
        3,
        0.0,
        id="f32-exact-fwd-x=-0.3371(4.2ulp)",
    ),
    pytest.param(
        torch.float32,
        "tanh",
        "forward",
        -3.3870155811309814,
        3,
        0.0,
        id="f32-tanh-fwd-x=-3.387(3.4ulp)",
    ),
    pytest.param(
        torch.float32,
        "none",
        "backward",
        -0.7517916560173035,
        4,
        2.0**-26,
        id="f32-exact-bwd-x=-0.75179(abs3.6e-8)",
    ),
    pytest.param(
        torch.float32,
        "tanh",
        "backward",
        -0.7524614334106445,
        4,
        2.0**-26,
        id="f32-tanh-bwd-x=-0.75246(abs2.2e-8)",
    ),
    pytest.param(
        torch.float64,
        "none",
        "forward",
        -9.26573543133616,
        4,
        0.0,
        id="f64-exact-fwd-x=-9.266(5ulp)",
    ),
    pytest.param(
        torch.float64,
        "none",
        "forward",
        -13.258876479413235,
        4,
        0.0,
        id="f64-exact-fwd-x=-13.26(5ulp)",
    ),
    pytest.param(
        torch.float64,
        "none",
        "forward",
        -37.607601266877815,
        4,
        0.0,
        id="f64-exact-fwd-x=-37.61(20ulp)",
    ),
    pytest.param(
        torch.float64,
        "tanh",
        "forward",
        -21.19753292215369,
        4,
        0.0,
        id="f64-tanh-fwd-x=-21.20(19ulp)",
    ),
    pytest.param(
        torch.float64,
        "tanh",
        "backward",
        -21.365560926821136,
        4,
        0.0,
        id="f64-tanh-bwd-x=-21.37(1041ulp)",
    ),
]


@pytest.mark.parametrize("dtype,mode,direction,value,max_ulp,abs_tol", CONTRACT_CASES)
def test_contract_regressions(dtype, mode, direction, value, max_ulp, abs_tol):
    x = torch.tensor([value], dtype=dtype)
    ref = _mp_reference([x.item()], mode, direction == "backward")
    assert_ulp_close(
        run(direction, x, mode), ref, x, max_ulp=max_ulp, abs_tol=abs_tol, what="contract"
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=dtype_id)
def test_backward_is_grad_times_derivative(dtype, mode):
    """float32/float64: gelu_backward(g, x) rounds g * f'(x) once, so it equals
    g * gelu_backward(1, x) bit for bit."""
    x = random_values(dtype, 20_000, seed=2)
    g = random_values(dtype, 20_000, seed=3)
    expect = g * gelu_ext.gelu_backward(torch.ones_like(x), x, mode)
    assert_bitwise_equal(gelu_ext.gelu_backward(g, x, mode), expect, f"{dtype} {mode}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=dtype_id)
def test_16bit_backward_with_random_grad(dtype, mode):
    x = random_values(dtype, 20_000, seed=2)
    g = random_values(dtype, 20_000, seed=3)
    out = gelu_ext.gelu_backward(g, x, mode)
    ref = g.double() * ref_gelu_grad(x, mode)
    # g * f'(x) computed in float and rounded once: <= 1 ulp of the type, plus
    # the float computation's own error (<= 2^-22 absolute in f', times |g|).
    err = (out.double() - ref).abs()
    bound = ulp(ref, dtype) + g.double().abs() * 2.0**-22
    worst = int((err / bound).argmax())
    assert (err <= bound).all(), (
        x[worst].item(),
        g[worst].item(),
        out[worst].item(),
        ref[worst].item(),
    )


# ---------------------------------------------------------------------------
# Against PyTorch's own kernels
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_matches_torch_functional(dtype, mode):
    g = torch.Generator().manual_seed(7)
    x = (torch.randn(4096, generator=g, dtype=torch.float64) * 3).to(dtype)
    grad = torch.randn(4096, generator=g, dtype=torch.float64).to(dtype)
    torch.testing.assert_close(gelu_ext.gelu(x, mode), native_gelu(x, mode))
    torch.testing.assert_close(
        gelu_ext.gelu_backward(grad, x, mode), native_gelu_backward(grad, x, mode)
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=dtype_id)
def test_16bit_at_most_1_ulp_from_torch(dtype, mode):
    """Both compute in float and round once: never more than 1 ulp apart."""
    x = all_16bit_values(dtype)
    # where torch's own float computation is accurate (no tail cancellation,
    # no subnormal flushing)
    x = x[(x >= -3) & (x <= 4) & (x.abs() > 1e-30)]
    ours, theirs = gelu_ext.gelu(x, mode), native_gelu(x, mode)
    e = ulp_error(ours, theirs.double(), dtype)
    assert e.max() <= 1, (x[e.argmax()].item(), ours[e.argmax()].item(), theirs[e.argmax()].item())


# ---------------------------------------------------------------------------
# Special values
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_limits_and_signed_zero(dtype, mode):
    inf, nan = math.inf, math.nan
    x = torch.tensor([0.0, -0.0, inf, -inf, nan], dtype=dtype)
    y = gelu_ext.gelu(x, mode)
    d = gelu_ext.gelu_backward(torch.ones_like(x), x, mode)
    # f(+-0) = +-0 with the sign preserved
    assert y[0].item() == 0 and not torch.signbit(y[0])
    assert y[1].item() == 0 and torch.signbit(y[1]), "gelu(-0.) must be -0."
    assert y[2].item() == inf
    assert y[3].item() == 0  # not NaN (naive -inf * 0)
    assert y[4].isnan()
    assert d[0].item() == 0.5 or abs(d[0].item() - 0.5) <= torch.finfo(dtype).eps
    assert d[1].item() == d[0].item()
    assert d[2].item() == 1.0
    assert d[3].item() == 0.0
    assert d[4].isnan()
    # NaN gradient in, NaN out; zero gradient at a finite point gives zero
    assert gelu_ext.gelu_backward(torch.full_like(x, nan), x, mode).isnan().all()
    z = gelu_ext.gelu_backward(
        torch.zeros(3, dtype=dtype), torch.tensor([-2.0, 0.5, 3.0], dtype=dtype), mode
    )
    assert (z == 0).all()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_huge_inputs(dtype, mode):
    fi = torch.finfo(dtype)
    mags = [1e4, fi.max] + ([1e30, 3e38] if fi.max > 1e30 else [])
    x = torch.tensor(mags, dtype=torch.float64).to(dtype)
    assert x.isfinite().all()
    assert torch.equal(gelu_ext.gelu(x, mode), x)  # Phi(x) == 1: exactly x
    neg = gelu_ext.gelu(-x, mode)
    assert (neg == 0).all() and not neg.isnan().any()
    ones = torch.ones_like(x)
    assert (gelu_ext.gelu_backward(ones, x, mode) == 1).all()
    assert (gelu_ext.gelu_backward(ones, -x, mode) == 0).all()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_subnormal_inputs(dtype, mode):
    fi = torch.finfo(dtype)
    sub = min_subnormal(dtype)
    mags = torch.tensor(
        [sub, 2 * sub, 3 * sub, 100 * sub, fi.smallest_normal / 2, fi.smallest_normal - sub],
        dtype=torch.float64,
    )
    x = torch.cat([mags, -mags]).to(dtype)
    assert ((x != 0) & (x.abs() < fi.smallest_normal)).all(), "inputs must be subnormal"
    y = gelu_ext.gelu(x, mode)
    # f(x) = x * Phi(x) ~ x/2 for tiny x: sign kept, no flush to zero beyond rounding
    assert (torch.signbit(y) == torch.signbit(x)).all()
    assert (y[x.abs() >= 4 * sub] != 0).all()
    tol = TOL[(dtype, "forward")]
    assert_ulp_close(
        y,
        ref_gelu(x, mode),
        x,
        max_ulp=max(tol["max_ulp"], 1),
        abs_tol=max(tol["abs_tol"], sub),
        what="subnormal forward",
    )
    d = gelu_ext.gelu_backward(torch.ones_like(x), x, mode)
    torch.testing.assert_close(
        d.double(), torch.full_like(d, 0.5, dtype=torch.float64), rtol=0, atol=fi.eps
    )


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=dtype_id)
def test_special_values_vs_reference(dtype, mode, direction):
    x = special_values(dtype)
    x = x[x.isfinite()]
    if dtype == torch.float64:
        ref = _mp_reference(x.tolist(), mode, direction == "backward")
    else:
        ref = reference(direction, x, mode)
    assert_ulp_close(
        run(direction, x, mode),
        ref,
        x,
        **TOL[(dtype, direction)],
        what=f"special {dtype} {mode} {direction}",
    )


# ---------------------------------------------------------------------------
# The negative tail: relative accuracy, and proof that the reference can fail
# ---------------------------------------------------------------------------
# Where the textbook formula loses the float32 negative tail while the result
# is still a normal float: 1 + erf (or 1 + tanh) cancels below -3; the sigmoid
# composite has no cancellation, but exp(-1.702 x) overflows below -52.1.
TAIL_RANGE = {"none": (-10.0, -3.0), "tanh": (-10.0, -3.0), "sigmoid": (-53.5, -52.2)}


@pytest.mark.parametrize("mode", MODES)
def test_float32_negative_tail_relative_accuracy(mode):
    x = torch.linspace(*TAIL_RANGE[mode], 70_001, dtype=torch.float32)
    ref = ref_gelu(x, mode)
    assert (ref < 0).all() and (ref.abs() >= torch.finfo(torch.float32).smallest_normal).all()

    ours = gelu_ext.gelu(x, mode).double()
    rel_ours = ((ours - ref) / ref).abs().max().item()
    assert rel_ours < 1e-6, rel_ours

    # The textbook formula in float32 cancels (1 + erf -> 0): the same
    # comparison flags it, so the comparison itself can fail.
    naive = textbook_gelu(x, mode).double()
    rel_naive = ((naive - ref) / ref).abs().max().item()
    assert rel_naive > 0.5, rel_naive
    assert ((naive - ref) / ref).abs().median().item() > 1e-3

    # derivative: also accurate in relative terms (no root in this range)
    d = gelu_ext.gelu_backward(torch.ones_like(x), x, mode).double()
    dref = ref_gelu_grad(x, mode)
    assert ((d - dref) / dref).abs().max().item() < 1e-6


def test_float32_tanh_derivative_relative_accuracy_at_its_root():
    """The CPU's float32 tanh f' (csrc/gelu_math.h, gelu_tanh_derivative_near)
    expands its near table's interval 1 at the root of f' (x ~ -0.752461), so
    its results there keep their accuracy relative to |f'|, far inside the
    contract's 4 ulp + 2^-26: within 2 ulp at the float nearest the root and
    its neighbours out to 2^17 floats away (|f'| from about 1e-9 up), against
    mpmath. Before the near table these were up to 7.5e5 ulp off."""
    root = torch.tensor([-0.7524614334106445], dtype=torch.float32).view(torch.int32)
    steps = torch.tensor([0] + [s * 2**k for k in range(18) for s in (1, -1)], dtype=torch.int32)
    x = (root + steps).view(torch.float32)
    ref = _mp_reference(x.tolist(), "tanh", derivative=True)
    assert ref.abs().min() < 1e-8  # some are this close to the root
    got = gelu_ext.gelu_backward(torch.ones_like(x), x, "tanh")
    assert_ulp_close(got, ref, x, max_ulp=2, abs_tol=0.0, what="float32 tanh f' at its root")


def test_reference_is_accurate_in_tail():
    """Guard the test oracle itself: erfc-based Phi against mpmath at x=-8, -20."""
    ref = ref_gelu(torch.tensor([-8.0, -20.0], dtype=torch.float64), "none")
    mp = _mp_reference([-8.0, -20.0], "none", False)
    torch.testing.assert_close(ref, mp, rtol=1e-13, atol=0)
