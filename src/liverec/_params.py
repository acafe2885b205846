"""Hyper-parameter handling shared by every liverec estimator (scikit-learn's rules).

``__init__`` only stores its keyword arguments; ``get_params``/``set_params`` read and write
them by introspecting the constructor signature, so ``sklearn.base.clone`` and grid search
work without liverec depending on scikit-learn.

Every class declares what its parameters accept once, next to ``__init__``, in the style of
scikit-learn's ``_parameter_constraints``::

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(numbers.Integral, 1, None, closed="left")],
        "solver": [Options(("cg", "cholesky"))],
        "random_state": [Interval(numbers.Integral, 0, None, closed="left"), None],
    }

A value is valid when it satisfies *any* constraint of its list. A constraint is a
`Constraint` (`Interval`, `Options`, `SequenceOf`,
`DictOf`, `HasMethods`, `Device`, `Timedelta`), ``None`` (the
value may be ``None``) or a type (``isinstance``; ``bool`` also accepts ``numpy.bool_``).
`ParamsMixin._validate_params` checks every parameter, recurses into nested liverec
estimators (for example a ``text_encoder``) and then runs the class's cross-parameter hook
``_validate_param_relations``. Every failure is an
[`InvalidParameterError`][liverec.exceptions.InvalidParameterError] naming the class, the parameter, the
constraint and the value. Validation reads only the parameters, so it works (and is cheap)
on a freshly constructed or freshly loaded object.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import math
import numbers
import os
import re
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from typing_extensions import Self

from .exceptions import InvalidParameterError

__all__ = [
    "Constraint",
    "DictOf",
    "Device",
    "HasMethods",
    "Interval",
    "Options",
    "ParamsMixin",
    "SequenceOf",
    "Timedelta",
    "validate_parameter",
]


def _short_repr(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


class Constraint:
    """What a hyper-parameter accepts; subclasses implement `is_satisfied_by`.

    ``str(constraint)`` is the phrase used in error messages ("an int in [1, inf)").
    """

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint."""
        raise NotImplementedError

    def explain(self, value: Any, name: str) -> str | None:
        """Why a value of roughly the right shape fails (the bad entry of a container), or ``None``."""
        return None

    def __str__(self) -> str:
        return f"a value accepted by {type(self).__name__}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self}>"


