"""Saving and loading models: a directory with ``config.json`` and ``arrays.safetensors``.

Never uses pickle and never imports a dotted path from the file: the class is looked up by
name in a registry of liverec classes, numeric arrays are raw little-endian buffers in the
`safetensors <https://huggingface.co/docs/safetensors>`_ layout (readable by the
``safetensors`` package, written here without depending on it) and string arrays are stored
as UTF-8 bytes plus offsets. ``config.json`` records the SHA-256 of the arrays file, so a
tampered or truncated directory is refused with a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from typing import Any

import numpy as np

from ._version import __version__
from .exceptions import PersistenceError

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
ARRAYS_FILE = "arrays.safetensors"

_REGISTRY: dict[str, type] = {}

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
_DTYPE_NAMES = {np.dtype(v).str.lstrip("<|="): k for k, v in _DTYPES.items()}
_STR_PREFIX = "__str__/"


def register(cls: type) -> type:
    """Class decorator: make ``cls`` loadable by :func:`load` under its class name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def registered_classes() -> dict[str, type]:
    """The classes :func:`load` can build, by name."""
    return dict(_REGISTRY)


# Arrays -------------------------------------------------------------------------------------
def _encode_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.kind in "US" or (arr.dtype == object and all(isinstance(x, str) for x in arr.ravel())):
            encoded = [str(x).encode("utf-8") for x in arr.ravel()]
            lengths = np.array([len(b) for b in encoded], dtype=np.int64)
            offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            out[f"{_STR_PREFIX}{name}/data"] = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
            out[f"{_STR_PREFIX}{name}/offsets"] = offsets
            out[f"{_STR_PREFIX}{name}/shape"] = np.asarray(arr.shape, dtype=np.int64)
        elif arr.dtype == object:
            raise PersistenceError(
                f"array {name!r} holds Python objects, which cannot be saved without pickle; "
                "use numbers or strings."
            )
        else:
            out[name] = arr
    return out


