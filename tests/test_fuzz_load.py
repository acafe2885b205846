"""Fuzzing ``liverec.load``: a saved directory is untrusted input.

Random bytes in place of ``arrays.safetensors`` / ``config.json`` and random mutations of
real saved directories of every saveable class (bit flips, truncations, edited header
fields, edited array values, edited JSON values), most of them *re-signed* (the
``arrays_sha256`` in ``config.json`` recomputed) so the checks past the checksum are reached.
Each case must either load and then score (finite scores of the right shape), or raise
:class:`~liverec.exceptions.PersistenceError`, within a time bound. Nothing else may escape.

``make test`` runs the 'ci' Hypothesis profile (a quarter of its ``max_examples`` per test
here); fuzz by hand with many more cases::

    HYPOTHESIS_PROFILE=fuzz .venv/bin/python -m pytest tests/test_fuzz_load.py -q
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import liverec
from liverec.exceptions import LiverecError, PersistenceError
from liverec.persistence import ARRAYS_FILE, CONFIG_FILE

TIME_BOUND_S = 20.0
EXAMPLES = max(10, settings.default.max_examples // 4)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
COUNT: dict[str, int] = {}  # examples run per test, printed at the end of the module


def _fit_all() -> dict[str, tuple[Any, Callable[[Any], Any]]]:
    """One small fitted object of every saveable class, with a call that scores it."""
    from liverec.data import TextEvents
    from liverec.models import (
        ALS,
        BPR,
        MatrixFactorization,
        Popularity,
        ProfileRanker,
        SequentialTransformer,
    )
    from liverec.profiles import UserProfileBuilder
    from liverec.testing import contract_data
    from liverec.text import HashingTextEncoder, StreamTextEmbedder

    X, schedule = contract_data()
    users = X.users.ids[:3]
    texts = np.array(["新款口红试色", "how much is it", "link please"])
    text = TextEvents.from_arrays(item=["r1", "r1", "r2"], text=["新款口红", "多少钱", "抽奖送手机"], time=[0, 60, 30],
                                  kind=["title", "comment", "title"])

    def rec(m: Any) -> Any:
        r = m.recommend(users, k=3)  # 25 items: every slot is filled, with a finite score
        assert r.mask.all()
        return r.scores

    out: dict[str, tuple[Any, Callable[[Any], Any]]] = {}
    for model in (Popularity(strategy="recent"), ALS(n_factors=4, n_epochs=2, random_state=0),
                  BPR(n_factors=4, n_epochs=1, random_state=0),
                  MatrixFactorization(n_factors=3, n_epochs=2, random_state=0),
                  SequentialTransformer(embedding_dim=8, n_heads=1, n_layers=1, max_len=8, n_epochs=1,
                                        batch_size=32, random_state=0, verbose=False),
                  ProfileRanker(n_windows=2, n_epochs=1, embedding_dim=4, random_state=0)):
        out[type(model).__name__] = (model.fit(X, schedule=schedule), rec)
    out["HashingTextEncoder"] = (HashingTextEncoder(dim=32, idf=True).fit(texts), lambda e: e.transform(texts))
    out["StreamTextEmbedder"] = (StreamTextEmbedder(encoder=HashingTextEncoder(dim=32)).fit(text),
                                 lambda e: e.transform(np.array(["r1", "r2"])))
    out["UserProfileBuilder"] = (UserProfileBuilder().fit(X), lambda b: b.transform(users))
    return out


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Callable[[Any], Any]]]:
    root = tmp_path_factory.mktemp("saved")
    out = {}
    for name, (obj, score) in _fit_all().items():
        obj.save(str(root / name))
        out[name] = (root / name, score)
    yield out
    print("\nloader fuzz examples run:", COUNT, "total", sum(COUNT.values()))


CLASSES = st.sampled_from(["Popularity", "ALS", "BPR", "MatrixFactorization", "SequentialTransformer",
                           "ProfileRanker", "HashingTextEncoder", "StreamTextEmbedder", "UserProfileBuilder"])


# Helpers -----------------------------------------------------------------------------------------
def resign(path: Path) -> None:
    """Recompute ``arrays_sha256`` so the mutated arrays get past the checksum."""
    config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    config["arrays_sha256"] = hashlib.sha256((path / ARRAYS_FILE).read_bytes()).hexdigest()
    (path / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")


def split(raw: bytes) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def join(header: dict[str, Any], data: bytes) -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + data


def outcome(path: Path, score: Callable[[Any], Any]) -> str:
    """``"loaded"`` or ``"refused"``; fails on any other exception, a hang, or bad scores."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            obj = liverec.load(str(path))
        except BaseException as err:  # noqa: BLE001 - reported below
            result["err"] = err
            return
        try:
            result["ok"] = np.asarray(score(obj), dtype=np.float64)
        except LiverecError as err:  # e.g. an edited id: the scored user is now unknown
            result["ok"] = np.zeros(0)
            result["score_err"] = err
        except BaseException as err:  # noqa: BLE001 - reported below
            result["score_fail"] = err

    t0 = time.perf_counter()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(TIME_BOUND_S)
    assert not worker.is_alive(), f"load (and score) took more than {TIME_BOUND_S} s: a hang"
    assert time.perf_counter() - t0 < TIME_BOUND_S
    if "err" in result:
        err = result["err"]
        if isinstance(err, PersistenceError):
            assert str(err).strip(), "a refusal must say why"
            return "refused"
        raise AssertionError(f"{type(err).__name__} escaped liverec.load: {err}") from err
    if "score_fail" in result:
        err = result["score_fail"]
        raise AssertionError(f"a loaded object failed to score: {type(err).__name__}: {err}") from err
    assert np.isfinite(result["ok"]).all(), "a loaded model scored NaN or infinity"
    return "loaded"


