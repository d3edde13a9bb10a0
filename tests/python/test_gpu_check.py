"""scripts/gpu_check.sh on a machine without a GPU: its phases hold the
steps they should, a bad argument exits 2, and a run that stops early still
leaves only a summary and one archive of logs (the GPU machine brings back
at most 8 files from its output folder)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
import torch

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.sh"


def _run(tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHON=sys.executable, OUT=str(tmp_path / "out"))
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120
    )


def _steps(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines() if line.startswith("[dry-run]")]


def test_phases_split_the_steps(tmp_path):
    one = _run(tmp_path, "--phase", "1", "--dry-run")
    two = _run(tmp_path, "--phase", "2", "--dry-run")
    both = _run(tmp_path, "--dry-run")
    assert one.returncode == two.returncode == both.returncode == 0, one.stderr + two.stderr
    assert _steps(one.stdout) == ["build", "build-check", "tests", "sanitizer-memcheck"]
    assert _steps(two.stdout) == [
        "build-check",
        "tests-huge",
        "benchmark",
        "sanitizer-racecheck",
        "sanitizer-initcheck",
        "accuracy-configure",
        "accuracy-build",
        "accuracy",
    ]
    assert "build skipped" in two.stdout  # phase 2 uses phase 1's build
    assert set(_steps(both.stdout)) == set(_steps(one.stdout)) | set(_steps(two.stdout))
    assert "budget 280s" in one.stdout and "budget 560s" in both.stdout


def test_bad_phase_exits_2(tmp_path):
    r = _run(tmp_path, "--phase", "3")
    assert r.returncode == 2 and "--phase must be 1 or 2" in r.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the early stop without a GPU")
def test_early_stop_leaves_few_files(tmp_path):
    r = _run(tmp_path, "--phase", "1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "torch sees no CUDA device" in r.stdout
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["logs_phase1.tar.gz", "summary_phase1.txt"], files
