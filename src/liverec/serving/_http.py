"""The HTTP front of a ``LiveService`` (the ``serve`` extra: FastAPI, run by uvicorn).

FastAPI is imported inside [`create_app`][liverec.serving.create_app], so this module imports
without the extra. Bodies are validated by pydantic (a malformed body is a 422 naming the
field); liverec's own checks (unknown event names, times of the wrong kind, ids of the wrong
type) answer 400 with liverec's message, a viewer with no state 404. Nothing is changed by a
refused request: ``observe`` and schedule updates validate everything before they write.
"""

# no ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at run
# time, and the request models are local to create_app
import json as _json
import threading
import time as _time
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import LiverecError, UnknownIdError

if TYPE_CHECKING:
    from ._service import LiveService

__all__ = ["Metrics", "create_app"]

#: Most events (or schedule changes) one POST may carry.
MAX_BATCH = 10_000
#: Latencies kept per endpoint for the percentiles of ``/metrics``.
LATENCY_WINDOW = 10_000


class Metrics:
    """Request counts by endpoint and status, and latency percentiles over the last requests.

    Examples:
        >>> m = Metrics()
        >>> m.record("/recommend", 200, 0.002)
        >>> m.snapshot()["endpoints"]["/recommend"]["count"]
        1
    """

    def __init__(self, window: int = LATENCY_WINDOW) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[int, int]] = {}
        self._latency: dict[str, deque[float]] = {}
        self._window = window
        self.started = _time.time()

    def record(self, endpoint: str, status: int, seconds: float) -> None:
        with self._lock:
            by_status = self._counts.setdefault(endpoint, {})
            by_status[status] = by_status.get(status, 0) + 1
            self._latency.setdefault(endpoint, deque(maxlen=self._window)).append(seconds)

    def snapshot(self) -> dict[str, Any]:
        """``{"uptime_s", "endpoints": {path: {"count", "status", "latency_ms": {p50, p90, p99, max}}}}``."""
        with self._lock:
            counts = {e: dict(s) for e, s in self._counts.items()}
            lat = {e: np.array(d) for e, d in self._latency.items()}
        out: dict[str, Any] = {}
        for endpoint, by_status in counts.items():
            ms = lat[endpoint] * 1e3
            out[endpoint] = {
                "count": sum(by_status.values()),
                "status": {str(s): n for s, n in sorted(by_status.items())},
                "latency_ms": {name: float(np.percentile(ms, q)) for name, q in (("p50", 50), ("p90", 90), ("p99", 99))}
                | {"max": float(ms.max())},
            }
        return {"uptime_s": _time.time() - self.started, "endpoints": out}


def _convert_id(value: str, kind: str, what: str) -> Any:
    """A query-string id as the model's id type (ints stay ints)."""
    if kind != "i":
        return value
    try:
        return int(value)
    except ValueError:
        raise _BadRequest(f"{what} {value!r}: this model's {what} ids are integers.") from None


class _BadRequest(LiverecError, ValueError):
    """A request the service cannot answer as asked (400)."""