def copy_of(saved: dict[str, tuple[Path, Any]], name: str, tmp: str) -> tuple[Path, Callable[[Any], Any]]:
    src, score = saved[name]
    dst = Path(tmp) / "m"
    shutil.copytree(src, dst)
    return dst, score


def count(test: str) -> None:
    COUNT[test] = COUNT.get(test, 0) + 1


def test_every_saved_directory_loads_unchanged(saved) -> None:
    for name, (path, score) in saved.items():
        assert outcome(path, score) == "loaded", name


# Random bytes ------------------------------------------------------------------------------------
@FUZZ
@given(name=CLASSES, blob=st.binary(max_size=2048), resigned=st.booleans(), which=st.sampled_from([ARRAYS_FILE, CONFIG_FILE]))
def test_random_bytes_in_place_of_a_file(saved, name, blob, resigned, which) -> None:
    count("random_bytes")
    with tempfile.TemporaryDirectory() as tmp:
        path, score = copy_of(saved, name, tmp)
        (path / which).write_bytes(blob)
        if resigned and which == ARRAYS_FILE:
            resign(path)
        assert outcome(path, score) == "refused"


@FUZZ
@given(name=CLASSES, header=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12),
    tail=st.binary(max_size=64))
def test_random_json_header(saved, name, header, tail) -> None:
    count("random_header")
    with tempfile.TemporaryDirectory() as tmp:
        path, score = copy_of(saved, name, tmp)
        (path / ARRAYS_FILE).write_bytes(join(header, tail) if not isinstance(header, dict) or header else b"\0" * 8)
        resign(path)
        assert outcome(path, score) == "refused"


# Mutations of real directories -----------------------------------------------------------------------
@FUZZ
@given(name=CLASSES, flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)), min_size=1, max_size=8),
       resigned=st.booleans())
def test_bit_flips(saved, name, flips, resigned) -> None:
    count("bit_flips")
    with tempfile.TemporaryDirectory() as tmp:
        path, score = copy_of(saved, name, tmp)
        original = (path / ARRAYS_FILE).read_bytes()
        raw = bytearray(original)
        for where, bit in flips:
            raw[int(where * len(raw))] ^= 1 << bit
        (path / ARRAYS_FILE).write_bytes(bytes(raw))
        if resigned:
            resign(path)
        result = outcome(path, score)
        assert resigned or result == "refused" or bytes(raw) == original, "the checksum must catch a flipped bit"


@FUZZ
@given(name=CLASSES, keep=st.floats(0, 1, exclude_max=True), which=st.sampled_from([ARRAYS_FILE, CONFIG_FILE]))
def test_truncation(saved, name, keep, which) -> None:
    count("truncation")
    with tempfile.TemporaryDirectory() as tmp:
        path, score = copy_of(saved, name, tmp)
        raw = (path / which).read_bytes()
        (path / which).write_bytes(raw[: int(keep * len(raw))])
        if which == ARRAYS_FILE:
            resign(path)
        assert outcome(path, score) == "refused"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


