"""Hyper-parameter handling shared by every liverec estimator (scikit-learn's rules).

``__init__`` only stores its keyword arguments; ``get_params``/``set_params`` read and write
them by introspecting the constructor signature, so ``sklearn.base.clone`` and grid search
work without liverec depending on scikit-learn.
"""

from __future__ import annotations

import inspect
from typing import Any

from typing_extensions import Self


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` from the constructor signature."""

    @classmethod
    def _param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
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
