"""``replay``: online evaluation of a ``LiveService`` on held-out events streamed in time order."""

from __future__ import annotations

import numbers
import time as _time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._params import Interval, validate_parameter
from ..data import Interactions, LiveSchedule
from ..data._columns import seconds_to_datetime
from ..exceptions import DataTypeError, UnknownUserError

if TYPE_CHECKING:
    from ._service import LiveService

__all__ = ["ReplayResult", "replay"]


@dataclass
class ReplayResult:
    """What [`replay`][liverec.serving.replay] measured.

    Attributes:
        k: The cut-off of the metrics.
        hit_rate: Share of events whose item was in the top ``k`` shown just before it (HR@k).
        ndcg: Mean NDCG@k (``1 / log2(rank + 1)`` when the item was in the top ``k``, else 0).
        n_events: Events scored (the ones before ``max_events``; viewers refused by a
            ``cold_start="raise"`` service are counted in ``n_skipped`` instead).
        n_skipped: Events with no recommendation (unknown viewer, ``cold_start="raise"``).
        n_schedule_changes: On / off-air changes applied during the replay.
        latency_ms: Percentiles of the ``recommend`` latency: ``p50``, ``p90``, ``p99``, ``max``,
            ``mean`` (milliseconds).
        hits, ranks, latencies: Per scored event: hit, 1-based rank (0: not in the top k),
            latency in seconds.
        seconds: Wall time of the whole replay.
    """

    k: int
    hit_rate: float
    ndcg: float
    n_events: int
    n_skipped: int
    n_schedule_changes: int
    latency_ms: dict[str, float]
    seconds: float
    hits: np.ndarray = field(repr=False)
    ranks: np.ndarray = field(repr=False)
    latencies: np.ndarray = field(repr=False)

    def __repr__(self) -> str:
        lat = self.latency_ms
        return (f"ReplayResult(events={self.n_events:,}, HR@{self.k}={self.hit_rate:.3f}, "
                f"NDCG@{self.k}={self.ndcg:.3f}, latency p50={lat['p50']:.2f} ms p99={lat['p99']:.2f} ms, "
                f"schedule_changes={self.n_schedule_changes:,}, skipped={self.n_skipped})")

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-safe values (no per-event arrays)."""
        return {"k": self.k, f"hit_rate@{self.k}": self.hit_rate, f"ndcg@{self.k}": self.ndcg,
                "n_events": self.n_events, "n_skipped": self.n_skipped,
                "n_schedule_changes": self.n_schedule_changes, "latency_ms": dict(self.latency_ms),
                "seconds": self.seconds}


def _schedule_changes(schedule: LiveSchedule, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(time, item id, on_air)`` of the broadcasts' starts and ends that matter in ``[.., t1]``:
    broadcasts still live at ``t0`` or starting before ``t1``; off before on at equal times."""
    imap, codes, start, end = schedule.columns()
    keep = (end > t0) & (start <= t1)
    ids = imap.take(codes[keep])
    s, e = start[keep], end[keep]
    closes = np.isfinite(e) & (e <= t1)
    times = np.concatenate([s, e[closes]])
    items = np.concatenate([ids, ids[closes]])
    on = np.concatenate([np.ones(len(s), dtype=bool), np.zeros(int(closes.sum()), dtype=bool)])
    order = np.lexsort((on, times))  # at one time: off-air first, so a room may end and start again
    return times[order], items[order], on[order]


