"""The CPU kernels' hot loops stay within their instruction budgets.

tools/vector_ops.py compiles the float32 loop bodies for AVX-512 and AVX2 and
counts the vector instructions the compiler emits: a deterministic stand-in
for a timing, which on a shared machine is noise."""

from __future__ import annotations

import os
import platform
import subprocess

import pytest
from conftest import REPO_ROOT, load_script

CXX = os.environ.get("CXX", "c++")


def _is_gcc() -> bool:
    out = subprocess.run([CXX, "--version"], capture_output=True, text=True).stdout
    return "clang" not in out.lower() and (
        "g++" in out or "gcc" in out.lower() or "free software foundation" in out.lower()
    )


pytestmark = [
    pytest.mark.skipif(
        platform.machine() not in ("x86_64", "AMD64"), reason="the SIMD paths are x86-64 only"
    ),
    # the budgets are GCC's instruction counts (the project's compiler); another
    # compiler schedules and selects differently
    pytest.mark.skipif(not _is_gcc(), reason="instruction budgets are calibrated for GCC"),
]


def _tool():
    return load_script("tools/vector_ops.py")


@pytest.fixture(scope="module")
def counts():
    tool = _tool()
    return tool, tool.count(os.path.join(REPO_ROOT, "csrc"), CXX)


def test_avx512_loops_within_budget(counts):
    tool, rows = counts
    for r in rows:
        if r["path"] == "avx512":
            key = f"{r['mode']}_{r['direction']}"
            assert r["alu"] <= tool.BUDGETS[key], (key, r)


def test_avx512_loops_keep_their_tables_in_registers(counts):
    # the near runs' and the exact backward's permutes take the table halves
    # from registers (V::resident, csrc/cpu/vec_avx512.h): few reads from
    # memory per vector
    tool, rows = counts
    for r in rows:
        key = f"{r['mode']}_{r['direction']}"
        if r["path"] == "avx512" and key in tool.LOAD_BUDGETS:
            assert r["loads"] <= tool.LOAD_BUDGETS[key], (key, r)


def test_load_counter_sees_tables_in_memory(counts):
    # the check must be able to fail: with the tables read from memory (the
    # loops as they were before V::resident) every such loop exceeds its budget
    tool, _ = counts
    rows = tool.count(os.path.join(REPO_ROOT, "csrc"), CXX, resident=False)
    checked = 0
    for r in rows:
        key = f"{r['mode']}_{r['direction']}"
        if r["path"] == "avx512" and key in tool.LOAD_BUDGETS:
            assert r["loads"] > tool.LOAD_BUDGETS[key], (key, r)
            checked += 1
    assert checked == len(tool.LOAD_BUDGETS)


def test_exact_mode_has_no_division(counts):
    # the exact mode's cost was its two divisions per vector; the tables removed them
    _, rows = counts
    for r in rows:
        if r["mode"] == "none":
            assert r["div"] == 0, r
            if r["path"] == "avx512":
                # one permute per term: the near table's centre and eight
                # coefficients (forward), the tail table's centre and six
                assert r["perm"] == (9 if r["direction"] == "fwd" else 7), r


def test_tanh_mode_has_no_division(counts):
    # the float32 tanh near forms (gelu_tanh_near, gelu_tanh_derivative_near)
    # replaced the logistic form's exponential and division with one table each
    _, rows = counts
    for r in rows:
        if r["mode"] == "tanh":
            assert r["div"] == 0, r
            if r["path"] == "avx512":
                assert r["perm"] == 9, r  # the centre and eight coefficients


def test_counter_sees_a_longer_loop(counts, tmp_path):
    # the check must be able to fail: one more multiply in the formula shows up
    tool, rows = counts
    src = os.path.join(REPO_ROOT, "csrc")
    for sub in ("", "cpu"):
        os.makedirs(tmp_path / sub, exist_ok=True)
    for dirpath, _, files in os.walk(src):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), src)
            with open(os.path.join(dirpath, name)) as f:
                text = f.read()
            if rel == "gelu_math.h":
                old = "near_value(t, near_index(y), y) + positive_part(x);"
                assert old in text
                text = text.replace(old, old.replace(", y) +", ", y) * y +"))
            os.makedirs(os.path.dirname(tmp_path / rel) or tmp_path, exist_ok=True)
            with open(tmp_path / rel, "w") as f:
                f.write(text)
    longer = tool.count(str(tmp_path), CXX)
    before = {(r["path"], r["mode"], r["direction"]): r["alu"] for r in rows}
    after = {(r["path"], r["mode"], r["direction"]): r["alu"] for r in longer}
    assert after[("avx512", "none", "fwd")] == before[("avx512", "none", "fwd")] + 1
    assert after[("avx512", "none", "bwd")] == before[("avx512", "none", "bwd")]


# The 16-bit forward's table lookups (tools/vector_ops.py lookup_counts):
# instructions and stores per element of the hot loop. With the entries
# inserted into a 16-byte register they take 3.6-3.9 instructions and one
# store per 8 elements; stored one at a time (the loop of four or two
# entries per 64-bit read) 5.0-5.5 and one store per element.
LOOKUP_BUDGET = 4.0
LOOKUP_STORE_BUDGET = 1 / 8


def test_lookup_loops_within_budget():
    for name, c in _tool().lookup_counts(os.path.join(REPO_ROOT, "csrc"), CXX).items():
        assert c["elements"] >= 8, (name, c)
        assert c["per_element"] <= LOOKUP_BUDGET, (name, c)
        assert c["stores_per_element"] <= LOOKUP_STORE_BUDGET, (name, c)


def test_lookup_counter_sees_entries_stored_one_at_a_time(tmp_path):
    # the budgets must be able to fail: without the 16-byte stores both loops exceed them
    src = os.path.join(REPO_ROOT, "csrc")
    for dirpath, _, files in os.walk(src):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), src)
            with open(os.path.join(dirpath, name)) as f:
                text = f.read()
            if rel == os.path.join("cpu", "gelu_loops.h"):
                vector = "  constexpr int kPerStore = 16 / sizeof(E);\n  for ("
                assert text.count(vector) == 1  # table_lookup_steps, both steps
                text = text.replace(
                    vector, "  constexpr int kPerStore = 16 / sizeof(E);\n  if (0) for ("
                )
            os.makedirs(os.path.dirname(tmp_path / rel) or tmp_path, exist_ok=True)
            with open(tmp_path / rel, "w") as f:
                f.write(text)
    for name, c in _tool().lookup_counts(str(tmp_path), CXX).items():
        assert c["per_element"] > LOOKUP_BUDGET, (name, c)
        assert c["stores_per_element"] > LOOKUP_STORE_BUDGET, (name, c)
