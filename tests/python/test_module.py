"""nn.Module front end (GELU, replace_gelu), library loading, build facts."""

from __future__ import annotations

import copy
import os
import pathlib
import subprocess
import sys

import gelu_ext
import pytest
import torch
from conftest import MODES, TORCH_MODES, assert_bitwise_equal, native_gelu
from gelu_ext import _C
from torch import nn

REPO = pathlib.Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------
# GELU
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", TORCH_MODES)
def test_gelu_module_repr_matches_torch(mode):
    ours, theirs = gelu_ext.GELU(mode), nn.GELU(mode)
    assert ours.extra_repr() == theirs.extra_repr() == f"approximate='{mode}'"
    assert repr(ours) == repr(theirs)
    assert ours.approximate == mode


def test_gelu_module_default_is_exact():
    assert gelu_ext.GELU().approximate == "none"
    assert gelu_ext.GELU().extra_repr() == nn.GELU().extra_repr()


@pytest.mark.parametrize("bad", ["bad", "TANH", "", None, 1])
def test_gelu_module_rejects_bad_approximate(bad):
    msg = "gelu_ext.GELU: approximate must be 'none', 'tanh' or 'sigmoid'"
    with pytest.raises(ValueError, match=msg):
        gelu_ext.GELU(bad)


@pytest.mark.parametrize("mode", MODES)
def test_gelu_module_forward(mode):
    m = gelu_ext.GELU(mode)
    x = torch.randn(4, 5)
    assert_bitwise_equal(m(x), gelu_ext.gelu(x, mode), "module vs functional")
    torch.testing.assert_close(m(x), native_gelu(x, mode))
    assert list(m.parameters()) == [] and m.state_dict() == {}


def test_gelu_module_deepcopy_and_pickle(tmp_path):
    m = nn.Sequential(gelu_ext.GELU("tanh"))
    c = copy.deepcopy(m)
    assert isinstance(c[0], gelu_ext.GELU) and c[0].approximate == "tanh"
    path = tmp_path / "m.pt"
    torch.save(m, path)
    loaded = torch.load(path, weights_only=False)
    x = torch.randn(7)
    assert_bitwise_equal(loaded(x), m(x), "pickled module")


# ---------------------------------------------------------------------------
# replace_gelu
# ---------------------------------------------------------------------------
class Attention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        a = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
        return self.proj(a @ v)


class Layer(nn.Module):
    def __init__(self, d, approximate):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = Attention(d)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyTransformer(nn.Module):
    """BERT/GPT-2-like: 3 nn.GELU with mixed modes, nested at different depths."""

    def __init__(self, d=16):
        super().__init__()
        self.embed = nn.Linear(8, d)
        self.layers = nn.ModuleList([Layer(d, "tanh"), Layer(d, "none")])
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU("tanh"), nn.Linear(d, 4))

    def forward(self, x):
        x = self.embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def _gelus(model, cls):
    return [(name, m.approximate) for name, m in model.named_modules() if type(m) is cls]


def test_replace_gelu_on_transformer():
    torch.manual_seed(0)
    model = TinyTransformer().eval()
    before = _gelus(model, nn.GELU)
    assert before == [("layers.0.mlp.1", "tanh"), ("layers.1.mlp.1", "none"), ("head.1", "tanh")]
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        expect = model(x)
    params_before = {k: v.clone() for k, v in model.state_dict().items()}

    report = gelu_ext.replace_gelu(model)
    assert len(report) == 3
    assert [(r.name, r.mode) for r in report] == before
    assert {r.old_class for r in report} == {"torch.nn.modules.activation.GELU"}
    assert report.left_alone == ()
    assert _gelus(model, nn.GELU) == []
    assert _gelus(model, gelu_ext.GELU) == before  # same places, same modes
    with torch.no_grad():
        got = model(x)
    torch.testing.assert_close(got, expect, rtol=1.3e-6, atol=1e-5)
    assert not torch.equal(got, torch.zeros_like(got))
    # parameters untouched
    after = model.state_dict()
    assert after.keys() == params_before.keys()
    assert all(torch.equal(after[k], v) for k, v in params_before.items())

    # idempotent
    assert len(gelu_ext.replace_gelu(model)) == 0
    assert _gelus(model, gelu_ext.GELU) == before

    # the replaced model trains: gradients reach the first layer
    model.train()
    model(x).sum().backward()
    assert model.embed.weight.grad is not None and model.embed.weight.grad.abs().sum() > 0


