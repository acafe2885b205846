"""The ranking engine (private): one path from a request to ranked items, for every caller.

``BaseRecommender.recommend``, ``similar_items`` and ``metrics.evaluate`` (and the serving
layer) rank through this module; none of them builds masks or calls ``torch.topk`` itself.

A request goes through four steps::

    parse_request(model, users, k, at=, schedule=, candidates=, exclude=, exclude_seen=, history=)
        -> RankRequest: ids checked, users in model codes (or a History to fold in), request
           times checked against the model's and the schedule's time kind, and an ItemFilter
    for each batch of rows [lo, hi):
        model.score_items(user_codes, histories, at)     the one scoring hook every model provides
        ItemFilter.apply(scores, lo, hi)                 -inf where an item may not be ranked
        top_k(scores, k)                                 best k per row, padded with -1 / -inf

``evaluate`` builds its own rows (one per test case) but the same ``ItemFilter`` (live items at
the case time, seen items), scores through the same hook, and replaces the last step with
``rank_targets`` (the full-ranking position of every target, plus the top-k for coverage).

Filters compose by logical *and*: an item is ranked in a row when it is a candidate, live at
the row's time (with a schedule), not excluded and (with ``exclude_seen``) not seen. The
"live items in model codes" remap is ``LiveSchedule.live_codes(t, items=model.items_)``.

Batches run one after the other on the calling thread; each kernel uses torch's own intra-op
threads as the caller set them. Nothing here changes torch's thread settings (see
``liverec._runtime``).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._params import Interval, validate_parameter
from ._utils import plain
from .data import Interactions, LiveSchedule
from .data._columns import check_time_kind, is_scalar, parse_time_query
from .exceptions import DataValidationError, InvalidParameterError, UnknownUserError

if TYPE_CHECKING:
    import scipy.sparse as sp
    import torch

    from .data import IdMap

__all__ = [
    "MAX_RESULT_CELLS",
    "History",
    "ItemFilter",
    "RankRequest",
    "TargetRanks",
    "can_fold_in",
    "check_k",
    "cosine_top_k",
    "csr_row_pairs",
    "default_batch_size",
    "id_array",
    "is_sequence",
    "parse_request",
    "rank_targets",
    "recommend_top_k",
    "top_k",
]

#: The most result cells (rows x k) one call may ask for: the padded output is allocated up
#: front, so an absurd ``k`` must be refused rather than exhaust memory.
MAX_RESULT_CELLS = 1 << 28


@dataclass
class History:
    """Recent events of one user, in a fitted model's item codes, in time order."""

    items: np.ndarray
    time: np.ndarray
    event: np.ndarray | None = None
    weight: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# Request parsing
# --------------------------------------------------------------------------------------------
def is_sequence(x: Any) -> bool:
    """Whether ``x`` is a sequence of ids (a list, tuple, array or pandas column), not one id."""
    return not is_scalar(x) and (isinstance(x, (list, tuple, np.ndarray)) or hasattr(x, "to_numpy"))


def id_array(ids: Any, name: str) -> np.ndarray:
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


def check_k(owner: str, k: Any, n_rows: int = 1) -> None:
    """``k`` is a positive integer and ``n_rows * k`` cells fit in ``MAX_RESULT_CELLS``."""
    validate_parameter(owner, "k", k, [Interval(numbers.Integral, 1, MAX_RESULT_CELLS, closed="both")])
    if n_rows * int(k) > MAX_RESULT_CELLS:
        raise InvalidParameterError(
            f"{owner}: k={int(k)} for {n_rows} rows asks for {n_rows * int(k):,} result cells, more "
            f"than the {MAX_RESULT_CELLS:,} one call may return; ask for fewer rows per call or a smaller k."
        )


def can_fold_in(model: Any) -> bool:
    """Whether ``model`` scores users given only their events (``history=``)."""
    return bool(getattr(model, "_supports_history", False))


