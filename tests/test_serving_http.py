"""The HTTP front of liverec.serving (``liverec serve``): FastAPI's test client, and one real server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from liverec.models import ALS  # noqa: E402
from liverec.serving import LiveService, create_app  # noqa: E402
from liverec.testing import contract_data  # noqa: E402


@pytest.fixture(scope="module")
def model() -> ALS:
    X, schedule = contract_data()
    return ALS(n_factors=8, n_epochs=4, random_state=0, threads=1).fit(X, schedule=schedule)


@pytest.fixture
def client(model: ALS) -> TestClient:
    service = LiveService(model)
    service.on_air(["room2", "room4", "room6", "room8"], 190.0)
    return TestClient(create_app(service), raise_server_exceptions=False)


def test_recommend_returns_live_rooms_with_scores(client: TestClient) -> None:
    r = client.get("/recommend", params={"user": "user3", "k": 3, "at": 200})
    assert r.status_code == 200
    body = r.json()
    assert body["user"] == "user3" and len(body["items"]) == 3 == len(body["scores"])
    assert set(body["items"]) <= {"room2", "room4", "room6", "room8"}


def test_posted_events_are_folded_into_the_next_recommendation(client: TestClient) -> None:
    before = client.get("/recommend", params={"user": "newbie", "k": 4, "at": 200}).json()
    r = client.post("/events", json={"events": [{"user": "newbie", "item": "room8", "time": 199, "event": "like"}]})
    assert r.status_code == 200 and r.json() == {"observed": 1}
    after = client.get("/recommend", params={"user": "newbie", "k": 4, "at": 200}).json()
    assert after["scores"] != before["scores"]


def test_schedule_changes_take_rooms_off_air(client: TestClient) -> None:
    r = client.post("/schedule", json={"changes": [{"item": "room2", "on_air": False, "time": 195},
                                                   {"item": "room10", "on_air": True, "time": 195}]})
    assert r.status_code == 200 and r.json()["rooms_on_air"] == 4
    items = client.get("/recommend", params={"user": "user3", "k": 10, "at": 200}).json()["items"]
    assert "room2" not in items and "room10" in items


@pytest.mark.parametrize(("method", "path", "payload", "status"), [
    ("post", "/events", {"events": [{"user": "a"}]}, 422),                        # no item
    ("post", "/events", {"events": []}, 422),                                     # nothing to observe
    ("post", "/events", {"events": [{"user": "a", "item": "room2", "colour": 1}]}, 422),
    ("post", "/events", {"events": [{"user": "a", "item": "room2", "event": "teleport"}]}, 400),
    ("post", "/events", {"events": [{"user": "a", "item": "room2", "time": "2024-01-01T00:00"}]}, 400),
    ("post", "/events", {"events": [{"user": 1, "item": "room2", "time": 1.0}]}, 400),  # int id, str model
    ("post", "/events", {"events": [{"user": "a", "item": "room2", "time": 1},
                                    {"user": "a", "item": "room2"}]}, 400),         # time for some only
    ("post", "/schedule", {"changes": [{"item": "room2", "on_air": True, "time": 196}]}, 400),  # already on
    ("post", "/schedule", {"changes": [{"item": "room3", "on_air": False, "time": 196}]}, 400),  # not on
    ("post", "/schedule", {"changes": [{"item": "room3"}]}, 422),
    ("post", "/schedule", "not json at all", 422),
])
def test_bad_bodies_get_a_4xx_with_a_message_and_change_nothing(client: TestClient, method: str, path: str,
                                                                 payload: Any, status: int) -> None:
    before = client.get("/healthz").json()
    kwargs = {"content": payload} if isinstance(payload, str) else {"json": payload}
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status
    assert r.json()["detail"]
    after = client.get("/healthz").json()
    assert after["viewers_buffered"] == before["viewers_buffered"]
    assert after["rooms_on_air"] == before["rooms_on_air"]


@pytest.mark.parametrize(("params", "status"), [
    ({"user": "user3", "k": 0}, 422),
    ({"user": "user3", "k": "many"}, 422),
    ({"k": 3}, 422),
    ({"user": "user3", "at": "2024-01-01T00:00"}, 400),  # a datetime against numeric data
])
def test_bad_queries_get_a_4xx(client: TestClient, params: dict[str, Any], status: int) -> None:
    r = client.get("/recommend", params=params)
    assert r.status_code == status and r.json()["detail"]


def test_a_viewer_with_no_state_is_a_404_when_the_service_refuses_cold_start(model: ALS) -> None:
    service = LiveService(model, cold_start="raise")
    r = TestClient(create_app(service)).get("/recommend", params={"user": "stranger", "at": 200})
    assert r.status_code == 404 and "stranger" in r.json()["detail"]


def test_too_many_events_in_one_request_is_a_413(model: ALS) -> None:
    client = TestClient(create_app(LiveService(model), max_batch=2))
    events = [{"user": "a", "item": "room2", "time": t} for t in (1, 2, 3)]
    assert client.post("/events", json={"events": events}).status_code == 413


def test_metrics_count_requests_and_latency_by_endpoint(client: TestClient) -> None:
    for _ in range(3):
        client.get("/recommend", params={"user": "user3", "at": 200})
    client.get("/recommend", params={"user": "user3", "k": 0})
    m = client.get("/metrics").json()["endpoints"]["/recommend"]
    assert m["count"] == 4 and m["status"] == {"200": 3, "422": 1}
    assert 0 < m["latency_ms"]["p50"] <= m["latency_ms"]["p99"]


def test_healthz_reports_the_model_and_the_live_set(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["model"] == "ALS" and body["rooms_on_air"] == 4


# --- the real server, over the loopback interface -----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_liverec_serve_answers_over_http_on_loopback(model: ALS, tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    model.save(str(tmp_path / "als"))
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "liverec.cli", "serve", str(tmp_path / "als"), "--port",
                             str(port), "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, health = _call(f"{base}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"the server did not start: {out}")
                time.sleep(0.2)
        assert status == 200 and health["model"] == "ALS"
        assert _call(f"{base}/schedule", {"changes": [{"item": "room2", "on_air": True, "time": 190},
                                                      {"item": "room4", "on_air": True, "time": 190}]})[0] == 200
        assert _call(f"{base}/events", {"events": [{"user": "newbie", "item": "room4", "time": 195}]})[0] == 200
        status, recs = _call(f"{base}/recommend?user=newbie&k=5&at=200")
        assert status == 200 and sorted(recs["items"]) == ["room2", "room4"]
        assert _call(f"{base}/events", {"events": [{"user": "newbie"}]})[0] == 422
        assert _call(f"{base}/metrics")[1]["endpoints"]["/recommend"]["count"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=20)