class _IsNone(Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None

    def __str__(self) -> str:
        return "None"


class _InstanceOf(Constraint):
    def __init__(self, kind: type) -> None:
        self.kind = kind

    def is_satisfied_by(self, value: Any) -> bool:
        if self.kind is bool:
            return isinstance(value, (bool, np.bool_))
        return isinstance(value, self.kind)

    def __str__(self) -> str:
        names = {bool: "bool", str: "str", int: "int", float: "float", os.PathLike: "os.PathLike path"}
        if self.kind in names:
            return _article(names[self.kind])
        return f"an instance of {self.kind.__name__}"


def _as_constraint(spec: Any) -> Constraint:
    if spec is None:
        return _IsNone()
    if isinstance(spec, Constraint):
        return spec
    if isinstance(spec, type):
        return _InstanceOf(spec)
    raise TypeError(f"not a parameter constraint: {spec!r} (use a Constraint, a type or None).")


class Interval(Constraint):
    """A finite number of a given kind in an interval; ``None`` bounds are infinite.

    ``bool`` is never a number here, NaN and infinities never satisfy a ``numbers.Real``
    interval, and ``numbers.Integral`` accepts Python and numpy integers only (not ``2.0``).

    Args:
        kind: ``numbers.Integral`` or ``numbers.Real``.
        left: Lower bound, or ``None`` for none.
        right: Upper bound, or ``None`` for none.
        closed: Which bounds belong to the interval: ``"left"``, ``"right"``, ``"both"`` or
            ``"neither"``.

    Examples:
        >>> import numbers
        >>> c = Interval(numbers.Real, 0, 1, closed="left")
        >>> str(c)
        'a float in [0, 1)'
        >>> [c.is_satisfied_by(v) for v in (0, 0.5, 1.0, float("nan"), True, "0.5")]
        [True, True, False, False, False, False]
        >>> Interval(numbers.Integral, 1, None, closed="left").is_satisfied_by(2.0)
        False
    """

    def __init__(self, kind: type, left: float | None, right: float | None, *,
                 closed: Literal["left", "right", "both", "neither"]) -> None:
        if kind not in (numbers.Integral, numbers.Real):
            raise TypeError(f"Interval kind must be numbers.Integral or numbers.Real, got {kind!r}.")
        if closed not in ("left", "right", "both", "neither"):
            raise ValueError(f"closed must be 'left', 'right', 'both' or 'neither', got {closed!r}.")
        if left is not None and right is not None and left > right:
            raise ValueError(f"Interval left bound {left} is above its right bound {right}.")
        self.kind = kind
        self.left = left
        self.right = right
        self.closed = closed

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, self.kind):
            return False
        if self.kind is numbers.Real:
            try:
                if not math.isfinite(float(value)):
                    return False
            except (OverflowError, TypeError, ValueError):
                return False
        number: Any = value
        if self.left is not None:
            if number < self.left or (number == self.left and self.closed not in ("left", "both")):
                return False
        if self.right is not None:
            if number > self.right or (number == self.right and self.closed not in ("right", "both")):
                return False
        return True

    def __str__(self) -> str:
        noun = "an int" if self.kind is numbers.Integral else "a float"
        lo = "(-inf" if self.left is None else ("[" if self.closed in ("left", "both") else "(") + str(self.left)
        hi = "inf)" if self.right is None else str(self.right) + ("]" if self.closed in ("right", "both") else ")")
        return f"{noun} in {lo}, {hi}"


class Options(Constraint):
    """One of a fixed set of strings (compared exactly).

    Args:
        options: The accepted strings (order kept for messages; a set is sorted).

    Examples:
        >>> c = Options(("cg", "cholesky"))
        >>> c.is_satisfied_by("cg"), c.is_satisfied_by("CG"), str(c)
        (True, False, "one of 'cg', 'cholesky'")
    """

    def __init__(self, options: Iterable[str]) -> None:
        items = sorted(options) if isinstance(options, (set, frozenset)) else list(options)
        if not items or not all(isinstance(o, str) for o in items):
            raise TypeError(f"Options needs a non-empty collection of str, got {options!r}.")
        self.options: tuple[str, ...] = tuple(items)

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


class HasMethods(Constraint):
    """An object with the given methods (duck typing, like a text encoder's ``transform``).

    Args:
        *methods: Names of methods the object must have.

    Examples:
        >>> from liverec.text import HashingTextEncoder
        >>> HasMethods("transform").is_satisfied_by(HashingTextEncoder()), str(HasMethods("transform"))
        (True, 'an object with a transform() method')
    """

    def __init__(self, *methods: str) -> None:
        self.methods = methods

    def is_satisfied_by(self, value: Any) -> bool:
        return not isinstance(value, type) and all(callable(getattr(value, m, None)) for m in self.methods)

    def __str__(self) -> str:
        names = ", ".join(f"{m}()" for m in self.methods)
        return f"an object with a {names} method" + ("s" if len(self.methods) > 1 else "")


def _check_with(spec: Any, value: Any) -> bool:
    return _as_constraint(spec).is_satisfied_by(value)