def test_replace_gelu_bare_and_shared_modules():
    bare = nn.GELU()
    report = gelu_ext.replace_gelu(bare)
    assert len(report) == 0  # the root itself is not replaced, and says so
    assert [(s.name, s.what) for s in report.left_alone] == [
        ("", "torch.nn.modules.activation.GELU")
    ]
    assert "the model itself is never replaced" in report.left_alone[0].reason
    assert type(bare) is nn.GELU
    shared = nn.GELU("tanh")
    model = nn.Sequential(shared, shared, nn.Sequential(shared))
    report = gelu_ext.replace_gelu(model)
    # every attribute that held the nn.GELU now holds one shared gelu_ext.GELU
    assert [r.name for r in report] == ["0", "1", "2.0"]
    assert type(model[0]) is gelu_ext.GELU and model[0] is model[1] is model[2][0]
    assert model[0].approximate == "tanh"


def test_replace_gelu_leaves_subclasses_and_others():
    class MyGELU(nn.GELU):
        pass

    model = nn.Sequential(MyGELU(), nn.ReLU(), gelu_ext.GELU("tanh"))
    report = gelu_ext.replace_gelu(model)
    assert len(report) == 0
    # the subclass is reported; the ReLU and the gelu_ext.GELU are not
    assert [(s.name, s.what) for s in report.left_alone] == [
        ("0", f"{__name__}.test_replace_gelu_leaves_subclasses_and_others.<locals>.MyGELU")
    ]
    assert type(model[0]) is MyGELU and type(model[2]) is gelu_ext.GELU
    with pytest.raises(ValueError, match=r"^gelu_ext.replace_gelu: strict=True and 1 module"):
        gelu_ext.replace_gelu(model, strict=True)


def test_replace_gelu_report():
    model = nn.Sequential(nn.Linear(2, 2), nn.GELU(), nn.Sequential(nn.GELU("tanh")))
    model.act = nn.functional.gelu  # a plain function: reported, not replaced
    report = gelu_ext.replace_gelu(model)
    assert isinstance(report, gelu_ext.ReplaceReport)
    first = gelu_ext.Replacement("1", "torch.nn.modules.activation.GELU", "none")
    assert report[0] == first and report[-1].name == "2.0" and report[:1] == (first,)
    assert list(report) == list(report.replaced) and len(report) == 2 and bool(report)
    assert report.left_alone == (
        gelu_ext.LeftAlone(
            "act",
            "function torch.nn.functional.gelu",
            "a plain function attribute, not a module: replace_gelu swaps modules only",
        ),
    )
    assert repr(report) == "ReplaceReport(replaced=2, left_alone=1)"
    assert str(report) == (
        "replace_gelu: 2 replaced, 1 left alone\n"
        "  1: torch.nn.modules.activation.GELU -> gelu_ext.GELU('none')\n"
        "  2.0: torch.nn.modules.activation.GELU -> gelu_ext.GELU('tanh')\n"
        "left alone:\n"
        "  act: function torch.nn.functional.gelu: a plain function attribute, not a module: "
        "replace_gelu swaps modules only"
    )
    # callers of the count it used to return
    assert report == 2 and report != 3 and int(report) == 2 and [0, 1, 2][report] == 2
    assert report != True  # noqa: E712  (a bool is not a count)
    again = gelu_ext.replace_gelu(model)
    assert again == 0 and not again and again.left_alone == report.left_alone
    assert again == gelu_ext.ReplaceReport((), report.left_alone) and again != report
    with pytest.raises(TypeError):
        hash(report)