def default_batch_size(n_items: int) -> int:
    """Rows per score block in ``recommend``: about a million floats (4 MB stays in cache and in
    malloc's reused memory), at least 64 and at most 4096 rows."""
    return max(64, min(4096, (1 << 20) // max(1, n_items)))


@dataclass
class RankRequest:
    """A parsed ``recommend`` request: one row per user.

    Attributes:
        users: External user ids, one per row.
        k: Items per row.
        user_codes: Model user codes (``-1``: known only from ``histories``).
        histories: Per row, the events to fold in, or ``None`` (score from the fitted state).
        at: Request time per row (float seconds) or ``None``.
        filters: What each row may rank.
    """

    users: np.ndarray
    k: int
    user_codes: np.ndarray
    histories: list[History | None]
    at: np.ndarray | None
    filters: ItemFilter


def parse_request(model: Any, users: Any, k: int, *, at: Any = None, schedule: LiveSchedule | None = None,
                  candidates: Any = None, exclude: Any = None, exclude_seen: bool = False,
                  history: Any = None) -> RankRequest:
    """Check and resolve the arguments of ``recommend`` (see there) against a fitted model.

    Raises:
        InvalidParameterError: for a ``k`` that is not a positive integer, or too large.
        DataTypeError: for request times of the wrong kind (datetimes against numeric data).
        DataValidationError: for malformed ids, times, filters or histories.
        UnknownUserError: for a user not seen in fit and without history.
    """
    owner = type(model).__name__
    check_k(owner, k)
    single = not is_sequence(users)
    users_arr = id_array(users, "users")
    n = len(users_arr)
    check_k(owner, k, n)
    n_items = len(model.items_)
    if n == 0:
        return RankRequest(users_arr, int(k), np.zeros(0, dtype=np.int64), [], None, ItemFilter(n_items))
    fitted_schedule = getattr(model, "schedule_", None)
    at_arr = None if at is None else _parse_at(model, at, schedule, n)
    schedule = schedule if schedule is not None else fitted_schedule
    if schedule is not None and at_arr is None and schedule is not fitted_schedule:
        raise DataValidationError("a schedule was given without at=...; pass the request time(s).")
    histories = _parse_history(model.items_, history, users_arr, single)
    codes = model.users_.codes(users_arr, missing="ignore")
    no_state = [j for j in range(n) if codes[j] < 0 and histories[j] is None]
    if no_state:
        bad = users_arr[no_state[0]]
        raise UnknownUserError(
            f"unknown user {bad!r} ({len(no_state)} unknown in all): not seen in fit; pass "
            "their recent events as history=... to score them without refitting."
        )
    cand_global, cand_rows = _parse_item_filter(model.items_, candidates, users_arr, "candidates")
    excl_global, excl_rows = _parse_item_filter(model.items_, exclude, users_arr, "exclude")
    filters = ItemFilter(n_items, cand_global, cand_rows, excl_global, excl_rows)
    if schedule is not None and at_arr is not None:
        filters.schedule, filters.items, filters.times = schedule, model.items_, at_arr
    if exclude_seen:
        filters.seen, filters.seen_users = model.seen_, codes
        filters.seen_extra = _history_pairs(histories)
    return RankRequest(users_arr, int(k), codes, histories, at_arr, filters)


def _parse_at(model: Any, at: Any, schedule: LiveSchedule | None, n: int) -> np.ndarray:
    """Request times, one per row; their kind must be the fitted data's and the schedule's."""
    at_arr, at_kind = parse_time_query(at, "at")
    # (a model fitted without times, "order", is bound by its schedule only)
    active = schedule if schedule is not None else getattr(model, "schedule_", None)
    model_kind = getattr(model, "time_kind_", None)
    if not (model_kind == "order" and active is not None):
        check_time_kind(at_kind, model_kind, "at", f"the data this {type(model).__name__} was fitted on")
    if active is not None:
        check_time_kind(at_kind, active.time_kind, "at", "the schedule")
    if len(at_arr) == 1:
        return np.repeat(at_arr, n)
    if len(at_arr) != n:
        raise DataValidationError(f"at has {len(at_arr)} times for {n} users; pass one or one per user.")
    return at_arr


def _parse_item_filter(items: IdMap, value: Any, users: np.ndarray,
                       name: str) -> tuple[np.ndarray | None, list[np.ndarray] | None]:
    """Global array of codes, or one array of codes per user (unknown items are skipped)."""
    if value is None:
        return None, None
    if isinstance(value, Mapping):
        per_user = [items.codes(np.atleast_1d(np.asarray(value.get(plain(u), []))), missing="ignore") for u in users]
        return None, [c[c >= 0] for c in per_user]
    arr = value.to_numpy() if hasattr(value, "to_numpy") else value
    if is_sequence(arr) and len(arr) and all(is_sequence(x) for x in arr):
        if len(arr) != len(users):
            raise DataValidationError(
                f"{name} has {len(arr)} lists for {len(users)} users; pass one list per user "
                "or one list for everyone."
            )
        per_user = [items.codes(np.asarray(x), missing="ignore") for x in arr]
        return None, [c[c >= 0] for c in per_user]
    codes = items.codes(np.atleast_1d(np.asarray(arr)), missing="ignore")
    return codes[codes >= 0], None


def _parse_history(items: IdMap, history: Any, users: np.ndarray, single: bool) -> list[History | None]:
    """One ``History`` (or ``None``) per user from ``recommend``'s ``history=`` argument."""
    out: list[History | None] = [None] * len(users)
    if history is None:
        return out
    if isinstance(history, Interactions):
        h = history.with_maps(items=items)
        extra = len(h.items) - len(items)
        mask = h.item_codes < len(items)
        if extra and not mask.all():
            warnings.warn(
                f"history: {int((~mask).sum())} events on items unknown to the model were "
                "left out (they cannot be scored).", stacklevel=5)
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
            if plain(u) in history:
                h = history[plain(u)]
                # a History is already in the model's item codes (the serving layer's form)
                out[j] = (_checked_history(h, len(items)) if isinstance(h, History)
                          else _history_from_items(items, h))
        return out
    if single and is_sequence(history):
        out[0] = _history_from_items(items, history)
        return out
    raise DataValidationError(
        "history must be an Interactions, a dict user -> item ids, or (for one user) a "
        f"sequence of item ids; got {type(history).__name__}."
    )


def _checked_history(h: History, n_items: int) -> History:
    """A ``History`` given as it is: its item codes must be the model's."""
    codes = np.asarray(h.items)
    if len(codes) and (codes.dtype.kind not in "iu" or codes.min() < 0 or codes.max() >= n_items):
        raise DataValidationError(
            f"history: a History holds item codes of the model (0 to {n_items - 1}); "
            f"got {codes[:5].tolist()}...; "
            "pass external item ids (a list or an Interactions) instead.")
    if len(h.time) != len(codes):
        raise DataValidationError(f"history: a History has {len(codes)} items but {len(h.time)} times.")
    return h


def _history_from_items(items: IdMap, ids: Any) -> History:
    arr = np.atleast_1d(np.asarray(ids))
    codes = items.codes(arr, missing="ignore") if len(arr) else np.zeros(0, dtype=np.int64)
    if (codes < 0).any():
        warnings.warn(
            f"history: {int((codes < 0).sum())} item(s) unknown to the model were left out "
            f"(first: {arr[int(np.flatnonzero(codes < 0)[0])]!r}).", stacklevel=6)
    codes = codes[codes >= 0]
    return History(codes, np.arange(len(codes), dtype=np.float64))


def _history_pairs(histories: list[History | None]) -> tuple[np.ndarray, np.ndarray] | None:
    """``(row, item)`` of every history event, sorted by row; ``None`` without histories."""
    lengths = np.array([0 if h is None else len(h.items) for h in histories], dtype=np.int64)
    if not lengths.sum():
        return None
    items = np.concatenate([h.items for h in histories if h is not None and len(h.items)]).astype(np.int64)
    return np.repeat(np.arange(len(histories), dtype=np.int64), lengths), items


# --------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------
def csr_row_pairs(matrix: sp.csr_matrix, row_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(j, column)`` of every stored entry of ``matrix[row_codes[j]]``; rows ``< 0`` are skipped."""
    known = np.flatnonzero(row_codes >= 0)
    if not len(known):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    indptr, indices = matrix.indptr, matrix.indices
    c = row_codes[known]
    starts = indptr[c].astype(np.int64)
    lengths = (indptr[c + 1] - starts).astype(np.int64)
    offsets = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(known, lengths), indices[np.repeat(starts, lengths) + offsets].astype(np.int64)


@dataclass
class ItemFilter:
    """Which items each row of a request may rank (the filters compose by logical *and*).

    Attributes:
        n_items: Columns of a score block (the model's items).
        candidates, candidates_per_row: Items allowed for every row / per row (model codes).
        exclude, exclude_per_row: Items never ranked, for every row / per row.
        schedule, items, times: With a schedule, only the items live at ``times[row]`` are
            ranked; ``items`` is the model's item map the live items are put in.
        seen, seen_users: With ``exclude_seen``: the model's ``seen_`` matrix and, per row,
            the user code whose row of it is excluded (``-1``: none).
        seen_extra: More seen ``(row, item)`` pairs, sorted by row (history events).
    """

    n_items: int
    candidates: np.ndarray | None = None
    candidates_per_row: list[np.ndarray] | None = None
    exclude: np.ndarray | None = None
    exclude_per_row: list[np.ndarray] | None = None
    schedule: LiveSchedule | None = None
    items: IdMap | None = None
    times: np.ndarray | None = None
    seen: sp.csr_matrix | None = None
    seen_users: np.ndarray | None = None
    seen_extra: tuple[np.ndarray, np.ndarray] | None = None
    _drops: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)

    def keep_mask(self, lo: int, hi: int, device: Any = None) -> torch.Tensor | None:
        """Rows ``[lo, hi)``: ``True`` for candidates live at the row's time; ``None`` when every
        item passes (no candidates, no schedule)."""
        import torch

        nb = hi - lo
        allowed = None
        if self.candidates is not None:
            allowed = torch.zeros((nb, self.n_items), dtype=torch.bool, device=device)
            allowed[:, torch.as_tensor(self.candidates, device=device)] = True
        masks = []
        if self.candidates_per_row is not None:
            masks.append(_per_row_pairs(self.candidates_per_row[lo:hi]))
        if self.schedule is not None and self.times is not None:
            indptr, cols = self.schedule.live_codes(self.times[lo:hi], items=self.items)
            masks.append((np.repeat(np.arange(nb, dtype=np.int64), np.diff(indptr)), cols))
        for rows, cols in masks:
            mask = torch.zeros((nb, self.n_items), dtype=torch.bool, device=device)
            mask[torch.as_tensor(rows, device=device), torch.as_tensor(cols, device=device)] = True
            allowed = mask if allowed is None else allowed & mask
        return allowed

    def drop_pairs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``[lo, hi)``: ``(row - lo, item)`` cells excluded per row (exclusions and seen items)."""
        if self._drops is None:  # built once for all rows (one vectorised pass), sliced per batch
            self._drops = self._all_drop_pairs()
        rows, items = self._drops
        a, b = np.searchsorted(rows, [lo, hi])
        return rows[a:b] - lo, items[a:b]

    def _all_drop_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        parts = []
        if self.exclude_per_row is not None:
            parts.append(_per_row_pairs(self.exclude_per_row))
        if self.seen is not None and self.seen_users is not None:
            parts.append(csr_row_pairs(self.seen, self.seen_users))
        if self.seen_extra is not None:
            parts.append(self.seen_extra)
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if len(parts) == 1:
            return parts[0]
        rows, items = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        order = np.argsort(rows, kind="stable")
        return rows[order], items[order]

    def apply(self, scores: torch.Tensor, lo: int, hi: int) -> None:
        """Write ``-inf`` (in place) into every cell of rows ``[lo, hi)`` that may not be ranked."""
        import torch

        allowed = self.keep_mask(lo, hi, scores.device)
        if allowed is not None:
            scores.masked_fill_(~allowed, -torch.inf)
        # what may not: written as -inf cell by cell, no full-size mask
        if self.exclude is not None:
            scores[:, torch.as_tensor(self.exclude, device=scores.device)] = -torch.inf
        rows, cols = self.drop_pairs(lo, hi)
        _fill_cells(scores, rows, cols)

    def drop_from(self, allowed: torch.Tensor, lo: int, hi: int) -> None:
        """Set ``allowed`` (rows ``[lo, hi)``) to ``False`` at the excluded and seen cells."""
        dev = allowed.device
        if self.exclude is not None:
            allowed[:, _tensor(self.exclude, dev)] = False
        rows, cols = self.drop_pairs(lo, hi)
        allowed[_tensor(rows, dev), _tensor(cols, dev)] = False


def _tensor(x: np.ndarray, device: Any) -> torch.Tensor:
    import torch

    return torch.as_tensor(x, device=device)


def _per_row_pairs(per_row: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(x) for x in per_row], dtype=np.int64)
    rows = np.repeat(np.arange(len(per_row), dtype=np.int64), lengths)
    cols = np.concatenate(per_row).astype(np.int64) if len(per_row) and lengths.sum() else np.zeros(0, dtype=np.int64)
    return rows, cols


def _fill_cells(scores: torch.Tensor, rows: np.ndarray, cols: np.ndarray) -> None:
    """``scores[rows, cols] = -inf`` (through the flat view when ``scores`` is contiguous)."""
    import torch

    if not len(rows):
        return
    r, c = _tensor(rows, scores.device), _tensor(cols, scores.device)
    if scores.is_contiguous():
        scores.view(-1).index_fill_(0, r * scores.shape[1] + c, -torch.inf)
    else:
        scores[r, c] = -torch.inf


# --------------------------------------------------------------------------------------------
# Top-k and full ranks
# --------------------------------------------------------------------------------------------
def top_k(scores: torch.Tensor, k: int, valid: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` columns of every row, padded to ``k``.

    Args:
        scores: ``(rows, n_items)`` scores, ``-inf`` where an item may not be ranked.
        k: Columns per row.
        valid: Which cells count as real results (default: finite scores).

    Returns:
        ``(codes, scores)`` as numpy arrays of shape ``(rows, k)``, best first; slots without a
        real result hold code ``-1`` and score ``-inf``.
    """
    import torch

    n, n_items = scores.shape
    kk = min(k, n_items)
    codes = np.full((n, k), -1, dtype=np.int64)
    values = np.full((n, k), -np.inf, dtype=np.float32)
    if kk == 0 or n == 0:
        return codes, values
    top_s, top_c = torch.topk(scores, kk, dim=1)
    ok = torch.isfinite(top_s) if valid is None else valid.gather(1, top_c)
    codes[:, :kk] = torch.where(ok, top_c, torch.full_like(top_c, -1)).cpu().numpy()
    values[:, :kk] = torch.where(ok, top_s, torch.full_like(top_s, -torch.inf)).float().cpu().numpy()
    return codes, values


def recommend_top_k(model: Any, request: RankRequest, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` item codes and scores of every row of a request, ``(n, k)`` each (``-1`` pads).

    Rows are scored and ranked in batches of ``batch_size`` (default: ``default_batch_size``),
    one after the other on the calling thread.
    """
    n, k = len(request.users), request.k
    out_codes = np.full((n, k), -1, dtype=np.int64)
    out_scores = np.full((n, k), -np.inf, dtype=np.float32)
    bs = int(batch_size) if batch_size is not None else default_batch_size(request.filters.n_items)
    for lo in range(0, n, bs):
        hi = min(n, lo + bs)
        at = None if request.at is None else request.at[lo:hi]
        scores = model.score_items(request.user_codes[lo:hi], request.histories[lo:hi], at).cpu()
        request.filters.apply(scores, lo, hi)
        out_codes[lo:hi], out_scores[lo:hi] = top_k(scores, k)
    return out_codes, out_scores


def cosine_top_k(vectors: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``vectors`` with the highest cosine to each ``vectors[query[j]]``, the
    query row itself left out; ``(codes, scores)`` padded like ``top_k``."""
    import torch

    v = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
    v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
    q = torch.as_tensor(query)
    sims = v[q] @ v.T
    sims[torch.arange(len(query)), q] = -torch.inf
    return top_k(sims, k)


@dataclass
class TargetRanks:
    """Where the targets of a batch of rows fall in the full ranking (see ``rank_targets``).

    Attributes:
        above, tied: Per target, allowed items scoring above / the same (the target included;
            ``-inf`` items that are not allowed are not counted as tied).
        score: Per target, its score.
        allowed: Per target, whether it was allowed (a known item, live, not excluded).
        n_allowed: Per row, how many items were allowed.
        top: ``(rows, k)`` top allowed item codes (``-1`` pads).
    """

    above: np.ndarray
    tied: np.ndarray
    score: np.ndarray
    allowed: np.ndarray
    n_allowed: np.ndarray
    top: np.ndarray


def rank_targets(scores: torch.Tensor, allowed: torch.Tensor, target_row: np.ndarray, target_item: np.ndarray,
                 k: int, block: int) -> TargetRanks:
    """Full-ranking counts for target items: how many allowed items score above / equal to each.

    Args:
        scores: ``(rows, n_items)`` scores (no NaN).
        allowed: ``(rows, n_items)`` which items each row ranks.
        target_row: Row of every target (sorted).
        target_item: Item code of every target (``-1``: unknown to the model, never allowed).
        k: Cut-off of the top-k codes returned as well.
        block: Targets compared at once (bounds the ``(block, n_items)`` temporaries).
    """
    import torch

    dev = scores.device
    n_rows, n_items = scores.shape
    tc = torch.as_tensor(target_row, device=dev)
    ti = torch.as_tensor(np.maximum(target_item, 0), device=dev)
    n_allowed = allowed.sum(dim=1)
    st = scores[tc, ti]
    a_t = allowed[tc, ti] & torch.as_tensor(target_item >= 0, device=dev)
    # off-candidate items become -inf: they can never outscore a target, and they tie with it
    # only when the target's own score is -inf (corrected below)
    masked = scores.masked_fill(~allowed, -float("inf"))
    n_off = n_items - n_allowed
    gt = torch.empty(len(target_item), dtype=torch.long, device=dev)
    eq = torch.empty(len(target_item), dtype=torch.long, device=dev)
    one_per_row = len(target_item) == n_rows and bool((target_row == np.arange(n_rows)).all())
    for p in range(0, len(target_item), block):
        q = slice(p, p + block)
        rows_s = masked[p:p + block] if one_per_row else masked[tc[q]]
        s_q = st[q][:, None]
        gt[q] = (rows_s > s_q).sum(dim=1)
        eq[q] = (rows_s == s_q).sum(dim=1)
    eq -= torch.where(torch.isneginf(st), n_off[tc], torch.zeros_like(eq))
    top, _ = top_k(masked, k, valid=allowed)
    return TargetRanks(gt.cpu().numpy(), eq.cpu().numpy(), st.double().cpu().numpy(), a_t.cpu().numpy(),
                       n_allowed.cpu().numpy(), top)