class SequenceOf(Constraint):
    """A tuple or list whose items all satisfy one constraint.

    Args:
        item: Constraint (or type) every item satisfies.
        length: Exact length required, or ``None``.
        min_length: Minimum length.
        ordered: Items must be in non-decreasing order (e.g. an n-gram range ``(min, max)``).

    Examples:
        >>> import numbers
        >>> c = SequenceOf(Interval(numbers.Integral, 1, None, closed="left"), length=2, ordered=True)
        >>> c.is_satisfied_by((1, 3)), c.is_satisfied_by([2, 2]), c.is_satisfied_by((3, 1))
        (True, True, False)
        >>> c.explain((3, 1), "char_ngram_range")
        'char_ngram_range[0] = 3 is above char_ngram_range[1] = 1'
    """

    def __init__(self, item: Any, *, length: int | None = None, min_length: int = 0,
                 ordered: bool = False) -> None:
        self.item = _as_constraint(item)
        self.length = length
        self.min_length = min_length
        self.ordered = ordered

    def _problem(self, value: Any, name: str) -> str | None:
        if not isinstance(value, (tuple, list)):
            return f"{name} is a {type(value).__name__}, not a tuple or list"
        if self.length is not None and len(value) != self.length:
            return f"{name} has {len(value)} items, not {self.length}"
        if len(value) < self.min_length:
            return f"{name} has {len(value)} items, fewer than {self.min_length}"
        for j, v in enumerate(value):
            if not self.item.is_satisfied_by(v):
                return f"{name}[{j}] = {_short_repr(v)} is not {self.item}"
        if self.ordered:
            for j in range(len(value) - 1):
                if value[j] > value[j + 1]:
                    return f"{name}[{j}] = {value[j]!r} is above {name}[{j + 1}] = {value[j + 1]!r}"
        return None

    def is_satisfied_by(self, value: Any) -> bool:
        return self._problem(value, "value") is None

    def explain(self, value: Any, name: str) -> str | None:
        return self._problem(value, name) if isinstance(value, (tuple, list)) else None

    def __str__(self) -> str:
        if self.length is not None:
            size = f"of {self.length} items"
        elif self.min_length:
            size = f"of at least {self.min_length} item" + ("s" if self.min_length > 1 else "")
        else:
            size = "of items"
        order = ", in non-decreasing order" if self.ordered else ""
        return f"a tuple or list {size}, each {self.item}{order}"


class DictOf(Constraint):
    """A mapping whose keys and values satisfy given constraints.

    Args:
        key: Constraint (or type) of every key.
        value: Constraint (or type) of every value.
        min_length: Minimum number of entries.

    Examples:
        >>> import numbers
        >>> c = DictOf(str, Interval(numbers.Real, 0, None, closed="left"), min_length=1)
        >>> c.is_satisfied_by({"view": 1.0, "purchase": 5}), c.is_satisfied_by({})
        (True, False)
        >>> c.explain({"view": -1.0}, "event_weights")
        "event_weights['view'] = -1.0 is not a float in [0, inf)"
    """

    def __init__(self, key: Any, value: Any, *, min_length: int = 0) -> None:
        self.key = _as_constraint(key)
        self.value = _as_constraint(value)
        self.min_length = min_length

    def _problem(self, value: Any, name: str) -> str | None:
        if not isinstance(value, Mapping):
            return f"{name} is a {type(value).__name__}, not a dict"
        if len(value) < self.min_length:
            return f"{name} has {len(value)} entries, fewer than {self.min_length}"
        for k, v in value.items():
            if not self.key.is_satisfied_by(k):
                return f"key {_short_repr(k)} of {name} is not {self.key}"
            if not self.value.is_satisfied_by(v):
                return f"{name}[{k!r}] = {_short_repr(v)} is not {self.value}"
        return None

    def is_satisfied_by(self, value: Any) -> bool:
        return self._problem(value, "value") is None

    def explain(self, value: Any, name: str) -> str | None:
        return self._problem(value, name) if isinstance(value, Mapping) else None

    def __str__(self) -> str:
        size = "a non-empty dict" if self.min_length else "a dict"
        return f"{size} mapping {self.key} to {self.value}"


_COMMON_DEVICES = re.compile(r"(auto|cpu|cuda|mps)(:[0-9]+)?")


