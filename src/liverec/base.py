"""The estimator API every model follows: ``BaseRecommender`` and ``Recommendations``."""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
from typing_extensions import Self

from . import persistence
from ._distributed import writes_here
from ._params import Interval, ParamsMixin, validate_parameter
from ._ranking import History, check_k, cosine_top_k, id_array, parse_request, recommend_top_k
from ._utils import html_table
from ._utils import plain as _plain
from .data import IdMap, Interactions, LiveSchedule
from .exceptions import (
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
    PersistenceError,
    UnknownItemError,
    UnknownUserError,
)
from .explain import Explanation

__all__ = ["BaseRecommender", "History", "Recommendations"]


class Recommendations:
    """Top-k items for a batch of users (or of query items, for ``similar_items``).

    Attributes:
        users: The external ids the rows are for, shape ``(n,)``.
        items: External item ids, shape ``(n, k)``, best first.
        scores: Model scores, shape ``(n, k)``, float32, decreasing along each row.
        mask: ``True`` where a slot holds a real recommendation.

    When fewer than ``k`` items are available for a row (few candidates, everything
    excluded), the row is padded at the end: padded slots have score ``-inf``, ``mask``
    ``False`` and item ``None`` (``items`` is then an object array). ``to_records`` and
    ``to_frame`` leave padded slots out.

    Examples:
        >>> r = Recommendations(np.array(["u1"]), np.array([[3, 1]]), np.array([[0.75, 0.5]]))
        >>> r.to_records()
        [{'user': 'u1', 'rank': 1, 'item': 3, 'score': 0.75}, {'user': 'u1', 'rank': 2, 'item': 1, 'score': 0.5}]
    """

    def __init__(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray, mask: np.ndarray | None = None) -> None:
        self.users = np.asarray(users)
        self.items = np.asarray(items)
        self.scores = np.asarray(scores, dtype=np.float32)
        self.mask = np.isfinite(self.scores) if mask is None else np.asarray(mask, dtype=bool)

    @classmethod
    def from_codes(cls, users: np.ndarray, codes: np.ndarray, scores: np.ndarray, item_map: IdMap) -> Recommendations:
        """Build from item codes (``-1`` marks padding)."""
        mask = codes >= 0
        items = item_map.take(np.where(mask, codes, 0))
        if not mask.all():
            items = items.astype(object)
            items[~mask] = None
            scores = np.where(mask, scores, -np.inf)
        return cls(users, items, scores, mask)

    def __len__(self) -> int:
        return len(self.users)

    @property
    def k(self) -> int:
        return int(self.items.shape[1]) if self.items.ndim == 2 else 0

    def __repr__(self) -> str:
        return f"Recommendations(n_users={len(self)}, k={self.k})"

    #: Rows and ranks shown by the notebook table (``_repr_html_``); the rest is summarised.
    _html_max_rows: int = 20
    _html_max_k: int = 10

    def _repr_html_(self) -> str:
        """A table for notebooks: one row per user, ``item (score)`` per rank, truncated."""
        n, k = len(self), self.k
        rows_shown, k_shown = min(n, self._html_max_rows), min(k, self._html_max_k)
        header = ["user", *(f"#{c + 1}" for c in range(k_shown))]
        rows = []
        for r in range(rows_shown):
            cells: list[Any] = [_plain(self.users[r])]
            for c in range(k_shown):
                cells.append(f"{_plain(self.items[r, c])} ({float(self.scores[r, c]):.4g})"
                             if self.mask[r, c] else "")
            rows.append(cells)
        notes = []
        if n > rows_shown:
            notes.append(f"... {n - rows_shown} more users")
        if k > k_shown:
            notes.append(f"... ranks {k_shown + 1} to {k} not shown")
        return html_table(f"Recommendations: {n} users, k={k}", header, rows, notes)

    def __getitem__(self, row: int) -> list[Any]:
        """The recommended item ids of row ``row`` (padding left out).

        Raises:
            InvalidParameterError: ``row`` is not an integer in ``[-len(self), len(self))``.
        """
        n = len(self)
        if n == 0:
            raise InvalidParameterError(f"Recommendations: there are no rows, so row {row!r} does not exist.")
        validate_parameter("Recommendations", "row", row, [Interval(numbers.Integral, -n, n - 1, closed="both")])
        return [_plain(x) for x in self.items[row][self.mask[row]]]

    def __iter__(self) -> Iterator[list[Any]]:
        """The rows' item lists in order (``recs[0]``, ``recs[1]``, ...)."""
        return (self[row] for row in range(len(self)))

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per recommendation: ``user``, ``rank`` (1-based), ``item``, ``score``."""
        out = []
        for r in range(len(self)):
            user = _plain(self.users[r])
            for c in np.flatnonzero(self.mask[r]):
                item = self.items[r, c]
                out.append({"user": user, "rank": int(c) + 1,
                            "item": _plain(item),
                            "score": float(self.scores[r, c])})
        return out

    def to_frame(self) -> Any:
        """A pandas DataFrame with columns user, rank, item, score (requires pandas)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.to_records(), columns=["user", "rank", "item", "score"])