def create_app(service: "LiveService", *, max_batch: int = MAX_BATCH) -> Any:  # noqa: C901, PLR0915  # one app: the routes are its body
    """The ASGI application (FastAPI) serving a ``LiveService``.

    Endpoints:

    * ``POST /events`` ``{"events": [{"user", "item", "time"?, "event"?, "weight"?}, ...]}``:
      observe viewer events (no ``time``: the service clock).
    * ``POST /products/events``: the same, for product events (a service with ``products``).
    * ``POST /schedule`` ``{"changes": [{"item", "on_air": true|false, "time"?}, ...]}``:
      rooms going on / off air, applied in order, all or none.
    * ``GET /recommend?user=...&k=10&at=...``: the live rooms for a viewer.
    * ``GET /products?user=...&room=...&k=10``: the products to show in a room.
    * ``GET /hot?k=10``: the rooms hot now.
    * ``GET /healthz``: liveness and a few counts; ``GET /metrics``: request counts and
      latency percentiles by endpoint.

    Times are numbers for numeric data and ISO-8601 strings for datetime data.

    Args:
        service: The service to serve (its model, schedule and state).
        max_batch: Most events or schedule changes in one POST (larger bodies get a 413).

    Raises:
        ImportError: FastAPI is missing (``pip install 'liverec[serve]'``).

    Examples:
        >>> from fastapi.testclient import TestClient  # doctest: +SKIP
        >>> client = TestClient(create_app(service))  # doctest: +SKIP
        >>> client.get("/recommend", params={"user": 7, "k": 5}).json()["items"]  # doctest: +SKIP
    """
    try:
        from fastapi import FastAPI, HTTPException, Query, Request
        from fastapi.responses import JSONResponse, Response
        from pydantic import BaseModel, ConfigDict, Field
    except ImportError as err:  # pragma: no cover - exercised without the extra
        raise ImportError("the HTTP app needs the serve extra: pip install 'liverec[serve]'") from err

    Id = int | str
    Time = float | str

    class Event(BaseModel):
        model_config = ConfigDict(extra="forbid")
        user: Id
        item: Id
        time: Time | None = None
        event: str | None = None
        weight: float | None = None

    class Events(BaseModel):
        model_config = ConfigDict(extra="forbid")
        events: list[Event] = Field(min_length=1)

    class Change(BaseModel):
        model_config = ConfigDict(extra="forbid")
        item: Id
        on_air: bool
        time: Time | None = None

    class Changes(BaseModel):
        model_config = ConfigDict(extra="forbid")
        changes: list[Change] = Field(min_length=1)

    app = FastAPI(title="liverec", description="Live recommendations from a liverec.serving.LiveService")
    metrics = Metrics()
    app.state.service, app.state.metrics = service, metrics

    app.add_middleware(_Timing, metrics=metrics)

    @app.exception_handler(UnknownIdError)
    async def unknown(request: Request, err: UnknownIdError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(err).strip("\"'")})

    @app.exception_handler(LiverecError)
    async def invalid(request: Request, err: LiverecError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(err)})

    def too_big(n: int, what: str) -> None:
        if n > max_batch:
            raise HTTPException(413, f"{n} {what} in one request; send at most {max_batch} per request.")

    def columns(events: list[Any]) -> dict[str, Any]:
        cols: dict[str, Any] = {"user": [e.user for e in events], "item": [e.item for e in events]}
        for name in ("time", "event", "weight"):
            values = [getattr(e, name) for e in events]
            given = [v is not None for v in values]
            if any(given) and not all(given):
                raise _BadRequest(f"'{name}' is given for some events and not others; give it for all or none.")
            if all(given):
                cols[name] = values
        return cols

    @app.post("/events")
    def post_events(body: Events) -> dict[str, Any]:
        too_big(len(body.events), "events")
        return {"observed": service.observe(columns(body.events))}

    @app.post("/products/events")
    def post_product_events(body: Events) -> dict[str, Any]:
        too_big(len(body.events), "events")
        return {"observed": service.observe_products(columns(body.events))}

    @app.post("/schedule")
    def post_schedule(body: Changes) -> dict[str, Any]:
        too_big(len(body.changes), "changes")
        times = [c.time for c in body.changes]
        if any(t is None for t in times) and not all(t is None for t in times):
            raise _BadRequest("'time' is given for some changes and not others; give it for all or none.")
        t = None if times[0] is None else times
        service.update_schedule([c.item for c in body.changes], t, on_air=np.array([c.on_air for c in body.changes]))
        return {"applied": len(body.changes), "rooms_on_air": service.schedule.n_open}

    def recs_json(recs: Any) -> dict[str, Any]:
        row = recs[0]
        return {"user": recs.users[0].item() if hasattr(recs.users[0], "item") else recs.users[0],
                "items": row, "scores": [float(s) for s in recs.scores[0][recs.mask[0]]]}

    def as_json(content: dict[str, Any]) -> Response:
        # serialised here: FastAPI's response-model encoding costs more than the ranking
        return Response(_json.dumps(content).encode(), media_type="application/json")

    # The read endpoints run on the event loop (async): a ranking takes about a millisecond of
    # CPU, less than the hop to a worker thread and back that a plain ``def`` route costs.
    @app.get("/recommend", response_class=Response)
    async def get_recommend(user: str, k: int = Query(10, ge=1, le=1000), at: str | None = None) -> Response:
        model = service.model
        uid = _convert_id(user, model.users_.ids.dtype.kind if len(model.users_) else "U", "user")
        return as_json(recs_json(service.recommend(uid, k=k, at=_query_time(at))))

    @app.get("/products", response_class=Response)
    async def get_products(user: str, room: str, k: int = Query(10, ge=1, le=1000),
                           at: str | None = None) -> Response:
        products = service.products
        if products is None:
            raise _BadRequest("this service has no products model.")
        uid = _convert_id(user, products.users_.ids.dtype.kind if len(products.users_) else "U", "user")
        rid = _convert_id(room, service.model.items_.ids.dtype.kind, "room")
        return as_json(recs_json(service.recommend_products(uid, rid, k=k, at=_query_time(at))))

    @app.get("/hot", response_class=Response)
    async def get_hot(k: int = Query(10, ge=1, le=1000), at: str | None = None) -> Response:
        recs = service.hot(k=k, at=_query_time(at))
        return as_json({"items": recs[0], "events": [float(s) for s in recs.scores[0][recs.mask[0]]]})

    @app.get("/healthz", response_class=Response)
    async def healthz() -> Response:
        return as_json({"status": "ok", **service.stats()})

    @app.get("/metrics")
    def get_metrics() -> dict[str, Any]:
        return metrics.snapshot()

    return app


class _Timing:
    """ASGI middleware: every HTTP request's route, status and latency go to ``Metrics`` (a plain
    ASGI wrapper, cheaper than a ``BaseHTTPMiddleware``)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = _time.perf_counter()
        status = [500]

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")  # set by the router on the same scope
            self.metrics.record(getattr(route, "path", "(unmatched)"), status[0], _time.perf_counter() - start)


def _query_time(at: str | None) -> Any:
    """A time from a query string: a number stays a number, anything else is an ISO-8601 time."""
    if at is None:
        return None
    try:
        return float(at)
    except ValueError:
        return at