class Device(Constraint):
    """A device string: ``"auto"`` or a torch device of the allowed types (``"cuda:1"``).

    Args:
        types: Allowed device types, e.g. ``("cpu", "cuda")``; ``None`` allows every string
            ``torch.device`` parses (torch is imported only for uncommon strings).

    Examples:
        >>> c = Device(("cpu", "cuda"))
        >>> [c.is_satisfied_by(d) for d in ("auto", "cpu", "cuda:1", "cuda:x", "tpu", 0)]
        [True, True, True, False, False, False]
        >>> str(c)
        "'auto', 'cpu', 'cpu:N', 'cuda' or 'cuda:N'"
    """

    def __init__(self, types: Iterable[str] | None = None) -> None:
        self.types = None if types is None else tuple(types)

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if value == "auto":
            return True
        if self.types is not None:
            kind, colon, index = value.partition(":")
            return kind in self.types and (not colon or (index.isascii() and index.isdigit()))
        if _COMMON_DEVICES.fullmatch(value):
            return True
        try:
            import torch

            torch.device(value)
        except (ImportError, RuntimeError, TypeError, ValueError):
            return False
        return True

    def __str__(self) -> str:
        if self.types is None:
            return "'auto' or a torch device string such as 'cpu', 'cuda', 'cuda:1' or 'mps'"
        names = ["'auto'"] + [n for t in self.types for n in (f"'{t}'", f"'{t}:N'")]
        return ", ".join(names[:-1]) + " or " + names[-1]


class Timedelta(Constraint):
    """A positive duration given as ``datetime.timedelta`` or ``numpy.timedelta64``.

    Examples:
        >>> import datetime
        >>> Timedelta().is_satisfied_by(datetime.timedelta(minutes=5))
        True
        >>> Timedelta().is_satisfied_by(datetime.timedelta(0))
        False
    """

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, _dt.timedelta):
            return value > _dt.timedelta(0)
        if isinstance(value, np.timedelta64):
            return not np.isnat(value) and bool(value > np.timedelta64(0))
        return False

    def __str__(self) -> str:
        return "a positive datetime.timedelta or numpy.timedelta64"


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]


def validate_parameter(owner: str, name: str, value: Any, constraints: Iterable[Any]) -> None:
    """Check one value against a list of constraints (valid when any is satisfied).

    Args:
        owner: Class name shown in the message.
        name: Parameter name shown in the message.
        value: The value to check.
        constraints: The declared list (constraints, types or ``None``).

    Raises:
        InvalidParameterError: when no constraint is satisfied.

    Examples:
        >>> import numbers
        >>> validate_parameter("ALS", "alpha", 2.0, [Interval(numbers.Real, 0, None, closed="left")])
        >>> validate_parameter("ALS", "alpha", float("nan"), [Interval(numbers.Real, 0, None, closed="left")])
        Traceback (most recent call last):
        ...
        liverec.exceptions.InvalidParameterError: ALS: parameter 'alpha' must be a float in [0, inf), got nan.
    """
    checks = [_as_constraint(c) for c in constraints]
    if any(c.is_satisfied_by(value) for c in checks):
        return
    message = f"{owner}: parameter {name!r} must be {_join([str(c) for c in checks])}, got {_short_repr(value)}"
    details = [d for c in checks if (d := c.explain(value, name)) is not None]
    if details:
        message += f" ({details[0]})"
    raise InvalidParameterError(message + ".")


