"""The estimator API every model follows: ``BaseRecommender`` and ``Recommendations``."""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from typing_extensions import Self

from . import persistence
from ._params import Interval, ParamsMixin, validate_parameter
from .data import IdMap, Interactions, LiveSchedule
from .data._columns import check_time_kind, is_scalar, parse_time_query
from .exceptions import (
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
    PersistenceError,
    UnknownItemError,
    UnknownUserError,
)

__all__ = ["BaseRecommender", "History", "Recommendations"]


@dataclass
class History:
    """Recent events of one user, in a fitted model's item codes, in time order."""

    items: np.ndarray
    time: np.ndarray
    event: np.ndarray | None = None
    weight: np.ndarray | None = None


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

    def __getitem__(self, row: int) -> list[Any]:
        """The recommended item ids of row ``row`` (padding left out)."""
        return [x.item() if hasattr(x, "item") else x for x in self.items[row][self.mask[row]]]

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per recommendation: ``user``, ``rank`` (1-based), ``item``, ``score``."""
        out = []
        for r in range(len(self)):
            user = self.users[r].item() if hasattr(self.users[r], "item") else self.users[r]
            for c in np.flatnonzero(self.mask[r]):
                item = self.items[r, c]
                out.append({"user": user, "rank": int(c) + 1,
                            "item": item.item() if hasattr(item, "item") else item,
                            "score": float(self.scores[r, c])})
        return out

    def to_frame(self) -> Any:
        """A pandas DataFrame with columns user, rank, item, score (requires pandas)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.to_records(), columns=["user", "rank", "item", "score"])


def _is_sequence(x: Any) -> bool:
    return not is_scalar(x) and (isinstance(x, (list, tuple, np.ndarray)) or hasattr(x, "to_numpy"))


def _id_array(ids: Any, name: str) -> np.ndarray:
    """Query ids as a 1-D array (one id or a 1-D sequence); a 2-D array is refused.

    Lists keep each id's own type (``[1, "1"]`` is not turned into two strings), so a lookup
    never matches an id of the other type.
    """
    if not is_scalar(ids) and hasattr(ids, "to_numpy") and not isinstance(ids, np.ndarray):
        ids = ids.to_numpy()
    if isinstance(ids, (list, tuple)):
        try:
            arr = np.asarray(ids)
        except ValueError:  # ragged nested lists
            raise DataValidationError(
                f"{name} must be one id or a 1-D sequence of ids, got nested sequences of "
                "different lengths; flatten them first."
            ) from None
        if arr.ndim == 1 and arr.dtype.kind in "US" and not all(isinstance(x, str) for x in ids):
            arr = np.empty(len(ids), dtype=object)  # mixed types: keep each as it is
            arr[:] = list(ids)
    else:
        arr = np.asarray(ids)
    if arr.ndim > 1:
        raise DataValidationError(
            f"{name} must be one id or a 1-D sequence of ids, got an array of shape {arr.shape}; "
            f"flatten it first (np.ravel({name})), or call once per row."
        )
    arr = np.atleast_1d(arr)
    if arr.dtype == object and len(arr) and all(isinstance(x, str) for x in arr):
        arr = arr.astype(str)
    return arr