class BaseRecommender(ParamsMixin):
    """Base class of every liverec model (scikit-learn's estimator rules).

    Subclasses implement ``_fit`` and ``_score_known`` (dense scores of known users over all
    items), and optionally ``_score_history`` (fold-in), ``_predict_pairs``,
    ``_item_vectors`` (for ``similar_items``), ``_get_state``/``_set_state``. Everything that
    ranks (``recommend``, ``evaluate``, the serving layer) reads scores through one hook,
    `score_items`, which combines the two scoring methods; filtering and top-k are the
    ranking engine's (``liverec._ranking``), the same for every model.

    Fitted attributes common to all models:
        users_ (IdMap), items_ (IdMap), seen_ (CSR user x item, what each user did in fit),
        schedule_ (the ``LiveSchedule`` given to ``fit`` or ``None``).
    """

    #: Whether the model can score users it has not seen from their ``history``.
    _supports_history: bool = True
    #: Whether ``_score_known``/``_score_history`` always return a new float32 CPU tensor
    #: that ``recommend`` may overwrite (saves a copy of every score block).
    _fresh_scores: bool = False
    #: Whether the model scores a user seen in fit from their fitted event sequence (sequence
    #: models): a service then gives it that sequence followed by the viewer's fresh events
    #: (`known_sequences`). Other models score known users from their fitted state alone.
    reads_sequences: bool = False

    # Fitting -----------------------------------------------------------------------------------
    def fit(
        self,
        interactions: Interactions,
        *,
        schedule: LiveSchedule | None = None,
        item_features: Any = None,
        text: Any = None,
    ) -> Self:
        """Fit the model from scratch.

        Args:
            interactions: The training events.
            schedule: When items were live; used by availability-aware models and as the
                default schedule of ``recommend(at=...)``.
            item_features: Item side features (see `_align_item_features`).
            text: ``TextEvents`` for text-aware models.

        Returns:
            ``self``.

        Raises:
            InvalidParameterError: for a hyper-parameter outside what the class declares.
        """
        self._validate_params()
        if not isinstance(interactions, Interactions):
            raise TypeError(
                f"fit expects liverec.data.Interactions, got {type(interactions).__name__}; "
                "build one with Interactions.from_arrays(user, item, time) or from_frame(df)."
            )
        if len(interactions) == 0 and not self._accepts_empty_shard():
            raise DataValidationError("fit got no interactions; pass at least one event.")
        if schedule is not None and not isinstance(schedule, LiveSchedule):
            raise TypeError(f"schedule must be a LiveSchedule, got {type(schedule).__name__}.")
        self._reset_fitted()
        self.users_ = interactions.users
        self.items_ = interactions.items
        self.schedule_ = schedule
        self.time_kind_ = interactions.time_kind  # what recommend(at=...) must match
        self._fit(interactions, schedule=schedule, item_features=item_features, text=text)
        # models may extend items_ (e.g. cold-start items known only from their features), and
        # may set seen_ in _fit from a user x item matrix they built anyway (no second build)
        if getattr(self, "seen_", None) is None:
            self.seen_ = _binary_csr(interactions.user_codes, interactions.item_codes,
                                     (len(self.users_), len(self.items_)))
        self.is_fitted_ = True
        return self

    def _accepts_empty_shard(self) -> bool:
        """Whether this ``fit`` may get no events here because other processes hold the data
        (a data-parallel fit on user shards; the model then checks the union itself)."""
        return False

    def _reset_fitted(self) -> None:
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("__")]:
            delattr(self, name)

    def _fit(self, interactions: Interactions, *, schedule: LiveSchedule | None,
             item_features: Any, text: Any) -> None:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        check_is_fitted(self)

    # Scoring hooks -------------------------------------------------------------------------------
    def _score_known(self, user_codes: np.ndarray, at: np.ndarray | None) -> Any:
        """Scores ``(len(user_codes), n_items)`` for users seen in fit (numpy or torch)."""
        raise NotImplementedError

    def _score_history(self, histories: list[History], at: np.ndarray | None) -> Any:
        """Scores ``(len(histories), n_items)`` for users given by their recent events."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot score users from history (fold-in is not supported)."
        )

    def score_items(self, user_codes: np.ndarray, histories: list[History | None] | None = None,
                    at: np.ndarray | None = None) -> Any:
        """Scores of every item for a batch of users: the hook everything that ranks goes through.

        ``recommend``, ``evaluate`` and the serving layer call only this method to score (then
        filter and rank the scores themselves); models implement ``_score_known`` (users seen
        in fit) and, for fold-in, ``_score_history``, and this method combines them.

        Args:
            user_codes: Model user codes (``self.users_``), one per row; ``-1`` for a row
                scored from its history only.
            histories: Per row, a `History` in model item codes to score the row from
                (fold-in), or ``None`` to score the user from the fitted state. ``None``: all
                rows from the fitted state.
            at: Request time per row (float seconds as in ``Interactions.time``), or ``None``.

        Returns:
            A float32 torch tensor ``(len(user_codes), len(self.items_))`` the caller owns
            and may write to, on the device the model computes on; higher is better.

        Raises:
            NotImplementedError: for a history row when the model has no fold-in.
            DataValidationError: when the model returns scores of another shape.
        """
        import torch

        codes = np.asarray(user_codes, dtype=np.int64)
        histories = [None] * len(codes) if histories is None else histories
        known = np.array([h is None for h in histories], dtype=bool)
        if known.all():
            out = _as_float_tensor(self._score_known(codes, at), fresh=self._fresh_scores)
        elif not self._supports_history:
            raise NotImplementedError(f"{type(self).__name__} does not support history (fold-in).")
        else:
            hist_idx = np.flatnonzero(~known)
            folded = [h for h in (histories[j] for j in hist_idx) if h is not None]
            out = _as_float_tensor(self._score_history(folded, None if at is None else at[hist_idx]),
                                   fresh=self._fresh_scores)
            if known.any():
                known_idx = np.flatnonzero(known)
                known_scores = self._score_known(codes[known_idx], None if at is None else at[known_idx])
                merged = torch.empty((len(codes), out.shape[1]), dtype=torch.float32)
                merged[torch.as_tensor(known_idx)] = _as_float_tensor(known_scores).cpu()
                merged[torch.as_tensor(hist_idx)] = out.cpu()
                out = merged
        if tuple(out.shape) != (len(codes), len(self.items_)):
            raise DataValidationError(
                f"{type(self).__name__} returned scores of shape {tuple(out.shape)}, "
                f"expected {(len(codes), len(self.items_))}.")
        return out

    def known_sequences(self, user_codes: np.ndarray, at: np.ndarray | None = None
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The fitted events a sequence model reads for users seen in fit (``reads_sequences``).

        Args:
            user_codes: Model user codes (``self.users_``).
            at: Per user, only events strictly before this time (float seconds as in
                ``Interactions.time``); ``None``: all fitted events.

        Returns:
            Per user, ``(item codes, times)`` in time order.

        Raises:
            NotImplementedError: for a model that does not read sequences.
        """
        raise NotImplementedError(f"{type(self).__name__} does not score users from event sequences.")

    def _predict_pairs(self, user_codes: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
        out = np.empty(len(user_codes), dtype=np.float32)
        uniq, inv = np.unique(user_codes, return_inverse=True)
        for start in range(0, len(uniq), 1024):
            block = uniq[start:start + 1024]
            scores = _to_numpy(self._score_known(block, None))
            sel = (inv >= start) & (inv < start + len(block))
            out[sel] = scores[inv[sel] - start, item_codes[sel]]
        return out

    # Public API ---------------------------------------------------------------------------------
    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Scores of ``(users[j], items[j])`` pairs.

        Args:
            users: External user ids (a scalar is broadcast).
            items: External item ids, same length as ``users``.

        Returns:
            float32 array of scores (predicted ratings for explicit models).
        """
        self._check_fitted()
        users = id_array(users, "users")
        items = id_array(items, "items")
        if len(users) == 1 and len(items) > 1:
            users = np.repeat(users, len(items))
        if len(users) != len(items):
            raise DataValidationError(
                f"predict needs one item per user: got {len(users)} users and {len(items)} items."
            )
        u = self._user_codes_or_raise(users)
        i = self.items_.codes(items, missing="ignore")
        if (i < 0).any():
            bad = items[int(np.flatnonzero(i < 0)[0])]
            raise UnknownItemError(f"unknown item {bad!r}: it was not in the data the model was fitted on.")
        return self._predict_pairs(u, i).astype(np.float32)

    def _user_codes_or_raise(self, users: np.ndarray) -> np.ndarray:
        codes = self.users_.codes(users, missing="ignore")
        if (codes < 0).any():
            bad = users[int(np.flatnonzero(codes < 0)[0])]
            raise UnknownUserError(
                f"unknown user {bad!r}: not seen in fit; pass their recent events as "
                "history=... to score them without refitting."
            )
        return codes

    def recommend(
        self,
        users: Any,
        k: int = 10,
        *,
        at: Any = None,
        schedule: LiveSchedule | None = None,
        candidates: Any = None,
        exclude: Any = None,
        exclude_seen: bool = False,
        history: Any = None,
        batch_size: int | None = None,
    ) -> Recommendations:
        """Top-``k`` items for each user.

        Filters compose: an item is ranked only if it is a candidate, live at ``at`` (when a
        schedule is known), not excluded, and (with ``exclude_seen``) not seen before.

        Args:
            users: One external user id or a sequence of them.
            k: Number of items per user.
            at: Time of the request (scalar or one per user). With a schedule (given here
                or to ``fit``), only items live at ``at`` are ranked.
            schedule: Availability to use instead of the one given to ``fit``.
            candidates: Items allowed for everyone (a sequence of ids), or one sequence per
                user (a list of sequences, or a dict user -> sequence).
            exclude: Items never to recommend: same forms as ``candidates``.
            exclude_seen: Leave out items the user interacted with in fit (and in
                ``history``). Off by default: in live streaming viewers return to streamers.
            history: Events of users to fold in without refitting: an ``Interactions``, a
                dict ``user -> item ids``, or (for one user) a sequence of item ids. A user
                given a history is scored from it.
            batch_size: Users scored per batch (``None``: as many as fit a score block of
                about a million floats, at most 4096).

        Returns:
            [`Recommendations`][liverec.base.Recommendations].

        Raises:
            UnknownUserError: for a user not seen in fit and without history.
            NotFittedError: before ``fit``.
        """
        self._check_fitted()
        request = parse_request(self, users, k, at=at, schedule=schedule, candidates=candidates,
                                exclude=exclude, exclude_seen=exclude_seen, history=history)
        if len(request.users) == 0:
            return Recommendations(request.users, np.zeros((0, k), dtype=self.items_.ids.dtype), np.zeros((0, k)))
        codes, scores = recommend_top_k(self, request, batch_size)
        return Recommendations.from_codes(request.users, codes, scores, self.items_)

    def similar_items(self, items: Any, k: int = 10) -> Recommendations:
        """The ``k`` items most similar (cosine of item vectors) to each query item.

        The query item itself is left out. Rows of the result are the query items.
        """
        self._check_fitted()
        check_k(type(self).__name__, k)
        vectors = self._item_vectors()
        q = id_array(items, "items")
        check_k(type(self).__name__, k, len(q))
        codes = self.items_.codes(q, missing="ignore")
        if (codes < 0).any():
            raise UnknownItemError(f"unknown item {q[int(np.flatnonzero(codes < 0)[0])]!r}.")
        codes_out, scores_out = cosine_top_k(vectors, codes, k)
        return Recommendations.from_codes(q, codes_out, scores_out, self.items_)

    def _item_vectors(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no item vectors for similar_items.")

    # Privacy and explanations ---------------------------------------------------------------
    def forget(self, users: Any) -> Self:
        """Remove viewers from the model: their ids, seen items and per-user state.

        What goes for every model: the users' ids (``users_``), their rows of ``seen_``,
        and their own state (user vectors, sequences, profiles). A saved model holds no
        trace of their ids afterwards. What happens to state shared by all users is the
        model's (``_forget_users``); each model's docs say whether forgetting is exact
        (the same as a refit without the users) or what of the users' influence remains in
        shared parameters. Forgotten users are unknown afterwards: ``recommend`` raises
        [`UnknownUserError`][liverec.exceptions.UnknownUserError] for them unless they are
        scored from a ``history``.

        Args:
            users: One external user id or a sequence of them, all known to the model.

        Returns:
            ``self``.

        Raises:
            UnknownUserError: for a user the model does not know (nothing is changed).
            NotImplementedError: for a model without a way to forget users.

        Examples:
            >>> from liverec.data import Interactions
            >>> from liverec.models import Popularity
            >>> X = Interactions.from_arrays(user=[1, 2, 2, 3], item=["a", "b", "a", "b"])
            >>> model = Popularity().fit(X).forget([2])
            >>> model.users_.ids.tolist(), model.predict([1, 1], ["a", "b"]).tolist()
            ([1, 3], [1.0, 1.0])
        """
        self._check_fitted()
        ids = id_array(users, "users")
        codes = self.users_.codes(ids, missing="ignore")
        if (codes < 0).any():
            bad = ids[int(np.flatnonzero(codes < 0)[0])]
            raise UnknownUserError(
                f"cannot forget user {_plain(bad)!r}: the model does not know them (never seen, or already "
                "forgotten); pass only ids in model.users_. Nothing was changed.")
        drop = np.zeros(len(self.users_), dtype=bool)
        drop[codes] = True
        keep = np.flatnonzero(~drop)
        self._forget_users(drop, keep)
        self.users_ = IdMap(self.users_.ids[keep], "user") if len(keep) else \
            IdMap(self.users_.ids[:0], "user")
        self.seen_ = self.seen_[keep]
        return self

    def _forget_users(self, drop: np.ndarray, keep: np.ndarray) -> None:
        """Remove the model's state of the users with ``drop[code]`` (``keep``: the others' codes,
        in order; they become codes ``0..len(keep)-1``). Called before ``users_`` changes."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forget.")

    def explain(self, user: Any, items: Any) -> list[Explanation]:
        """Why each of ``items`` scores what it does for ``user``: structured reasons.

        What a reason is depends on the model: ALS gives the exact contribution of every
        history item, the sequential model the leave-one-out effect of every history event,
        ``ProfileRanker`` the profile features, ``Popularity`` the count; see each model.

        Args:
            user: One external user id known to the model.
            items: One external item id or a sequence of them.

        Returns:
            One [`Explanation`][liverec.explain.Explanation] per item, in the order given.

        Raises:
            UnknownUserError: for a user the model does not know.
            UnknownItemError: for an item the model does not know.
            NotImplementedError: for a model that cannot explain its scores.
        """
        self._check_fitted()
        ids = id_array(user, "user")
        if len(ids) != 1:
            raise DataValidationError(f"explain takes one user, got {len(ids)}; call it once per user.")
        u = int(self._user_codes_or_raise(ids)[0])
        q = id_array(items, "items")
        codes = self.items_.codes(q, missing="ignore")
        if (codes < 0).any():
            raise UnknownItemError(f"unknown item {_plain(q[int(np.flatnonzero(codes < 0)[0])])!r}: "
                                   "it was not in the data the model was fitted on.")
        return self._explain(u, codes)

    def _explain(self, user_code: int, item_codes: np.ndarray) -> list[Explanation]:
        raise NotImplementedError(f"{type(self).__name__} does not implement explain.")

    # Persistence ---------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Save to a directory (``config.json`` + ``arrays.safetensors``); see [`liverec.load`][liverec.load].

        After a distributed fit only rank 0 writes (the replicas are identical); on the other
        ranks ``save`` logs that and returns.
        """
        self._check_fitted()
        if not writes_here(self):
            return
        attrs, arrays = self._get_state()
        arrays = dict(arrays)
        arrays["base/users"] = self.users_.to_array()
        arrays["base/items"] = self.items_.to_array()
        arrays["base/seen_indptr"] = self.seen_.indptr.astype(np.int64)
        arrays["base/seen_indices"] = self.seen_.indices.astype(np.int64)
        if self.schedule_ is not None:
            s = self.schedule_
            s_items, s_codes, s_start, s_end = s.columns()  # one snapshot, even during live updates
            arrays["base/schedule_items"] = s_items.to_array()
            arrays["base/schedule_codes"] = s_codes
            arrays["base/schedule_start"] = s_start
            arrays["base/schedule_end"] = s_end  # +inf: an open broadcast
            attrs = {**attrs, "base/schedule_time_kind": s.time_kind}
        if getattr(self, "time_kind_", None) is not None:
            attrs = {**attrs, "base/time_kind": self.time_kind_}
        persistence.save_state(path, type(self).__name__, self.get_params(deep=False), attrs, arrays)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Model-specific fitted state: JSON-safe attributes and numeric/string arrays."""
        return {}, {}

    def _set_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        # A saved directory is untrusted: the shared arrays (id maps, seen matrix, schedule)
        # are checked here, once; each model checks its own in _load_state.
        self.users_ = persistence.expect_ids(arrays, "base/users", "user")
        self.items_ = persistence.expect_ids(arrays, "base/items", "item")
        n_users, n_items = len(self.users_), len(self.items_)
        indptr, indices = persistence.expect_csr(arrays, "base/seen_indptr", "base/seen_indices", (n_users, n_items))
        self.seen_ = sp.csr_matrix((np.ones(len(indices), dtype=bool), indices, indptr), shape=(n_users, n_items))
        self.schedule_ = None
        if "base/schedule_codes" in arrays:
            items = persistence.expect_ids(arrays, "base/schedule_items", "item")
            codes = persistence.expect_indices(arrays, "base/schedule_codes", len(items))
            start = persistence.expect_array(arrays, "base/schedule_start", "f", (len(codes),), finite=True,
                                             dtype=np.float64)
            end = persistence.expect_array(arrays, "base/schedule_end", "f", (len(codes),), dtype=np.float64)
            if not (end > start).all():  # also refuses NaN; +inf is an open broadcast
                row = int(np.flatnonzero(~(end > start))[0])
                raise PersistenceError(
                    f"{persistence.ARRAYS_FILE}: tensor 'base/schedule_end': row {row} ends at {end[row]}, "
                    f"not after its start {start[row]}")
            kind = persistence.expect_attribute(attributes, "base/schedule_time_kind", str, default="numeric",
                                                choices=("numeric", "datetime", "order"))
            self.schedule_ = LiveSchedule(codes, start, end, items, time_kind=kind)
        # saved before time kinds were recorded: unknown (None), and recommend skips the check
        self.time_kind_ = persistence.expect_attribute(attributes, "base/time_kind", str, default=None,
                                                       choices=("numeric", "datetime", "order"))
        self._load_state(attributes, arrays)
        self.is_fitted_ = True

    def _load_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore model-specific state written by ``_get_state``."""


def check_is_fitted(model: Any) -> None:
    """Raise `NotFittedError` unless ``model`` has been fitted."""
    if not getattr(model, "is_fitted_", False):
        raise NotFittedError(
            f"this {type(model).__name__} is not fitted yet; call fit(interactions) first."
        )


def _as_float_tensor(x: Any, fresh: bool = False) -> Any:
    """A float32 CPU tensor we may write to (a copy, never a view of model state).

    ``fresh=True`` says ``x`` is already a new tensor nobody else holds: it is used as it is
    when it is a contiguous float32 CPU tensor.
    """
    import torch

    if isinstance(x, torch.Tensor):
        if fresh and x.dtype == torch.float32 and x.device.type == "cpu" and x.is_contiguous():
            return x.detach()
        return x.detach().float().cpu().clone()
    return torch.tensor(np.asarray(x, dtype=np.float32))


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy()
    return np.asarray(x)


def _binary_csr(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=shape)
    m.sum_duplicates()
    m.sort_indices()
    return m
