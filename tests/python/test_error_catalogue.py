"""Every row of docs/ERRORS.md: the bad input, the exception type and the
message, asserted exactly.

Each row has an ID (the first column of the tables in docs/ERRORS.md); the
test ``test_catalogue_matches_docs`` keeps the two lists identical, so a row
added to one without the other fails. Messages we write are compared in
full; messages PyTorch writes (argument parsing, missing backend kernels)
are compared by the part that identifies the error, which the table gives
as "begins with" or "contains". Rows that need a CUDA device (or two) are
skipped, with that reason, where there is none.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from typing import Callable

import gelu_ext
import pytest
import torch
from gelu_ext import _C, _library
from torch import nn

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "ERRORS.md")

FLOAT_KINDS = "must be a floating-point tensor (float32, float64, bfloat16 or float16), got "
APPROX = "approximate must be 'none', 'tanh' or 'sigmoid', got "
SHAPE = "must have shape "
NOT_RESIZED = " (the input's; it is not resized), got "
SHARED = (
    "has elements that share memory (e.g. an expanded tensor); every output element needs "
    "memory of its own"
)
USE_FUNCTIONAL = "use the functional op, or run under torch.no_grad()"


def _x(*shape: int, device: str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.ones(*shape, device=device, dtype=dtype)


def _quiet(make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Builds a beta/deprecated tensor kind (sparse CSR, quantized, nested)
    without its warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make()


def _quantized() -> torch.Tensor:
    return _quiet(lambda: torch.quantize_per_tensor(_x(4), 0.1, 0, torch.qint8))


def _nested(layout: torch.layout = torch.strided) -> torch.Tensor:
    return _quiet(lambda: torch.nested.nested_tensor([_x(2), _x(3)], layout=layout))


def _no_library(tmp_path_factory) -> None:
    """library_path() in a package directory without the compiled library."""
    saved = _library._HERE
    _library._HERE = str(tmp_path_factory)
    try:
        _library.library_path()
    finally:
        _library._HERE = saved


def _cuda(n: int = 1) -> bool:
    return torch.cuda.is_available() and torch.cuda.device_count() >= n


NEEDS_CUDA_KERNELS = "needs a CUDA device and a build with CUDA kernels"
NEEDS_CUDA_NO_KERNELS = "needs a CUDA device and a build without CUDA kernels"
NEEDS_TWO_GPUS = "needs two CUDA devices and a build with CUDA kernels"


@dataclass
class Row:
    call: Callable[..., object]
    error: type[BaseException]
    message: str
    how: str = "exact"  # exact | begins | contains
    skip: str | None = None  # reason, when the row cannot run here

    def check(self, *args: object) -> None:
        with pytest.raises(self.error) as info:
            self.call(*args)
        text = str(info.value)
        if self.how == "exact":
            assert text == self.message
        elif self.how == "begins":
            assert text.startswith(self.message), text
        else:
            assert self.message in text, text


GELU = torch.ops.gelu_ext.gelu
BWD = torch.ops.gelu_ext.gelu_backward

ROWS: dict[str, Row] = {
    # --- gelu ----------------------------------------------------------------
    "G1": Row(lambda: gelu_ext.gelu(_x(3), "erf"), ValueError, f"gelu_ext::gelu: {APPROX}'erf'"),
    "G2": Row(lambda: GELU(_x(3), "Tanh"), ValueError, f"gelu_ext::gelu: {APPROX}'Tanh'"),
    "G3": Row(
        lambda: gelu_ext.gelu(_x(3, device="meta"), ""), ValueError, f"gelu_ext::gelu: {APPROX}''"
    ),
    "G4": Row(
        lambda: gelu_ext.gelu(torch.arange(3), "bad"), ValueError, f"gelu_ext::gelu: {APPROX}'bad'"
    ),
    "G5": Row(
        lambda: gelu_ext.gelu(torch.arange(3)), TypeError, f"gelu_ext::gelu: self {FLOAT_KINDS}Long"
    ),
    "G6": Row(
        lambda: gelu_ext.gelu(_x(3, dtype=torch.bool)),
        TypeError,
        f"gelu_ext::gelu: self {FLOAT_KINDS}Bool",
    ),
    "G7": Row(
        lambda: gelu_ext.gelu(_x(3, dtype=torch.complex64)),
        TypeError,
        f"gelu_ext::gelu: self {FLOAT_KINDS}ComplexFloat",
    ),
    "G8": Row(
        lambda: gelu_ext.gelu(_x(3).to(torch.float8_e4m3fn)),
        TypeError,
        f"gelu_ext::gelu: self {FLOAT_KINDS}Float8_e4m3fn",
    ),
    "G9": Row(
        lambda: gelu_ext.gelu(_x(3, device="meta", dtype=torch.int32)),
        TypeError,
        f"gelu_ext::gelu: self {FLOAT_KINDS}Int",
    ),
    "G10": Row(
        lambda: gelu_ext.gelu(_x(3, dtype=torch.complex64).requires_grad_()),
        TypeError,
        f"gelu_ext::gelu: self {FLOAT_KINDS}ComplexFloat",
    ),
    "G11": Row(
        lambda: gelu_ext.gelu(_x(3), None),
        RuntimeError,
        "gelu_ext::gelu() Expected a value of type 'str' for argument 'approximate' but "
        "instead found type 'NoneType'.",
        "begins",
    ),
    "G12": Row(
        lambda: GELU.default([1.0, 2.0]),
        RuntimeError,
        "gelu_ext::gelu() Expected a value of type 'Tensor' for argument 'self' but "
        "instead found type 'list'.",
        "begins",
    ),
    "G13": Row(
        lambda: GELU(_x(3), "none", 1),
        RuntimeError,
        "gelu_ext::gelu() expected at most 2 argument(s) but received 3 argument(s).",
        "contains",
    ),
    "G14": Row(
        lambda: GELU(_x(3), mode="tanh"),
        RuntimeError,
        "Unknown keyword argument 'mode' for operator 'gelu_ext::gelu'.",
        "contains",
    ),
    "G15": Row(
        lambda: gelu_ext.gelu(None), RuntimeError, "gelu_ext::gelu: self is an undefined tensor"
    ),
    # --- gelu_backward ---------------------------------------------------------
    "B1": Row(
        lambda: gelu_ext.gelu_backward(_x(3), _x(3), "quick"),
        ValueError,
        f"gelu_ext::gelu_backward: {APPROX}'quick'",
    ),
    "B2": Row(
        lambda: gelu_ext.gelu_backward(torch.arange(3), _x(3)),
        TypeError,
        f"gelu_ext::gelu_backward: grad_output {FLOAT_KINDS}Long",
    ),
    "B3": Row(
        lambda: gelu_ext.gelu_backward(_x(3), _x(3, dtype=torch.complex128)),
        TypeError,
        f"gelu_ext::gelu_backward: self {FLOAT_KINDS}ComplexDouble",
    ),
    "B4": Row(
        lambda: gelu_ext.gelu_backward(_x(3, dtype=torch.float64), _x(3)),
        TypeError,
        "gelu_ext::gelu_backward: grad_output and self must have the same dtype, got "
        "Double and Float",
    ),
    "B5": Row(
        lambda: gelu_ext.gelu_backward(_x(4), _x(3)),
        RuntimeError,
        "gelu_ext::gelu_backward: grad_output and self must have the same shape, got [4] and [3]",
    ),
    "B6": Row(
        lambda: gelu_ext.gelu_backward(_x(1), _x(2, 3)),
        RuntimeError,
        "gelu_ext::gelu_backward: grad_output and self must have the same shape, got [1] "
        "and [2, 3]",
    ),
    "B7": Row(
        lambda: gelu_ext.gelu_backward(_x(3, device="meta"), _x(3)),
        RuntimeError,
        "gelu_ext::gelu_backward: grad_output and self must be on the same device, got "
        "meta and cpu",
    ),
    "B8": Row(
        lambda: gelu_ext.gelu_backward(_x(3), _x(3), None),
        RuntimeError,
        "gelu_ext::gelu_backward() Expected a value of type 'str' for argument "
        "'approximate' but instead found type 'NoneType'.",
        "begins",
    ),
    "B9": Row(
        lambda: BWD.default(_x(3), 2.0),
        RuntimeError,
        "gelu_ext::gelu_backward() Expected a value of type 'Tensor' for argument 'self' "
        "but instead found type 'float'.",
        "begins",
    ),
    "B10": Row(
        lambda: gelu_ext.gelu_backward(None, _x(3)),
        RuntimeError,
        "gelu_ext::gelu_backward: grad_output is an undefined tensor",
    ),
    # --- layouts -------------------------------------------------------------
    "L1": Row(
        lambda: gelu_ext.gelu(_x(2, 2).to_sparse()),
        NotImplementedError,
        "Could not run 'gelu_ext::gelu' with arguments from the 'SparseCPU' backend.",
        "begins",
    ),
    "L2": Row(
        lambda: gelu_ext.gelu(_quiet(lambda: _x(2, 2).to_sparse_csr())),
        NotImplementedError,
        "Could not run 'gelu_ext::gelu' with arguments from the 'SparseCsrCPU' backend.",
        "begins",
    ),
    "L3": Row(
        lambda: gelu_ext.gelu(_quiet(lambda: _x(2, 2).to_sparse_bsc((1, 1)))),
        NotImplementedError,
        "Could not run 'gelu_ext::gelu' with arguments from the 'SparseCsrCPU' backend.",
        "begins",
    ),
    "L4": Row(
        lambda: gelu_ext.gelu_backward(_x(2, 2).to_sparse(), _x(2, 2)),
        NotImplementedError,
        "Could not run 'gelu_ext::gelu_backward' with arguments from the 'SparseCPU' backend.",
        "begins",
    ),
    "L5": Row(
        lambda: gelu_ext.gelu(_quantized()),
        NotImplementedError,
        "Could not run 'gelu_ext::gelu' with arguments from the 'QuantizedCPU' backend.",
        "begins",
    ),
    "L6": Row(
        lambda: gelu_ext.gelu_backward(_quantized(), _x(4)),
        NotImplementedError,
        "Could not run 'gelu_ext::gelu_backward' with arguments from the 'QuantizedCPU' backend.",
        "begins",
    ),
    "L7": Row(
        lambda: gelu_ext.gelu(_x(4).to_mkldnn()),
        NotImplementedError,
        "Could not run 'gelu_ext::gelu' with arguments from the 'MkldnnCPU' backend.",
        "begins",
    ),
    "L8": Row(
        lambda: gelu_ext.gelu(_nested(torch.jagged)),
        NotImplementedError,
        "gelu_ext::gelu: self must be a dense (strided) tensor, got a nested tensor",
    ),
    "L9": Row(
        lambda: gelu_ext.gelu(_nested()),
        NotImplementedError,
        "gelu_ext::gelu: self must be a dense (strided) tensor, got a nested tensor",
    ),
    # --- allocation-free variants ----------------------------------------------
    "O1": Row(
        lambda: gelu_ext.gelu(_x(4, 5), out=_x(3)),
        RuntimeError,
        f"gelu_ext::gelu.out: out {SHAPE}[4, 5]{NOT_RESIZED}[3]",
    ),
    "O2": Row(
        lambda: gelu_ext.gelu(_x(4, 5), out=_x(4, 5, dtype=torch.float64)),
        TypeError,
        "gelu_ext::gelu.out: out must have dtype Float (the input's), got Double",
    ),
    "O3": Row(
        lambda: gelu_ext.gelu(_x(4, 5), out=_x(4, 5, device="meta")),
        RuntimeError,
        "gelu_ext::gelu.out: out must be on cpu (the input's device), got meta",
    ),
    "O4": Row(
        lambda: gelu_ext.gelu(_x(4, 5), out=_x(5).expand(4, 5)),
        RuntimeError,
        f"gelu_ext::gelu.out: out {SHARED}",
    ),
    "O5": Row(
        lambda: _square(lambda x: gelu_ext.gelu(x, out=x.t())),
        RuntimeError,
        "gelu_ext::gelu.out: out overlaps self in memory without being the same tensor "
        "layout; use separate memory, or self itself",
    ),
    "O6": Row(
        lambda: gelu_ext.gelu(_x(3).requires_grad_(), out=_x(3)),
        RuntimeError,
        "gelu_ext::gelu.out: self requires grad, but out= variants do not support "
        f"automatic differentiation; {USE_FUNCTIONAL}",
    ),
    "O7": Row(
        lambda: _overlapping_grad_input(),
        RuntimeError,
        "gelu_ext::gelu_backward.grad_input: grad_input overlaps grad_output in memory "
        "without being the same tensor layout; use separate memory, or grad_output itself",
    ),
    "O8": Row(
        lambda: gelu_ext.gelu_backward(_x(4, 5), _x(4, 5), grad_input=_x(5, 4)),
        RuntimeError,
        f"gelu_ext::gelu_backward.grad_input: grad_input {SHAPE}[4, 5]{NOT_RESIZED}[5, 4]",
    ),
    "O9": Row(
        lambda: gelu_ext.gelu_(_x(3).requires_grad_()),
        RuntimeError,
        "gelu_ext::gelu_: self requires grad, but its gradient would need the input values "
        f"that the in-place op overwrites; {USE_FUNCTIONAL}",
    ),
    "O10": Row(
        lambda: gelu_ext.gelu_(_x(5).expand(4, 5)), RuntimeError, f"gelu_ext::gelu_: self {SHARED}"
    ),
    "O11": Row(
        lambda: gelu_ext.gelu_(torch.arange(3)),
        TypeError,
        f"gelu_ext::gelu_: self {FLOAT_KINDS}Long",
    ),
    "O12": Row(
        lambda: gelu_ext.gelu_(_x(3), "fast"),
        ValueError,  # type: ignore[arg-type]
        f"gelu_ext::gelu_: {APPROX}'fast'",
    ),
    # --- CUDA ----------------------------------------------------------------
    "D1": Row(
        lambda: gelu_ext.gelu(_x(3, device="cuda")),
        NotImplementedError,
        "Could not run 'gelu_ext::gelu' with arguments from the 'CUDA' backend.",
        "begins",
        skip=None if _cuda() and not _C.cuda_compiled() else NEEDS_CUDA_NO_KERNELS,
    ),
    "D2": Row(
        lambda: gelu_ext.gelu_backward(_x(3), _x(3, device="cuda")),
        RuntimeError,
        "gelu_ext::gelu_backward: grad_output and self must be on the same device, got "
        "cpu and cuda:0",
        skip=None if _cuda() and _C.cuda_compiled() else NEEDS_CUDA_KERNELS,
    ),
    "D3": Row(
        lambda: gelu_ext.gelu_backward(_x(3, device="cuda:1"), _x(3, device="cuda:0")),
        RuntimeError,
        "gelu_ext::gelu_backward: grad_output and self must be on the same device, got "
        "cuda:1 and cuda:0",
        skip=None if _cuda(2) and _C.cuda_compiled() else NEEDS_TWO_GPUS,
    ),
    "D4": Row(
        lambda: gelu_ext.gelu(_x(3, device="cuda", dtype=torch.int64)),
        TypeError,
        f"gelu_ext::gelu: self {FLOAT_KINDS}Long",
        skip=None if _cuda() and _C.cuda_compiled() else NEEDS_CUDA_KERNELS,
    ),
    # --- Python API ----------------------------------------------------------
    "P1": Row(
        lambda: gelu_ext.GELU("exact"),
        ValueError,
        "gelu_ext.GELU: approximate must be 'none', 'tanh' or 'sigmoid', got 'exact'",
    ),
    "P2": Row(
        lambda: gelu_ext.GELU(None),
        ValueError,  # type: ignore[arg-type]
        "gelu_ext.GELU: approximate must be 'none', 'tanh' or 'sigmoid', got None",
    ),
    "P3": Row(
        lambda: _module_with_approximate("quick")(_x(3)),
        ValueError,
        f"gelu_ext::gelu: {APPROX}'quick'",
    ),
    "P4": Row(
        lambda: gelu_ext.replace_gelu(nn.Sequential(nn.GELU("bad"))),
        ValueError,
        "gelu_ext.replace_gelu: module '0' is a torch.nn.GELU with approximate='bad', "
        "which torch.nn.GELU does not accept ('none' or 'tanh'); nothing was replaced",
    ),
    "P5": Row(
        lambda: gelu_ext.replace_gelu([nn.GELU()]),
        TypeError,
        "gelu_ext.replace_gelu: model must be a torch.nn.Module, got list",
    ),
    "P6": Row(
        lambda: _C.set_simd("sse2"),
        ValueError,
        "gelu_ext._C.set_simd: 'sse2' is not a SIMD path this CPU supports; supported: "
        + ",".join(_C.simd_supported()),
    ),
    "P7": Row(
        lambda: _C.set_simd(2), TypeError, "set_simd(): incompatible function arguments.", "begins"
    ),
    "P8": Row(
        lambda: _C.bind("/nonexistent/libgelu_ext_ops.so"),
        RuntimeError,
        "gelu_ext._C: op library not loaded: /nonexistent/libgelu_ext_ops.so",
    ),
    "P9": Row(
        _no_library, FileNotFoundError, "gelu_ext: compiled op library not found next to ", "begins"
    ),
    "P10": Row(
        lambda: gelu_ext.replace_gelu(nn.Sequential(_UnknownGELU()), strict=True),
        ValueError,
        "gelu_ext.replace_gelu: strict=True and 1 module(s) whose class name contains "
        f"'gelu' are not in its table: '0' ({__name__}._UnknownGELU); nothing was replaced",
    ),
    "P11": Row(
        lambda: _library.check_version("0.0.9", "0.1.0", "/pkg/gelu_ext/_ops.abi3.so"),
        ImportError,
        "gelu_ext: the op library /pkg/gelu_ext/_ops.abi3.so is version 0.0.9, but the package "
        "is 0.1.0: a stale build. Rebuild the package (pip install --no-build-isolation -e .) "
        "or remove the old library.",
    ),
    "P12": Row(
        lambda: _C.set_streaming_bytes(-1),
        ValueError,
        "gelu_ext._C.set_streaming_bytes: bytes must be >= 0, got -1",
    ),
}


def _square(call: Callable[[torch.Tensor], object]) -> object:
    return call(_x(6, 6))


def _overlapping_grad_input() -> object:
    buf = _x(30)
    return gelu_ext.gelu_backward(buf[:20].view(4, 5), _x(4, 5), grad_input=buf[5:25].view(4, 5))


class _UnknownGELU(nn.Module):
    """A class whose name contains "gelu" and that replace_gelu's table lacks."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _module_with_approximate(value: str) -> nn.Module:
    """A GELU module whose attribute was changed after construction."""
    m = gelu_ext.GELU()
    m.approximate = value
    return m


