"""``python -m gelu_ext <command>``: every command does what its help promises.

Most tests call ``gelu_ext.cli.main`` in-process (fast); a few run the real
``python -m`` entry points in a subprocess. Runs are kept tiny (small sizes,
short timings, quick sweeps): speed itself is measured by the benchmark, not
by these tests.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import asdict

import gelu_ext
import numpy as np
import pytest
import torch
from conftest import ref_gelu, ref_gelu_grad, ref_gelu_grad2, ulp
from gelu_ext import _C, cli
from gelu_ext.cli import accuracy, bench, demo, plots, reference, result_plots
from gelu_ext.cli.common import CliError, Progress

COMMANDS = ["demo", "plot", "bench", "accuracy", "info", "export"]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``python -m gelu_ext argv`` run in-process."""
    try:
        rc = cli.main(list(argv))
    except SystemExit as e:  # argparse: --help (0) and usage errors (2)
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def run_module(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m argv`` in a subprocess that imports this same gelu_ext."""
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(gelu_ext.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", *argv], capture_output=True, text=True, env=env, timeout=timeout
    )


# ---------------------------------------------------------------------------
# --help and bad arguments
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(capsys, command):
    argv = ["--help"] if command is None else [command, "--help"]
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 0, err
    prog = "python -m gelu_ext" + ("" if command is None else f" {command}")
    assert out.startswith(f"usage: {prog}"), out[:200]
    if command is None:
        for name in COMMANDS:
            assert f"    {name} " in out, f"{name} missing from the command list"


def test_export_help_lists_its_options(capsys):
    rc, out, err = run_cli(capsys, "export", "--help")
    assert rc == 0, err
    assert out.startswith("usage:") and "--out" in out and "--features" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["nonsense"],
        ["bench", "--dtype", "int8"],
        ["bench", "--sizes", "0"],
        ["bench", "--sizes", "12Q"],
        ["bench", "--threads", "0"],
        ["bench", "--min-time", "-1"],
        ["bench", "--device", "tpu"],
        ["accuracy", "--mode", "quick"],
        ["accuracy", "--plot", "errors.txt"],
        ["bench", "--plot", "gbps"],
        ["bench", "--plot"],
        ["plot", "--only", "gelu,nothing"],
        ["plot", "--from-json", "rows.json", "--only", "gelu"],
        ["info", "--verbose"],
        ["demo", "--min-time", "abc"],
        ["export"],
        ["export", "--out", "x", "--mode", "quick"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv):
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 2
    assert err.count("\n") == 1 and "error:" in err, err
    assert "see --help" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["plot", "--dpi", "5"], "--dpi"),
        (["accuracy", "--points", "1"], "--points"),
        (["export", "--out", "x", "--features", "0"], "--features"),
    ],
)
def test_bad_values_exit_2_naming_the_option(capsys, argv, message):
    """Out-of-range numbers are bad arguments too (docs/CLI.md: exit status 2)."""
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 2
    assert err.count("\n") == 1 and message in err and "see --help" in err, err


@pytest.mark.parametrize(
    "command", ["plot --only gelu --out", "bench --json", "accuracy --json", "info --json"]
)
def test_unwritable_output_is_one_line_error(capsys, tmp_path, command):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    rc, out, err = run_cli(capsys, *command.split(), str(blocker / "sub"))
    assert rc == 1
    assert err.count("\n") == 1 and "error:" in err, err


@pytest.mark.parametrize("command", ["accuracy --dtype float16", "bench --sizes 4K"])
def test_unwritable_plot_fails_before_the_run(capsys, tmp_path, command):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    rc, out, err = run_cli(capsys, *command.split(), "--plot", str(blocker / "sub.png"))
    assert rc == 1
    assert err.count("\n") == 1 and "cannot write" in err, err
    assert out == ""  # nothing was measured


# ---------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------
def test_info_json(capsys, tmp_path):
    path = tmp_path / "info.json"
    rc, out, err = run_cli(capsys, "info", "--json", str(path))
    assert rc == 0, err
    info = json.loads(path.read_text())
    assert info["gelu_ext"] == gelu_ext.__version__
    assert info["torch"] == torch.__version__
    # Built against major.minor.patch; this suite imports the torch it was built for.
    assert info["torch_built_against"] == torch.__version__.split("+")[0]
    assert info["simd_selected"] == _C.simd_selected()
    assert info["simd_selected"] in info["simd_supported"]
    assert set(info["simd_supported"]) <= set(info["simd_compiled"])
    assert info["cuda_kernels_compiled"] == bool(info["cuda_archs"])
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert len(info["cuda_devices"]) == visible
    assert info["torch_threads"] == torch.get_num_threads()
    assert f"built against {info['torch_built_against']}" in out
    assert info["simd_selected"] in out


# ---------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------
BENCH_FIELDS = set(
    "device direction dtype approximate n ours_us native_us copy_us ours_gbps native_gbps "
    "speedup".split()
)
# The JSON rows of each device, key by key (docs/CLI.md, docs/GPU.md).
CPU_ROW_KEYS = (
    "device direction dtype approximate n threads ours_us native_us copy_us ours_gbps "
    "native_gbps speedup noise outputs layout"
).split()
GPU_ROW_KEYS = (
    "device gpu direction dtype approximate n ours_us native_us seed_us copy_us ours_gbps "
    "native_gbps copy_gbps pct_of_copy native_pct_of_copy speedup speedup_vs_seed "
    "ours_host_us native_host_us overhead_us noise"
).split()


def test_bench_table_and_json(capsys, tmp_path):
    path = tmp_path / "bench.json"
    rc, out, err = run_cli(
        capsys,
        *(
            "bench --quick --sizes 4K,5000 --dtype float32 --mode tanh --min-time 0.005 --threads "
            "1 --json"
        ).split(),
        str(path),
    )
    assert rc == 0, err
    data = json.loads(path.read_text())
    assert data["environment"]["gelu_ext"] == gelu_ext.__version__
    rows = data["rows"]
    assert [(r["direction"], r["n"]) for r in rows] == [
        ("fwd", 4096),
        ("bwd", 4096),
        ("fwd", 5000),
        ("bwd", 5000),
    ]
    for r in rows:
        assert BENCH_FIELDS <= set(r) and list(r) == CPU_ROW_KEYS
        assert r["device"] == "cpu" and r["dtype"] == "float32" and r["approximate"] == "tanh"
        assert r["threads"] == 1
        assert 0 < r["ours_us"] < 1e5 and 0 < r["native_us"] < 1e5 and r["copy_us"] > 0
        tensors = 2 if r["direction"] == "fwd" else 3  # bytes read + written
        assert r["ours_gbps"] == pytest.approx(tensors * 4 * r["n"] / r["ours_us"] / 1e3)
        assert r["speedup"] == pytest.approx(r["native_us"] / r["ours_us"])
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("op "))
    for column in ("dtype", "mode", "size", "gelu_ext us", "torch us", "GB/s", "ratio"):
        assert column in header
    table = [line.split() for line in lines if line.startswith("gelu")]
    assert [(t[0], t[3]) for t in table] == [
        ("gelu", "4K"),
        ("gelu_backward", "4K"),
        ("gelu", "5000"),
        ("gelu_backward", "5000"),
    ]


def _bench_rows(capsys, tmp_path, args: str) -> tuple[list[dict], list[list[str]], str]:
    """``bench ARGS --json``: its JSON rows, its table's rows split into
    columns, and all it printed (it must succeed)."""
    path = tmp_path / "bench.json"
    rc, out, err = run_cli(capsys, "bench", *args.split(), "--json", str(path))
    assert rc == 0, err
    table = [
        line.split() for line in out.splitlines() if line.startswith(("gelu ", "gelu_backward "))
    ]
    return json.loads(path.read_text())["rows"], table, out


def test_bench_preallocated_outputs(capsys, tmp_path):
    """--outputs both: each cell twice, functional and kernel against kernel."""
    rows, table, _ = _bench_rows(
        capsys,
        tmp_path,
        "--sizes 4K --dtype bfloat16 --mode none --min-time 0.005 --threads 1 --outputs both",
    )
    assert [(r["direction"], r["outputs"]) for r in rows] == [
        ("fwd", "functional"),
        ("fwd", "preallocated"),
        ("bwd", "functional"),
        ("bwd", "preallocated"),
    ]
    assert all(0 < r["ours_us"] < 1e5 and 0 < r["native_us"] < 1e5 for r in rows)
    assert [cols[5] for cols in table] == ["new", "pre", "new", "pre"]


def test_bench_layouts(capsys, tmp_path):
    """--layouts: a row per input layout, named in the table and the JSON, and
    each non-contiguous row's time over the contiguous one's."""
    rows, table, out = _bench_rows(
        capsys,
        tmp_path,
        "--sizes 4K --dtype float16 --mode tanh --min-time 0.005 --threads 1 "
        "--outputs preallocated --layouts contiguous,strided,transposed",
    )
    assert [(r["direction"], r["layout"]) for r in rows] == [
        (d, lay) for d in ("fwd", "bwd") for lay in ("contiguous", "strided", "transposed")
    ]
    assert [cols[6] for cols in table] == ["contiguous", "strided", "transposed"] * 2
    ratios = [line for line in out.splitlines() if "/contiguous" in line]
    assert len(ratios) == 4 and all(
        line.strip().startswith(("strided", "transposed")) for line in ratios
    )
    # without --layouts the table keeps its columns
    rc, out, err = run_cli(
        capsys,
        *(
            "bench --sizes 4K --dtype float16 --mode tanh --direction fwd --min-time 0.005 "
            "--threads 1"
        ).split(),
    )
    assert rc == 0, err
    assert "layout" not in out


def test_bench_input_scale(capsys, tmp_path, monkeypatch):
    """--input-scale S draws the CPU inputs from N(0, S^2), says so in the
    header and the JSON, and rejects a scale that is not positive."""
    seen = []
    real = bench._make_input

    def spy(x, layout):
        seen.append(float(x.float().abs().max()))
        return real(x, layout)

    monkeypatch.setattr(bench, "_make_input", spy)
    path = tmp_path / "scale.json"
    common = "bench --sizes 4K --dtype float32 --mode none --direction fwd --min-time 0.005"
    rc, out, err = run_cli(capsys, *common.split(), "--input-scale", "20", "--json", str(path))
    assert rc == 0, err
    assert "# CPU inputs: N(0, 20^2)" in out
    assert json.loads(path.read_text())["environment"]["cpu_input_scale"] == 20.0
    assert seen and seen[0] > 40  # 4096 draws from N(0, 400) reach past 2 sigma
    seen.clear()
    rc, out, err = run_cli(capsys, *common.split())
    assert rc == 0, err
    assert "CPU inputs" not in out and seen[0] < 20
    rc, _, err = run_cli(capsys, *common.split(), "--input-scale", "0")
    assert rc != 0 and "input-scale" in err


def test_bench_gpu_part(capsys, tmp_path):
    """--device cuda fails with one line where the GPU part cannot run; --device
    all then still runs the CPU part and says the GPU part was skipped."""
    reason = bench.cuda_unavailable_reason()
    common = [
        *"--sizes 4K --dtype float32 --mode none --direction fwd --min-time 0.005".split(),
    ]
    path = tmp_path / "all.json"
    rc, out, err = run_cli(capsys, "bench", "--device", "all", *common, "--json", str(path))
    assert rc == 0, err
    devices = [r["device"] for r in json.loads(path.read_text())["rows"]]
    rc_cuda, _, err_cuda = run_cli(capsys, "bench", "--device", "cuda", *common)
    if reason is None:
        assert devices[0] == "cpu" and "cuda" in devices
        assert rc_cuda == 0, err_cuda
    else:
        assert devices == ["cpu"]
        assert f"GPU part skipped: {reason}" in out
        assert rc_cuda == 1
        assert err_cuda.count("\n") == 1 and reason in err_cuda


def _bench_row(
    device: str, direction: str, dtype: str, mode: str, n: int, speedup: float
) -> bench.Row:
    """A benchmark row with made-up times (every field its device reports)."""
    common = dict(
        device=device,
        direction=direction,
        dtype=dtype,
        approximate=mode,
        n=n,
        ours_us=1.0,
        native_us=speedup,
        copy_us=1.0,
        ours_gbps=8.0,
        native_gbps=8.0 / speedup,
        speedup=speedup,
    )
    if device == "cpu":
        return bench.Row(**common, threads=2, outputs="preallocated", layout="contiguous")
    return bench.Row(
        **common,
        gpu="stand-in",
        seed_us=10.0,
        copy_gbps=8.0,
        pct_of_copy=100.0,
        native_pct_of_copy=100.0 / speedup,
        speedup_vs_seed=10.0,
        ours_host_us=5.0,
        native_host_us=4.0,
        overhead_us=1.0,
    )


def test_bench_all_merges_the_gpu_part(capsys, tmp_path, monkeypatch):
    """The GPU half of --device all, with a stand-in for the GPU run so that it
    runs without a GPU: its rows are tabled by the GPU table and merged into
    the JSON, with the GPU's environment."""
    calls = []

    def fake_run_cuda(dtypes, modes, sizes, directions, *, min_time, progress=True):
        calls.append((dtypes, modes, sizes, directions, min_time))
        return [
            _bench_row("cuda", d, t, m, n, 2.0)
            for t in dtypes
            for m in modes
            for n in sizes
            for d in directions
        ]

    cpu_environment = bench.environment
    monkeypatch.setattr(bench, "run_cuda", fake_run_cuda)
    monkeypatch.setattr(
        bench,
        "environment",
        lambda device: {"gpu": "stand-in"} if device == "cuda" else cpu_environment(device),
    )
    monkeypatch.setattr(bench, "cuda_unavailable_reason", lambda: None)
    path = tmp_path / "all.json"
    rc, out, err = run_cli(
        capsys,
        *(
            "bench --device all --sizes 4K --dtype float32 --mode none --min-time 0.005 --json"
        ).split(),
        str(path),
    )
    assert rc == 0, err
    assert calls == [(["float32"], ["none"], [4096], ["fwd", "bwd"], 0.005)]
    gpu_table = out.split("# GPU:")[1].splitlines()
    assert "launch +us" in gpu_table[1]
    assert [line.split()[0] for line in gpu_table if line.startswith("gelu")] == [
        "gelu",
        "gelu_backward",
    ]
    data = json.loads(path.read_text())
    assert [r["device"] for r in data["rows"]] == ["cpu", "cpu", "cuda", "cuda"]
    assert data["environment"]["gpu_environment"] == {"gpu": "stand-in"}
    assert [list(r) for r in data["rows"]] == [CPU_ROW_KEYS] * 2 + [GPU_ROW_KEYS] * 2


def test_gpu_rows_with_stand_in_events(monkeypatch):
    """The GPU part's timer and row builder, run on the CPU: CUDA events and
    synchronisation replaced by perf_counter stand-ins, the inputs on the CPU."""
    import time

    class Event:
        def __init__(self, enable_timing: bool = False) -> None:
            self.at = 0.0

        def record(self) -> None:
            self.at = time.perf_counter()

        def synchronize(self) -> None:
            pass

        def elapsed_time(self, end: "Event") -> float:
            return (end.at - self.at) * 1e3  # milliseconds, as CUDA events report

    monkeypatch.setattr(torch.cuda, "Event", Event)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(
        bench, "_cuda_input", lambda n, dtype, gen: (torch.randn(n, generator=gen) * 3).to(dtype)
    )
    gen = torch.Generator().manual_seed(0)
    for direction in ("fwd", "bwd"):
        row = bench._cuda_row(direction, "float32", "tanh", 4096, 0.002, gen, "stand-in")
        assert list(row.to_json()) == GPU_ROW_KEYS
        assert row.device == "cuda" and row.gpu == "stand-in" and row.direction == direction
        assert all(v > 0 for v in (row.ours_us, row.native_us, row.seed_us, row.copy_us))
        tensors = 2 if direction == "fwd" else 3
        assert row.ours_gbps == pytest.approx(tensors * 4 * 4096 / row.ours_us / 1e3)
        assert row.speedup == pytest.approx(row.native_us / row.ours_us)
        assert row.speedup_vs_seed == pytest.approx(row.seed_us / row.ours_us)
        assert row.pct_of_copy == pytest.approx(100 * row.copy_us / row.ours_us)
        assert row.overhead_us == pytest.approx(row.ours_host_us - row.native_host_us)
        assert row.ours_host_us > 0 and row.noise >= 0
    table = bench.format_table([row], "cuda").splitlines()
    assert table[2].startswith("gelu_backward float32  tanh    4K")


def test_summary_has_nine_lines_with_gpu_speeds():
    dtypes = ("float32", "bfloat16", "float16", "float64")
    modes = ("none", "tanh", "sigmoid")
    acc = [
        accuracy.AccuracyRow(
            d, m, r, impl, 10, 1.0 if impl == "gelu_ext" else 99.0, 0.0, 0.0, 0.0, 0.0, None, None
        )
        for d in dtypes
        for m in modes
        for r in ("fwd", "bwd")
        for impl in ("gelu_ext", "torch")
    ]
    cpu = [
        _bench_row("cpu", r, d, m, 1 << 20, 1.5 if d != "float64" else 0.5)
        for d in dtypes
        for m in modes
        for r in ("fwd", "bwd")
    ]
    gpu = [
        _bench_row("cuda", r, d, m, 1 << 24, 3.0)
        for d in ("float32", "bfloat16")
        for m in modes
        for r in ("fwd", "bwd")
    ]
    lines = demo.summary_lines(acc, cpu, gpu)
    assert len(lines) == 9
    assert lines[0] == (
        "exact fwd float32: 1.50x PyTorch's speed on the CPU, 3.00x on the GPU; "
        "max error 1.0 ulp vs PyTorch's 99"
    )
    assert lines[5].startswith("sigmoid bwd float32: 1.50x")
    assert lines[6].startswith(
        "bfloat16, all modes, fwd+bwd: 1.50x PyTorch's speed on the CPU, 3.00x on the GPU"
    )
    assert lines[7].startswith("float16, all modes, fwd+bwd: 1.50x PyTorch's speed on the CPU;")
    assert lines[8].startswith("float64, all modes, fwd+bwd: 0.50x PyTorch's speed on the CPU;")
    # a mode the accuracy rows lack is left out, not reported as an error
    acc_no_sigmoid = [r for r in acc if r.mode != "sigmoid"]
    assert len(demo.summary_lines(acc_no_sigmoid, cpu, gpu)) == 7


def test_progress_only_for_long_runs():
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet = Tty()
    p = Progress(3, after=60.0, stream=quiet)
    p.update(0, "first")
    p.close()
    assert quiet.getvalue() == ""
    shown = Tty()
    p = Progress(3, after=0.0, stream=shown)
    p.update(1, "second cell")
    assert "[2/3] second cell" in shown.getvalue()
    p.close()
    assert shown.getvalue().endswith("\r")  # the line is cleared


def test_bench_in_a_subprocess():
    proc = run_module(
        *(
            "gelu_ext bench --sizes 4K --dtype float32 --mode none --direction fwd --min-time 0.005"
        ).split(),
    )
    assert proc.returncode == 0, proc.stderr
    assert any(line.startswith("gelu ") for line in proc.stdout.splitlines()), proc.stdout


# ---------------------------------------------------------------------------
# accuracy
# ---------------------------------------------------------------------------
ACC_FIELDS = {
    "dtype",
    "mode",
    "direction",
    "impl",
    "points",
    "max_ulp",
    "max_ulp_x",
    "max_ulp_got",
    "max_ulp_ref",
    "abs_allowance",
    "tail_max_rel",
    "tail_max_rel_x",
    "special_failures",
    "profile_lo",
    "profile_hi",
    "profile_x",
    "profile_ulp",
}
# The accuracy contract of the design notes (ulps; backward beyond 2^-26 in float32).
CONTRACT = {
    ("float32", "fwd"): 3.0,
    ("float32", "bwd"): 4.0,
    ("bfloat16", "fwd"): 1.0,
    ("bfloat16", "bwd"): 1.0,
}


@pytest.fixture(scope="module")
def accuracy_json(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("acc") / "acc.json"
    rc = cli.main(
        ["accuracy", "--dtype", "float32,bfloat16", "--points", "4001", "--json", str(path)]
    )
    assert rc == 0
    return json.loads(path.read_text())


def test_accuracy_json_fields_and_contract(accuracy_json):
    rows = accuracy_json["rows"]
    assert accuracy_json["tail_from"] == accuracy.TAIL_FROM
    keys = {(r["dtype"], r["mode"], r["direction"], r["impl"]) for r in rows}
    assert len(keys) == len(rows) == 2 * 3 * 2 * 2
    for r in rows:
        assert ACC_FIELDS <= set(r)
        if r["impl"] != "gelu_ext":
            continue
        assert r["max_ulp"] <= CONTRACT[r["dtype"], r["direction"]], r
        assert r["tail_max_rel"] < 2.0 ** -(7 if r["dtype"] == "bfloat16" else 21), r
        assert r["special_failures"] == []


def _recount(r: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The row's sweep and errors, recounted here from the implementation's
    outputs and the shared float64 reference (not through accuracy.measure)."""
    dtype = getattr(torch, r["dtype"])
    x = accuracy.sweep(dtype, points=4001)
    got = accuracy.IMPLS[r["impl"], r["direction"]](x, r["mode"]).double()
    ref = (ref_gelu if r["direction"] == "fwd" else ref_gelu_grad)(x, r["mode"])
    abs_err = torch.where(got == ref, 0.0, (got - ref).abs())
    err = (abs_err - r["abs_allowance"]).clamp_min(0.0) / ulp(ref, dtype)
    return x, err.nan_to_num(nan=math.inf, posinf=math.inf)


def test_accuracy_maxima_match_an_independent_recount(accuracy_json):
    for r in accuracy_json["rows"]:
        x, err = _recount(r)
        assert r["points"] == x.numel()
        worst = float(err.max())
        reported = float(r["max_ulp"])  # "inf" (an inf or NaN result) reads back as inf
        assert reported == pytest.approx(worst, rel=1e-6), r
        i = int(torch.nonzero(x.double() == r["max_ulp_x"])[0])
        assert float(err[i]) == pytest.approx(worst, rel=1e-6), r


def test_accuracy_float64_reference_agrees_with_float64_formulas():
    x = torch.linspace(-5, 5, 41, dtype=torch.float64)
    for mode in ("none", "tanh"):
        f, df = accuracy.reference(x, mode)  # 40-digit mpmath for float64
        torch.testing.assert_close(f, ref_gelu(x, mode), rtol=1e-14, atol=1e-300)
        torch.testing.assert_close(df, ref_gelu_grad(x, mode), rtol=1e-13, atol=1e-15)


def test_special_value_check_catches_a_textbook_gelu():
    bad = accuracy.special_failures(reference.textbook_gelu, torch.float32, "none", "fwd")
    assert any(b.startswith("gelu(-inf)") for b in bad), bad
    good = accuracy.special_failures(
        accuracy.IMPLS["gelu_ext", "fwd"], torch.float32, "none", "fwd"
    )
    assert good == []


# ---------------------------------------------------------------------------
# plot
# ---------------------------------------------------------------------------
def test_plot_writes_readable_pngs(capsys, tmp_path):
    matplotlib = pytest.importorskip("matplotlib.image", reason="matplotlib is not installed")

    rc, out, err = run_cli(capsys, "plot", "--out", str(tmp_path / "figs"), "--dpi", "60")
    assert rc == 0, err
    paths = out.split()
    assert [os.path.basename(p) for p in paths] == [f"{n}.png" for n in plots.FIGURES]
    for p in paths:
        img = matplotlib.imread(p)
        h, w = img.shape[:2]
        assert 200 <= h <= 2000 and 300 <= w <= 3000 and w > h, (p, img.shape)
        assert float(img[..., :3].std()) > 0.05, f"{p} looks blank"


@pytest.fixture(scope="module")
def figures() -> dict:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    return {name: build() for name, build in plots.FIGURES.items()}


def _expected(gid: str, x: np.ndarray) -> np.ndarray:
    """The curve a gid promises, recomputed here from the ops."""
    _, what, mode = gid.split(":")
    xt = torch.from_numpy(np.ascontiguousarray(x))
    if what == "gelu":
        return torch.ops.gelu_ext.gelu(xt, mode).numpy()
    if what == "gelu_over_x":
        return (torch.ops.gelu_ext.gelu(xt, mode) / xt).numpy()
    if what == "gelu_backward":
        return torch.ops.gelu_ext.gelu_backward(torch.ones_like(xt), xt, mode).numpy()
    if what == "second":
        xg = xt.clone().requires_grad_(True)
        d1 = torch.ops.gelu_ext.gelu_backward(torch.ones_like(xg), xg, mode)
        (d2,) = torch.autograd.grad(d1, xg, torch.ones_like(d1))
        return d2.numpy()
    assert what == "abs_tanh_minus_exact", gid
    diff = (torch.ops.gelu_ext.gelu(xt, "tanh") - torch.ops.gelu_ext.gelu(xt, "none")).abs()
    return torch.where(diff > 0, diff, math.nan).numpy()


def test_plotted_curves_are_the_ops_output(figures):
    seen = set()
    for name, fig in figures.items():
        for ax in fig.axes:
            for line in ax.get_lines():
                gid = line.get_gid()
                if not gid or not gid.startswith("op:"):
                    continue
                seen.add(gid)
                x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
                np.testing.assert_array_equal(y, _expected(gid, x), err_msg=f"{name}: {gid}")
    assert seen == {
        "op:gelu_over_x:none",
        "op:gelu:none",
        "op:gelu:tanh",
        "op:gelu_backward:none",
        "op:gelu_backward:tanh",
        "op:second:none",
        "op:second:tanh",
        "op:abs_tanh_minus_exact:both",
    }


def test_second_derivative_matches_closed_form(figures):
    lines = [
        line
        for line in figures["gelu_second_derivative"].axes[0].get_lines()
        if (line.get_gid() or "").startswith("op:second:")
    ]
    assert len(lines) == 2
    for line in lines:
        mode = line.get_gid().split(":")[2]
        x = torch.from_numpy(np.asarray(line.get_xdata()))
        np.testing.assert_allclose(
            line.get_ydata(), ref_gelu_grad2(x, mode).numpy(), rtol=0, atol=1e-12, err_msg=mode
        )


def test_derivative_figure_overlays_the_article_formula(figures):
    ax = figures["gelu_derivative"].axes[0]
    article = next(line for line in ax.get_lines() if "closed-form" in line.get_label())
    x = np.asarray(article.get_xdata())
    assert len(x) >= 20 and x.min() <= -5 and x.max() >= 5
    ours = _expected("op:gelu_backward:tanh", x)
    np.testing.assert_allclose(article.get_ydata(), ours, rtol=0, atol=1e-12)


def test_tanh_error_maximum_is_marked_from_the_data(figures):
    ax = figures["tanh_minus_exact"].axes[0]
    assert ax.get_yscale() == "log"
    by_gid = {line.get_gid(): line for line in ax.get_lines()}
    curve, marker = by_gid["op:abs_tanh_minus_exact:both"], by_gid["max"]
    x, y = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
    mx, my = np.asarray(marker.get_xdata()), np.asarray(marker.get_ydata())
    assert my[0] == np.nanmax(y) and mx[0] == x[np.nanargmax(y)]
    # The design notes' reference facts: 4.73e-4 at |x| ~ 2.70, on both sides.
    assert my[0] == pytest.approx(4.73e-4, rel=2e-3)
    assert abs(mx[0]) == pytest.approx(2.70, abs=0.01) and mx[1] == pytest.approx(-mx[0], abs=2e-3)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert f"{my[0]:.3g}" in texts


def test_every_figure_is_labelled(figures):
    for name, fig in figures.items():
        assert fig.get_suptitle(), name
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), name
            assert any(g.get_visible() for g in ax.get_xgridlines()), f"{name}: no grid"
            curves = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
            if len(curves) > 1:
                assert ax.get_legend() is not None, f"{name}: {len(curves)} curves, no legend"


# ---------------------------------------------------------------------------
# figures of the rows: accuracy --plot, bench --plot, plot --from-json
# ---------------------------------------------------------------------------
def _read_png(path) -> np.ndarray:
    """The pixels of a PNG file, checked to be a non-blank figure."""
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) > 200, img.shape
    assert float(img[..., :3].std()) > 0.05, f"{path} looks blank"
    return img


def _curves(ax) -> dict:
    """The axes' curves that carry a gid: gid -> (x, y)."""
    return {
        line.get_gid(): (np.asarray(line.get_xdata()), np.asarray(line.get_ydata()))
        for line in ax.get_lines()
        if line.get_gid()
    }


def _assert_labelled(fig) -> None:
    """A title, every panel titled, labelled and gridded, as the plot figures are."""
    assert fig.get_suptitle()
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert any(g.get_visible() for g in ax.get_xgridlines())


def test_accuracy_profile_matches_an_independent_recount(accuracy_json):
    """Each row's profile: per bin of x, the largest recounted error and the
    input where it occurs; the bins cover [-16, 16] for these dtypes."""
    bins = accuracy.PROFILE_BINS
    edges = np.linspace(-16.0, 16.0, bins + 1)
    for r in accuracy_json["rows"]:
        assert (r["profile_lo"], r["profile_hi"]) == (-16.0, 16.0)
        assert len(r["profile_x"]) == len(r["profile_ulp"]) == bins
        x, err = _recount(r)
        order = np.argsort(x.double().numpy())
        x, err = x.double().numpy()[order], err.numpy()[order]
        starts = np.searchsorted(x, edges[:-1], "left")
        ends = np.append(starts[1:], np.searchsorted(x, 16.0, "right"))  # the last bin has 16
        for k, (px, pe) in enumerate(zip(r["profile_x"], r["profile_ulp"])):
            where = (r["dtype"], r["mode"], r["direction"], r["impl"], k)
            if starts[k] == ends[k]:
                assert px is None and pe is None, where
                continue
            in_bin = slice(starts[k], ends[k])
            worst = float(err[in_bin].max())
            assert float(pe) == pytest.approx(worst, rel=1e-6), where
            assert edges[k] <= px <= edges[k + 1], where
            assert float(err[x == px][0]) == pytest.approx(worst, rel=1e-6), where
        if -16 <= r["max_ulp_x"] <= 16:  # the row's maximum is its profile's
            drawn = max(float(v) for v in r["profile_ulp"] if v is not None)
            assert drawn == pytest.approx(float(r["max_ulp"]), rel=1e-6)


def test_an_error_spike_in_an_op_shows_in_the_profile(monkeypatch):
    """A wrong result at one input (a stand-in for gelu_ext's forward) is the
    profile's maximum in its bin, at that input, and drawn there."""
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    x = accuracy.sweep(torch.float32, points=2001)
    at = x[int(torch.argmin((x.double() + 2.5).abs()))]
    ours = accuracy.IMPLS["gelu_ext", "fwd"]

    def spiked(t: torch.Tensor, mode: str) -> torch.Tensor:
        out = ours(t, mode).clone()
        hit = t == at
        return torch.where(hit, out + 1000 * reference.ulp(out, torch.float32).float(), out).to(
            out.dtype
        )

    monkeypatch.setitem(accuracy.IMPLS, ("gelu_ext", "fwd"), spiked)
    rows = accuracy.measure("float32", "none", points=2001)
    row = next(r for r in rows if (r.impl, r.direction) == ("gelu_ext", "fwd"))
    assert row.max_ulp_x == at.item() and row.max_ulp == pytest.approx(1000, abs=3)
    k = int((at.item() + 16.0) / (32.0 / accuracy.PROFILE_BINS))
    assert row.profile_x[k] == at.item() and row.profile_ulp[k] == row.max_ulp
    others = [e for i, e in enumerate(row.profile_ulp) if i != k and e is not None]
    assert max(others) < 4
    fig = result_plots.accuracy_figure([asdict(r) for r in rows])
    (ax,) = [a for a in fig.axes if a.get_title() == "float32 exact gelu"]
    cx, cy = _curves(ax)["acc:float32:none:fwd:gelu_ext"]
    assert cx[np.nanargmax(cy)] == at.item() and np.nanmax(cy) == row.max_ulp


def _acc_row(dtype: str, mode: str, direction: str, impl: str, ulps: list) -> dict:
    """An accuracy row as its JSON reads, with a made-up profile on [-16, 16]."""
    bins = len(ulps)
    xs = [None if e is None else -16 + (k + 0.5) * 32 / bins for k, e in enumerate(ulps)]
    worst = max(range(bins), key=lambda k: -1 if ulps[k] is None else float(ulps[k]))
    return {
        "dtype": dtype,
        "mode": mode,
        "direction": direction,
        "impl": impl,
        "points": 100,
        "max_ulp": ulps[worst],
        "max_ulp_x": xs[worst],
        "max_ulp_got": 0.0,
        "max_ulp_ref": 0.0,
        "abs_allowance": 0.0,
        "tail_max_rel": None,
        "tail_max_rel_x": None,
        "special_failures": [],
        "profile_lo": -16.0,
        "profile_hi": 16.0,
        "profile_x": xs,
        "profile_ulp": ulps,
    }


def test_accuracy_figure_from_given_rows():
    """A panel per dtype/direction and mode present, two curves in each
    (gelu_ext and PyTorch), the rows' profiles as they are: a spike where
    the rows put it, 0 drawn at the floor, an empty bin as a gap, a
    non-finite result ("inf", as JSON spells it) as a mark on the top edge."""
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    flat = [0.5] * 8
    spike = [0.5, 0.5, 3e6, 0.5, 0.0, None, "inf", 0.5]  # bins centred at -14, -10, ..., 14
    rows = [
        _acc_row(
            d,
            m,
            di,
            impl,
            spike if (impl, d, m, di) == ("torch", "float32", "tanh", "bwd") else flat,
        )
        for d in ("float32", "bfloat16")
        for di in ("fwd", "bwd")
        for m in ("none", "tanh")
        for impl in ("gelu_ext", "torch")
        if (d, m) != ("bfloat16", "tanh")  # a combination the rows lack: no panel
    ]
    fig = result_plots.accuracy_figure(rows)
    _assert_labelled(fig)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "float32 exact gelu",
        "float32 tanh gelu",
        "float32 exact gelu_backward",
        "float32 tanh gelu_backward",
        "bfloat16 exact gelu",
        "bfloat16 exact gelu_backward",
    ]
    for ax in fig.axes:
        assert ax.get_yscale() == "log" and ax.get_legend() is not None
        curves = _curves(ax)
        assert sorted(g.split(":")[-1] for g in curves if not g.endswith(":inf")) == [
            "gelu_ext",
            "torch",
        ]
    ax = fig.axes[titles.index("float32 tanh gelu_backward")]
    curves = _curves(ax)
    x, y = curves["acc:float32:tanh:bwd:torch"]
    assert x[np.nanargmax(y)] == -6.0 and np.nanmax(y) == 3e6
    assert y[4] == result_plots.ULP_FLOOR and np.isnan(y[5]) and np.isnan(y[6])
    mx, _ = curves["acc:float32:tanh:bwd:torch:inf"]
    assert list(mx) == [10.0]
    np.testing.assert_array_equal(curves["acc:float32:tanh:bwd:gelu_ext"][1], flat)
    assert "PyTorch max inf ulp at x = 10" in " ".join(t.get_text() for t in ax.texts)
    with pytest.raises(CliError):
        result_plots.accuracy_figure([{k: v for k, v in rows[0].items() if k != "profile_ulp"}])


def test_accuracy_plot_option_draws_the_json_rows(capsys, tmp_path):
    """--plot writes a PNG; plot --from-json draws the same pixels again from
    the --json file of the same run."""
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    png, saved = tmp_path / "ulps.png", tmp_path / "acc.json"
    argv = "accuracy --dtype float32 --mode none,tanh --points 2001".split()
    rc, out, err = run_cli(capsys, *argv, "--plot", str(png), "--json", str(saved))
    assert rc == 0, err
    assert f"# wrote {png}" in out.splitlines()
    data = json.loads(saved.read_text())
    fig = result_plots.accuracy_figure(data["rows"], data["tail_from"])
    assert len(fig.axes) == 4  # 2 modes x 2 directions
    assert all(len(_curves(ax)) == 2 for ax in fig.axes)
    rc, out, err = run_cli(
        capsys, "plot", "--from-json", str(saved), "--out", str(tmp_path / "again")
    )
    assert rc == 0, err
    again = tmp_path / "again" / result_plots.FILE_NAMES["accuracy"]
    assert out.split() == [str(again)]
    np.testing.assert_array_equal(_read_png(png), _read_png(again))


def test_bench_figure_from_given_rows():
    """A panel per setting/direction and dtype, per mode a gelu_ext and a
    PyTorch curve of GB/s against the sizes, and the median copy; a dip
    where the rows put it; GPU rows get panels of their own."""
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    import dataclasses

    sizes = [1 << 12, 1 << 16, 1 << 20]
    rows = []
    for d in ("float32", "bfloat16"):
        for direction in ("fwd", "bwd"):
            for m in ("none", "tanh"):
                for n in sizes:
                    row = _bench_row("cpu", direction, d, m, n, 2.0)
                    dip = (d, direction, m, n) == ("bfloat16", "bwd", "tanh", 1 << 16)
                    copy_us = {"none": 0.5, "tanh": 0.25}[m]  # copy: 16 and 32 GB/s
                    if dip:  # 64 times slower
                        row = dataclasses.replace(row, ours_us=64.0, ours_gbps=0.125)
                    rows.append(dataclasses.replace(row, copy_us=copy_us))
    rows.append(_bench_row("cuda", "fwd", "float32", "none", 1 << 24, 3.0))
    fig = result_plots.bench_figure([r.to_json() for r in rows])
    _assert_labelled(fig)
    assert [ax.get_title() for ax in fig.axes] == [
        "float32 gelu, CPU, 2 thr, out=",
        "bfloat16 gelu, CPU, 2 thr, out=",
        "float32 gelu_backward, CPU, 2 thr, out=",
        "bfloat16 gelu_backward, CPU, 2 thr, out=",
        "float32 gelu, stand-in",
    ]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "gelu_ext exact",
        "PyTorch exact",
        "gelu_ext tanh",
        "PyTorch tanh",
        "copy of the same bytes",
    ]
    for ax in fig.axes[:4]:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        curves = _curves(ax)
        assert len(curves) == 5
        for gid, (x, y) in curves.items():
            assert list(x) == sizes, gid
        assert list(curves[next(g for g in curves if g.endswith(":copy"))][1]) == [24.0] * 3
    curves = _curves(fig.axes[3])
    assert list(curves["bench:cpu:bfloat16:bwd:tanh:gelu_ext"][1]) == [8.0, 0.125, 8.0]
    assert list(curves["bench:cpu:bfloat16:bwd:tanh:torch"][1]) == [4.0] * 3
    assert list(curves["bench:cpu:bfloat16:bwd:none:gelu_ext"][1]) == [8.0] * 3
    gpu = _curves(fig.axes[4])
    assert list(gpu["bench:cuda:float32:fwd:all:copy"][1]) == [8.0]  # the row's copy_gbps
    with pytest.raises(CliError):
        result_plots.bench_figure([])


def test_bench_plot_option_draws_the_json_rows(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    png, saved = tmp_path / "gbps.png", tmp_path / "bench.json"
    argv = "bench --sizes 4K,8K --dtype float32 --mode none,tanh --min-time 0.002 --threads 1"
    rc, out, err = run_cli(
        capsys, *argv.split(), "--no-progress", "--plot", str(png), "--json", str(saved)
    )
    assert rc == 0, err
    assert f"# wrote {png}" in out.splitlines()
    rows = json.loads(saved.read_text())["rows"]
    fig = result_plots.bench_figure(rows)
    assert len(fig.axes) == 2  # fwd, bwd
    for ax in fig.axes:
        curves = _curves(ax)
        assert len(curves) == 5  # 2 modes x (gelu_ext, PyTorch) + the copy
        direction = "fwd" if ax.get_title().startswith("float32 gelu,") else "bwd"
        x, y = curves[f"bench:cpu:float32:{direction}:tanh:gelu_ext"]
        mine = [r for r in rows if (r["direction"], r["approximate"]) == (direction, "tanh")]
        assert list(x) == [4096, 8192] and list(y) == [r["ours_gbps"] for r in mine]
    rc, out, err = run_cli(capsys, "plot", "--from-json", str(saved), "--out", str(tmp_path))
    assert rc == 0, err
    np.testing.assert_array_equal(
        _read_png(png), _read_png(tmp_path / result_plots.FILE_NAMES["bench"])
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["accuracy", "--dtype", "float16", "--plot", "ulps.png"],
        ["bench", "--sizes", "4K", "--plot", "gbps.png"],
        ["plot", "--from-json", "rows.json"],
    ],
)
def test_plot_options_without_matplotlib(capsys, tmp_path, monkeypatch, argv):
    """As for the plot command: one line naming matplotlib, exit status 1,
    before anything is measured."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a),
    )
    monkeypatch.chdir(tmp_path)
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 1 and out == ""
    assert err.count("\n") == 1 and "matplotlib is not installed" in err, err


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read"),
        ("not json", "is not JSON"),
        ('{"rows": []}', "neither accuracy rows"),
        ('{"rows": [{"dtype": "float32"}]}', "neither accuracy rows"),
    ],
)
def test_plot_from_json_refuses_other_files(capsys, tmp_path, content, message):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    path = tmp_path / "rows.json"
    if content is not None:
        path.write_text(content)
    rc, out, err = run_cli(capsys, "plot", "--from-json", str(path), "--out", str(tmp_path))
    assert rc == 1
    assert err.count("\n") == 1 and message in err, err


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------
def test_demo_without_a_command(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    import matplotlib.image

    out_dir = tmp_path / "demo"
    rc, out, err = run_cli(capsys, "--out", str(out_dir), "--min-time", "0.01")
    assert rc == 0, err
    for section in (
        "== gelu_ext info ==",
        "== accuracy",
        "== speed on the CPU",
        "== figures ==",
        "== summary",
    ):
        assert section in out, section
    summary = out.split("== summary")[1].splitlines()[1:]
    assert len(summary) == 10, summary
    for line, start in zip(
        summary,
        [
            "exact fwd float32",
            "exact bwd float32",
            "tanh fwd float32",
            "tanh bwd float32",
            "sigmoid fwd float32",
            "sigmoid bwd float32",
            "bfloat16",
            "float16",
            "float64",
        ],
    ):
        assert line.startswith(start) and "PyTorch's speed" in line and "max error" in line, line
    assert summary[9] == f"figures: {out_dir}/ (7 PNG files)"
    assert "kernel against kernel" in out.split("== speed on the CPU")[1].splitlines()[0]
    row_figures = list(result_plots.FILE_NAMES.values())
    assert sorted(os.listdir(out_dir)) == sorted([f"{n}.png" for n in plots.FIGURES] + row_figures)
    for name in row_figures:
        img = matplotlib.image.imread(out_dir / name)
        assert img.shape[0] > 300 and float(img[..., :3].std()) > 0.05, name


def test_python_dash_m_entry_point():
    bad = run_module("gelu_ext", "bench", "--sizes", "lots")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "--sizes" in bad.stderr, bad.stderr
