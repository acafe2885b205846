"""Saving and loading models: a directory with ``config.json`` and ``arrays.safetensors``.

Never uses pickle and never imports a dotted path from the file: the class is looked up by
name in a registry of liverec classes, numeric arrays are raw little-endian buffers in the
`safetensors <https://huggingface.co/docs/safetensors>`_ layout (readable by the
``safetensors`` package, written here without depending on it) and string arrays are stored
as UTF-8 bytes plus offsets. ``config.json`` records the SHA-256 of the arrays file, so a
corrupted or truncated directory is refused with a clear error.

A saved directory is untrusted input: [`load`][liverec.persistence.load] opens only regular files (no symbolic
links, FIFOs or devices, so it never hangs), checks the safetensors header against the file,
checks ``config.json`` key by key and the parameters through each class's own validation,
and each class checks its arrays against the parameters and the id maps. Every refusal is a
[`PersistenceError`][liverec.exceptions.PersistenceError] naming the file, the field and the reason. The
checksum detects corruption, not tampering: pin an artefact you trust with
[`fingerprint`][liverec.persistence.fingerprint] and ``load(path, sha256=...)``.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import math
import os
import re
import stat
import struct
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .data import IdMap

import numpy as np

from ._version import __version__
from .exceptions import PersistenceError

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
ARRAYS_FILE = "arrays.safetensors"

_REGISTRY: dict[str, type] = {}

# Every class ``load`` can build, by name, and the liverec module that defines (registers) it.
# ``load`` imports only a module named here, never a path read from the file, so a model
# saved by one process loads in another that ran only ``import liverec``.
# tests/test_persistence.py checks that this table and the registry agree.
CLASS_MODULES: dict[str, str] = {
    "Popularity": "liverec.models.popularity",
    "MatrixFactorization": "liverec.models.mf",
    "ALS": "liverec.models.als",
    "BPR": "liverec.models.bpr",
    "SequentialTransformer": "liverec.models.sequential.estimator",
    "ProfileRanker": "liverec.models.profile_ranker",
    "HashingTextEncoder": "liverec.text.hashing",
    "TransformerTextEncoder": "liverec.text.transformer",
    "StreamTextEmbedder": "liverec.text.streams",
    "UserProfileBuilder": "liverec.profiles.builder",
}

CONFIG_MAX_BYTES = 64 << 20  # config.json holds parameters and small attributes only
HEADER_MAX_BYTES = 100 << 20  # the safetensors package's own cap on the JSON header
_MAX_DIM = 1 << 40
_HEX64 = re.compile(r"[0-9a-f]{64}")

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
_DTYPE_NAMES = {np.dtype(v).str.lstrip("<|="): k for k, v in _DTYPES.items()}
_KIND_NAMES = {"f": "float", "i": "integer", "u": "unsigned integer", "b": "bool", "U": "string"}
_STR_PREFIX = "__str__/"


def register(cls: type) -> type:
    """Class decorator: make ``cls`` loadable by [`load`][liverec.persistence.load] under its class name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def registered_classes() -> dict[str, type]:
    """The classes [`load`][liverec.persistence.load] can build, by name."""
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
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, arr in raw.items():
        if not key.startswith(_STR_PREFIX):
            out[key] = arr
            continue
        name, _, part = key[len(_STR_PREFIX):].rpartition("/")
        if not name or part not in ("data", "offsets", "shape"):
            raise _refuse(f"{ARRAYS_FILE}: tensor {key!r}", "not a part of a string array (data, offsets, shape)")
        groups.setdefault(name, {})[part] = arr
    for name, parts in groups.items():
        where = f"{ARRAYS_FILE}: string array {name!r}"
        missing = sorted({"data", "offsets", "shape"} - set(parts))
        if missing:
            raise _refuse(where, f"part {missing[0]!r} is missing")
        if name in out:
            raise _refuse(where, "saved both as numbers and as strings")
        data, offsets, shape = parts["data"], parts["offsets"], parts["shape"]
        if data.dtype != np.uint8 or data.ndim != 1:
            raise _refuse(f"{where}.data", f"expected 1-D U8 bytes, got {data.dtype} of shape {data.shape}")
        if offsets.dtype.kind not in "iu" or offsets.ndim != 1 or len(offsets) < 1:
            raise _refuse(f"{where}.offsets", f"expected 1-D integers, got {offsets.dtype} of shape {offsets.shape}")
        if shape.dtype.kind not in "iu" or shape.ndim != 1 or (shape < 0).any() or len(shape) > 32:
            raise _refuse(f"{where}.shape", f"expected a 1-D list of non-negative integers, got {shape.tolist()!r:.80}")
        offsets = offsets.astype(np.int64)
        if offsets[0] != 0 or (np.diff(offsets) < 0).any() or offsets[-1] != len(data):
            raise _refuse(f"{where}.offsets", f"must rise from 0 to {len(data)} without decreasing")
        dims = tuple(int(s) for s in shape)
        if math.prod(dims) != len(offsets) - 1:
            raise _refuse(f"{where}.shape", f"{list(dims)} does not hold the {len(offsets) - 1} strings")
        blob = data.tobytes()
        try:
            strings = [blob[offsets[j]:offsets[j + 1]].decode("utf-8") for j in range(len(offsets) - 1)]
        except UnicodeDecodeError as err:
            raise _refuse(f"{where}.data", f"is not UTF-8 ({err.reason})") from None
        out[name] = np.asarray(strings, dtype=str).reshape(dims) if strings else np.zeros(dims, dtype=str)
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


