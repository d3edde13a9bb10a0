"""Count the vector instructions per element in the CPU kernels' hot loops.

Run:  python tools/vector_ops.py [--check] [--json FILE] [--csrc DIR]

Timings on shared machines are noisy; the instructions the compiler emits
are not. This compiles one small probe per SIMD path, dtype float32, mode and
direction (the loop body of csrc/cpu/gelu_loops.h around the formulas of
csrc/gelu_math.h, with the kernels' own flags and target pragmas), reads the
machine code back with objdump and counts the instructions of each probe's
loop by class:

* alu: vector arithmetic, logic, compares, blends, conversions (what the
  vector ports execute), permutes and gathers included;
* perm: permutes and gathers (on Intel, port 5 only; also counted in alu);
* div: divisions and square roots (the divider, counted in alu as well);
* move: register-to-register vector moves (often free: move elimination);
* mem: loads, broadcasts from memory and stores;
* loads: every vector instruction that reads memory, ALU instructions with
  a memory operand included (tables and constants the compiler left in
  memory instead of registers).

It also counts every instruction and every store of the 16-bit forward's
table-lookup loops (scalar loads inserted into a 16-byte register) per
table entry loaded (lookup_counts).

``--check`` compares the AVX-512 alu counts with BUDGETS (and the loads of
the loops that hold their tables with LOAD_BUDGETS) and exits 1 when a
probe exceeds its budget: a deterministic guard against a change that makes
the hot loop longer.
``--csrc`` points at another source tree's csrc (for example an older
revision) to count that instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PATHS = {
    # path: (vector header, namespace, target pragma, lanes)
    "avx512": ("vec_avx512.h", "avx512", "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c", 16),
    "avx2": ("vec_avx2.h", "avx2", "avx2,fma,f16c", 8),
}
PROBES = {
    # name: (mode, derivative?, the value the loop stores per vector, over v and
    # g (and `table`, the loop's copy of its table, V::resident), and the
    # screen that ends the loop): the bodies of gelu_loops.h's hot loops: the
    # exact forward's forward_near_run (stops at the first vector with a lane
    # below -math::kNearEnd; the tanh forward's, below
    # -math::kTanhForwardNearEnd), the tanh backward's backward_near_run
    # (below -math::kTanhNearEnd), and forward_normal_run and
    # backward_normal_run (stop at the first vector outside math::NormalRange)
    "none_fwd": ("None", "false", "math::gelu_exact_near(v, table)", "!math::all_near(v)"),
    "none_bwd": (
        "None",
        "true",
        "canonical_nan(g * math::gelu_exact_derivative_tables(v, table))",
        None,
    ),
    "tanh_fwd": (
        "Tanh",
        "false",
        "math::gelu_tanh_near(v, table)",
        "!math::all_tanh_forward_near(v)",
    ),
    "tanh_bwd": (
        "Tanh",
        "true",
        "canonical_nan(g * math::gelu_tanh_derivative_near(v, table))",
        "!math::all_tanh_near(v)",
    ),
    "sigmoid_fwd": (
        "Sigmoid",
        "false",
        "MathFormulas::forward<Approximation::Sigmoid, true>(v)",
        None,
    ),
    "sigmoid_bwd": (
        "Sigmoid",
        "true",
        "canonical_nan(g * MathFormulas::derivative<Approximation::Sigmoid, true>(v))",
        None,
    ),
}
# The tables the loops hold in registers, loaded before the loop as the
# kernels load them (V::resident).
RESIDENT_TABLES = {
    "none_fwd": "math::near_forward_table()",
    "none_bwd": "math::tail_derivative_table()",
    "tanh_fwd": "math::tanh_forward_near_table()",
    "tanh_bwd": "math::tanh_derivative_near_table()",
}
# AVX-512 loops that hold their tables: vector instructions that read
# memory per vector, at most (the input vectors and the few constants the
# compiler leaves in memory; the near tables' 18 halves and the tail
# table's 14 stay in registers, V::resident).
LOAD_BUDGETS = {"none_fwd": 4, "none_bwd": 9, "tanh_fwd": 5, "tanh_bwd": 8}
# Out-of-line paths for vectors outside the normal range: not counted.
COLD = ("forward_full_range", "backward_full_range")
# AVX-512 vector ALU instructions per 16 float32 elements, at most (the
# counts of the loops as they stand, docs/PERFORMANCE.md; with each loop's
# screen: its compare, and for the exact backward constants the compiler
# rebuilds in the loop for want of a register).
BUDGETS = {
    "none_fwd": 23,
    "none_bwd": 37,
    "tanh_fwd": 24,
    "tanh_bwd": 27,
    "sigmoid_fwd": 32,
    "sigmoid_bwd": 39,
}

PROBE_TEMPLATE = """
#include <immintrin.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#pragma GCC target("{target}")
#include "approximation.h"
#include "cpu/kernels.h"
#include "cpu/gelu_loops.h"
#include "cpu/{header}"
namespace gelu_ext {{
namespace cpu {{
using V = {ns}::Vec;
{functions}
}}  // namespace cpu
}}  // namespace gelu_ext
"""
FUNCTION_TEMPLATE = """
extern "C" __attribute__((noinline, flatten)) void probe_{name}(const float* x, const float* gp,
                                                             float* y, long n) {{
  {setup}
  for (long i = 0; i < n; i += V::kSize) {{
    const V v = V::load(x + i);
    const V g = V::load(gp + i);
    (void)g;
    if ({screen}) break;
    V::store(y + i, {expr});
  }}
}}
"""

MOVE = re.compile(r"^vmov(aps|apd|dqa32|dqa64|dqu32|dqu64|ups|upd)$")
PERM = re.compile(r"^v(perm|gather|pgather|shuf|unpck|pshufb|palignr|insert|extract|pack)")
DIV = re.compile(r"^v(div|sqrt|rsqrt|rcp)")


def classify(mnemonic: str, operands: str) -> str | None:
    if not mnemonic.startswith("v") or mnemonic in ("vzeroupper", "vzeroall"):
        return None
    has_mem = "(" in operands
    if mnemonic.startswith(("vbroadcast", "vpbroadcast")) and has_mem:
        return "mem"
    if MOVE.match(mnemonic) or mnemonic.startswith("vmov"):
        return "mem" if has_mem else "move"
    if PERM.match(mnemonic):
        return "perm"
    if DIV.match(mnemonic):
        return "div"
    return "alu"


def reads_memory(mnemonic: str, operands: str) -> bool:
    """Whether a vector instruction reads memory: a memory operand that is
    not the destination (AT&T order: the destination comes last)."""
    if not mnemonic.startswith("v") or "(" not in operands:
        return False
    return not (mnemonic.startswith("vmov") and operands.rstrip().endswith(")"))


def _instructions(disassembly: str, function: str) -> list[tuple[int, str, str]]:
    body = re.search(rf"<{re.escape(function)}>:\n(.*?)(?:\n\n|\Z)", disassembly, re.S)
    if body is None:
        raise RuntimeError(f"{function} not found in the disassembly")
    insns = []
    for line in body.group(1).splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if m:
            insns.append((int(m.group(1), 16), m.group(2), m.group(3)))
    return insns


def _add(counts: dict[str, int], insns, disassembly: str) -> None:
    """Adds the classes of insns, and of every function they call (the
    compiler keeps some of gelu_math.h's functions out of line)."""
    for _, mnem, ops in insns:
        if mnem == "call":
            callee = re.search(r"<([^>+]+)>", ops)
            if callee and any(name in callee.group(1) for name in COLD):
                continue
            if callee:
                _add(counts, _instructions(disassembly, callee.group(1)), disassembly)
            continue
        cls = classify(mnem, ops)
        if cls is None:
            continue
        counts[cls] += 1
        if reads_memory(mnem, ops):
            counts["loads"] += 1
        if cls in ("perm", "div"):
            counts["alu"] += 1


def _largest_loop(disassembly: str, function: str) -> list[tuple[int, str, str]]:
    """The instructions of a function's largest loop (backward branch)."""
    insns = _instructions(disassembly, function)
    best = None
    for addr, mnem, ops in insns:
        if mnem.startswith("j") and mnem != "jmp":
            target = re.match(r"([0-9a-f]+)", ops)
            if target and int(target.group(1), 16) < addr:
                loop = [i for i in insns if int(target.group(1), 16) <= i[0] <= addr]
                if best is None or len(loop) > len(best):
                    best = loop
    if best is None:
        raise RuntimeError(f"no loop found in {function}")
    return best


def loop_counts(disassembly: str, function: str) -> dict[str, int]:
    """Instruction classes in the largest loop (backward branch) of a function,
    the functions it calls included."""
    best = _largest_loop(disassembly, function)
    counts = {"alu": 0, "perm": 0, "div": 0, "move": 0, "mem": 0, "loads": 0}
    _add(counts, best, disassembly)
    return counts


def _disassembled(source: str, src: str, csrc: str, compiler: str) -> str:
    """source written to src, compiled with the kernels' flags against csrc,
    and its object's disassembly."""
    obj = src[:-4] + ".o"
    with open(src, "w") as f:
        f.write(source)
    flags = ["-O3", "-std=c++20", "-ffp-contract=off", "-Wno-psabi", "-w", f"-I{csrc}"]
    subprocess.run([compiler, *flags, "-c", src, "-o", obj], check=True)
    return subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", obj], check=True, capture_output=True, text=True
    ).stdout


