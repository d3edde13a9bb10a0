"""The formatting stays applied: .clang-format on every C++/CUDA file and the
ruff settings of pyproject.toml on every Python file, with the pinned
releases that scripts/setup.sh installs (another release formats
differently). Each check also runs on a deliberately misformatted copy, so
that it is seen to fail."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CPP_SUFFIXES = (".h", ".cpp", ".cu", ".cuh")
PY_DIRS = ("python", "tests", "tools", "examples")


def _tool(name: str) -> str:
    """The formatter installed beside this Python (scripts/setup.sh puts it there)."""
    path = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/setup.sh")
    return path


def _tracked(*suffixes: str) -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout (the file list comes from git)")
    return [f for f in out.stdout.split() if f.endswith(suffixes)]


def test_cpp_is_clang_formatted():
    files = _tracked(*CPP_SUFFIXES)
    assert len(files) > 40, files
    r = subprocess.run(
        [_tool("clang-format"), "--dry-run", "-Werror", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, "run clang-format -i on:\n" + r.stderr[-3000:]


def test_clang_format_check_can_fail(tmp_path):
    bad = tmp_path / "bad.cpp"
    shutil.copy(REPO / ".clang-format", tmp_path / ".clang-format")
    bad.write_text("int  f( int x ){return x;}\n")
    r = subprocess.run(
        [_tool("clang-format"), "--dry-run", "-Werror", str(bad)], capture_output=True, text=True
    )
    assert r.returncode != 0


def test_python_is_ruff_clean():
    ruff = _tool("ruff")
    lint = subprocess.run([ruff, "check", *PY_DIRS], cwd=REPO, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = subprocess.run(
        [ruff, "format", "--check", *PY_DIRS], cwd=REPO, capture_output=True, text=True
    )
    assert fmt.returncode == 0, "run ruff format on:\n" + fmt.stdout[-3000:]


def test_ruff_check_can_fail(tmp_path):
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "bad.py").write_text("import os\nx = {  'a':1}\n")
    ruff = _tool("ruff")
    assert subprocess.run([ruff, "check", "bad.py"], cwd=tmp_path, capture_output=True).returncode
    assert subprocess.run(
        [ruff, "format", "--check", "bad.py"], cwd=tmp_path, capture_output=True
    ).returncode


def test_build_flags_have_one_source():
    """setup.py and CMakeLists.txt read cmake/build_flags.json; neither spells
    the numerics-critical flags itself."""
    for name in ("setup.py", "CMakeLists.txt"):
        text = (REPO / name).read_text()
        assert "build_flags.json" in text, name
        for flag in ("-ffp-contract=off", "--fmad=false"):
            assert flag not in text, (name, flag)