def test_replace_gelu_keeps_training_flag_and_skips_hooked_modules():
    hooked = nn.GELU()
    hooked.register_forward_hook(lambda *args: None)
    model = nn.Sequential(nn.GELU(), hooked).train()
    model[0].eval()
    report = gelu_ext.replace_gelu(model)
    assert [r.name for r in report] == ["0"]
    assert type(model[0]) is gelu_ext.GELU and not model[0].training
    assert model[1] is hooked
    assert [s.name for s in report.left_alone] == ["1"]
    assert "hooks" in report.left_alone[0].reason


def test_replace_gelu_checks_everything_before_changing_anything():
    model = nn.Sequential(nn.GELU(), nn.GELU("bad"))  # torch does not check approximate
    with pytest.raises(ValueError, match="^gelu_ext.replace_gelu: module '1' is a torch.nn.GELU"):
        gelu_ext.replace_gelu(model)
    assert type(model[0]) is nn.GELU  # the valid one before it was not replaced either


# ---------------------------------------------------------------------------
# Library loading and build facts
# ---------------------------------------------------------------------------
def test_library_path_and_reload():
    path = gelu_ext.library_path()
    assert isinstance(path, str) and os.path.isabs(path) and os.path.isfile(path)
    assert os.path.basename(path).startswith("_ops") and path.endswith(".so")
    torch.ops.load_library(path)  # loading again is a no-op
    torch.ops.load_library(path)
    x = torch.randn(5)
    torch.testing.assert_close(torch.ops.gelu_ext.gelu(x), nn.functional.gelu(x))
    assert path in torch.ops.loaded_libraries


def test_library_loads_without_package_in_fresh_process():
    """Only torch + library_path(): the ops (and autograd) register from the .so alone."""
    code = (
        "import sys, torch\n"
        "torch.ops.load_library(sys.argv[1])\n"
        "assert 'gelu_ext' not in sys.modules\n"
        "x = torch.tensor([-1.0, 0.5], requires_grad=True)\n"
        "torch.ops.gelu_ext.gelu(x, 'tanh').sum().backward()\n"
        "print(x.grad.tolist())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, gelu_ext.library_path()],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert out.returncode == 0, out.stderr
    x = torch.tensor([-1.0, 0.5])
    expect = gelu_ext.gelu_backward(torch.ones(2), x, "tanh").tolist()
    assert eval(out.stdout.strip()) == expect


def test_build_facts_types():
    assert isinstance(_C.version(), str) and _C.version() == gelu_ext.__version__
    version_file = REPO / "VERSION"
    if version_file.exists():
        assert _C.version() == version_file.read_text().strip()
    assert isinstance(_C.cuda_compiled(), bool)
    archs = _C.cuda_archs()
    assert isinstance(archs, list) and all(isinstance(a, str) and a for a in archs)
    assert (len(archs) > 0) == _C.cuda_compiled()
    for fn in (_C.simd_compiled, _C.simd_supported):
        paths = fn()
        assert isinstance(paths, list) and all(isinstance(p, str) for p in paths)
        assert paths[0] == "scalar"
        assert len(set(paths)) == len(paths)
    assert isinstance(_C.simd_selected(), str)
    assert _C.simd_selected() in _C.simd_supported()


def test_public_api():
    for name in gelu_ext.__all__:
        assert hasattr(gelu_ext, name), name
    assert callable(gelu_ext.gelu) and callable(gelu_ext.gelu_backward)
    assert issubclass(gelu_ext.GELU, nn.Module)
    assert hasattr(torch.ops.gelu_ext, "gelu") and hasattr(torch.ops.gelu_ext, "gelu_backward")
