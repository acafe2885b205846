"""``TextEvents``: comments, transcripts and titles attached to items (rooms / streams)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import DataValidationError
from ._columns import (
    TimeKind,
    _object_array,
    as_1d,
    as_row_index,
    as_times,
    check_lengths,
    check_texts,
    missing_mask,
    normalize_ids,
    time_window_mask,
)
from .idmap import IdMap

#: The kinds of text a live stream produces.
TEXT_KINDS: tuple[str, ...] = ("comment", "transcript", "title")


class TextEvents:
    """Text attached to items over time: chat comments, ASR transcript snippets, titles.

    Examples:
        >>> T = TextEvents.from_arrays(item=[1, 1, 2], text=["新品口红", "hello", "title"],
        ...                            time=[0, 5, 0], kind=["comment", "transcript", "title"])
        >>> len(T), T.of_kind("title").text.tolist()
        (3, ['title'])
    """

    def __init__(
        self,
        item_codes: np.ndarray,
        text: np.ndarray,
        time: np.ndarray,
        kind: np.ndarray,
        items: IdMap,
        user: np.ndarray | None = None,
        *,
        time_kind: TimeKind = "numeric",
    ) -> None:
        self.item_codes = np.asarray(item_codes, dtype=np.int64)
        self.text = np.asarray(text, dtype=object)
        self.time = np.asarray(time, dtype=np.float64)
        self.kind = np.asarray(kind, dtype=np.int8)
        self.items = items
        self.user = user
        self.time_kind = time_kind

    @classmethod
    def from_arrays(
        cls,
        item: Any,
        text: Any,
        time: Any = None,
        kind: Any = "comment",
        user: Any = None,
        *,
        items: IdMap | None = None,
    ) -> TextEvents:
        """Build from columns.

        Args:
            item: The item (room / stream / streamer) each text belongs to.
            text: The strings. ``None``/NaN is an error; an empty string is allowed.
            time: When the text appeared (numbers or datetimes); ``None`` uses 0 for all.
            kind: One of [`TEXT_KINDS`][liverec.data.TEXT_KINDS] per row, or one name for all rows.
            user: Optional author of each text (for comments); ``None`` for rows without one.
            items: Existing item map to code items with (e.g. the interactions' map).
        """
        it = normalize_ids(item, "item")
        # a list is read element by element: numpy's str dtype would drop trailing NUL characters
        tx = _object_array(text) if isinstance(text, (list, tuple)) else as_1d(text, "text")
        n = check_lengths({"item": it, "text": tx})
        txt = np.empty(n, dtype=object)
        txt[:] = check_texts(tx, "column 'text'")
        if time is None:
            t, tkind = np.zeros(n), "numeric"
        else:
            t, tkind = as_times(time, "time", n)
        if isinstance(kind, str):
            kind = [kind] * n
        kinds = as_1d(kind, "kind").astype(str)
        if len(kinds) != n:
            raise DataValidationError(f"column 'kind' has {len(kinds)} rows, expected {n}.")
        lut = {k: c for c, k in enumerate(TEXT_KINDS)}
        codes = np.array([lut.get(k, -1) for k in kinds.tolist()], dtype=np.int8)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise DataValidationError(
                f"column 'kind': unknown kind {str(kinds[row])!r} at row {row}; use one of {list(TEXT_KINDS)}."
            )
        users = None
        if user is not None:
            raw_users = as_1d(user, "user")
            # titles and transcripts have no author: missing users are allowed here
            users = raw_users if missing_mask(raw_users).any() else normalize_ids(raw_users, "user")
            if len(users) != n:
                raise DataValidationError(f"column 'user' has {len(users)} rows, expected {n}.")
        if items is None:
            imap, icodes = IdMap.from_values(it, "item")
        else:
            imap = items.extend(it)
            icodes = imap.codes(it)
        return cls(icodes, txt, t, codes, imap, users, time_kind=tkind)

    def __len__(self) -> int:
        return len(self.item_codes)

    def __repr__(self) -> str:
        counts = np.bincount(self.kind, minlength=len(TEXT_KINDS))
        parts = ", ".join(f"{k}={int(c)}" for k, c in zip(TEXT_KINDS, counts, strict=True))
        return f"TextEvents(n={len(self)}, n_items={len(self.items)}, {parts})"

    @property
    def item(self) -> np.ndarray:
        """External item id of every text."""
        return self.items.take(self.item_codes)

    @property
    def kind_names(self) -> np.ndarray:
        return np.asarray(TEXT_KINDS, dtype=object)[self.kind]

    def select(self, rows: Any) -> TextEvents:
        """Rows by boolean mask or index array (the item map is shared)."""
        rows = as_row_index(rows, len(self))
        return TextEvents(
            self.item_codes[rows], self.text[rows], self.time[rows], self.kind[rows], self.items,
            None if self.user is None else self.user[rows], time_kind=self.time_kind,
        )

    def of_kind(self, *kinds: str) -> TextEvents:
        """Only texts of the given kinds."""
        bad = [k for k in kinds if k not in TEXT_KINDS]
        if bad:
            raise DataValidationError(f"unknown text kind(s) {bad}; use {list(TEXT_KINDS)}.")
        codes = [TEXT_KINDS.index(k) for k in kinds]
        return self.select(np.isin(self.kind, codes))

    def between(self, start: Any = None, end: Any = None) -> TextEvents:
        """Texts with ``start <= time < end`` (either bound may be ``None``, or of the texts' time kind)."""
        return self.select(time_window_mask(self.time, start, end, kind=self.time_kind))

    def to_dict(self) -> dict[str, np.ndarray]:
        out = {"item": self.item, "text": self.text, "time": self.time, "kind": self.kind_names}
        if self.user is not None:
            out["user"] = self.user
        return out