def _refuse(where: str, reason: str) -> PersistenceError:
    return PersistenceError(f"{where}: {reason}")


_O_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return kind
    return "not a regular file"


def read_member(directory: str | os.PathLike[str], name: str, max_bytes: int | None = None) -> bytes:
    """The bytes of the regular file ``name`` inside ``directory``, read without ever blocking.

    The file is opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat`` on the open
    descriptor: a symbolic link, FIFO, device, socket or directory is refused with a
    [`PersistenceError`][liverec.exceptions.PersistenceError] (a FIFO or ``/dev/zero`` would otherwise
    make a reader hang or read forever), and so is a file larger than ``max_bytes``.
    """
    directory = os.fspath(directory)
    path = os.path.join(directory, name)
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise _refuse(name, "is a symbolic link; a saved model holds only regular files, save it again")
        fd = os.open(path, _O_FLAGS)
    except FileNotFoundError:
        raise PersistenceError(f"{directory!r} is not a complete liverec model: {name} is missing.") from None
    except OSError as err:
        reason = "is a symbolic link" if err.errno == errno.ELOOP else f"cannot be opened ({err.strerror})"
        raise _refuse(name, f"{reason}; a saved model holds only regular files") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(name, f"is {_file_kind(st.st_mode)}, not a regular file; a saved model holds only regular files")
        if max_bytes is not None and st.st_size > max_bytes:
            raise _refuse(name, f"is {st.st_size} bytes, more than the {max_bytes} this file may hold")
        limit = st.st_size if max_bytes is None else max_bytes
        chunks, total = [], 0
        while total <= limit:
            block = os.read(fd, min(1 << 24, limit + 1 - total))
            if not block:
                break
            chunks.append(block)
            total += len(block)
        if total > limit:
            raise _refuse(name, "grew while it was being read; save the model again")
        return b"".join(chunks)
    except BlockingIOError:
        raise _refuse(name, "cannot be read without blocking; a saved model holds only regular files") from None
    except OSError as err:
        if isinstance(err, PersistenceError):
            raise
        raise _refuse(name, f"cannot be read ({err.strerror})") from None
    finally:
        os.close(fd)


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_json(data: bytes, where: str) -> Any:
    """Parse untrusted JSON bytes: strict UTF-8, no duplicate keys, no runaway nesting."""
    try:
        text = data.decode("utf-8")
        return json.loads(text, object_pairs_hook=_strict_pairs)
    except UnicodeDecodeError as err:
        raise _refuse(where, f"is not UTF-8 text (byte {err.start}): truncated or edited?") from None
    except RecursionError:
        raise _refuse(where, "nests JSON too deeply") from None
    except ValueError as err:  # JSONDecodeError, duplicate keys, over-long integers
        raise _refuse(where, f"is not valid JSON (truncated or edited?): {err}") from None


