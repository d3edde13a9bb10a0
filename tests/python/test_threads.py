"""Threads: results never depend on who computes them or how the work is split.

* Many Python threads calling the ops at once (forward, backward, autograd,
  strided inputs) get exactly the bits of the same calls made serially.
* The intra-op thread count (torch.set_num_threads 1, 2, 3, 4, 7) and
  repeated runs do not change a bit. The sizes are several times the CPU
  kernel's parallel grain (kGrainSize = 16384 elements in
  csrc/cpu/gelu_cpu.cpp) and not multiples of it, so the work really is
  split, into uneven chunks.
* Switching the SIMD path from another thread while calls run changes
  nothing.

Results are compared bit for bit, NaNs included where they appear: a NaN
must be a NaN in both, and test_nan_bits_do_not_depend_on_thread_count
asks for the same NaN bits too.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import gelu_ext
import pytest
import torch
from conftest import (
    MODES,
    assert_bitwise_equal,
    bits,
    dtype_id,
    random_values,
    special_values,
)
from gelu_ext import _C

GRAIN = 16384  # csrc/cpu/gelu_cpu.cpp, kGrainSize
N_LARGE = 3 * GRAIN + 4093  # several chunks, the last one partial
THREAD_DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]


def _inputs(dtype: torch.dtype, seed: int) -> dict[str, torch.Tensor]:
    """Inputs of several sizes and layouts, special values mixed in."""
    x = torch.cat([random_values(dtype, N_LARGE, seed), special_values(dtype)])
    g = random_values(dtype, x.numel(), seed + 1)
    square = random_values(dtype, 263 * 257, seed + 2).reshape(263, 257)
    return {
        "x": x,
        "g": g,
        "transposed": square.t(),  # staged (strided) path, > grain
        "small": x[:1000],  # below the grain: one thread
    }


def _calls(t: dict[str, torch.Tensor], mode: str) -> dict[str, Callable[[], torch.Tensor]]:
    def autograd_grad() -> torch.Tensor:
        xr = t["x"].detach().requires_grad_()
        (gx,) = torch.autograd.grad(gelu_ext.gelu(xr, mode), xr, t["g"])
        return gx

    return {
        "forward": lambda: gelu_ext.gelu(t["x"], mode),
        "backward": lambda: gelu_ext.gelu_backward(t["g"], t["x"], mode),
        "forward_strided": lambda: gelu_ext.gelu(t["transposed"], mode),
        "backward_strided": lambda: gelu_ext.gelu_backward(t["transposed"], t["transposed"], mode),
        "forward_small": lambda: gelu_ext.gelu(t["small"], mode),
        "autograd": autograd_grad,
    }


def assert_same(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    """Bitwise equal, except that any NaN equals any NaN."""
    assert a.shape == b.shape and a.dtype == b.dtype, what
    nan = a.isnan()
    assert torch.equal(nan, b.isnan()), f"{what}: NaN at different places"
    assert_bitwise_equal(a[~nan], b[~nan], what)


@pytest.mark.parametrize("dtype", THREAD_DTYPES, ids=dtype_id)
def test_concurrent_python_threads_match_serial(dtype):
    tensors = _inputs(dtype, seed=31)
    before = {k: v.clone() for k, v in tensors.items()}
    calls = {f"{name} {mode}": fn for mode in MODES for name, fn in _calls(tensors, mode).items()}
    serial = {name: fn() for name, fn in calls.items()}

    n_threads, rounds = 6, 2
    start = threading.Barrier(n_threads)
    names = list(calls)

    def worker(i: int) -> list[tuple[str, torch.Tensor]]:
        start.wait()  # all threads call at once
        out = []
        for r in range(rounds):
            for k in range(len(names)):  # each thread its own order
                name = names[(i + k * (r + 1)) % len(names)]
                out.append((name, calls[name]()))
        return out

    with ThreadPoolExecutor(n_threads) as pool:
        results = list(pool.map(worker, range(n_threads)))
    assert sum(len(r) for r in results) == n_threads * rounds * len(names)
    for i, res in enumerate(results):
        for name, value in res:
            assert_same(value, serial[name], f"thread {i}, {name}")
    for k, v in tensors.items():
        assert torch.equal(bits(v), bits(before[k])), f"input {k} modified"


def _compute_all(dtype: torch.dtype, mode: str) -> dict[str, torch.Tensor]:
    tensors = _inputs(dtype, seed=47)
    return {name: fn() for name, fn in _calls(tensors, mode).items()}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", THREAD_DTYPES, ids=dtype_id)
def test_intra_op_thread_count_and_repeats_bitwise(dtype, mode, restore_threads):
    torch.set_num_threads(1)
    reference = _compute_all(dtype, mode)
    for n in (2, 3, 4, 7, 1):
        torch.set_num_threads(n)
        assert torch.get_num_threads() == n
        for rep in range(2):
            for name, value in _compute_all(dtype, mode).items():
                assert_same(value, reference[name], f"{n} threads, run {rep}, {name}")


def _nan_aware_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    try:
        assert_same(a, b, "")
    except AssertionError:
        return False
    return True


@pytest.mark.skipif(len(_C.simd_supported()) < 2, reason="this CPU supports one SIMD path only")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=dtype_id)
def test_simd_switch_during_concurrent_calls(dtype, restore_simd):
    """set_simd from one thread while others compute: every result equals the
    serial one (the paths agree bit for bit, NaN bits aside: test_simd.py)."""
    tensors = _inputs(dtype, seed=5)
    calls = _calls(tensors, "tanh")
    serial = {name: fn() for name, fn in calls.items()}
    stop = threading.Event()
    paths = _C.simd_supported()

    def switcher() -> int:
        k = 0
        while not stop.is_set():
            _C.set_simd(paths[k % len(paths)])
            k += 1
        return k

    def worker(i: int) -> list[str]:
        bad = []
        for _ in range(3):
            for name, fn in calls.items():
                if not _nan_aware_equal(fn(), serial[name]):
                    bad.append(name)
        return bad

    with ThreadPoolExecutor(5) as pool:
        switches = pool.submit(switcher)
        bad = [b for r in pool.map(worker, range(4)) for b in r]
        stop.set()
        assert switches.result() > 1, "the SIMD path never switched"
    assert not bad, f"results changed while the SIMD path switched: {bad}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=dtype_id)
def test_nan_bits_do_not_depend_on_thread_count(dtype, mode, restore_threads):
    """A NaN input gives the same output bits however the call is split.

    The chunk boundaries move with the thread count, so an element lands in
    a vector body or in a loop tail depending on it; both must produce the
    same NaN (sign included), or a result's bits depend on the machine's
    thread count."""
    n = 4 * GRAIN + 24
    nan_at = torch.arange(5, n, 7)  # in every vector body and every loop tail
    x = random_values(dtype, n, seed=3)
    x[nan_at] = float("nan")
    g = random_values(dtype, n, seed=4)
    runs = {}
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        runs[threads] = (gelu_ext.gelu(x, mode), gelu_ext.gelu_backward(g, x, mode))
    for threads in (2, 3):
        for k, what in enumerate(("forward", "backward")):
            a, b = runs[1][k][nan_at], runs[threads][k][nan_at]
            assert a.isnan().all() and b.isnan().all()
            differ = bits(a) != bits(b)
            mask = (1 << (8 * x.element_size())) - 1
            assert not differ.any(), (
                f"{what}, 1 vs {threads} threads: {int(differ.sum())} of {len(nan_at)} NaN "
                f"outputs have other bits, e.g. {hex(bits(a)[differ][0].item() & mask)} vs "
                f"{hex(bits(b)[differ][0].item() & mask)} at x[{int(nan_at[differ][0])}]"
            )


def _thread_cpu_ticks() -> dict[str, int]:
    """User + system CPU time of each OS thread of this process, in clock ticks."""
    ticks = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        ticks[tid] = int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    return ticks


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two CPUs")
def test_large_calls_run_on_the_intra_op_threads(restore_threads):
    """A call well above the grain, with two intra-op threads, puts a second OS
    thread to work: the CPU time of the calls is not all the calling thread's.
    (Calls that skip the TensorIterator run on the calling thread only, so
    they must be one-thread calls; at::parallel_for in this library's own
    code would not split the work, since the library is not built with
    OpenMP.)"""
    torch.set_num_threads(2)
    x = random_values(torch.float32, 64 * GRAIN, seed=9)
    g = random_values(torch.float32, x.numel(), seed=10)
    out = torch.empty_like(x)
    me = str(threading.get_native_id())
    before = _thread_cpu_ticks()
    deadline = time.monotonic() + 20.0
    used: dict[str, int] = {}
    while time.monotonic() < deadline:
        for _ in range(10):
            torch.ops.gelu_ext.gelu.out(x, "none", out=out)
            torch.ops.gelu_ext.gelu_backward.grad_input(g, x, "tanh", grad_input=out)
        now = _thread_cpu_ticks()
        used = {t: now[t] - before.get(t, 0) for t in now}
        if used.get(me, 0) >= 50:
            break
    mine = used.get(me, 0)
    others = max((v for t, v in used.items() if t != me), default=0)
    assert mine >= 10, f"the calls took {mine} ticks of CPU time on the calling thread"
    assert others >= mine // 4, (
        f"the calling thread used {mine} ticks and no other thread more than {others}: "
        "the work was not split across the intra-op threads"
    )
