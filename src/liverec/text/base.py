"""What every liverec text encoder shares: input checking, the scikit-learn transformer shape,
and saving/loading through [`liverec.persistence`][liverec.persistence].

An encoder maps a sequence of strings to a float32 matrix ``(n_texts, dim)`` whose rows are
L2-normalised (or zero). The rules for awkward input are the same for all encoders:

* an empty (or whitespace-only) string encodes to the **zero vector** — it carries no
  evidence, and a zero row adds nothing to a sum or a weighted mean of embeddings;
* ``None`` or NaN is an **error** ([`DataValidationError`][liverec.exceptions.DataValidationError]) naming the
  row — write ``""`` for "no text", or drop the row;
* a bare string (instead of a list of strings) is an error too, because iterating it would
  encode each character separately.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from typing_extensions import Self

from .. import persistence
from .._params import ParamsMixin
from ..data._columns import check_texts

__all__ = ["BaseTextEncoder", "check_texts"]


class BaseTextEncoder(ParamsMixin):
    """Base class of liverec text encoders (scikit-learn transformer shape).

    Subclasses implement `_transform` (validated ``list[str]`` -> float32 matrix) and
    provide ``dim`` (the number of output columns, a parameter or a property); encoders that learn something implement `_fit` and set fitted
    attributes ending in ``_``. `_get_state` / `_set_state` carry fitted state
    through [`save`][liverec.text.BaseTextEncoder.save] and [`liverec.load`][liverec.load].
    """

    #: Whether ``transform`` works before ``fit`` (a pre-trained or stateless encoder).
    _stateless: bool = True

    # scikit-learn API ------------------------------------------------------------------------
    def fit(self, texts: Any = None, y: Any = None) -> Self:
        """Learn what the encoder needs from ``texts`` (nothing for stateless encoders).

        Args:
            texts: A sequence of strings; may be ``None`` for encoders that learn nothing.
            y: Ignored (scikit-learn pipeline compatibility).

        Returns:
            ``self``.

        Raises:
            InvalidParameterError: for a hyper-parameter outside what the class declares.
        """
        self._validate_params()
        checked = None if texts is None else check_texts(texts)
        self._fit(checked)
        self.is_fitted_ = True
        return self

    def transform(self, texts: Any) -> np.ndarray:
        """Encode texts.

        Args:
            texts: A sequence of strings. ``""`` gives a zero row; ``None`` is an error.

        Returns:
            float32 array ``(len(texts), dim)``, rows L2-normalised (or zero).

        Raises:
            InvalidParameterError: for a hyper-parameter outside what the class declares.
        """
        self._validate_params()
        self._check_ready()
        checked = check_texts(texts)
        if not checked:
            dim: int = self.dim  # type: ignore[attr-defined]  # a parameter or property of the subclass
            return np.zeros((0, dim), dtype=np.float32)
        out = self._transform(checked)
        return np.ascontiguousarray(out, dtype=np.float32)

    def fit_transform(self, texts: Any, y: Any = None) -> np.ndarray:
        """``fit(texts)`` then ``transform(texts)``."""
        return self.fit(texts).transform(texts)

    def __call__(self, texts: Any) -> np.ndarray:
        """Same as [`transform`][liverec.text.BaseTextEncoder.transform], so an encoder can be passed where a function is expected."""
        return self.transform(texts)

    # Hooks --------------------------------------------------------------------------------------
    def _fit(self, texts: list[str] | None) -> None:
        """Learn state from validated texts (default: nothing)."""

    def _transform(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _check_ready(self) -> None:
        if not self._stateless and not getattr(self, "is_fitted_", False):
            from ..exceptions import NotFittedError

            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(texts) first "
                "(it learns state that transform needs)."
            )

    # Persistence --------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Fitted state: JSON-safe attributes and arrays (default: none)."""
        return {}, {}

    def _load_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore what `_get_state` wrote (default: nothing)."""

    def _saved_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What [`save`][liverec.text.BaseTextEncoder.save] writes besides the parameters (read back by `_set_state`)."""
        fitted = bool(getattr(self, "is_fitted_", False))
        attrs, arrays = self._get_state() if fitted else ({}, {})
        return {**attrs, "fitted": fitted}, dict(arrays)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save to a directory (``config.json`` + ``arrays.safetensors``); load with [`liverec.load`][liverec.load].

        Args:
            path: Directory to write (created if needed; existing files are overwritten).
        """
        attrs, arrays = self._saved_state()
        persistence.save_state(path, type(self).__name__, self.get_params(deep=False), attrs, arrays)

    def _set_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Called by [`liverec.load`][liverec.load] on a freshly constructed encoder."""
        if persistence.expect_attribute(attributes, "fitted", bool, default=False):
            self._load_state(attributes, arrays)
            self.is_fitted_ = True
