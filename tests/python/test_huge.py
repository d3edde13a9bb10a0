"""A CPU tensor of more than 2^31 elements (bfloat16: 4 GiB per tensor).

Index arithmetic that wraps at 2^31 (or 2^32), or a parallel split that
drops or repeats a chunk, shows only on tensors this large. The input
repeats a block of PERIOD = 65269 values: every non-NaN bfloat16 value but
a few, in a seeded order (±inf, ±0, subnormals included). PERIOD is prime,
so an element past 2^31 never has the value of the element 2^31 or 2^32
before it: a wrapped index reads a different value. The last, partial
period (past 2^31) gets NaNs too. Each op's output is checked

* against the float64 reference (within the 1-ulp bfloat16 contract) at the
  first and last elements, around 2^31 and at sampled positions, and
* completely, bit for bit, against the op's own result on one period.

About 9 GiB of memory is needed (input and output). The tests skip, saying
so, where MemAvailable (or the free physical pages) is less than that.
"""

from __future__ import annotations

import os

import gelu_ext
import pytest
import torch
from conftest import all_16bit_values, assert_ulp_close, ref_gelu, ref_gelu_grad, ulp

DTYPE = torch.bfloat16
PERIOD = 65269  # prime, at most the 65282 non-NaN bfloat16 values
N = 2**31 + 3 * PERIOD + 17  # > 2^31, not a multiple of PERIOD or of any SIMD width
NEEDED_BYTES = 2 * N * 2 + (3 << 29)  # input + output + 1.5 GiB for checks and the process


def available_bytes() -> int:
    """Memory this process can still take without swapping: MemAvailable from
    /proc/meminfo, else the free physical pages (os.sysconf)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _require_memory() -> None:
    have = available_bytes()
    if have < NEEDED_BYTES:
        pytest.skip(
            f"needs {NEEDED_BYTES / 2**30:.1f} GiB of available memory for a tensor of "
            f"{N} elements, this machine has {have / 2**30:.1f} GiB available"
        )


def _period_values() -> torch.Tensor:
    """PERIOD distinct non-NaN bfloat16 values in a seeded order."""
    every = all_16bit_values(DTYPE)
    every = every[~every.isnan()]
    order = torch.randperm(every.numel(), generator=torch.Generator().manual_seed(2**31))
    return every[order[:PERIOD]].contiguous()


def _nan_positions() -> torch.Tensor:
    """Where the input holds NaN: in the last, partial period (past 2^31)."""
    start = (N // PERIOD) * PERIOD
    return torch.arange(start + 3, N, 101, dtype=torch.int64)


@pytest.fixture(scope="module")
def huge_input():
    _require_memory()
    base = _period_values()
    x = torch.empty(N, dtype=DTYPE)
    rows = N // PERIOD
    x[: rows * PERIOD].view(rows, PERIOD).copy_(base.expand(rows, PERIOD))
    x[rows * PERIOD :] = base[: N - rows * PERIOD]
    x[_nan_positions()] = float("nan")
    yield base, x
    del x


def _sample_positions() -> torch.Tensor:
    edges = [0, 1, 2, PERIOD - 1, PERIOD, 2**31 - 2, 2**31 - 1, 2**31, 2**31 + 1, N - 2, N - 1]
    g = torch.Generator().manual_seed(7)
    sampled = torch.randint(0, N, (4096,), generator=g, dtype=torch.int64)
    upper = torch.randint(2**31, N, (1024,), generator=g, dtype=torch.int64)  # past 2^31
    return torch.cat([torch.tensor(edges, dtype=torch.int64), sampled, upper, _nan_positions()])


def _check_everything(out: torch.Tensor, expected_period: torch.Tensor, what: str) -> None:
    """out[i] == expected_period[i % PERIOD], bit for bit (where a NaN is
    expected, any NaN), for every i of the whole periods; in the last,
    partial period, NaN exactly where the input has NaN."""
    assert out.shape == (N,) and out.dtype == DTYPE and out.is_contiguous()
    want = expected_period.view(torch.int16)
    nan_cols = expected_period.isnan().nonzero().flatten()  # e.g. -inf * f'(-inf)
    rows = N // PERIOD
    body = out[: rows * PERIOD].view(rows, PERIOD)
    block = 2048
    for r in range(0, rows, block):
        same = body[r : r + block].view(torch.int16) == want
        same[:, nan_cols] = True
        if not bool(same.all()):
            row, col = (~same).nonzero()[0].tolist()
            i = (r + row) * PERIOD + col
            raise AssertionError(
                f"{what}: element {i} is {out[i].item()!r}, expected "
                f"{expected_period[col].item()!r}"
            )
    assert bool(body.index_select(1, nan_cols).isnan().all()), f"{what}: a NaN went missing"
    tail = out[rows * PERIOD :]
    nan = expected_period[: tail.numel()].isnan()
    nan[_nan_positions() - rows * PERIOD] = True
    assert torch.equal(tail.isnan(), nan), f"{what}: NaN in the last period where none belongs"
    assert torch.equal(tail[~nan].view(torch.int16), want[: tail.numel()][~nan]), (
        f"{what}: the last, partial period differs"
    )


def test_forward_more_than_2_pow_31_elements(huge_input):
    base, x = huge_input
    assert x.numel() > 2**31
    y = gelu_ext.gelu(x, "none")
    try:
        idx = _sample_positions()
        xs = x[idx]
        assert_ulp_close(
            y[idx],
            ref_gelu(xs, "none"),
            xs,
            max_ulp=1.0,
            what="forward at first, last, 2^31 and sampled elements",
        )
        _check_everything(y, gelu_ext.gelu(base, "none"), "forward")
    finally:
        del y


def test_backward_more_than_2_pow_31_elements(huge_input):
    """gelu_backward(x, x, "tanh") = x * f'(x): both inputs huge, no third
    tensor (memory stays at input + output)."""
    base, x = huge_input
    gx = gelu_ext.gelu_backward(x, x, "tanh")
    try:
        idx = _sample_positions()
        xs = x[idx]
        dref = ref_gelu_grad(xs, "tanh")
        ref = xs.double() * dref
        # f' formed in float (within 1.5 bfloat16 ulp: the 1-ulp contract
        # before the final rounding), times x, rounded once.
        tol = xs.double().abs() * 1.5 * ulp(dref, DTYPE) + ulp(ref, DTYPE)
        got = gx[idx].double()
        both_nan = got.isnan() & ref.isnan()
        close = (got == ref) | ((got - ref).abs() <= tol) | both_nan
        assert bool(close.all()), (
            f"backward at {idx[~close][:5].tolist()}: got {got[~close][:5].tolist()}, "
            f"expected {ref[~close][:5].tolist()}"
        )
        _check_everything(gx, gelu_ext.gelu_backward(base, base, "tanh"), "backward")
    finally:
        del gx