def parse_safetensors(raw: bytes, where: str = ARRAYS_FILE) -> dict[str, np.ndarray]:
    """Parse and check the bytes of a safetensors file; every array is a fresh copy.

    Checked: the header size fits in the file (and under a cap), the header is a JSON object
    of objects with exactly ``dtype``, ``shape``, ``data_offsets``, a known dtype, a shape of
    non-negative ints whose product times the item size is the byte span, offsets in range
    and spans that do not overlap.
    """
    if len(raw) < 8:
        raise _refuse(where, f"header size: the file is {len(raw)} bytes, shorter than the 8-byte header size")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise _refuse(where, f"header size: promises {n} header bytes but only {len(raw) - 8} follow")
    if n > HEADER_MAX_BYTES:
        raise _refuse(where, f"header size: {n} bytes, more than the {HEADER_MAX_BYTES} allowed")
    header = parse_json(raw[8:8 + n], f"{where}: header")
    if not isinstance(header, dict):
        raise _refuse(where, f"header: expected a JSON object, got {type(header).__name__}")
    data = memoryview(raw)[8 + n:]
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise _refuse(where, "header: __metadata__: expected an object of strings")
    spans: list[tuple[int, int, str]] = []
    out: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        field = f"{where}: tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            got = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise _refuse(field, f"expected an object with keys data_offsets, dtype, shape; got {got}")
        dtype_name, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype_name, str) or dtype_name not in _DTYPES:
            raise _refuse(f"{field}.dtype", f"unknown dtype {dtype_name!r}; expected one of {sorted(_DTYPES)}")
        if (not isinstance(shape, list) or len(shape) > 32
                or not all(type(s) is int and 0 <= s <= _MAX_DIM for s in shape)):
            raise _refuse(f"{field}.shape", f"expected a list of non-negative integers, got {shape!r:.80}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
            raise _refuse(f"{field}.data_offsets", f"expected [start, end] integers, got {offsets!r:.80}")
        start, end = offsets
        if not 0 <= start <= end <= len(data):
            raise _refuse(f"{field}.data_offsets", f"[{start}, {end}] is outside the {len(data)} data bytes")
        dtype = np.dtype(_DTYPES[dtype_name]).newbyteorder("<")
        count = math.prod(shape)
        if count * dtype.itemsize != end - start:
            raise _refuse(f"{field}.data_offsets",
                          f"shape {shape} of {dtype_name} needs {count * dtype.itemsize} bytes, the span holds {end - start}")
        spans.append((start, end, name))
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=start) if count else np.zeros(0, dtype=dtype)
        if dtype_name == "BOOL" and count and arr.view(np.uint8).max() > 1:
            raise _refuse(field, "a BOOL tensor holds bytes other than 0 and 1")
        out[name] = arr.astype(dtype.newbyteorder("="), copy=True).reshape(shape)
    _check_no_overlap(spans, where)
    return out


