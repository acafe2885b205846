"""Exceptions raised by liverec.

Every error subclasses the built-in a caller would naturally catch (``ValueError``,
``TypeError``, ``KeyError``, ``RuntimeError``) and its message says what was expected,
what came, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "LiverecError",
    "DataValidationError",
    "DataTypeError",
    "UnknownIdError",
    "UnknownUserError",
    "UnknownItemError",
    "NotFittedError",
    "PersistenceError",
    "InvalidParameterError",
    "DataFileNotFoundError",
]


class LiverecError(Exception):
    """Base class of every error raised by liverec."""


class DataValidationError(LiverecError, ValueError):
    """Input data has a bad value: empty, NaN/None ids or times, ``end <= start``, ...

    Examples:
        >>> from liverec.data import Interactions
        >>> Interactions.from_arrays(user=[1, None], item=[1, 2])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        liverec.exceptions.DataValidationError: column 'user': missing value (None/NaN) at row 1 ...
    """


class DataTypeError(LiverecError, TypeError):
    """Input data has the wrong type (for example a non-numeric weight column)."""


class DataFileNotFoundError(LiverecError, FileNotFoundError):
    """A data file or folder passed to a reader or loader does not exist.

    Subclasses ``FileNotFoundError``, so ``except FileNotFoundError`` keeps working.
    """


class UnknownIdError(LiverecError, KeyError):
    """An external id is not in an [`IdMap`][liverec.data.IdMap]."""

    def __str__(self) -> str:  # KeyError would repr() the message; show it as written.
        return str(self.args[0]) if self.args else ""


class UnknownUserError(UnknownIdError):
    """A user was not seen in ``fit`` and no ``history`` was given to fold them in."""


class UnknownItemError(UnknownIdError):
    """An item was not seen in ``fit``."""


class NotFittedError(LiverecError, RuntimeError, AttributeError):
    """A method that needs a fitted model was called before ``fit``.

    Subclasses ``AttributeError`` too, like scikit-learn's, so ``hasattr`` checks work.
    """


class PersistenceError(LiverecError, ValueError):
    """A saved model directory is missing, truncated, tampered with or of an unknown format."""


class InvalidParameterError(LiverecError, ValueError, TypeError):
    """A hyper-parameter is of the wrong type, out of range, or inconsistent with another.

    Raised by ``fit`` (and by [`liverec.load`][liverec.load] for a saved configuration) when a
    constructor parameter does not satisfy the constraints its class declares. The message
    names the class, the parameter, what was expected and the value received. It subclasses
    both ``ValueError`` and ``TypeError``, as a bad value may be either.

    Examples:
        >>> from liverec.models import ALS
        >>> from liverec.data import Interactions
        >>> ALS(n_factors=0).fit(Interactions.from_arrays([1], ["a"]))
        Traceback (most recent call last):
        ...
        liverec.exceptions.InvalidParameterError: ALS: parameter 'n_factors' must be an int in [1, inf), got 0.
    """
