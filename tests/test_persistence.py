"""Saving and loading: a directory of JSON + safetensors arrays, never pickle."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import liverec
from liverec.exceptions import PersistenceError
from liverec.models import Popularity
from liverec.persistence import read_safetensors, write_safetensors
from liverec.testing import contract_data


@pytest.fixture
def saved(tmp_path):
    X, schedule = contract_data()
    model = Popularity(strategy="recent").fit(X, schedule=schedule)
    path = tmp_path / "model"
    model.save(str(path))
    return model, path, X


def test_round_trip_gives_identical_recommendations(saved) -> None:
    model, path, X = saved
    again = liverec.load(str(path))
    a, b = model.recommend(X.users.ids[:5], k=4), again.recommend(X.users.ids[:5], k=4)
    np.testing.assert_array_equal(a.items, b.items)
    assert again.get_params() == model.get_params()


def test_config_records_class_version_and_format(saved) -> None:
    _, path, _ = saved
    config = json.loads((path / "config.json").read_text())
    assert config["class"] == "Popularity" and config["liverec_version"] == liverec.__version__
    assert config["format_version"] == 1


def test_tampered_arrays_are_refused(saved) -> None:
    _, path, _ = saved
    data = bytearray((path / "arrays.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (path / "arrays.safetensors").write_bytes(bytes(data))
    with pytest.raises(PersistenceError, match="checksum"):
        liverec.load(str(path))


def test_truncated_config_is_refused(saved) -> None:
    _, path, _ = saved
    text = (path / "config.json").read_text()
    (path / "config.json").write_text(text[: len(text) // 2])
    with pytest.raises(PersistenceError, match="not valid JSON"):
        liverec.load(str(path))


def test_missing_file_is_refused(saved) -> None:
    _, path, _ = saved
    os.remove(path / "arrays.safetensors")
    with pytest.raises(PersistenceError, match="arrays.safetensors is missing"):
        liverec.load(str(path))


def test_class_names_are_looked_up_never_imported(saved) -> None:
    _, path, _ = saved
    config = json.loads((path / "config.json").read_text())
    config["class"] = "os.system"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(PersistenceError, match="unknown class 'os.system'"):
        liverec.load(str(path))


def test_not_a_directory(tmp_path) -> None:
    with pytest.raises(PersistenceError, match="not a directory"):
        liverec.load(str(tmp_path / "nothing"))


def test_arrays_file_round_trip_including_strings(tmp_path) -> None:
    from liverec.persistence import _decode_arrays, _encode_arrays

    arrays = {"f": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.array(["主播", "", "b"]),
              "b": np.array([True, False])}
    write_safetensors(tmp_path / "x.safetensors", _encode_arrays(arrays))
    back = _decode_arrays(read_safetensors(tmp_path / "x.safetensors"))
    for name, value in arrays.items():
        np.testing.assert_array_equal(back[name], value)


def test_files_are_readable_by_the_safetensors_package(tmp_path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    write_safetensors(tmp_path / "x.safetensors", {"w": np.ones((2, 2), dtype=np.float32)})
    np.testing.assert_array_equal(st.load_file(str(tmp_path / "x.safetensors"))["w"], np.ones((2, 2)))


def test_object_arrays_cannot_be_saved(tmp_path) -> None:
    from liverec.persistence import _encode_arrays

    with pytest.raises(PersistenceError, match="without pickle"):
        _encode_arrays({"o": np.array([object()], dtype=object)})


# Loading in any process --------------------------------------------------------------------------
def test_the_class_table_names_every_registered_class_and_its_module() -> None:
    import importlib

    from liverec import persistence

    for module in ("liverec.models", "liverec.text", "liverec.profiles", *persistence.CLASS_MODULES.values()):
        importlib.import_module(module)
    registered = persistence.registered_classes()
    assert {name: cls.__module__ for name, cls in registered.items()} == persistence.CLASS_MODULES


def test_import_liverec_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, liverec; assert 'transformers' not in sys.modules and 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_a_hashing_encoder_loads_in_a_fresh_process() -> None:
    from liverec.testing import check_loads_in_fresh_process
    from liverec.text import HashingTextEncoder

    texts = np.array(["新款口红试色", "how much is it", "link please"])
    check_loads_in_fresh_process(HashingTextEncoder(dim=64, idf=True).fit(texts), "transform", texts)


def test_a_stream_embedder_loads_in_a_fresh_process() -> None:
    from liverec.data import TextEvents
    from liverec.testing import check_loads_in_fresh_process
    from liverec.text import HashingTextEncoder, StreamTextEmbedder

    text = TextEvents.from_arrays(item=["r1", "r1", "r2"], text=["新款口红", "多少钱", "抽奖送手机"], time=[0, 60, 30],
                                  kind=["title", "comment", "title"])
    emb = StreamTextEmbedder(encoder=HashingTextEncoder(dim=64)).fit(text)
    check_loads_in_fresh_process(emb, "transform", np.array(["r1", "r2"]))


def test_a_profile_builder_loads_in_a_fresh_process() -> None:
    from liverec.profiles import UserProfileBuilder
    from liverec.testing import check_loads_in_fresh_process

    X, _ = contract_data()
    check_loads_in_fresh_process(UserProfileBuilder().fit(X), "transform", X.users.ids[:5])


# An untrusted directory: one behaviour per test ---------------------------------------------------
@pytest.fixture(scope="module")
def als_dir(tmp_path_factory):
    from liverec.models import ALS

    X, schedule = contract_data()
    path = tmp_path_factory.mktemp("als") / "model"
    ALS(n_factors=4, n_epochs=2, random_state=0).fit(X, schedule=schedule).save(str(path))
    return path


@pytest.fixture
def als(als_dir, tmp_path):
    import shutil

    shutil.copytree(als_dir, tmp_path / "m")
    return tmp_path / "m"


def _load_promptly(path, **kwargs):
    """liverec.load in a thread: a hang fails the test instead of blocking it."""
    import threading

    box = {}

    def run():
        try:
            box["value"] = liverec.load(str(path), **kwargs)
        except BaseException as err:  # noqa: BLE001
            box["err"] = err

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "load hung"
    if "err" in box:
        raise box["err"]
    return box["value"]


def _resign(path) -> None:
    import hashlib

    config = json.loads((path / "config.json").read_text())
    config["arrays_sha256"] = hashlib.sha256((path / "arrays.safetensors").read_bytes()).hexdigest()
    (path / "config.json").write_text(json.dumps(config))


def _edit_arrays(path, edit) -> None:
    arrays = read_safetensors(path / "arrays.safetensors")
    edit(arrays)
    write_safetensors(path / "arrays.safetensors", arrays)
    _resign(path)


def _edit_config(path, edit) -> None:
    config = json.loads((path / "config.json").read_text())
    edit(config)
    (path / "config.json").write_text(json.dumps(config))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_as_the_arrays_file_is_refused_promptly(als) -> None:
    os.remove(als / "arrays.safetensors")
    os.mkfifo(als / "arrays.safetensors")
    with pytest.raises(PersistenceError, match=r"arrays.safetensors: is a FIFO"):
        _load_promptly(als)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_symlink_to_dev_zero_is_refused_promptly(als) -> None:
    os.remove(als / "arrays.safetensors")
    os.symlink("/dev/zero", als / "arrays.safetensors")
    with pytest.raises(PersistenceError, match=r"arrays.safetensors: is a symbolic link"):
        _load_promptly(als)


def test_a_directory_in_place_of_a_file_is_refused(als) -> None:
    os.remove(als / "config.json")
    os.mkdir(als / "config.json")
    with pytest.raises(PersistenceError, match=r"config.json: is a directory, not a regular file"):
        _load_promptly(als)


def test_a_header_bigger_than_the_file_is_refused(als) -> None:
    import struct

    raw = (als / "arrays.safetensors").read_bytes()
    (als / "arrays.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + raw[8:])
    _resign(als)
    with pytest.raises(PersistenceError, match=r"header size: promises \d+ header bytes but only"):
        _load_promptly(als)


def test_a_non_monotone_indptr_is_refused(als) -> None:
    def edit(a):
        p = a["user_items_indptr"]
        p[1], p[2] = p[2], p[1] - 1

    _edit_arrays(als, edit)
    with pytest.raises(PersistenceError, match=r"'user_items_indptr': must be non-decreasing"):
        _load_promptly(als)


def test_a_negative_index_is_refused(als) -> None:
    _edit_arrays(als, lambda a: a["base/seen_indices"].__setitem__(0, -1))
    with pytest.raises(PersistenceError, match=r"'base/seen_indices': indices must lie in \[0, 25\), found -1"):
        _load_promptly(als)


def test_a_nan_factor_is_refused(als) -> None:
    _edit_arrays(als, lambda a: a["user_factors"].__setitem__((3, 1), np.nan))
    with pytest.raises(PersistenceError, match=r"'user_factors': holds NaN or infinity \(first at index \(3, 1\)\)"):
        _load_promptly(als)


def test_n_factors_that_do_not_match_the_factors_are_refused(als) -> None:
    _edit_config(als, lambda c: c["params"].__setitem__("n_factors", 8))
    with pytest.raises(PersistenceError, match=r"'user_factors': expected shape \(40, 8\), got \(40, 4\)"):
        _load_promptly(als)


@pytest.mark.parametrize(("name", "value"), [("n_factors", "abc"), ("alpha", float("nan")), ("n_factors", 0)])
def test_a_parameter_its_class_refuses_is_refused(als, name, value) -> None:
    _edit_config(als, lambda c: c["params"].__setitem__(name, value))
    with pytest.raises(PersistenceError, match=rf"config.json: params.{name}: "):
        _load_promptly(als)


def test_an_unknown_parameter_is_refused(als) -> None:
    _edit_config(als, lambda c: c["params"].__setitem__("bogus", 1))
    with pytest.raises(PersistenceError, match=r"config.json: params.bogus: unknown parameter of ALS"):
        _load_promptly(als)


def test_an_unknown_top_level_key_is_refused(als) -> None:
    _edit_config(als, lambda c: c.__setitem__("code", "import os"))
    with pytest.raises(PersistenceError, match=r"config.json: code: unknown key"):
        _load_promptly(als)


def test_an_unknown_array_is_refused(als) -> None:
    _edit_arrays(als, lambda a: a.__setitem__("extra", np.zeros(3)))
    with pytest.raises(PersistenceError, match=r"tensor 'extra': unknown array for ALS"):
        _load_promptly(als)


def test_duplicate_ids_are_refused(als) -> None:
    def edit(a):
        ids = a["__str__/base/users/data"]
        off = a["__str__/base/users/offsets"]
        a["__str__/base/users/data"] = np.concatenate([ids[off[0]:off[1]], ids[off[0]:off[1]], ids[off[2]:]])
        a["__str__/base/users/offsets"] = np.concatenate([[0, off[1], 2 * off[1]], off[3:] - off[2] + 2 * off[1]])

    _edit_arrays(als, edit)
    with pytest.raises(PersistenceError, match=r"'base/users': .*distinct"):
        _load_promptly(als)


def test_a_pinned_sha256_is_checked(als) -> None:
    from liverec.persistence import fingerprint

    pin = fingerprint(als)
    assert type(_load_promptly(als, sha256=pin)).__name__ == "ALS"
    assert type(_load_promptly(als, sha256=pin.upper())).__name__ == "ALS"
    _edit_config(als, lambda c: c["attributes"].__setitem__("user_items_shape", [40, 25]))  # same meaning, new bytes
    with pytest.raises(PersistenceError, match=r"is not the pinned"):
        _load_promptly(als, sha256=pin)
    with pytest.raises(PersistenceError, match="sha256: expected 64 hex digits"):
        _load_promptly(als, sha256="abc")


@pytest.mark.parametrize("header", [b"[]", b"{\"a\": 1}", b"[" * 100000, b"\xff\xfe", b"{\"a\": {\"dtype\": \"F32\"}}"])
def test_malformed_headers_are_persistence_errors(als, header) -> None:
    import struct

    (als / "arrays.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    _resign(als)
    with pytest.raises(PersistenceError, match=r"arrays.safetensors"):
        _load_promptly(als)