def _check_no_overlap(spans: list[tuple[int, int, str]], where: str) -> None:
    """Refuse tensors whose ``(start, end)`` byte spans overlap."""
    reach, owner = 0, ""
    for start, end, name in sorted(spans):
        if start < reach and end > start:
            raise _refuse(f"{where}: tensor {name!r}.data_offsets", f"overlaps tensor {owner!r}")
        if end > reach:
            reach, owner = end, name


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read and check a file written by [`write_safetensors`][liverec.persistence.write_safetensors] (or the safetensors package)."""
    path = os.fspath(path)
    directory, name = os.path.split(path)
    return parse_safetensors(read_member(directory or ".", name), where=path)


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


def decode_value(value: Any, field: str = "params") -> Any:
    """Inverse of [`encode_value`][liverec.persistence.encode_value]; builds only registered liverec classes.

    ``field`` names the place in ``config.json`` for error messages.
    """
    if isinstance(value, list):
        return [decode_value(v, f"{field}[{j}]") for j, v in enumerate(value)]
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(decode_value(v, f"{field}[{j}]") for j, v in enumerate(value["__tuple__"]))
        if keys == {"__dict__"} and isinstance(value["__dict__"], dict):
            return {k: decode_value(v, f"{field}.{k}") for k, v in value["__dict__"].items()}
        if keys == {"__liverec__", "params"} and isinstance(value["params"], dict):
            cls = lookup_class(value["__liverec__"], field)
            params = {k: decode_value(v, f"{field}.params.{k}") for k, v in value["params"].items()}
            return build(cls, params, f"{field}.params")
        raise PersistenceError(
            f"{field}: unexpected object with keys {sorted(keys)!r:.200}; expected a number, string, list, "
            "or a {'__tuple__': [...]}, {'__dict__': {...}} or {'__liverec__': name, 'params': {...}} object."
        )
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise PersistenceError(f"{field}: unexpected value of type {type(value).__name__}")


def build(cls: type, params: dict[str, Any], field: str = "params") -> Any:
    """``cls(**params)`` for parameters read from a file: unknown names refused, values validated.

    The values go through the class's own parameter validation (``_validate_params``), the
    same one ``fit`` uses, so ``n_factors: "abc"`` or ``alpha: NaN`` never load.
    """
    names = getattr(cls, "_param_names", None)
    if names is not None:
        known = set(names())
        unknown = sorted(set(params) - known)
        if unknown:
            raise PersistenceError(f"{field}.{unknown[0]}: unknown parameter of {cls.__name__}; "
                                   f"its parameters are {sorted(known)}.")
    try:
        obj = cls(**params)
    except (TypeError, ValueError) as err:
        raise PersistenceError(f"{field}: {cls.__name__} refused the parameters: {err}") from err
    validate = getattr(obj, "_validate_params", None)
    if validate is not None:
        try:
            validate()
        except (TypeError, ValueError) as err:
            named = re.search(r"parameter '(\w+)'", str(err))  # InvalidParameterError names it
            where = f"{field}.{named.group(1).replace('__', '.')}" if named else field
            raise PersistenceError(f"{where}: {err}") from err
    return obj


def lookup_class(name: Any, field: str = "class") -> type:
    """The liverec class registered as ``name`` (its module imported from `CLASS_MODULES`)."""
    if isinstance(name, str) and name not in _REGISTRY and name in CLASS_MODULES:
        importlib.import_module(CLASS_MODULES[name])  # a liverec module from the table, never from the file
    if not isinstance(name, str) or name not in _REGISTRY:
        raise PersistenceError(
            f"{field}: unknown class {name!r:.100} in config.json; loadable classes: {sorted(CLASS_MODULES)}."
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
    """Write a model directory (created if needed; existing files are overwritten).

    Raises:
        PersistenceError: the path is not a usable directory (an existing file, a read-only
            folder, a name the system refuses); nothing of another file is overwritten.
    """
    try:
        path = os.fspath(path)
        if not path:
            raise ValueError("an empty path")
        os.makedirs(path, exist_ok=True)
    except (OSError, ValueError, TypeError) as err:
        reason = "it is an existing file, not a folder" if isinstance(err, FileExistsError) else str(err)
        raise PersistenceError(
            f"cannot save to {path!r}: {reason}; pass the path of a new or existing folder you can write to."
        ) from None
    try:
        _write_state(path, cls_name, params, attributes, arrays)
    except OSError as err:
        raise PersistenceError(
            f"cannot write the model into {path!r}: {err.strerror or err}; check the folder's permissions and space."
        ) from None


def _write_state(path: str, cls_name: str, params: dict[str, Any], attributes: dict[str, Any],
                 arrays: dict[str, np.ndarray]) -> None:
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


_CONFIG_TYPES: dict[str, tuple[type, str]] = {
    "format": (str, "a string"), "format_version": (int, "an integer"), "liverec_version": (str, "a string"),
    "class": (str, "a string"), "params": (dict, "an object"), "attributes": (dict, "an object"),
    "arrays_sha256": (str, "a 64-character lowercase hex string"),
}


def _check_config(config: Any) -> dict[str, Any]:
    where = CONFIG_FILE
    if not isinstance(config, dict) or config.get("format") != "liverec":
        raise _refuse(where, "is not a liverec model config (expected \"format\": \"liverec\")")
    version = config.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise _refuse(where, f"format_version: {version!r:.40}; this liverec ({__version__}) reads version {FORMAT_VERSION}")
    unknown = sorted(set(config) - set(_CONFIG_TYPES))
    if unknown:
        raise _refuse(where, f"{unknown[0]}: unknown key; expected only {sorted(_CONFIG_TYPES)}")
    for key, (kind, what) in _CONFIG_TYPES.items():
        if key not in config:
            raise _refuse(where, f"{key}: missing")
        value = config[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _refuse(where, f"{key}: expected {what}, got {type(value).__name__}")
    if not _HEX64.fullmatch(config["arrays_sha256"]):
        raise _refuse(where, f"arrays_sha256: expected 64 lowercase hex digits, got {config['arrays_sha256']!r:.80}")
    return config


def fingerprint(path: str | os.PathLike[str]) -> str:
    """The SHA-256 (hex) that pins a saved model: the hash of its ``config.json`` bytes.

    ``config.json`` holds the SHA-256 of the arrays file, and [`load`][liverec.persistence.load] checks the arrays
    against it, so this one hash covers the whole artefact: the same as ``sha256sum config.json``.
    Record it when you save (or review) a model; pass it as ``load(path, sha256=...)`` to refuse
    anything else.

    Examples:
        >>> import tempfile, liverec
        >>> from liverec.testing import contract_data
        >>> X, _ = contract_data()
        >>> with tempfile.TemporaryDirectory() as d:
        ...     liverec.models.Popularity().fit(X).save(d)
        ...     pin = fingerprint(d)
        ...     type(liverec.load(d, sha256=pin)).__name__
        'Popularity'
    """
    return hashlib.sha256(read_member(path, CONFIG_FILE, CONFIG_MAX_BYTES)).hexdigest()


def load_state(
    path: str | os.PathLike[str], sha256: str | None = None,
) -> tuple[type, dict[str, Any], dict[str, Any], StateArrays]:
    """Read and verify a model directory: ``(class, params, attributes, arrays)``.

    ``params`` are decoded but not yet validated ([`build`][liverec.persistence.build] does that).
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise PersistenceError(f"{path!r} is not a directory; save a model with model.save(path) first.")
    if sha256 is not None and not (isinstance(sha256, str) and _HEX64.fullmatch(sha256.lower())):
        raise PersistenceError(f"sha256: expected 64 hex digits (from liverec.persistence.fingerprint), got {sha256!r:.80}")
    config_bytes = read_member(path, CONFIG_FILE, CONFIG_MAX_BYTES)
    if sha256 is not None and hashlib.sha256(config_bytes).hexdigest() != sha256.lower():
        raise _refuse(CONFIG_FILE, f"SHA-256 {hashlib.sha256(config_bytes).hexdigest()} is not the pinned "
                      f"{sha256.lower()}: this is not the artefact you trusted; refusing to load it")
    config = _check_config(parse_json(config_bytes, CONFIG_FILE))
    raw = read_member(path, ARRAYS_FILE)
    if hashlib.sha256(raw).hexdigest() != config["arrays_sha256"]:
        raise _refuse(ARRAYS_FILE, "does not match the checksum in config.json: the directory was "
                      "truncated or modified after saving; save the model again")
    cls = lookup_class(config["class"], f"{CONFIG_FILE}: class")
    params = {k: decode_value(v, f"{CONFIG_FILE}: params.{k}") for k, v in config["params"].items()}
    arrays = StateArrays(_decode_arrays(parse_safetensors(raw)))
    return cls, params, config["attributes"], arrays


