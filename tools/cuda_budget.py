"""The CUDA kernels' machine-code budget: instructions per element, read from SASS.

Run:  python tools/cuda_budget.py [--check] [--json FILE] [--object FILE]

Without a GPU a kernel's speed cannot be measured, but its machine code can
be read. This compiles cuda/gelu_kernel.cu for sm_90 (the H200) with the
build's own nvcc flags (cmake/build_flags.json), or reads an object file
that a build already made (--object), disassembles it with cuobjdump and,
for every specialisation of ``elementwise_kernel`` (dtype x mode x
direction, the vector kernel and the one-element kernel), reports:

* instructions per element in the grid-stride loop: the instructions
  between the loop's backward branch and its target, over the elements one
  trip handles (kN per pack x kUnroll packs). Every pack is predicated on
  the same bound, so a full trip runs all of them: the static count is the
  dynamic one;
* conversion-class instructions per element (MUFU, F2I, I2F, FRND, F2F,
  F2FP), which issue at a quarter of the FMA rate;
* registers, and spills (local-memory loads and stores, STL/LDL);
* the predicted fraction of copy bandwidth: the time a copy of the same
  bytes takes over the larger of that and the time to issue the
  instructions, with the H200's issue rate (about 2.9e13 thread-instructions
  per second), its measured copy bandwidth (4.26 TB/s) and the 0.8
  efficiency that the native kernels' measured speed implies.

``--check`` exits 1 when a vector specialisation has more instructions per
element than its budget: TARGETS, the counts that reach 90% of copy (a
deterministic stand-in for a timing), met by every float32 and 16-bit
kernel; for float64, which has no target, CEILINGS, today's counts rounded
up, so that no change makes a kernel longer.
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
from dataclasses import asdict, dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "cuda", "gelu_kernel.cu")
ARCH = "sm_90"

ISSUE_RATE = 2.9e13  # H200 thread-instructions per second
COPY_BYTES_PER_S = 4.26e12  # H200 copy bandwidth, measured
EFFICIENCY = 0.8  # the fraction of the issue rate the native kernels reach

# Instructions per element that reach 90% of copy, by dtype class and
# direction (16-bit exact forward: 23, to be 1.25x native).
TARGETS = {
    ("16-bit", "fwd"): 24,
    ("16-bit", "bwd"): 36,
    ("float32", "fwd"): 48,
    ("float32", "bwd"): 72,
}
TARGET_16BIT_EXACT_FWD = 23

# The budget of a vector kernel is its TARGET. float64 has no target: its
# budget is today's count rounded up, so that no change makes it longer (the
# same rule serves any kernel that would miss its target for a while).
CEILINGS = {
    ("float64", "none", "fwd"): 394,
    ("float64", "none", "bwd"): 368,
    ("float64", "tanh", "fwd"): 182,
    ("float64", "tanh", "bwd"): 202,
    ("float64", "sigmoid", "fwd"): 160,
    ("float64", "sigmoid", "bwd"): 166,
}

DTYPES = {
    "float": "float32",
    "double": "float64",
    "c10::BFloat16": "bfloat16",
    "c10::Half": "float16",
}
SIZES = {"float32": 4, "float64": 8, "bfloat16": 2, "float16": 2}
MODES = {"0": "none", "1": "tanh", "2": "sigmoid"}
KERNEL = re.compile(
    r"elementwise_kernel<(\d+), (\d+), [\w:() ]*?(Forward|Backward)<([\w:]+), "
    r"\(gelu_ext::Approximation\)(\d)>"
)
INSTRUCTION = re.compile(r"/\*([0-9a-f]{4,})\*/\s+([^;]*);")
BACK_BRANCH = re.compile(r"\bBRA\s+(?:`\()?0x([0-9a-f]+)")
CONVERSION = re.compile(r"^(?:@!?U?P\w+\s+)?(MUFU|F2I|I2F|FRND|F2F|F2FP)\b")
SPILL = re.compile(r"^(?:@!?U?P\w+\s+)?(STL|LDL)\b")


@dataclass
class Specialisation:
    dtype: str
    mode: str
    direction: str
    vector: bool  # kN > 1: packs of 16 bytes
    elements_per_trip: int
    loop_instructions: int
    instructions_per_element: float
    conversions_per_element: float
    registers: int
    spills: int
    predicted_fraction_of_copy: float
    target: int | None
    meets_target: bool | None
    budget: int | None  # the check's limit: TARGET, or CEILINGS where that is not met yet


class BudgetError(RuntimeError):
    """The report cannot be made (no nvcc or cuobjdump, a failed compile)."""


def fail(message: str) -> None:
    raise BudgetError(f"cuda_budget: {message}")


def find_tool(name: str) -> str:
    """`name` on PATH, beside nvcc, or (cuobjdump) in the triton wheel."""
    found = shutil.which(name)
    if found:
        return found
    nvcc = shutil.which("nvcc")
    if nvcc:
        beside = os.path.join(os.path.dirname(os.path.realpath(nvcc)), name)
        if os.path.exists(beside):
            return beside
    if name == "cuobjdump":
        try:
            import triton  # torch's CUDA wheels bring it

            path = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", name)
            if os.path.exists(path):
                return path
        except ImportError:
            pass
    fail(
        f"{name} not found (install the CUDA toolkit, or for cuobjdump the PyPI package "
        "nvidia-cuda-cuobjdump)"
    )
    return name  # not reached: fail raises


def compile_object(out_dir: str) -> str:
    """cuda/gelu_kernel.cu as an sm_90 object, with the build's nvcc flags."""
    import torch.utils.cpp_extension as ext

    nvcc = find_tool("nvcc")
    with open(os.path.join(ROOT, "cmake", "build_flags.json")) as f:
        flags = json.load(f)["nvcc"]
    out = os.path.join(out_dir, "gelu_kernel.o")
    cmd = [
        nvcc,
        "-c",
        SOURCE,
        "-o",
        out,
        f"-arch={ARCH}",
        "-std=c++20",
        "-Xcompiler=-fPIC",
        "-DGELU_EXT_WITH_CUDA=1",
        '-DGELU_EXT_VERSION="budget"',
        "-I",
        os.path.join(ROOT, "csrc"),
        *flags,
    ]
    for inc in ext.include_paths():
        cmd += ["-isystem", inc]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        fail("nvcc failed:\n" + proc.stderr[-4000:])
    return out


