"""Wire format between the trusted grader and the sandboxed worker.

Everything the worker sends is hostile until proven otherwise: this module never
unpickles, never lets numpy parse a header it has not checked, and checks every size
against a cap before it allocates.

A frame is::

    prefix   16 bytes: b"DL1F", u32 header length, u64 payload length (little-endian)
    header   UTF-8 JSON object (at most MAX_HEADER bytes); key "_n" lists the payload's blobs
    payload  the blobs, each a complete ``.npy`` file (format 1.0) starting at a multiple of
             64 bytes (zero padding between blobs)

Values travel inside the header as a JSON tree that keeps Python types:

    None, bool, int, float (NaN/inf included), str   as themselves
    list                                              JSON array
    tuple                                             {"T": [...]}
    dict with str keys                                {"D": {...}}
    numpy array                                       {"A": index of its blob}
    numpy scalar                                      {"S": index of a 0-d blob}

Allowed array dtypes: bool, int8..int64, uint8..uint64, float16/32/64, complex64/128 and
fixed-width unicode (either byte order). Numpy scalars come back as numpy scalars of the
same dtype. Subclasses of ndarray, object arrays and anything else have no wire form
(:class:`Unsupported`); tuple and dict subclasses (namedtuple, OrderedDict) travel as
plain tuples and dicts. Decoded arrays are writable views into the received frame.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

MAGIC = b"DL1F"
PREFIX = struct.Struct("<4sIQ")
MAX_HEADER = 4 << 20
DEFAULT_MAX_FRAME = 256 << 20
MAX_DEPTH = 64
MAX_NODES = 1_000_000
MAX_ARRAYS = 100_000
MAX_NDIM = 32
MAX_UNICODE_CHARS = 1 << 20
ALIGN = 64
_NPY_MAGIC = b"\x93NUMPY"
_NPY_MAX_HEADER = 4096
_SMALL_FRAME = 1 << 16


class ProtocolError(Exception):
    """Bytes that do not follow the protocol: garbage, a forged header, a cap exceeded."""


class Unsupported(Exception):
    """A value with no wire form. ``what`` names it for the student ("type Foo")."""

    def __init__(self, what: str):
        super().__init__(what)
        #: A noun phrase for the student, e.g. "an object of type Foo".
        self.what = what


# ---------------------------------------------------------------------------- dtypes

_DESCR = re.compile(r"([<>|])([biufcU])([0-9]{1,8})")
_SIZES = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8), "c": (8, 16)}


def check_descr(descr: str) -> np.dtype:
    """The dtype named by a ``.npy`` descr string, if it is on the allow-list."""
    m = _DESCR.fullmatch(descr)
    if m is None:
        raise ProtocolError("array dtype not allowed")
    order, kind, num = m.group(1), m.group(2), int(m.group(3))
    if kind == "U":
        if order == "|" or not 1 <= num <= MAX_UNICODE_CHARS:
            raise ProtocolError("array dtype not allowed")
    else:
        if num not in _SIZES[kind] or (order == "|") != (num == 1):
            raise ProtocolError("array dtype not allowed")
    return np.dtype(descr)


def _wire_dtype(dt: np.dtype) -> bool:
    if dt.fields is not None or dt.subdtype is not None:
        return False
    if dt.kind == "U":
        return dt.itemsize // 4 <= MAX_UNICODE_CHARS
    return dt.kind in _SIZES and dt.itemsize in _SIZES[dt.kind] and dt.str[1] in "biufc"


# ---------------------------------------------------------------------------- encoding


class Encoder:
    """Turns one value into a JSON tree, collecting its arrays for the payload."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self._nodes = 0

    def encode(self, obj: Any, depth: int = 0) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise Unsupported("a value with more than a million items")
        if depth > MAX_DEPTH:
            raise Unsupported("a value nested more than 64 levels deep")
        t = type(obj)
        if obj is None or t is bool or t is int or t is str:
            return obj
        if t is float:
            return obj
        if t is list:
            return [self.encode(x, depth + 1) for x in obj]
        if t is np.ndarray:
            return {"A": self._add(obj)}
        if isinstance(obj, np.generic):
            if not _wire_dtype(obj.dtype):
                raise Unsupported(f"a numpy scalar of dtype {obj.dtype}")
            return {"S": self._add(np.array(obj))}
        if isinstance(obj, tuple):
            return {"T": [self.encode(x, depth + 1) for x in tuple.__iter__(obj)]}
        if isinstance(obj, dict):
            out = {}
            for k, v in dict.items(obj):
                if type(k) is not str:
                    raise Unsupported(f"a dict with a key of type {type_name(k)}")
                out[k] = self.encode(v, depth + 1)
            return {"D": out}
        raise Unsupported(f"an object of type {type_name(obj)}")

    def _add(self, arr: np.ndarray) -> int:
        dt = arr.dtype
        if dt.kind == "U" and dt.itemsize == 0:
            arr = arr.astype("U1")
        elif not _wire_dtype(dt):
            raise Unsupported(f"a numpy array of dtype {dt}")
        if arr.ndim > MAX_NDIM:
            raise Unsupported("a numpy array with more than 32 dimensions")
        if len(self.arrays) >= MAX_ARRAYS:
            raise Unsupported("a value with too many arrays")
        self.arrays.append(arr)
        return len(self.arrays) - 1


