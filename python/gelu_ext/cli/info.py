"""Build and run-time facts: ``python -m gelu_ext info [--json FILE]``."""

from __future__ import annotations

import argparse
import os
import platform
from typing import Any

import torch

from .. import _C
from .._library import library_path
from .common import write_json


def cpu_model() -> str:
    """The CPU's marketing name (Linux), else what the platform module says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cuda_devices() -> list[dict[str, Any]]:
    """The CUDA devices torch can see (empty without a driver or device)."""
    if not torch.cuda.is_available():
        return []
    out = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        out.append(
            {
                "index": i,
                "name": p.name,
                "capability": f"{p.major}.{p.minor}",
                "memory_gib": round(p.total_memory / 2**30, 1),
            }
        )
    return out


def collect() -> dict[str, Any]:
    """Everything ``info`` reports, as plain data."""
    from .. import __version__

    return {
        "gelu_ext": __version__,
        "op_library": library_path(),
        "torch": torch.__version__,
        "torch_built_against": _C.torch_version(),
        "cuda_kernels_compiled": _C.cuda_compiled(),
        "cuda_archs": _C.cuda_archs(),
        "torch_cuda": torch.version.cuda,
        "simd_selected": _C.simd_selected(),
        "simd_supported": _C.simd_supported(),
        "simd_compiled": _C.simd_compiled(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_devices": cuda_devices(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def format_info(info: dict[str, Any]) -> str:
    """``collect()`` as aligned text lines."""
    built = info["torch_built_against"]
    runtime = info["torch"].split("+")[0]
    torch_line = f"{info['torch']} (built against {built})"
    if built != runtime:
        torch_line += "  <- differs: rebuild gelu_ext for this torch"
    if info["cuda_kernels_compiled"]:
        cuda = f"compiled for {', '.join(info['cuda_archs'])}"
    else:
        cuda = "not compiled (CPU-only build)"
    devices = [
        f"cpu: {info['cpu']}, {info['cpu_count']} logical cores, "
        f"torch uses {info['torch_threads']} threads"
    ]
    for d in info["cuda_devices"]:
        devices.append(
            f"cuda:{d['index']}: {d['name']} (sm {d['capability']}, {d['memory_gib']} GiB)"
        )
    if not info["cuda_devices"]:
        devices.append(f"cuda: none visible (torch CUDA runtime: {info['torch_cuda'] or 'none'})")
    rows = [
        ("gelu_ext", f"{info['gelu_ext']}  ({info['op_library']})"),
        ("PyTorch", torch_line),
        ("CUDA kernels", cuda),
        (
            "CPU SIMD path",
            f"{info['simd_selected']} "
            f"(supported: {', '.join(info['simd_supported'])}; "
            f"compiled: {', '.join(info['simd_compiled'])}; "
            f"PyTorch's own: {info['torch_cpu_capability']})",
        ),
        ("devices", devices[0]),
        *(("", d) for d in devices[1:]),
        ("Python", f"{info['python']} on {info['platform']}"),
    ]
    return "\n".join(f"{k:<14} {v}" for k, v in rows)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``info`` options."""
    p.add_argument("--json", metavar="FILE", help="also write the facts as JSON")


def command(args: argparse.Namespace) -> int:
    """Runs ``info`` with parsed arguments."""
    info = collect()
    print(format_info(info))
    if args.json:
        write_json(args.json, info)
    return 0
