"""What every command shares: the names of dtypes, modes and directions, the
argument convention (one-line usage errors, exit status 2; the argparse
types), one-line failures (exit status 1), the JSON writer, a progress line
on stderr, and number formatting for reports."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import typing
from typing import Callable, NoReturn, Sequence, TextIO

import torch

from ..ops import Approximate

# The dtypes every command offers, by name, in the order "all" lists them.
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
DTYPE_NAMES = tuple(DTYPES)
# The approximate modes, as the typed wrappers (gelu_ext.ops) declare them.
MODES: tuple[str, ...] = typing.get_args(Approximate)
DIRECTIONS = ("fwd", "bwd")


class CliError(Exception):
    """A failure the user can act on; reported as one line, exit status 1."""


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line (plus exit status 2).

    Sub-command parsers made with ``add_subparsers`` inherit the class.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def run_guarded(prog: str, fn: Callable[[], int]) -> int:
    """Runs ``fn``; turns any exception into one line on stderr and status 1."""
    try:
        return fn()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except CliError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 -- the contract is one line, not a traceback
        text = str(e).strip().splitlines()
        detail = text[0] if text else ""
        print(f"{prog}: error: {type(e).__name__}: {detail}", file=sys.stderr)
        return 1


def quoted_choices(choices: Sequence[str]) -> str:
    """'a', 'b' or 'c': the accepted values, as the error messages list them."""
    quoted = [repr(c) for c in choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def choice_list(
    choices: Sequence[str], everything: Sequence[str] = ("all",)
) -> Callable[[str], list[str]]:
    """argparse type: comma-separated subset of ``choices``; a word of
    ``everything`` ("all") alone stands for every one."""

    def parse(text: str) -> list[str]:
        items = [v.strip() for v in text.split(",") if v.strip()]
        if len(items) == 1 and items[0] in everything:
            return list(choices)
        bad = [v for v in items if v not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(choices)} "
                f"(or {' / '.join(everything)}), got {text!r}"
            )
        return list(dict.fromkeys(items))

    return parse


def add_list_option(
    p: argparse.ArgumentParser,
    flag: str,
    choices: Sequence[str],
    default: Sequence[str],
    what: str,
) -> None:
    """``flag``: a comma-separated subset of ``choices`` (or 'all'), the one
    convention of --dtype, --mode and --direction in every command."""
    shown = "all" if list(default) == list(choices) else ",".join(default)
    p.add_argument(
        flag,
        type=choice_list(choices),
        default=list(default),
        help=f"comma-separated {what} from {', '.join(choices)}, or 'all' (default: {shown})",
    )


_SUFFIX = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def size_list(text: str) -> list[int]:
    """argparse type: element counts such as ``4096,1M,16M`` (K/M/G are powers of 2)."""
    out = []
    for item in (v.strip() for v in text.split(",")):
        if not item:
            continue
        scale = _SUFFIX.get(item[-1].lower(), 1)
        digits = item[:-1] if scale > 1 else item
        try:
            value = int(float(digits) * scale)
        except ValueError:
            value = -1
        if value < 1 or value > 1 << 34:
            raise argparse.ArgumentTypeError(
                f"expected element counts like 4096,1M,16M (1 to 16G), got {item!r}"
            )
        out.append(value)
    if not out:
        raise argparse.ArgumentTypeError("expected at least one size")
    return out


def int_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """argparse type: a whole number from ``lo`` to ``hi`` (no upper bound by default)."""
    wanted = (
        "a positive integer"
        if lo == 1 and hi is None
        else f"an integer of at least {lo}"
        if hi is None
        else f"an integer from {lo} to {hi}"
    )

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = lo - 1
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


def positive_int_list(text: str) -> list[int]:
    """argparse type: comma-separated positive integers."""
    try:
        out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 1,2, got {text!r}")
    return out


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def png_file(text: str) -> str:
    """argparse type: a file name ending in .png (the figures are PNG)."""
    if not text.lower().endswith(".png") or len(text) <= 4:
        raise argparse.ArgumentTypeError(f"expected a file name ending in .png, got {text!r}")
    return text


def check_writable(path: str | None) -> None:
    """Fails early (before a long run) when ``path`` cannot be written."""
    if path is None:
        return
    try:
        with open(path, "a"):
            pass
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror}") from None


def write_json(path: str, data: object) -> None:
    """Writes ``data`` to ``path`` as indented JSON and says so (a ``#`` line).

    Non-finite floats, which JSON lacks, are written as the strings "inf",
    "-inf" and "nan".
    """
    with open(path, "w") as f:
        json.dump(_finite(data), f, indent=1, allow_nan=False)
    print(f"# wrote {path}")


def _finite(data: object) -> object:
    """``data`` with its non-finite floats as strings, at any depth."""
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data


class Progress:
    """A progress line on stderr that appears only once a run has lasted
    ``after`` seconds, so short runs stay quiet. On a terminal the line is
    rewritten in place; otherwise one line is printed every few seconds."""

    def __init__(
        self, total: int, enabled: bool = True, after: float = 2.0, stream: TextIO | None = None
    ) -> None:
        self.total = total
        self.enabled = enabled
        self.after = after
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self.last_print = -1e9
        self.shown = False
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, done: int, label: str) -> None:
        """Reports that item ``done + 1`` (of ``total``), named ``label``, starts."""
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        if elapsed < self.after or (not self.tty and now - self.last_print < 5.0):
            return
        self.last_print = now
        eta = ""
        if done:
            eta = f", ~{elapsed / done * (self.total - done):.0f} s left"
        text = f"[{done + 1}/{self.total}] {label} ({elapsed:.0f} s{eta})"
        if self.tty:
            print(f"\r{text:<78.78}", end="", file=self.stream, flush=True)
        else:
            print(text, file=self.stream, flush=True)
        self.shown = True

    def close(self) -> None:
        """Clears the line on a terminal."""
        if self.enabled and self.shown and self.tty:
            print("\r" + " " * 78 + "\r", end="", file=self.stream, flush=True)

    def __enter__(self) -> Progress:
        """The line itself; :meth:`close` runs on leaving the block."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Clears the line (see :meth:`close`)."""
        self.close()


def fmt_size(n: int) -> str:
    """4096 -> 4K, 16777216 -> 16M; other counts as digits."""
    for suffix, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{suffix}"
    return str(n)


def fmt_ulp(value: float | None) -> str:
    """An error in ulps for a report: 0.5, 2.5, 15 340, 1.7e+07."""
    if value is None:
        return "-"
    if value != value:  # NaN
        return "nan"
    if value == float("inf"):
        return "inf"
    if value < 10:
        return f"{value:.2g}" if value < 1 else f"{value:.1f}"
    if value < 1e6:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.2g}"