def demangle(names: list[str]) -> list[str]:
    proc = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True)
    return proc.stdout.splitlines() if proc.returncode == 0 else names


def resources(cuobjdump: str, obj: str) -> dict[str, int]:
    """Registers per thread of each function (cuobjdump -res-usage)."""
    text = subprocess.run([cuobjdump, "-res-usage", obj], capture_output=True, text=True).stdout
    regs: dict[str, int] = {}
    name = None
    for line in text.splitlines():
        m = re.search(r"Function (\S+):", line)
        if m:
            name = m.group(1)
        m = re.search(r"REG:(\d+)", line)
        if m and name:
            regs[name] = int(m.group(1))
    return regs


def analyse(obj: str) -> list[Specialisation]:
    cuobjdump = find_tool("cuobjdump")
    sass = subprocess.run([cuobjdump, "-sass", obj], capture_output=True, text=True)
    if sass.returncode != 0:
        fail("cuobjdump failed:\n" + sass.stderr[-2000:])
    regs = resources(cuobjdump, obj)
    chunks = re.split(r"\n\s*Function : ", sass.stdout)[1:]
    names = [c.split("\n", 1)[0].strip() for c in chunks]
    out = []
    for name, pretty, chunk in zip(names, demangle(names), chunks):
        m = KERNEL.search(pretty)
        if not m:
            continue
        kn, unroll, op, ctype, mode = m.groups()
        dtype = DTYPES[ctype]
        if int(kn) > 1 and int(unroll) == 1:
            # The mid-size variant of a vector kernel (one pack per thread
            # per trip, for tensors below ~2^17 elements, which are not
            # bandwidth-bound): the same loop body; the budget is the main one's.
            continue
        code = [(int(o, 16), s.strip()) for o, s in INSTRUCTION.findall(chunk)]
        loop: list[tuple[int, str]] = []
        for off, ins in code:
            b = BACK_BRANCH.search(ins)
            if b and int(b.group(1), 16) < off:
                span = [c for c in code if int(b.group(1), 16) <= c[0] <= off]
                if len(span) > len(loop):
                    loop = span
        body = [s for _, s in loop if not s.startswith("NOP")]
        elements = int(kn) * int(unroll)
        per_element = len(body) / elements
        conversions = sum(bool(CONVERSION.match(s)) for s in body) / elements
        spills = sum(bool(SPILL.match(s)) for _, s in code)
        direction = "fwd" if op == "Forward" else "bwd"
        mname = MODES[mode]
        moved = SIZES[dtype] * (2 if direction == "fwd" else 3)
        copy_time = moved / COPY_BYTES_PER_S
        issue_time = per_element / (ISSUE_RATE * EFFICIENCY)
        vector = int(kn) > 1
        cls = "16-bit" if SIZES[dtype] == 2 else dtype
        target = TARGETS.get((cls, direction))
        if cls == "16-bit" and mname == "none" and direction == "fwd":
            target = TARGET_16BIT_EXACT_FWD
        out.append(
            Specialisation(
                dtype=dtype,
                mode=mname,
                direction=direction,
                vector=vector,
                elements_per_trip=elements,
                loop_instructions=len(body),
                instructions_per_element=round(per_element, 2),
                conversions_per_element=round(conversions, 2),
                registers=regs.get(name, -1),
                spills=spills,
                predicted_fraction_of_copy=round(copy_time / max(copy_time, issue_time), 3),
                target=target if vector else None,
                meets_target=(per_element <= target) if (vector and target) else None,
                budget=CEILINGS.get((dtype, mname, direction), target) if vector else None,
            )
        )
    order = {"float32": 0, "bfloat16": 1, "float16": 2, "float64": 3}
    out.sort(
        key=lambda s: (
            order[s.dtype],
            list(MODES.values()).index(s.mode),
            s.direction,
            not s.vector,
        )
    )
    return out