def _decode_arrays(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    str_names = {k[len(_STR_PREFIX):].rsplit("/", 1)[0] for k in raw if k.startswith(_STR_PREFIX)}
    for name in str_names:
        data = raw[f"{_STR_PREFIX}{name}/data"].tobytes()
        offsets = raw[f"{_STR_PREFIX}{name}/offsets"]
        shape = tuple(int(s) for s in raw[f"{_STR_PREFIX}{name}/shape"])
        strings = [data[offsets[j]:offsets[j + 1]].decode("utf-8") for j in range(len(offsets) - 1)]
        out[name] = np.asarray(strings, dtype=str).reshape(shape) if strings else np.zeros(shape, dtype=str)
    for name, arr in raw.items():
        if not name.startswith(_STR_PREFIX):
            out[name] = arr
    return out


def write_safetensors(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> None:
    """Write numeric arrays in the safetensors layout (8-byte header size, JSON header, data)."""
    header: dict[str, Any] = {"__metadata__": {"format": "np", "writer": f"liverec {__version__}"}}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        key = arr.dtype.str.lstrip("<|=")
        if key not in _DTYPE_NAMES or arr.dtype.byteorder == ">":
            raise PersistenceError(f"array {name!r}: dtype {arr.dtype} cannot be saved.")
        blob = arr.tobytes()
        header[name] = {"dtype": _DTYPE_NAMES[key], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        chunks.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(head)))
        fh.write(head)
        for blob in chunks:
            fh.write(blob)


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a file written by :func:`write_safetensors` (or the safetensors package)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + n].decode("utf-8"))
        data = memoryview(raw)[8 + n:]
        out = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            start, end = meta["data_offsets"]
            if end > len(data) or start > end:
                raise ValueError(f"tensor {name!r} runs past the end of the file")
            dtype = np.dtype(_DTYPES[meta["dtype"]])
            arr = np.frombuffer(data[start:end], dtype=dtype).reshape(meta["shape"])
            out[name] = arr.copy()
        return out
    except (struct.error, ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise PersistenceError(f"{os.fspath(path)!r} is not a valid arrays file: {err}") from err


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Params -------------------------------------------------------------------------------------
def encode_value(value: Any) -> Any:
    """A JSON-safe form of a hyper-parameter value (nested liverec objects by class name)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise PersistenceError("only dicts with string keys can be saved as parameters.")
        return {"__dict__": {k: encode_value(v) for k, v in value.items()}}
    if type(value).__name__ in _REGISTRY and hasattr(value, "get_params"):
        return {"__liverec__": type(value).__name__,
                "params": {k: encode_value(v) for k, v in value.get_params(deep=False).items()}}
    raise PersistenceError(
        f"parameter value {value!r} of type {type(value).__name__} cannot be saved to JSON; "
        "use numbers, strings, lists, dicts or liverec objects."
    )


def decode_value(value: Any) -> Any:
    """Inverse of :func:`encode_value`; builds only registered liverec classes."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(decode_value(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: decode_value(v) for k, v in value["__dict__"].items()}
        if "__liverec__" in value:
            cls = _lookup(value["__liverec__"])
            return cls(**{k: decode_value(v) for k, v in value["params"].items()})
        raise PersistenceError(f"unexpected object in config: {sorted(value)}")
    return value


# Subpackages that ``import liverec`` does not import eagerly but whose classes can be saved.
_LAZY_MODULES = ("liverec.text",)


def _lookup(name: Any) -> type:
    if isinstance(name, str) and name not in _REGISTRY:
        import importlib

        for module in _LAZY_MODULES:
            importlib.import_module(module)
    if not isinstance(name, str) or name not in _REGISTRY:
        raise PersistenceError(
            f"unknown class {name!r} in config.json; loadable classes: {sorted(_REGISTRY)}."
        )
    return _REGISTRY[name]


# Directory ------------------------------------------------------------------------------------
def save_state(
    path: str | os.PathLike[str],
    cls_name: str,
    params: dict[str, Any],
    attributes: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> None:
    """Write a model directory (created if needed; existing files are overwritten)."""
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    arrays_path = os.path.join(path, ARRAYS_FILE)
    write_safetensors(arrays_path, _encode_arrays(arrays))
    config = {
        "format": "liverec",
        "format_version": FORMAT_VERSION,
        "liverec_version": __version__,
        "class": cls_name,
        "params": {k: encode_value(v) for k, v in params.items()},
        "attributes": attributes,
        "arrays_sha256": _sha256(arrays_path),
    }
    with open(os.path.join(path, CONFIG_FILE), "w", encoding="utf-8") as fh:
        json.dump(config, fh, indent=2, sort_keys=True, ensure_ascii=False)


def load_state(path: str | os.PathLike[str]) -> tuple[type, dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a model directory: ``(class, params, attributes, arrays)``."""
    path = os.fspath(path)
    config_path = os.path.join(path, CONFIG_FILE)
    arrays_path = os.path.join(path, ARRAYS_FILE)
    if not os.path.isdir(path):
        raise PersistenceError(f"{path!r} is not a directory; save a model with model.save(path) first.")
    for f in (config_path, arrays_path):
        if not os.path.exists(f):
            raise PersistenceError(f"{path!r} is not a complete liverec model: {os.path.basename(f)} is missing.")
    try:
        with open(config_path, encoding="utf-8") as fh:
            config = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PersistenceError(f"{config_path!r} is not valid JSON (truncated or edited?): {err}") from err
    if not isinstance(config, dict) or config.get("format") != "liverec":
        raise PersistenceError(f"{config_path!r} is not a liverec model config.")
    if config.get("format_version") != FORMAT_VERSION:
        raise PersistenceError(
            f"{path!r} has format version {config.get('format_version')!r}; this liverec "
            f"({__version__}) reads version {FORMAT_VERSION}."
        )
    if _sha256(arrays_path) != config.get("arrays_sha256"):
        raise PersistenceError(
            f"{arrays_path!r} does not match the checksum in config.json: the directory was "
            "truncated or modified after saving; save the model again."
        )
    cls = _lookup(config.get("class"))
    params = {k: decode_value(v) for k, v in dict(config.get("params", {})).items()}
    arrays = _decode_arrays(read_safetensors(arrays_path))
    return cls, params, dict(config.get("attributes", {})), arrays


def load(path: str | os.PathLike[str]) -> Any:
    """Load any liverec model or encoder saved with ``.save(path)``.

    Examples:
        >>> import tempfile, liverec
        >>> from liverec.datasets import make_live_commerce
        >>> data = make_live_commerce(n_users=50, n_streamers=10, n_days=2, random_state=0)
        >>> model = liverec.models.Popularity().fit(data.interactions)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     model.save(d)
        ...     again = liverec.load(d)
        >>> type(again).__name__
        'Popularity'
    """
    cls, params, attributes, arrays = load_state(path)
    obj = cls(**params)
    try:
        obj._set_state(attributes, arrays)
    except (KeyError, ValueError, IndexError) as err:
        raise PersistenceError(f"{os.fspath(path)!r}: saved state is incomplete or inconsistent: {err}") from err
    return obj