@pytest.mark.parametrize("row_id", list(ROWS))
def test_row(row_id, request, restore_simd):
    row = ROWS[row_id]
    if row.skip:
        pytest.skip(row.skip)
    if row.call is _no_library:
        row.check(request.getfixturevalue("tmp_path"))
    else:
        row.check()


def _doc_ids() -> list[str]:
    with open(DOCS, encoding="utf-8") as f:
        return re.findall(r"^\| ([A-Z]\d+) \|", f.read(), flags=re.MULTILINE)


def test_catalogue_matches_docs():
    """docs/ERRORS.md and ROWS list the same IDs, each once."""
    ids = _doc_ids()
    assert len(ids) == len(set(ids)), "an ID appears twice in docs/ERRORS.md"
    assert sorted(ids) == sorted(ROWS), (
        f"only in docs: {sorted(set(ids) - set(ROWS))}; only in tests: "
        f"{sorted(set(ROWS) - set(ids))}"
    )


def test_errors_leave_the_process_usable():
    """After every CPU row has raised, the ops still compute."""
    for row_id, row in ROWS.items():
        if row.skip is None and row.call is not _no_library:
            with pytest.raises(BaseException):
                row.call()
    x = torch.linspace(-4, 4, 9)
    torch.testing.assert_close(gelu_ext.gelu(x), torch.nn.functional.gelu(x))