#: Constructor parameter names per class (and the ``__init__`` they were read from).
_PARAM_NAMES: weakref.WeakKeyDictionary[type, tuple[Any, tuple[str, ...]]] = weakref.WeakKeyDictionary()


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` from the constructor signature, and
    validation of the parameters against the class's declared ``_parameter_constraints``.

    Examples:
        >>> import numbers
        >>> class Smoother(ParamsMixin):
        ...     _parameter_constraints = {
        ...         "alpha": [Interval(numbers.Real, 0, 1, closed="both")],
        ...         "mode": [Options(("mean", "max"))],
        ...     }
        ...     def __init__(self, alpha=0.5, mode="mean"):
        ...         self.alpha = alpha
        ...         self.mode = mode
        >>> Smoother()._validate_params()
        >>> Smoother(mode="min")._validate_params()
        Traceback (most recent call last):
        ...
        liverec.exceptions.InvalidParameterError: Smoother: parameter 'mode' must be one of 'mean', 'max', got 'min'.
    """

    #: What each constructor parameter accepts: name -> list of constraints, any of which
    #: suffices (see the module docs). Parameters not listed are not checked (so outside
    #: subclasses keep working); every liverec class lists all of its parameters.
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's estimator tags; only scikit-learn calls this, so it is installed.

        Lets the scikit-learn utilities that read tags work on liverec estimators without
        liverec depending on scikit-learn: ``check_is_fitted`` and the notebook HTML
        repr (``sklearn.utils.estimator_html_repr``).
        """
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False))

    def _validate_params(self) -> None:
        """Check every hyper-parameter against ``_parameter_constraints``.

        Nested liverec estimators (a parameter whose value is itself a ``ParamsMixin``) are
        checked too, their parameters named ``outer__inner``; then the cross-parameter hook
        `_validate_param_relations` runs. Reads only the parameters: works on an
        unfitted or freshly loaded object.

        Raises:
            InvalidParameterError: naming the class, the parameter, the constraint and the value.
        """
        self._validate_params_as(type(self).__name__, "")

    def _validate_params_as(self, owner: str, prefix: str) -> None:
        constraints = type(self)._parameter_constraints
        for name in self._param_names():
            if name not in constraints:
                continue
            value = getattr(self, name)
            validate_parameter(owner, prefix + name, value, constraints[name])
            if isinstance(value, ParamsMixin):
                value._validate_params_as(owner, f"{prefix}{name}__")
        if not prefix:
            self._validate_param_relations()
            return
        try:
            self._validate_param_relations()
        except InvalidParameterError as err:
            raise InvalidParameterError(f"{owner}: parameter {prefix[:-2]!r} is invalid: {err}") from None

    def _validate_param_relations(self) -> None:
        """Cross-parameter rules (each parameter already satisfies its own constraints).

        Override to raise [`InvalidParameterError`][liverec.exceptions.InvalidParameterError] when parameters
        contradict each other (e.g. ``n_heads`` must divide ``embedding_dim``). Default: none.
        """

    @classmethod
    def _param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        cached = _PARAM_NAMES.get(cls)
        if cached is not None and cached[0] is init:
            return list(cached[1])
        names = []
        for name, p in inspect.signature(init).parameters.items():
            if name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(
                    f"{cls.__name__}.__init__ must list its hyper-parameters explicitly, "
                    f"not with *args/**kwargs (found {name!r})."
                )
            names.append(name)
        _PARAM_NAMES[cls] = (init, tuple(sorted(names)))
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor's hyper-parameters as a dict.

        Args:
            deep: Also return the parameters of nested estimators as ``name__param``.

        Returns:
            Mapping of parameter name to value.
        """
        out: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update({f"{name}__{k}": v for k, v in value.get_params().items()})
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Self:
        """Set hyper-parameters; ``name__param`` reaches into nested estimators.

        Raises:
            ValueError: for a name the constructor does not take.
        """
        valid = set(self._param_names())
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {name!r}; "
                    f"valid parameters are: {sorted(valid)}."
                )
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {
            n: p.default
            for n, p in inspect.signature(type(self).__init__).parameters.items()
            if n != "self"
        }
        shown = []
        for name in self._param_names():
            value = getattr(self, name, None)
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = bool(value == default) if not hasattr(value, "shape") else False
            except Exception:
                same = False
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"
