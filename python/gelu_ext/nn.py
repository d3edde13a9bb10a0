"""``nn.Module`` front end: :class:`GELU`, and :func:`replace_gelu` with its report."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Callable, Optional, Union, overload

import torch
import torch.nn.functional as F
from torch import nn

from .ops import Approximate

__all__ = ["GELU", "LeftAlone", "ReplaceReport", "Replacement", "replace_gelu"]


class GELU(nn.Module):
    """Drop-in replacement for :class:`torch.nn.GELU` backed by gelu_ext.

    Same constructor, same ``extra_repr``, scriptable with
    :func:`torch.jit.script` and traceable by ``torch.compile`` /
    ``torch.export``.

    Args:
        approximate: ``"none"`` (exact, default), ``"tanh"`` or ``"sigmoid"``
            (x * sigmoid(1.702 x), QuickGELU).
    """

    __constants__ = ["approximate"]
    approximate: str

    def __init__(self, approximate: Approximate = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh", "sigmoid"):
            raise ValueError(
                "gelu_ext.GELU: approximate must be 'none', 'tanh' or 'sigmoid', "
                f"got {approximate!r}"
            )
        self.approximate = approximate

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return torch.ops.gelu_ext.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={repr(self.approximate)}"


# ---------------------------------------------------------------------------
# replace_gelu: which classes it swaps, and the report it returns
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Replacement:
    """One module that :func:`replace_gelu` swapped for a :class:`GELU`.

    Attributes:
        name: qualified name of the module in the model, as
            ``model.named_modules()`` gives it, e.g.
            ``"encoder.layer.0.intermediate.intermediate_act_fn"``.
        old_class: module and name of the class it had
            (``"transformers.activations.GELUActivation"``).
        mode: the ``approximate`` of the new :class:`GELU`: ``"none"``,
            ``"tanh"`` or ``"sigmoid"``.
    """

    name: str
    old_class: str
    mode: str


@dataclass(frozen=True)
class LeftAlone:
    """A GELU-like module or function attribute that :func:`replace_gelu` did not swap.

    Attributes:
        name: qualified name of the module, or of the attribute holding the
            function (``""`` for the model itself).
        what: the module's class, e.g.
            ``"transformers.activations.ClippedGELUActivation"``, or for a
            function attribute ``"function "`` and the function's name, e.g.
            ``"function torch.nn.functional.gelu"``.
        reason: why it was left alone.
    """

    name: str
    what: str
    reason: str


class ReplaceReport(Sequence[Replacement]):
    """What :func:`replace_gelu` did: a sequence of :class:`Replacement`.

    ``len(report)`` is the number of modules replaced, and iterating over it
    gives them in model order. :attr:`left_alone` lists, with the reason, every
    GELU-like module or function attribute that was not replaced. ``str(report)``
    is a readable summary.

    For callers written when :func:`replace_gelu` returned a count, ``int(report)``
    and ``operator.index(report)`` give that count and ``report == n``
    compares it with an ``int``; two reports are equal when they list the same
    things.
    """

    __slots__ = ("replaced", "left_alone")
    __hash__ = None  # type: ignore[assignment]  # == int would make a hash inconsistent

    def __init__(
        self, replaced: Iterable[Replacement] = (), left_alone: Iterable[LeftAlone] = ()
    ) -> None:
        self.replaced: tuple[Replacement, ...] = tuple(replaced)
        self.left_alone: tuple[LeftAlone, ...] = tuple(left_alone)

    def __len__(self) -> int:
        return len(self.replaced)

    @overload
    def __getitem__(self, index: int) -> Replacement: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Replacement, ...]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Replacement, tuple[Replacement, ...]]:
        return self.replaced[index]

    def __int__(self) -> int:
        return len(self.replaced)

    def __index__(self) -> int:
        return len(self.replaced)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ReplaceReport):
            return (self.replaced, self.left_alone) == (other.replaced, other.left_alone)
        if isinstance(other, int) and not isinstance(other, bool):
            return len(self.replaced) == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"ReplaceReport(replaced={len(self.replaced)}, left_alone={len(self.left_alone)})"

    def __str__(self) -> str:
        lines = [f"replace_gelu: {len(self.replaced)} replaced, {len(self.left_alone)} left alone"]
        lines += [
            f"  {_display(r.name)}: {r.old_class} -> gelu_ext.GELU({r.mode!r})"
            for r in self.replaced
        ]
        if self.left_alone:
            lines.append("left alone:")
            lines += [f"  {_display(s.name)}: {s.what}: {s.reason}" for s in self.left_alone]
        return "\n".join(lines)


def _display(name: str) -> str:
    return name if name else "(the model itself)"


@dataclass(frozen=True)
class _Row:
    """A row of the table: a class, looked up by name in an imported module."""

    module: str  # where the class is defined; only looked up in sys.modules
    name: str
    mode: Optional[str]  # the gelu_ext mode; None: recognised, never replaced
    # For mode None, why; otherwise a test of the instance that returns a
    # reason to leave it alone, or None to replace it.
    reason: str = ""
    check: Optional[Callable[[nn.Module], Optional[str]]] = None


def _calls_torch_gelu(module: nn.Module) -> Optional[str]:
    # transformers' GELUActivation holds the function it calls in `act`:
    # torch.nn.functional.gelu, or its own Python formula (use_gelu_python=True).
    if getattr(module, "act", None) is F.gelu:
        return None
    return "its act is not torch.nn.functional.gelu (the use_gelu_python variant)"


def _calls_torch_gelu_tanh(module: nn.Module) -> Optional[str]:
    # transformers' GELUTanh holds functools.partial(F.gelu, approximate="tanh")
    # in `act`, or its own Python formula (use_gelu_tanh_python=True). Older
    # releases' PytorchGELUTanh has no `act` and calls F.gelu(x, "tanh") itself.
    act = getattr(module, "act", None)
    if act is None:
        return None
    if (
        isinstance(act, functools.partial)
        and act.func is F.gelu
        and not act.args
        and act.keywords == {"approximate": "tanh"}
    ):
        return None
    return (
        "its act is not torch.nn.functional.gelu(approximate='tanh') "
        "(the use_gelu_tanh_python variant)"
    )


_HF = "transformers.activations"
_TIMM = "timm.layers.activations"

# The classes replace_gelu swaps, matched exactly (not their subclasses), and
# those it recognises but leaves alone. torch.nn.GELU is handled by
# _torch_gelu_mode: its mode is its own `approximate`. README.md has this table
# (tests/python/test_models.py keeps the two the same).
_TABLE: tuple[_Row, ...] = (
    _Row(_HF, "GELUActivation", "none", check=_calls_torch_gelu),
    _Row(_HF, "GELUTanh", "tanh", check=_calls_torch_gelu_tanh),
    _Row(_HF, "PytorchGELUTanh", "tanh", check=_calls_torch_gelu_tanh),
    _Row(_HF, "NewGELUActivation", "tanh"),
    _Row(_HF, "FastGELUActivation", "tanh"),
    _Row(_HF, "AccurateGELUActivation", "tanh"),
    _Row(_HF, "QuickGELUActivation", "sigmoid"),
    _Row(
        _HF,
        "ClippedGELUActivation",
        None,
        reason="it clips its output to [min, max], which no gelu_ext mode does",
    ),
    _Row(_TIMM, "GELU", "none"),
    _Row(_TIMM, "GELUTanh", "tanh"),
    _Row(_TIMM, "QuickGELU", "sigmoid"),
    _Row("open_clip.transformer", "QuickGELU", "sigmoid"),
    _Row("open_clip.layers", "QuickGELU", "sigmoid"),
)


def _imported_rows() -> dict[type, _Row]:
    """The table's classes that this process has imported, by class.

    Nothing is imported here: a class whose module is not in ``sys.modules``
    cannot be in the model either. Aliases (``PytorchGELUTanh = GELUTanh``)
    find the same class; the first row wins.
    """
    rows: dict[type, _Row] = {}
    for row in _TABLE:
        cls = getattr(sys.modules.get(row.module), row.name, None)
        if isinstance(cls, type) and issubclass(cls, nn.Module):
            rows.setdefault(cls, row)
    return rows


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _torch_gelu_mode(module: nn.GELU, name: str) -> str:
    mode = module.approximate
    if mode not in ("none", "tanh"):
        raise ValueError(
            f"gelu_ext.replace_gelu: module {name!r} is a torch.nn.GELU with "
            f"approximate={mode!r}, which torch.nn.GELU does not accept ('none' or 'tanh'); "
            "nothing was replaced"
        )
    return mode


def _gelu_function(value: object) -> Optional[str]:
    """The name of ``value`` if it is a GELU-like function (not a module or class)."""
    if isinstance(value, (nn.Module, type)) or not callable(value):
        return None
    func: object = value
    while isinstance(func, functools.partial):
        func = func.func
    if func is F.gelu:
        return "torch.nn.functional.gelu"
    name = getattr(func, "__name__", None)
    if not isinstance(name, str) or "gelu" not in name.lower():
        return None
    module = getattr(func, "__module__", None) or ""
    if module.startswith(("gelu_ext", "torch._ops.gelu_ext")):
        return None  # already ours
    qualname = getattr(func, "__qualname__", name)
    return f"{module}.{qualname}" if module else qualname


def _blocker(module: nn.Module) -> Optional[str]:
    """A reason not to swap an otherwise replaceable module, or None."""
    if (
        module._forward_hooks
        or module._forward_pre_hooks
        or module._backward_hooks
        or module._backward_pre_hooks
    ):
        return "it has hooks registered, which a new module would not have"
    if next(module.parameters(), None) is not None or next(module.buffers(), None) is not None:
        return "it holds parameters or buffers, which gelu_ext.GELU does not"
    return None


def replace_gelu(model: nn.Module, *, strict: bool = False) -> ReplaceReport:
    """Replace the GELU activation modules of ``model`` with :class:`GELU`, in place.

    A submodule is replaced when its class is exactly one of those in the
    table in README.md ("Swapping the GELUs of a model"): ``torch.nn.GELU``
    (keeping its ``approximate``), and the GELU classes of Hugging Face
    transformers, timm and open_clip, each with the gelu_ext mode that
    computes the same function (``"none"``, ``"tanh"`` or ``"sigmoid"``).
    Those libraries are never imported here: their classes are recognised
    when the process has already imported them, as it has when the model
    holds one. Subclasses are not matched.

    Left alone, and listed in the report with the reason: transformers'
    ``ClippedGELUActivation`` and the ``use_gelu_python`` /
    ``use_gelu_tanh_python`` variants (they compute something else, or with a
    formula the model chose); modules with hooks or parameters; any other
    module whose class name contains "gelu" (case-insensitive); GELU-like
    plain functions held as attributes (``self.act = F.gelu``), which are
    not modules and cannot be swapped; and ``model`` itself, which is never
    replaced (wrap a bare activation in a container). Modules that are
    already :class:`GELU` are neither replaced nor listed.

    Nothing is changed unless the whole model can be processed, and nothing
    but the replaced submodules: ``state_dict()`` keys and values stay the
    same (activations hold no state). A module shared by several parents is
    replaced by one shared :class:`GELU`, which keeps its ``training`` flag.
    Running it again replaces nothing and reports the same modules left alone.

    Args:
        model: the model; changed in place.
        strict: raise instead of leaving alone a module whose class name
            contains "gelu" but is not in the table (for example a
            subclass, or a library's class gelu_ext does not know), so that
            no GELU is missed silently.

    Returns:
        A :class:`ReplaceReport`: ``len(report)`` is the number of modules
        replaced, each :class:`Replacement` gives its qualified name, old
        class and new mode, and ``report.left_alone`` what was not replaced
        and why.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
        ValueError: ``strict`` is true and a module whose class name contains
            "gelu" is not in the table; or a ``torch.nn.GELU`` has an
            ``approximate`` that torch does not accept. The model is then
            unchanged.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"gelu_ext.replace_gelu: model must be a torch.nn.Module, got {type(model).__name__}"
        )
    rows = _imported_rows()
    plan: list[tuple[nn.Module, str, GELU]] = []
    new_for: dict[int, GELU] = {}  # one new module per old one, so sharing is kept
    replaced: list[Replacement] = []
    left: list[LeftAlone] = []
    unknown: list[LeftAlone] = []

    def is_gelu_like(module: nn.Module) -> bool:
        cls = type(module)
        return cls in rows or "gelu" in cls.__name__.lower() or isinstance(module, GELU)

    def classify(module: nn.Module, name: str) -> tuple[Optional[str], str]:
        """(mode, "") to replace ``module``, or (None, reason); records unknown classes."""
        cls = type(module)
        if isinstance(module, GELU):
            return None, ""  # already swapped: nothing to report
        if cls is nn.GELU:
            mode: Optional[str] = _torch_gelu_mode(module, name)  # type: ignore[arg-type]
            reason = ""
        elif cls in rows:
            row = rows[cls]
            mode, reason = row.mode, row.reason
            if mode is not None and row.check is not None:
                why = row.check(module)
                if why is not None:
                    mode, reason = None, why
        elif "gelu" in cls.__name__.lower():
            entry = LeftAlone(
                name, _class_name(cls), "its class is not in replace_gelu's table (matched exactly)"
            )
            unknown.append(entry)
            return None, entry.reason
        else:
            return None, ""
        if mode is not None:
            why = _blocker(module)
            if why is not None:
                mode, reason = None, why
        return mode, reason

    if is_gelu_like(model) and not isinstance(model, GELU):
        itself = "the model itself is never replaced: wrap it in a container"
        mode, reason = (None, itself) if type(model) is nn.GELU else classify(model, "")
        left.append(LeftAlone("", _class_name(type(model)), itself if mode else reason))
    for prefix, parent in model.named_modules():
        # (an activation's own function attributes are its implementation)
        for attr, value in () if is_gelu_like(parent) else vars(parent).items():
            func = _gelu_function(value)
            if func is not None:
                left.append(
                    LeftAlone(
                        f"{prefix}.{attr}" if prefix else attr,
                        f"function {func}",
                        "a plain function attribute, not a module: replace_gelu swaps modules only",
                    )
                )
        # every slot, unlike named_children(), which lists a repeated child once
        for attr, child in list(parent._modules.items()):
            if child is None:
                continue
            name = f"{prefix}.{attr}" if prefix else attr
            mode, reason = classify(child, name)
            if mode is None:
                if reason:
                    left.append(LeftAlone(name, _class_name(type(child)), reason))
                continue
            new = new_for.get(id(child))
            if new is None:
                new = GELU(mode)  # type: ignore[arg-type]
                new.train(child.training)
                new_for[id(child)] = new
            plan.append((parent, attr, new))
            replaced.append(Replacement(name, _class_name(type(child)), mode))

    if strict and unknown:
        shown = ", ".join(f"{u.name!r} ({u.what})" for u in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ValueError(
            f"gelu_ext.replace_gelu: strict=True and {len(unknown)} module(s) whose class "
            f"name contains 'gelu' are not in its table: {shown}{more}; nothing was replaced"
        )
    for parent, attr, new in plan:
        setattr(parent, attr, new)
    return ReplaceReport(replaced, left)