class BaseRecommender(ParamsMixin):
    """Base class of every liverec model (scikit-learn's estimator rules).

    Subclasses implement ``_fit`` and ``_score_known`` (dense scores of known users over all
    items), and optionally ``_score_history`` (fold-in), ``_predict_pairs``,
    ``_item_vectors`` (for ``similar_items``), ``_get_state``/``_set_state``.

    Fitted attributes common to all models:
        users_ (IdMap), items_ (IdMap), seen_ (CSR user x item, what each user did in fit),
        schedule_ (the ``LiveSchedule`` given to ``fit`` or ``None``).
    """

    #: Whether the model can score users it has not seen from their ``history``.
    _supports_history: bool = True
    #: Whether ``_score_known``/``_score_history`` always return a new float32 CPU tensor
    #: that ``recommend`` may overwrite (saves a copy of every score block).
    _fresh_scores: bool = False

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
            item_features: Item side features (see :meth:`_align_item_features`).
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
        if len(interactions) == 0:
            raise DataValidationError("fit got no interactions; pass at least one event.")
        if schedule is not None and not isinstance(schedule, LiveSchedule):
            raise TypeError(f"schedule must be a LiveSchedule, got {type(schedule).__name__}.")
        self._reset_fitted()
        self.users_ = interactions.users
        self.items_ = interactions.items
        self.schedule_ = schedule
        self.time_kind_ = interactions.time_kind  # what recommend(at=...) must match
        self._fit(interactions, schedule=schedule, item_features=item_features, text=text)
        # models may extend items_ (e.g. cold-start items known only from their features)
        self.seen_ = _binary_csr(interactions.user_codes, interactions.item_codes,
                                 (len(self.users_), len(self.items_)))
        self.is_fitted_ = True
        return self

    def _reset_fitted(self) -> None:
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("__")]:
            delattr(self, name)

    def _fit(self, interactions: Interactions, *, schedule: LiveSchedule | None,
             item_features: Any, text: Any) -> None:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not getattr(self, "is_fitted_", False):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(interactions) first."
            )

    # Scoring hooks -------------------------------------------------------------------------------
    def _score_known(self, user_codes: np.ndarray, at: np.ndarray | None) -> Any:
        """Scores ``(len(user_codes), n_items)`` for users seen in fit (numpy or torch)."""
        raise NotImplementedError

    def _score_history(self, histories: list[History], at: np.ndarray | None) -> Any:
        """Scores ``(len(histories), n_items)`` for users given by their recent events."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot score users from history (fold-in is not supported)."
        )

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
        users = _id_array(users, "users")
        items = _id_array(items, "items")
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
            :class:`Recommendations`.

        Raises:
            UnknownUserError: for a user not seen in fit and without history.
            NotFittedError: before ``fit``.
        """
        self._check_fitted()
        _check_k(type(self).__name__, k)
        single = not _is_sequence(users)
        users_arr = _id_array(users, "users")
        n = len(users_arr)
        _check_k(type(self).__name__, k, n)
        if n == 0:
            return Recommendations(users_arr, np.zeros((0, k), dtype=self.items_.ids.dtype), np.zeros((0, k)))
        at_arr = None
        if at is not None:
            at_arr, at_kind = parse_time_query(at, "at")
            # the request time must be of the kind of the fitted times and of the schedule
            # (a model fitted without times, "order", is bound by its schedule only)
            active = schedule if schedule is not None else getattr(self, "schedule_", None)
            model_kind = getattr(self, "time_kind_", None)
            if not (model_kind == "order" and active is not None):
                check_time_kind(at_kind, model_kind, "at", f"the data this {type(self).__name__} was fitted on")
            if active is not None:
                check_time_kind(at_kind, active.time_kind, "at", "the schedule")
            if len(at_arr) == 1:
                at_arr = np.repeat(at_arr, n)
            elif len(at_arr) != n:
                raise DataValidationError(f"at has {len(at_arr)} times for {n} users; pass one or one per user.")
        schedule = schedule if schedule is not None else getattr(self, "schedule_", None)
        if schedule is not None and at_arr is None and schedule is not getattr(self, "schedule_", None):
            raise DataValidationError("a schedule was given without at=...; pass the request time(s).")
        histories = self._parse_history(history, users_arr, single)
        codes = self.users_.codes(users_arr, missing="ignore")
        no_state = [j for j in range(n) if codes[j] < 0 and histories[j] is None]
        if no_state:
            bad = users_arr[no_state[0]]
            raise UnknownUserError(
                f"unknown user {bad!r} ({len(no_state)} unknown in all): not seen in fit; pass "
                "their recent events as history=... to score them without refitting."
            )
        cand_global, cand_per_user = self._parse_item_filter(candidates, users_arr, "candidates")
        excl_global, excl_per_user = self._parse_item_filter(exclude, users_arr, "exclude")
        n_items = len(self.items_)
        live_lut = None
        if schedule is not None and at_arr is not None:
            live_lut = self.items_.codes(schedule.items.ids, missing="ignore")

        import torch

        out_codes = np.full((n, k), -1, dtype=np.int64)
        out_scores = np.full((n, k), -np.inf, dtype=np.float32)
        if batch_size is None:
            # a score block of about 4 MB stays in cache and in malloc's reused memory
            batch_size = max(64, min(4096, (1 << 20) // max(1, n_items)))
        kk = min(k, n_items)

        def rank(start: int) -> None:
            sl = slice(start, min(n, start + batch_size))
            idx = np.arange(sl.start, sl.stop)
            scores = self._scores_for(codes[sl], [histories[j] for j in idx],
                                      None if at_arr is None else at_arr[sl])
            scores = _as_float_tensor(scores, fresh=self._fresh_scores)
            nb = len(idx)
            # what may be ranked: a full-size mask only when a filter keeps a subset
            allowed = None
            if cand_global is not None:
                allowed = torch.zeros((nb, n_items), dtype=torch.bool)
                allowed[:, torch.as_tensor(cand_global)] = True
            if cand_per_user is not None:
                rows, cols = _pairs([cand_per_user[j] for j in idx])
                mask = torch.zeros((nb, n_items), dtype=torch.bool)
                mask[rows, cols] = True
                allowed = mask if allowed is None else allowed & mask
            if live_lut is not None and schedule is not None and at_arr is not None:
                indptr, live = schedule.live_codes(at_arr[sl])
                cols = live_lut[live]
                rows = np.repeat(np.arange(nb), np.diff(indptr))
                keep = cols >= 0
                mask = torch.zeros((nb, n_items), dtype=torch.bool)
                mask[torch.as_tensor(rows[keep]), torch.as_tensor(cols[keep])] = True
                allowed = mask if allowed is None else allowed & mask
            if allowed is not None:
                scores.masked_fill_(~allowed, -torch.inf)
            # what may not: write -inf into those cells directly
            if excl_global is not None:
                scores[:, torch.as_tensor(excl_global)] = -torch.inf
            if excl_per_user is not None:
                _fill_cells(scores, *_pairs([excl_per_user[j] for j in idx]))
            if exclude_seen:
                _fill_cells(scores, *self._seen_pairs(codes[sl], [histories[j] for j in idx]))
            top_scores, top_codes = torch.topk(scores, kk, dim=1)
            top_codes_np = top_codes.numpy()
            top_scores_np = top_scores.numpy()
            valid = np.isfinite(top_scores_np)
            out_codes[sl, :kk] = np.where(valid, top_codes_np, -1)
            out_scores[sl, :kk] = np.where(valid, top_scores_np, -np.inf)

        starts = list(range(0, n, batch_size))
        workers = min(torch.get_num_threads(), len(starts))
        if workers > 1:
            # Batches run on Python threads, each single-threaded inside torch: one join for the
            # whole call instead of an OpenMP fork/join per kernel, which is costly when the
            # cores are shared with other work. Rows written by different batches are disjoint.
            with _torch_single_threaded(), ThreadPoolExecutor(workers) as pool:
                list(pool.map(rank, starts))
        else:
            for start in starts:
                rank(start)
        return Recommendations.from_codes(users_arr, out_codes, out_scores, self.items_)

    def _scores_for(self, codes: np.ndarray, histories: list[History | None], at: np.ndarray | None) -> Any:
        import torch

        known = np.array([h is None for h in histories], dtype=bool)
        if known.all():
            return self._score_known(codes, at)
        if not self._supports_history:
            raise NotImplementedError(f"{type(self).__name__} does not support history (fold-in).")
        hist_idx = np.flatnonzero(~known)
        folded = [h for h in (histories[j] for j in hist_idx) if h is not None]
        hist_scores = _as_float_tensor(self._score_history(folded, None if at is None else at[hist_idx]))
        if not known.any():
            return hist_scores
        known_idx = np.flatnonzero(known)
        known_scores = _as_float_tensor(self._score_known(codes[known_idx], None if at is None else at[known_idx]))
        out = torch.empty((len(codes), known_scores.shape[1]), dtype=torch.float32)
        out[torch.as_tensor(known_idx)] = known_scores.cpu()
        out[torch.as_tensor(hist_idx)] = hist_scores.cpu()
        return out

    def _seen_pairs(self, codes: np.ndarray, histories: list[History | None]) -> tuple[Any, Any]:
        import torch

        rows_l, cols_l = [], []
        known = codes >= 0
        if known.any():
            indptr, indices = self.seen_.indptr, self.seen_.indices
            c = codes[known]
            starts = indptr[c].astype(np.int64)
            lengths = indptr[c + 1] - starts
            offsets = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            rows_l.append(np.repeat(np.flatnonzero(known), lengths))
            cols_l.append(indices[np.repeat(starts, lengths) + offsets].astype(np.int64))
        for j, h in enumerate(histories):
            if h is not None and len(h.items):
                rows_l.append(np.full(len(h.items), j))
                cols_l.append(h.items)
        if not rows_l:
            return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
        return torch.as_tensor(np.concatenate(rows_l)), torch.as_tensor(np.concatenate(cols_l))

    def _parse_item_filter(self, value: Any, users: np.ndarray, name: str) -> tuple[np.ndarray | None, list[np.ndarray] | None]:
        """Global array of codes, or one array of codes per user (unknown items are skipped)."""
        if value is None:
            return None, None
        if isinstance(value, Mapping):
            per_user = [self.items_.codes(np.atleast_1d(np.asarray(value.get(_key(u), []))), missing="ignore") for u in users]
            return None, [c[c >= 0] for c in per_user]
        arr = value.to_numpy() if hasattr(value, "to_numpy") else value
        if _is_sequence(arr) and len(arr) and all(_is_sequence(x) for x in arr):
            if len(arr) != len(users):
                raise DataValidationError(
                    f"{name} has {len(arr)} lists for {len(users)} users; pass one list per user "
                    "or one list for everyone."
                )
            per_user = [self.items_.codes(np.asarray(x), missing="ignore") for x in arr]
            return None, [c[c >= 0] for c in per_user]
        codes = self.items_.codes(np.atleast_1d(np.asarray(arr)), missing="ignore")
        return codes[codes >= 0], None

    def _parse_history(self, history: Any, users: np.ndarray, single: bool) -> list[History | None]:
        out: list[History | None] = [None] * len(users)
        if history is None:
            return out
        if isinstance(history, Interactions):
            h = history.with_maps(items=self.items_)
            extra = len(h.items) - len(self.items_)
            mask = h.item_codes < len(self.items_)
            if extra and not mask.all():
                warnings.warn(
                    f"history: {int((~mask).sum())} events on items unknown to the model were "
                    "left out (they cannot be scored).", stacklevel=3)
            indptr, order = h.sequence_arrays()
            codes_in_h = h.users.codes(users, missing="ignore")
            for j, c in enumerate(codes_in_h):
                if c < 0:
                    continue
                rows = order[indptr[c]:indptr[c + 1]]
                rows = rows[mask[rows]]
                out[j] = History(h.item_codes[rows], h.time[rows],
                                 None if h.event is None else h.event[rows],
                                 None if h.weight is None else h.weight[rows])
            return out
        if isinstance(history, Mapping):
            for j, u in enumerate(users):
                if _key(u) in history:
                    out[j] = self._history_from_items(history[_key(u)])
            return out
        if single and _is_sequence(history):
            out[0] = self._history_from_items(history)
            return out
        raise DataValidationError(
            "history must be an Interactions, a dict user -> item ids, or (for one user) a "
            f"sequence of item ids; got {type(history).__name__}."
        )

    def _history_from_items(self, items: Any) -> History:
        arr = np.atleast_1d(np.asarray(items))
        codes = self.items_.codes(arr, missing="ignore") if len(arr) else np.zeros(0, dtype=np.int64)
        if (codes < 0).any():
            warnings.warn(
                f"history: {int((codes < 0).sum())} item(s) unknown to the model were left out "
                f"(first: {arr[int(np.flatnonzero(codes < 0)[0])]!r}).", stacklevel=4)
        codes = codes[codes >= 0]
        return History(codes, np.arange(len(codes), dtype=np.float64))

    def similar_items(self, items: Any, k: int = 10) -> Recommendations:
        """The ``k`` items most similar (cosine of item vectors) to each query item.

        The query item itself is left out. Rows of the result are the query items.
        """
        self._check_fitted()
        _check_k(type(self).__name__, k)
        vectors = self._item_vectors()
        q = _id_array(items, "items")
        _check_k(type(self).__name__, k, len(q))
        codes = self.items_.codes(q, missing="ignore")
        if (codes < 0).any():
            raise UnknownItemError(f"unknown item {q[int(np.flatnonzero(codes < 0)[0])]!r}.")
        import torch

        v = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
        v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
        sims = v[torch.as_tensor(codes)] @ v.T
        sims[torch.arange(len(codes)), torch.as_tensor(codes)] = -torch.inf
        kk = min(k, len(self.items_) - 1)
        top_s, top_c = torch.topk(sims, kk, dim=1)
        codes_out = np.full((len(codes), k), -1, dtype=np.int64)
        scores_out = np.full((len(codes), k), -np.inf, dtype=np.float32)
        codes_out[:, :kk] = top_c.numpy()
        scores_out[:, :kk] = top_s.numpy()
        return Recommendations.from_codes(q, codes_out, scores_out, self.items_)

    def _item_vectors(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no item vectors for similar_items.")

    # Persistence ---------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Save to a directory (``config.json`` + ``arrays.safetensors``); see :func:`liverec.load`."""
        self._check_fitted()
        attrs, arrays = self._get_state()
        arrays = dict(arrays)
        arrays["base/users"] = self.users_.to_array()
        arrays["base/items"] = self.items_.to_array()
        arrays["base/seen_indptr"] = self.seen_.indptr.astype(np.int64)
        arrays["base/seen_indices"] = self.seen_.indices.astype(np.int64)
        if self.schedule_ is not None:
            s = self.schedule_
            arrays["base/schedule_items"] = s.items.to_array()
            arrays["base/schedule_codes"] = s.item_codes
            arrays["base/schedule_start"] = s.start
            arrays["base/schedule_end"] = s.end
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


#: The most result cells (rows x k) one call may ask for: the padded output is allocated up
#: front, so an absurd ``k`` must be refused rather than exhaust memory.
MAX_RESULT_CELLS = 1 << 28


def _check_k(owner: str, k: Any, n_rows: int = 1) -> None:
    """``k`` is a positive integer and ``n_rows * k`` cells fit in :data:`MAX_RESULT_CELLS`."""
    validate_parameter(owner, "k", k, [Interval(numbers.Integral, 1, MAX_RESULT_CELLS, closed="both")])
    if n_rows * int(k) > MAX_RESULT_CELLS:
        raise InvalidParameterError(
            f"{owner}: k={int(k)} for {n_rows} rows asks for {n_rows * int(k):,} result cells, more "
            f"than the {MAX_RESULT_CELLS:,} one call may return; ask for fewer rows per call or a smaller k."
        )


def _key(u: Any) -> Any:
    return u.item() if hasattr(u, "item") else u


def _pairs(per_row: list[np.ndarray]) -> tuple[Any, Any]:
    import torch

    lengths = np.array([len(x) for x in per_row], dtype=np.int64)
    rows = np.repeat(np.arange(len(per_row)), lengths)
    cols = np.concatenate(per_row).astype(np.int64) if len(per_row) and lengths.sum() else np.zeros(0, dtype=np.int64)
    return torch.as_tensor(rows), torch.as_tensor(cols)


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


@contextlib.contextmanager
def _torch_single_threaded() -> Iterator[None]:
    """torch intra-op threads set to 1 for the block, then restored."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fill_cells(scores: Any, rows: Any, cols: Any) -> None:
    """``scores[rows, cols] = -inf`` (through the flat view when ``scores`` is contiguous)."""
    import torch

    if not len(rows):
        return
    if scores.is_contiguous():
        scores.view(-1).index_fill_(0, torch.as_tensor(rows) * scores.shape[1] + torch.as_tensor(cols), -torch.inf)
    else:
        scores[rows, cols] = -torch.inf


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy()
    return np.asarray(x)


def _binary_csr(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=shape)
    m.sum_duplicates()
    m.sort_indices()
    return m