def replay(service: LiveService, events: Interactions, schedule: LiveSchedule | None = None, *, k: int = 10,
           max_events: int | None = None, observe: bool = True) -> ReplayResult:
    """Stream held-out events through a service in time order and measure it online.

    Before each event the service is asked for the viewer's top ``k`` at the event time (the
    recommendation they would have been shown); then the event is observed, so the next request
    sees it. Rooms go on and off air as the schedule says, interleaved with the events (changes
    at an event's time are applied before it). HR@k and NDCG@k count whether and where the
    event's item was in what was shown; the latency of every ``recommend`` call is recorded.

    Args:
        service: The service to replay through. Its schedule is driven by the replay: start from
            a service whose schedule holds nothing of the replayed period (``LiveService(model)``).
        events: The held-out events (any order; replayed by time, ties in row order).
        schedule: The broadcasts of the period (``None``: the events are replayed against the
            service's schedule as it is).
        k: Cut-off of the metrics.
        max_events: Replay only the first this many events (and the schedule up to the last).
        observe: Observe each event after scoring it (``False``: the service never sees them).

    Returns:
        A [`ReplayResult`][liverec.serving.ReplayResult].

    Examples:
        >>> from liverec.data import Interactions, LiveSchedule
        >>> from liverec.models import Popularity
        >>> from liverec.serving import LiveService
        >>> train = Interactions.from_arrays(user=[1, 2, 3], item=["a", "a", "b"], time=[1, 2, 3])
        >>> service = LiveService(Popularity().fit(train))
        >>> test = Interactions.from_arrays(user=[1, 4], item=["a", "b"], time=[10, 12])
        >>> result = replay(service, test, LiveSchedule.from_arrays(["a", "b"], [0, 11], [20, 20]), k=2)
        >>> result.n_events, result.hit_rate
        (2, 1.0)
        >>> result.latency_ms["p99"] < 1000
        True
    """
    validate_parameter("replay", "k", k, [Interval(numbers.Integral, 1, None, closed="left")])
    if not isinstance(events, Interactions):
        raise DataTypeError(f"replay: events must be an Interactions, got {type(events).__name__}.")
    order = np.argsort(events.time, kind="stable")
    if max_events is not None:
        order = order[:max(0, int(max_events))]
    ev = events.select(order)
    user_ids, item_ids = ev.users.take(ev.user_codes), ev.items.take(ev.item_codes)
    if schedule is not None and len(ev):
        c_time, c_item, c_on = _schedule_changes(schedule, float(ev.time[0]), float(ev.time[-1]))
    else:
        c_time, c_item, c_on = np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
    as_at = seconds_to_datetime if ev.time_kind == "datetime" else (lambda t: t)
    hits, ranks, lat = [], [], []
    skipped, ci = 0, 0
    started = _time.perf_counter()
    for j in range(len(ev)):
        t = float(ev.time[j])
        cj = int(np.searchsorted(c_time, t, side="right"))
        if cj > ci:
            service.update_schedule(c_item[ci:cj], as_at(c_time[ci:cj]), on_air=c_on[ci:cj])
            ci = cj
        at = as_at(np.array([t]))[0]
        t_req = _time.perf_counter()
        try:
            recs = service.recommend(user_ids[j], k=k, at=at)
        except UnknownUserError:
            skipped += 1
            recs = None
        if recs is not None:
            lat.append(_time.perf_counter() - t_req)
            shown = recs[0]
            rank = shown.index(item_ids[j].item()) + 1 if item_ids[j].item() in shown else 0
            hits.append(rank > 0)
            ranks.append(rank)
        if observe:
            service.observe(ev.select(np.array([j])))
    return _result(k, hits, ranks, lat, skipped, ci, _time.perf_counter() - started)


def _result(k: int, hits: list[bool], ranks: list[int], lat: list[float], skipped: int, changes: int,
            seconds: float) -> ReplayResult:
    r = np.asarray(ranks, dtype=np.int64)
    latencies = np.asarray(lat, dtype=np.float64)
    ndcg = np.where(r > 0, 1.0 / np.log2(np.maximum(r, 1) + 1.0), 0.0)
    ms = latencies * 1e3
    pct = {name: float(np.percentile(ms, q)) if len(ms) else float("nan")
           for name, q in (("p50", 50), ("p90", 90), ("p99", 99))}
    pct["max"] = float(ms.max()) if len(ms) else float("nan")
    pct["mean"] = float(ms.mean()) if len(ms) else float("nan")
    return ReplayResult(k=k, hit_rate=float(np.mean(hits)) if hits else float("nan"),
                        ndcg=float(ndcg.mean()) if len(ndcg) else float("nan"), n_events=len(r),
                        n_skipped=skipped, n_schedule_changes=changes, latency_ms=pct, seconds=seconds,
                        hits=np.asarray(hits, dtype=bool), ranks=r, latencies=latencies)