def table(rows: list[Specialisation]) -> str:
    head = (
        f"{'dtype':<9}{'mode':<8}{'dir':<4}{'kernel':<7}{'instr/el':>9}{'conv/el':>8}"
        f"{'regs':>5}{'spills':>7}{'of copy':>8}{'target':>7}  meets"
    )
    lines = [
        f"cuda/gelu_kernel.cu, {ARCH}: instructions per element in the grid-stride loop",
        head,
        "-" * len(head),
    ]
    for r in rows:
        lines.append(
            f"{r.dtype:<9}{r.mode:<8}{r.direction:<4}{'vector' if r.vector else 'scalar':<7}"
            f"{r.instructions_per_element:>9.1f}{r.conversions_per_element:>8.1f}"
            f"{r.registers:>5}{r.spills:>7}{r.predicted_fraction_of_copy:>8.0%}"
            f"{'' if r.target is None else r.target:>7}  "
            f"{'' if r.meets_target is None else ('yes' if r.meets_target else 'no')}"
        )
    return "\n".join(lines)


def check(rows: list[Specialisation]) -> list[str]:
    """The vector specialisations above their budget (empty: all within)."""
    bad = []
    for r in rows:
        if r.vector and r.budget is not None and r.instructions_per_element > r.budget:
            bad.append(
                f"{r.dtype} {r.mode} {r.direction}: {r.instructions_per_element} "
                f"instructions per element, budget {r.budget}"
            )
        if r.vector and r.budget is None:
            bad.append(f"{r.dtype} {r.mode} {r.direction}: no budget recorded")
    return bad


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--object", help="read this object (or cubin) instead of compiling")
    p.add_argument(
        "--check", action="store_true", help="exit 1 when a vector kernel exceeds its budget"
    )
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = p.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            obj = args.object or compile_object(tmp)
            rows = analyse(obj)
        if not rows:
            fail("no elementwise_kernel specialisation found in the machine code")
    except BudgetError as e:
        print(e, file=sys.stderr)
        return 2
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"arch": ARCH, "rows": [asdict(r) for r in rows]}, f, indent=1)
        print(f"# wrote {args.json}")
    if args.check:
        bad = check(rows)
        for line in bad:
            print("over budget:", line, file=sys.stderr)
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
