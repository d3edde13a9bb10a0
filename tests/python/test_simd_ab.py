"""tools/simd_ab.py: the interleaved A/B of two SIMD paths that
docs/PERFORMANCE.md quotes runs, times every cell it names, writes them and
leaves the selected path as it was (no timing is checked: speed is the
benchmark's business)."""

from __future__ import annotations

import json

import pytest
from conftest import load_script
from gelu_ext import _C

SUPPORTED = list(_C.simd_supported())


@pytest.mark.skipif(len(SUPPORTED) < 2, reason="only the scalar path is supported on this CPU")
def test_simd_ab_writes_every_cell(tmp_path, capsys, restore_threads, restore_simd):
    out = tmp_path / "ab.json"
    paths = ",".join(SUPPORTED[-2:])
    rc = load_script("tools/simd_ab.py").main(
        [
            "--paths",
            paths,
            "--dtype",
            "bfloat16",
            "--mode",
            "none",
            "--sizes",
            "4K,64K",
            "--threads",
            "1",
            "--rounds",
            "2",
            "--json",
            str(out),
        ]  # fmt: skip
    )
    assert rc == 0
    assert _C.simd_selected() == restore_simd
    data = json.loads(out.read_text())
    assert data["settings"] == SUPPORTED[-2:]
    cells = {(r["direction"], r["n"]) for r in data["rows"]}
    assert cells == {("fwd", 4096), ("fwd", 65536), ("bwd", 4096), ("bwd", 65536)}
    for r in data["rows"]:
        assert set(r["seconds"]) == set(SUPPORTED[-2:])
        assert all(t > 0 for t in r["seconds"].values())
    table = capsys.readouterr().out
    assert "| bfloat16 | none | fwd | 1 |" in table and "| bfloat16 | none | bwd | 1 |" in table


def test_simd_ab_stores(tmp_path, restore_threads, restore_simd):
    # ordinary against streamed stores; the streaming threshold is restored
    before = _C.streaming_bytes()
    out = tmp_path / "stores.json"
    args = ["--stores", "--dtype", "float32", "--mode", "none", "--sizes", "64K"]
    rc = load_script("tools/simd_ab.py").main(
        [*args, "--threads", "1", "--rounds", "2", "--json", str(out)]
    )
    assert rc == 0
    assert _C.streaming_bytes() == before
    data = json.loads(out.read_text())
    assert data["settings"] == ["ordinary", "streamed"]
    assert len(data["rows"]) == 2
    assert all(set(r["seconds"]) == {"ordinary", "streamed"} for r in data["rows"])


def test_simd_ab_rejects_unknown_paths(capsys):
    with pytest.raises(SystemExit):
        load_script("tools/simd_ab.py").main(["--paths", "scalar,sse9"])
    assert "two of this CPU's paths" in capsys.readouterr().err