def count(csrc: str, compiler: str, resident: bool = True) -> list[dict[str, object]]:
    """The rows of every path and probe. resident=False: the probes of the
    loops that hold their tables read them from memory instead of
    V::resident's registers (the loops as they were before the copy; for the
    tests)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path, (header, ns, target, lanes) in PATHS.items():
            functions = "".join(
                FUNCTION_TEMPLATE.format(
                    name=name,
                    expr=expr,
                    screen=screen or f"math::outside_normal_range<Approximation::{mode}, {der}>(v)",
                    setup=(
                        (
                            f"const auto table = V::resident({RESIDENT_TABLES[name]});"
                            if resident
                            else f"const auto& table = {RESIDENT_TABLES[name]};"
                        )
                        if name in RESIDENT_TABLES
                        else ""
                    ),
                )
                for name, (mode, der, expr, screen) in PROBES.items()
            )
            dis = _disassembled(
                PROBE_TEMPLATE.format(target=target, header=header, ns=ns, functions=functions),
                os.path.join(tmp, f"probe_{path}.cpp"),
                csrc,
                compiler,
            )
            for name in PROBES:
                c = loop_counts(dis, f"probe_{name}")
                mode, direction = name.split("_")
                rows.append(
                    {
                        "path": path,
                        "mode": mode,
                        "direction": direction,
                        "lanes": lanes,
                        **c,
                        "alu_per_element": c["alu"] / lanes,
                    }
                )
    return rows


# The 16-bit forward's result-table lookups (table_lookup in gelu_loops.h,
# contiguous and every-second inputs), compiled as the AVX-512 kernels
# compile them: scalar loads inserted into a 16-byte register, so every
# instruction of the loop counts, and so do its stores.
LOOKUP_TEMPLATE = """
#include <cstdint>
#include <cstring>
#include <type_traits>
#pragma GCC target("{target}")
#include "approximation.h"
#include "cpu/kernels.h"
#include "cpu/gelu_loops.h"
namespace gelu_ext {{
namespace cpu {{
extern "C" __attribute__((noinline)) void probe_lookup(const uint16_t* t, const uint16_t* x,
                                                       uint16_t* y, long n) {{
  table_lookup(t, x, y, n);
}}
extern "C" __attribute__((noinline)) void probe_lookup_every_second(const uint16_t* t,
                                                                    const uint16_t* x,
                                                                    uint16_t* y, long n) {{
  table_lookup(t, EverySecond<uint16_t>{{x}}, y, n);
}}
}}  // namespace cpu
}}  // namespace gelu_ext
"""


def lookup_counts(csrc: str, compiler: str) -> dict[str, dict[str, float]]:
    """Per lookup probe: the instructions of its hot loop, the table entries it
    loads per iteration (elements per iteration) and their ratio."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        dis = _disassembled(
            LOOKUP_TEMPLATE.format(target=PATHS["avx512"][2]),
            os.path.join(tmp, "probe_lookup.cpp"),
            csrc,
            compiler,
        )
        for name in ("lookup", "lookup_every_second"):
            loop = [i for i in _largest_loop(dis, f"probe_{name}") if not i[1].startswith("nop")]
            # a table entry's load: movzwl (table,index,2), or vpinsrw from it
            loads = sum(
                1 for _, m, ops in loop if m in ("movzwl", "vpinsrw", "pinsrw") and ",2)" in ops
            )
            # a store: a move whose destination (AT&T: the last operand) is memory
            stores = sum(1 for _, m, ops in loop if "mov" in m and ops.rstrip().endswith(")"))
            out[name] = {
                "instructions": len(loop),
                "elements": loads,
                "stores": stores,
                "per_element": len(loop) / loads if loads else float("inf"),
                "stores_per_element": stores / loads if loads else float("inf"),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csrc", default=os.path.join(ROOT, "csrc"), help="the sources to count")
    p.add_argument("--cxx", default=os.environ.get("CXX", "c++"), help="C++ compiler (GCC)")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.add_argument("--check", action="store_true", help="exit 1 when over BUDGETS (AVX-512)")
    args = p.parse_args(argv)
    for tool in (args.cxx, "objdump"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found", file=sys.stderr)
            return 2
    rows = count(args.csrc, args.cxx)
    print("float32 hot loops, one vector per iteration (counts per vector)")
    print(
        f"{'path':<7} {'mode':<7} {'dir':<4} {'alu':>4} {'perm':>5} {'div':>4} {'move':>5} "
        f"{'mem':>4} {'loads':>5} {'alu/element':>12}"
    )
    for r in rows:
        print(
            f"{r['path']:<7} {r['mode']:<7} {r['direction']:<4} {r['alu']:>4} {r['perm']:>5} "
            f"{r['div']:>4} {r['move']:>5} {r['mem']:>4} {r['loads']:>5} "
            f"{r['alu_per_element']:>12.2f}"
        )
    lookups = lookup_counts(args.csrc, args.cxx)
    print("\n16-bit forward table lookups, AVX-512 build (scalar instructions per loop)")
    for name, c in lookups.items():
        print(
            f"{name:<20} {c['instructions']:>4} instructions, {c['elements']:>3} elements, "
            f"{c['stores']:>3} stores: {c['per_element']:.2f} instructions and "
            f"{c['stores_per_element']:.3f} stores per element"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "rows": rows,
                    "budgets": BUDGETS,
                    "load_budgets": LOAD_BUDGETS,
                    "lookups": lookups,
                },
                f,
                indent=1,
            )
    if args.check:
        over = 0
        for r in rows:
            key = f"{r['mode']}_{r['direction']}"
            if r["path"] != "avx512":
                continue
            if r["alu"] > BUDGETS[key]:
                over += 1
                print(
                    f"over budget: avx512 {r['mode']} {r['direction']}: {r['alu']} vector ALU "
                    f"instructions per vector > {BUDGETS[key]}",
                    file=sys.stderr,
                )
            if r["loads"] > LOAD_BUDGETS.get(key, r["loads"]):
                over += 1
                print(
                    f"over budget: avx512 {r['mode']} {r['direction']}: {r['loads']} memory "
                    f"reads per vector > {LOAD_BUDGETS[key]}",
                    file=sys.stderr,
                )
        return 1 if over else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