def type_name(obj: Any) -> str:
    """The name of ``obj``'s type for a student message ("Foo", "numpy.matrix")."""
    t = type(obj)
    name = getattr(t, "__qualname__", None) or getattr(t, "__name__", None) or "?"
    if not isinstance(name, str):
        name = "?"
    mod = getattr(t, "__module__", "")
    if isinstance(mod, str) and mod not in ("builtins", "__main__") and mod:
        name = f"{mod}.{name}"
    return name[:80]


def _npy_header(arr: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The ``.npy`` 1.0 header for ``arr`` and its data as a flat uint8 array."""
    fortran = arr.ndim > 1 and arr.flags.f_contiguous and not arr.flags.c_contiguous
    flat = arr.T if fortran else np.ascontiguousarray(arr)
    shape = "(" + "".join(f"{d}, " for d in arr.shape)
    shape = shape[:-2] + ",)" if arr.ndim == 1 else (shape[:-2] + ")" if arr.ndim else "()")
    text = f"{{'descr': '{arr.dtype.str}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    total = 10 + len(text) + 1
    text += " " * ((-total) % ALIGN) + "\n"
    head = _NPY_MAGIC + b"\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")
    data = flat.reshape(-1).view(np.uint8) if arr.size else np.empty(0, np.uint8)
    return head, data


def pack(header: dict[str, Any], arrays: list[np.ndarray]) -> list[Any]:
    """The buffers of one frame (send them in order). Raises Unsupported if too large."""
    parts: list[Any] = []
    sizes = []
    total = 0
    for arr in arrays:
        head, data = _npy_header(arr)
        size = len(head) + data.nbytes
        parts.append(head)
        if data.nbytes:
            parts.append(data)
        pad = (-size) % ALIGN
        if pad:
            parts.append(bytes(pad))
        sizes.append(size)
        total += size + pad
    header = dict(header, _n=sizes)
    try:
        text = json.dumps(header, separators=(",", ":"), allow_nan=True).encode("ascii")
    except (ValueError, RecursionError, TypeError) as exc:
        raise Unsupported("a value that cannot be sent (number too large?)") from exc
    if len(text) > MAX_HEADER:
        raise Unsupported("too much data outside numpy arrays (over 4 MiB of lists/str)")
    buffers = [PREFIX.pack(MAGIC, len(text), total), text, *parts]
    if total + len(text) < _SMALL_FRAME:
        return [b"".join(bytes(b) if isinstance(b, np.ndarray) else b for b in buffers)]
    return buffers


def frame(header: dict[str, Any], **values: Any) -> list[Any]:
    """Encode ``values`` into ``header`` (as trees) and pack the frame."""
    enc = Encoder()
    header = dict(header)
    for key, value in values.items():
        header[key] = enc.encode(value)
    return pack(header, enc.arrays)


# ---------------------------------------------------------------------------- decoding

_NPY_TEXT = re.compile(
    r"\{'descr': '([^']{1,16})', 'fortran_order': (True|False), 'shape': \(([0-9, ]{0,1000})\), \} *\n"
)
_DIM = re.compile(r"[0-9]{1,19}")


def parse_npy(buf: memoryview) -> np.ndarray:
    """Decode one ``.npy`` blob without trusting it: header, dtype and size are checked
    before anything is allocated; the result is a view into ``buf`` (copied only if
    misaligned or bool)."""
    n = len(buf)
    if n < 10 or bytes(buf[:6]) != _NPY_MAGIC:
        raise ProtocolError("not a .npy blob")
    version = (buf[6], buf[7])
    if version == (1, 0):
        hlen, start = struct.unpack_from("<H", buf, 8)[0], 10
    elif version == (2, 0) and n >= 12:
        hlen, start = struct.unpack_from("<I", buf, 8)[0], 12
    else:
        raise ProtocolError("unsupported .npy version")
    if hlen > _NPY_MAX_HEADER or start + hlen > n:
        raise ProtocolError("bad .npy header length")
    m = _NPY_TEXT.fullmatch(bytes(buf[start : start + hlen]).decode("latin1"))
    if m is None:
        raise ProtocolError("bad .npy header")
    dtype = check_descr(m.group(1))
    fortran = m.group(2) == "True"
    parts = [p.strip() for p in m.group(3).split(",")]
    if parts and parts[-1] == "":
        parts.pop()
    if len(parts) > MAX_NDIM or not all(_DIM.fullmatch(p) for p in parts):
        raise ProtocolError("bad .npy shape")
    shape = tuple(int(p) for p in parts)
    count = math.prod(shape)
    offset = start + hlen
    if count * dtype.itemsize != n - offset:
        raise ProtocolError("array size does not match its data")
    if count == 0:
        try:
            return np.empty(shape, dtype)
        except (ValueError, MemoryError) as exc:
            raise ProtocolError("bad empty array shape") from exc
    order = "F" if fortran else "C"
    if dtype.kind == "b":
        raw = np.frombuffer(buf, np.uint8, count, offset)
        return (raw != 0).reshape(shape, order=order)
    if dtype.kind == "U":
        codes = np.frombuffer(buf, dtype.byteorder + "u4", count * (dtype.itemsize // 4), offset)
        if codes.size and int(codes.max()) > 0x10FFFF:
            raise ProtocolError("invalid character in a unicode array")
    arr = np.frombuffer(buf, dtype, count, offset).reshape(shape, order=order)
    if not arr.flags.aligned:
        arr = arr.copy(order=order)
    return arr


def parse_frame(header_bytes: bytes | bytearray, payload: bytearray) -> tuple[dict, list]:
    """Check and decode the header JSON and the payload's arrays."""
    try:
        header = json.loads(bytes(header_bytes).decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("header is not JSON") from exc
    if type(header) is not dict:
        raise ProtocolError("header is not an object")
    sizes = header.pop("_n", None)
    if type(sizes) is not list or len(sizes) > MAX_ARRAYS:
        raise ProtocolError("bad blob list")
    view = memoryview(payload)
    arrays = []
    offset = 0
    for size in sizes:
        if type(size) is not int or size < 10 or offset + size > len(payload):
            raise ProtocolError("bad blob size")
        arrays.append(parse_npy(view[offset : offset + size]))
        offset += size + (-size) % ALIGN
    if offset != len(payload):
        raise ProtocolError("payload length does not match its blobs")
    return header, arrays


def decode(tree: Any, arrays: list) -> Any:
    """The value a tree stands for. Raises ProtocolError on anything malformed."""
    budget = [MAX_NODES]
    return _decode(tree, arrays, 0, budget)


def _decode(tree: Any, arrays: list, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise ProtocolError("value too large or too deep")
    t = type(tree)
    if tree is None or t is bool or t is int or t is float or t is str:
        return tree
    if t is list:
        return [_decode(x, arrays, depth + 1, budget) for x in tree]
    if t is dict and len(tree) == 1:
        ((tag, inner),) = tree.items()
        if tag == "T" and type(inner) is list:
            return tuple(_decode(x, arrays, depth + 1, budget) for x in inner)
        if tag == "D" and type(inner) is dict:
            return {k: _decode(v, arrays, depth + 1, budget) for k, v in inner.items()}
        if tag in ("A", "S") and type(inner) is int and 0 <= inner < len(arrays):
            arr = arrays[inner]
            if tag == "A":
                return arr
            if arr.ndim == 0:
                return arr[()]
    raise ProtocolError("malformed value")


# ---------------------------------------------------------------------------- framing


def read_frame(recv_exact: Callable[[int], bytearray], max_frame: int = DEFAULT_MAX_FRAME):
    """Read one frame with ``recv_exact(n)`` (which returns exactly n bytes or raises).

    Returns ``(header, arrays)``. Sizes are checked against the caps before the
    corresponding buffers are allocated.
    """
    magic, hlen, plen = PREFIX.unpack(recv_exact(PREFIX.size))
    if magic != MAGIC:
        raise ProtocolError("bad frame magic")
    if hlen < 2 or hlen > MAX_HEADER or PREFIX.size + hlen + plen > max_frame:
        raise ProtocolError("frame too large")
    header = recv_exact(hlen)
    payload = recv_exact(plen) if plen else bytearray()
    return parse_frame(header, payload)
