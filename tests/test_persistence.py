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
