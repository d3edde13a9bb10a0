"""tools/layout_ratios.py: the interleaved layout loop that docs/PERFORMANCE.md
quotes runs, times every call it names and writes them (no timing is
checked: speed is the benchmark's business)."""

from __future__ import annotations

import json

from conftest import load_script


def test_layout_ratios_writes_every_call(tmp_path, capsys, restore_threads):
    out = tmp_path / "layouts.json"
    rc = load_script("tools/layout_ratios.py").main(
        ["--threads", "1", "--dtype", "float32,bfloat16", "--rounds", "2", "--json", str(out)]
    )
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["dtype"], r["threads"]) for r in rows] == [("float32", 1), ("bfloat16", 1)]
    want = {f"{lay} {d}" for lay in ("contiguous", "strided", "transposed") for d in ("fwd", "bwd")}
    for r in rows:
        same = {"transposed same-layout fwd", "transposed same-layout bwd"}
        assert set(r["us"]) == want | same | {"torch transposing copy"}
        assert all(t > 0 for t in r["us"].values())
    table = capsys.readouterr().out
    assert "| float32 | 1 |" in table and "| bfloat16 | 1 |" in table