def load(path: str | os.PathLike[str], sha256: str | None = None) -> Any:
    """Load any liverec model or encoder saved with ``.save(path)``.

    The directory is untrusted input: nothing in it is executed or unpickled, only liverec's
    own classes are built (by name), and ``config.json`` and every array are checked before
    the object is returned (see the "Trust and safety of saved models" page).

    Args:
        path: The directory written by ``save``.
        sha256: Optional pin: the [`fingerprint`][liverec.persistence.fingerprint] of the artefact you trust; any other
            directory is refused.

    Raises:
        PersistenceError: (a ``ValueError``) the directory is missing, incomplete, corrupted,
            not the pinned artefact, or fails a check; the message names the file, the field
            and the reason.

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
    where = os.fspath(path)
    try:
        cls, params, attributes, arrays = load_state(path, sha256=sha256)
        obj = build(cls, params, f"{CONFIG_FILE}: params")
        obj._set_state(attributes, arrays)
        unused = arrays.unused()
        if unused:
            raise _refuse(ARRAYS_FILE, f"tensor {unused[0]!r}: unknown array for {cls.__name__}")
    except PersistenceError as err:
        if str(err).startswith(repr(where)):
            raise
        raise PersistenceError(f"{where!r}: {err}") from err
    except RecursionError:
        raise PersistenceError(f"{where!r}: {CONFIG_FILE}: nests values too deeply") from None
    except Exception as err:  # the last line of defence: a check a class forgot
        raise PersistenceError(
            f"{where!r}: saved state is incomplete or inconsistent ({type(err).__name__}: {err})"
        ) from err
    return obj


# Checking arrays and attributes -----------------------------------------------------------------
class StateArrays(Mapping[str, np.ndarray]):
    """The arrays of a saved directory, handed to ``_set_state``; remembers which were read.

    A missing array raises [`PersistenceError`][liverec.exceptions.PersistenceError]; after ``_set_state``
    [`load`][liverec.persistence.load] refuses any array nobody read (an unknown name). [`sub`][liverec.persistence.StateArrays.sub] views the names
    under a prefix (``sub("encoder/")``) and shares the record of what was read.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], prefix: str = "", used: set[str] | None = None) -> None:
        self._arrays = arrays
        self._prefix = prefix
        self._used: set[str] = set() if used is None else used

    def __getitem__(self, name: str) -> np.ndarray:
        full = self._prefix + name
        if full not in self._arrays:
            raise _refuse(ARRAYS_FILE, f"tensor {full!r}: missing")
        self._used.add(full)
        return self._arrays[full]

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._prefix + name in self._arrays

    def __iter__(self) -> Iterator[str]:
        n = len(self._prefix)
        return (k[n:] for k in self._arrays if k.startswith(self._prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @classmethod
    def view(cls, arrays: Mapping[str, np.ndarray]) -> StateArrays:
        """``arrays`` itself when it is a ``StateArrays``, else a new view of the mapping."""
        return arrays if isinstance(arrays, StateArrays) else cls(arrays)

    def sub(self, prefix: str) -> StateArrays:
        """The arrays whose names start with ``prefix``, with the prefix removed."""
        return StateArrays(self._arrays, self._prefix + prefix, self._used)

    def take_all(self) -> dict[str, np.ndarray]:
        """Every array in this view, all marked as read (for a consumer that checks names itself)."""
        return {k: self[k] for k in list(self)}

    def unused(self) -> list[str]:
        return sorted(k for k in self._arrays if k not in self._used)


def _full_name(arrays: Mapping[str, np.ndarray], name: str) -> str:
    return (arrays._prefix if isinstance(arrays, StateArrays) else "") + name


def _fmt_shape(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def expect_array(
    arrays: Mapping[str, np.ndarray],
    name: str,
    kind: str,
    shape: tuple[int | None, ...] | None = None,
    *,
    finite: bool = False,
    dtype: Any = None,
) -> np.ndarray:
    """The saved array ``name``, checked: numpy kind in ``kind`` (``"f"`` floats, ``"iu"``
    integers, ``"b"`` bool, ``"U"`` strings), ``shape`` (``None`` for any length; its length
    is the number of dimensions), and no NaN or infinity when ``finite``.

    Returns it cast to ``dtype`` (contiguous) when given. Raises ``PersistenceError`` naming
    the array and what was expected.
    """
    arr = StateArrays.view(arrays)[name]
    where = f"{ARRAYS_FILE}: tensor {_full_name(arrays, name)!r}"
    if arr.dtype.kind not in kind:
        wanted = " or ".join(_KIND_NAMES.get(k, k) for k in kind)
        raise _refuse(where, f"expected {wanted} values, got dtype {arr.dtype}")
    if shape is not None and (arr.ndim != len(shape)
                              or any(s is not None and a != s for a, s in zip(arr.shape, shape, strict=True))):
        raise _refuse(where, f"expected shape {_fmt_shape(shape)}, got {tuple(arr.shape)}")
    if finite and arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
        at = np.unravel_index(int(np.flatnonzero(~np.isfinite(arr.ravel()))[0]), arr.shape)
        raise _refuse(where, f"holds NaN or infinity (first at index {tuple(int(i) for i in at)}); a fitted model never does")
    return arr if dtype is None else np.ascontiguousarray(arr, dtype=dtype)


def expect_indices(
    arrays: Mapping[str, np.ndarray], name: str, n: int, shape: tuple[int | None, ...] = (None,),
) -> np.ndarray:
    """An integer array whose values all lie in ``[0, n)``, as int64."""
    arr = expect_array(arrays, name, "iu", shape)
    if arr.size:
        bad = (arr < 0) | (arr >= n)
        if bad.any():
            j = int(np.flatnonzero(bad.ravel())[0])
            raise _refuse(f"{ARRAYS_FILE}: tensor {_full_name(arrays, name)!r}",
                          f"indices must lie in [0, {n}), found {int(arr.ravel()[j])} at position {j}")
    return arr.astype(np.int64)


def expect_csr(
    arrays: Mapping[str, np.ndarray], indptr: str, indices: str, shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, indices)`` of a CSR matrix of ``shape``: ``indptr[0] == 0``, non-decreasing,
    ``indptr[-1] == len(indices)``, column indices in ``[0, shape[1])``; both int64."""
    ptr = expect_array(arrays, indptr, "iu", (shape[0] + 1,)).astype(np.int64)
    idx = expect_indices(arrays, indices, shape[1])
    where = f"{ARRAYS_FILE}: tensor {_full_name(arrays, indptr)!r}"
    if ptr[0] != 0:
        raise _refuse(where, f"must start at 0, starts at {int(ptr[0])}")
    steps = np.diff(ptr)
    if (steps < 0).any():
        raise _refuse(where, f"must be non-decreasing; it decreases after row {int(np.flatnonzero(steps < 0)[0])}")
    if ptr[-1] != len(idx):
        raise _refuse(where, f"ends at {int(ptr[-1])} but there are {len(idx)} indices")
    return ptr, idx


def expect_ids(arrays: Mapping[str, np.ndarray], name: str, what: str) -> IdMap:
    """An [`IdMap`][liverec.data.IdMap] of the distinct ids in the 1-D array ``name``."""
    from .data import IdMap

    arr = expect_array(arrays, name, "iufbU", (None,))
    try:
        return IdMap(arr, what)
    except (TypeError, ValueError) as err:
        raise _refuse(f"{ARRAYS_FILE}: tensor {_full_name(arrays, name)!r}", str(err)) from err


_MISSING: Any = object()
_ATTR_KINDS: dict[type, str] = {float: "a number", int: "an integer", str: "a string", bool: "true or false",
                                list: "a list", dict: "an object"}


def expect_attribute(
    attributes: Mapping[str, Any], name: str, kind: type, *, default: Any = _MISSING,
    finite: bool = True, choices: tuple[Any, ...] | None = None,
) -> Any:
    """The saved attribute ``name`` of type ``kind`` (``float`` accepts integers and, unless
    ``finite=False``, refuses NaN and infinity); ``default`` when absent and given."""
    where = f"{CONFIG_FILE}: attributes.{name}"
    if name not in attributes:
        if default is _MISSING:
            raise _refuse(where, "missing")
        return default
    value = attributes[name]
    ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise _refuse(where, f"expected {_ATTR_KINDS.get(kind, kind.__name__)}, got {type(value).__name__}")
    if kind is float and finite and not math.isfinite(value):
        raise _refuse(where, f"expected a finite number, got {value}")
    if choices is not None and value not in choices:
        raise _refuse(where, f"expected one of {list(choices)}, got {value!r:.80}")
    return value
