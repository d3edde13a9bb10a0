"""python -m gelu_ext export: the TorchScript and torch.export files it
writes load back (torch.export.save/load round trip included) and reproduce
the saved output; the C++ side is tested by ctest (tests/deploy)."""

from __future__ import annotations

import os
import subprocess
import sys

import gelu_ext
import pytest
import torch
from conftest import MODES, native_gelu
from gelu_ext import cli
from gelu_ext.cli.aoti import EncoderBlock, ExportCheckError, check_program_ops
from gelu_ext.cli.export import MLPBlock, export_block


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    return {mode: export_block(str(out), mode, batch=4, features=16, hidden=32) for mode in MODES}


def _uses_op(program: torch.export.ExportedProgram) -> bool:
    return any(n.target is torch.ops.gelu_ext.gelu.default for n in program.graph.nodes)


@pytest.mark.parametrize("mode", MODES)
def test_files_and_expected_output(exported, mode):
    files = exported[mode]
    for path in files.paths():
        assert os.path.getsize(path) > 0, path
    x, y = torch.load(files.input), torch.load(files.expected)
    assert x.shape == (4, 16) and y.shape == (4, 16) and y.dtype == torch.float32
    # The saved output is the block's, computed with the op of this mode.
    torch.manual_seed(0)
    block = MLPBlock(16, 32, mode)
    torch.testing.assert_close(block(x), y, rtol=0, atol=0)
    h = block.fc1(x)
    torch.testing.assert_close(block.fc2(native_gelu(h, mode)), y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_torchscript_loads_and_matches(exported, mode):
    files = exported[mode]
    module = torch.jit.load(files.torchscript)
    assert module.in_features == 16
    assert "gelu_ext::gelu" in str(module.act.graph)
    x = torch.load(files.input).requires_grad_(True)
    y = module(x)
    torch.testing.assert_close(y.detach(), torch.load(files.expected))
    (grad,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(grad, torch.load(files.input_grad))


@pytest.mark.parametrize("mode", MODES)
def test_exported_program_round_trips(exported, mode, tmp_path):
    files = exported[mode]
    program = torch.export.load(files.exported_program)
    assert _uses_op(program)
    x = torch.load(files.input)
    torch.testing.assert_close(program.module()(x), torch.load(files.expected))
    # Dynamic batch dimension: other batch sizes run too.
    x7 = torch.randn(7, 16)
    assert program.module()(x7).shape == (7, 16)
    # save -> load again gives the same program.
    again = tmp_path / "again.pt2"
    torch.export.save(program, str(again))
    reloaded = torch.export.load(str(again))
    assert _uses_op(reloaded)
    torch.testing.assert_close(reloaded.module()(x7), program.module()(x7), rtol=0, atol=0)


def test_exported_program_loads_in_a_fresh_process(exported):
    """A new process needs only ``import gelu_ext`` to run the saved program."""
    files = exported["tanh"]
    code = (
        "import sys, torch, gelu_ext\n"
        "p = torch.export.load(sys.argv[1])\n"
        "y = p.module()(torch.load(sys.argv[2]))\n"
        "torch.testing.assert_close(y, torch.load(sys.argv[3]))\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, files.exported_program, files.input, files.expected],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_cli_writes_both_modes(tmp_path, capsys):
    assert (
        cli.main(
            [
                "export",
                "--out",
                str(tmp_path),
                "--features",
                "8",
                "--hidden",
                "16",
                "--batch",
                "2",
                "--aoti",
                "none",  # AOTI packages are compiled and run from C++ by ctest (tests/deploy)
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out.split()
    assert len(printed) == 7 * len(MODES) + 5 and all(os.path.exists(p) for p in printed)
    assert {os.path.basename(p) for p in printed} >= {
        "mlp_none.pt",
        "mlp_tanh.pt2",
        "mlp_sigmoid.pt",
    }


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["export", "--out", "x", "--features", "0"])
    assert e.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err
    with pytest.raises(ValueError, match="approximate must be 'none', 'tanh' or 'sigmoid'"):
        export_block("unused", "quick")  # type: ignore[arg-type]


def test_module_is_gelu_ext():
    block = MLPBlock(4, 8, "tanh")
    assert isinstance(block.act, gelu_ext.GELU) and block.act.approximate == "tanh"


# The checks before an AOTI package is compiled (no compiler needed).


def _program(model: torch.nn.Module, x: torch.Tensor) -> torch.export.ExportedProgram:
    return torch.export.export(model, (x,), dynamic_shapes={"x": {0: torch.export.Dim("b")}})


def test_aoti_check_accepts_the_block_and_the_encoder():
    block = MLPBlock(8, 16, "tanh").eval()
    schemas = check_program_ops(_program(block, torch.randn(4, 8)), block)
    assert schemas == [str(torch.ops.gelu_ext.gelu.default._schema)]
    encoder = EncoderBlock().eval()
    assert check_program_ops(_program(encoder, torch.randn(2, 5, 32)), encoder) == schemas


class _AtenGELU(gelu_ext.GELU):
    """A gelu_ext.GELU whose forward was replaced by PyTorch's GELU."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.gelu(input, approximate=self.approximate)


def test_aoti_check_rejects_a_gelu_traced_into_something_else():
    block = MLPBlock(8, 16, "tanh").eval()
    block.act = _AtenGELU("tanh")
    with pytest.raises(
        ExportCheckError, match=r"gelu_ext.GELU at 'act' was traced into aten::gelu"
    ):
        check_program_ops(_program(block, torch.randn(4, 8)), block)


torch.library.define("gelu_ext_test::py_only", "(Tensor x) -> Tensor")
torch.library.impl("gelu_ext_test::py_only", "CompositeExplicitAutograd", lambda x: x.clone())


class _CallsOp(torch.nn.Module):
    def __init__(self, op) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(gelu_ext.gelu(x))


def test_aoti_check_rejects_ops_outside_aten_and_the_op_library():
    model = _CallsOp(torch.ops.gelu_ext_test.py_only)
    with pytest.raises(ExportCheckError, match="gelu_ext_test::py_only, which is neither an aten"):
        check_program_ops(_program(model, torch.randn(4, 8)), model)