@FUZZ
@given(name=CLASSES, data=st.data())
def test_edited_header_fields(saved, name, data) -> None:
    count("header_fields")
    with tempfile.TemporaryDirectory() as tmp:
        path, score = copy_of(saved, name, tmp)
        header, body = split((path / ARRAYS_FILE).read_bytes())
        tensor = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        field = data.draw(st.sampled_from(["dtype", "shape", "data_offsets", "drop", "extra", "swap"]))
        entry = header[tensor]
        if field == "dtype":
            entry["dtype"] = data.draw(st.sampled_from(["F64", "F32", "F16", "I64", "I32", "I16", "I8", "U8", "BOOL", "X9"]) | JSON_VALUES)
        elif field == "shape":
            entry["shape"] = data.draw(st.lists(st.integers(-3, 70), max_size=3) | JSON_VALUES)
        elif field == "data_offsets":
            entry["data_offsets"] = data.draw(st.lists(st.integers(-8, len(body) + 8), min_size=2, max_size=2) | JSON_VALUES)
        elif field == "drop":
            del header[tensor]
        elif field == "extra":
            header[data.draw(st.text(max_size=12))] = entry.copy()
        else:  # swap the dtype and shape of two tensors
            other = header[data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))]
            entry["dtype"], other["dtype"] = other["dtype"], entry["dtype"]
            entry["shape"], other["shape"] = other["shape"], entry["shape"]
        (path / ARRAYS_FILE).write_bytes(join(header, body))
        resign(path)
        outcome(path, score)


SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, -1, 0, 1, 2**31, -2**31, 10**6, 0.5])


@FUZZ
@given(name=CLASSES, data=st.data())
def test_edited_array_values(saved, name, data) -> None:
    count("array_values")
    from liverec.persistence import read_safetensors, write_safetensors

    with tempfile.TemporaryDirectory() as tmp:
        path, score = copy_of(saved, name, tmp)
        arrays = read_safetensors(path / ARRAYS_FILE)
        for _ in range(data.draw(st.integers(1, 3))):
            if not arrays:
                break
            key = data.draw(st.sampled_from(sorted(arrays)))
            arr = arrays[key].copy()
            action = data.draw(st.sampled_from(["set", "set", "reverse", "drop_last", "append", "zeros", "delete"]))
            if action == "set" and arr.size:
                j = data.draw(st.integers(0, arr.size - 1))
                value = data.draw(SPECIAL | st.floats(-1e6, 1e6) | st.integers(-10**6, 10**6))
                with np.errstate(all="ignore"):
                    try:
                        arr.reshape(-1)[j] = value
                    except (OverflowError, ValueError):
                        arr.reshape(-1)[j] = 0
            elif action == "reverse":
                arr = arr[::-1].copy()
            elif action == "drop_last" and arr.size:
                arr = arr[:-1].copy()
            elif action == "append" and arr.ndim == 1:
                arr = np.concatenate([arr, arr[:1]])
            elif action == "zeros":
                arr = np.zeros_like(arr)
            elif action == "delete":
                del arrays[key]
                continue
            arrays[key] = arr
        write_safetensors(path / ARRAYS_FILE, arrays)
        resign(path)
        outcome(path, score)


@FUZZ
@given(name=CLASSES, data=st.data())
def test_edited_config_values(saved, name, data) -> None:
    count("config_values")
    with tempfile.TemporaryDirectory() as tmp:
        path, score = copy_of(saved, name, tmp)
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        section = data.draw(st.sampled_from(["top", "params", "attributes"]))
        target = config if section == "top" else config[section]
        keys = sorted(target)
        action = data.draw(st.sampled_from(["set", "set", "delete", "add"]) if keys else st.just("add"))
        if action == "add":
            target[data.draw(st.text(max_size=10))] = data.draw(JSON_VALUES)
        else:
            key = data.draw(st.sampled_from(keys))
            if action == "delete":
                del target[key]
            else:
                target[key] = data.draw(JSON_VALUES | SPECIAL)
        (path / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
        outcome(path, score)
