"""The wire format: every value type round-trips; every forged or oversized input is refused
before anything big is allocated; nothing is ever unpickled."""

from __future__ import annotations

import io
import json
import math
import struct
from collections import OrderedDict, namedtuple

import numpy as np
import pytest

from grader import protocol
from grader.protocol import ProtocolError, Unsupported


def _wire(header: dict, **values) -> bytes:
    return b"".join(bytes(memoryview(b).cast("B")) for b in protocol.frame(header, **values))


def _reader(data: bytes, asked: list[int] | None = None):
    stream = io.BytesIO(data)

    def recv_exact(n: int) -> bytearray:
        if asked is not None:
            asked.append(n)
        chunk = stream.read(n)
        if len(chunk) != n:
            raise EOFError("truncated")
        return bytearray(chunk)

    return recv_exact


def roundtrip(value):
    header, arrays = protocol.read_frame(_reader(_wire({"op": "t"}, v=value)))
    assert header["op"] == "t"
    return protocol.decode(header["v"], arrays)


def same(a, b) -> bool:
    """Equal values with equal types, all the way down (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and (a == b or (a != a and b != b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b) or (a != a and b != b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


# ---------------------------------------------------------------------------- round trips

PLAIN = [
    None, True, False, 0, -1, 7, 2**63, -(2**70),
    0.0, -0.0, 1.5, 1e-300, float("nan"), float("inf"), float("-inf"),
    "", "same", "ünïcödé ✓ 🙂", "\ud800 lone surrogate", "line\nbreak\x00nul",
    [], (), {}, [1, 2.0, "3"], (1, (2, (3,))), {"a": 1, "b": [1, 2], "c": {"d": None}},
    [(), [()], {"x": ()}], ("valid", 3), ((0, 1), (1, 0)),
]  # fmt: skip


@pytest.mark.parametrize("value", PLAIN, ids=[repr(v)[:30] for v in PLAIN])
def test_plain_values_keep_their_types(value):
    assert same(roundtrip(value), value)


DTYPES = [
    "?", "i1", "i2", "<i4", "<i8", "u1", "<u2", "<u4", "<u8",
    "<f2", "<f4", "<f8", "<c8", "<c16", ">i4", ">f8", ">c16", "<U1", "<U7", ">U3",
]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (2, 0, 4), (1, 2, 3, 2)])
def test_arrays_of_every_dtype_and_shape(dtype, shape):
    rng = np.random.default_rng(0)
    n = math.prod(shape)
    dt = np.dtype(dtype)
    if dt.kind == "U":
        base = np.array([("ab✓"[: i % 4] + "z") * 2 for i in range(n)]).astype(dt)
    elif dt.kind == "b":
        base = rng.random(n) > 0.5
    elif dt.kind == "c":
        base = rng.normal(size=n) + 1j * rng.normal(size=n)
    else:
        base = rng.integers(0, 100, size=n)
    arr = np.asarray(base).astype(dt).reshape(shape)
    got = roundtrip(arr)
    assert same(got, arr)
    assert got.dtype.str == arr.dtype.str
    if got.size:
        assert got.flags.writeable


def test_special_floats_in_arrays_and_layouts():
    a = np.array([[np.nan, np.inf], [-np.inf, -0.0]])
    assert same(roundtrip(a), a)
    f = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    got = roundtrip(f)
    assert same(got, f) and got.flags.f_contiguous
    view = np.arange(20).reshape(4, 5)[::2, 1::2]
    assert same(roundtrip(view), np.ascontiguousarray(view))
    zero_d = np.array(3.5, dtype=np.float32)
    got = roundtrip(zero_d)
    assert type(got) is np.ndarray and got.shape == () and got.dtype == np.float32


@pytest.mark.parametrize(
    "scalar",
    [
        np.float32(1.5),
        np.float64(-2.0),
        np.int8(-3),
        np.uint64(2**64 - 1),
        np.bool_(True),
        np.complex64(1 + 2j),
        np.str_("hé"),
        np.float16(0.5),
        np.float64("nan"),
    ],  # fmt: skip
)
def test_numpy_scalars_come_back_as_numpy_scalars(scalar):
    got = roundtrip(scalar)
    assert type(got) is type(scalar)
    assert same(got, scalar)


def test_arrays_inside_containers_and_several_frames():
    value = {"W1": np.ones((2, 2)), "pair": (np.arange(3), [np.float32(2)]), "n": 4}
    assert same(roundtrip(value), value)
    data = _wire({"op": "a"}, v=1) + _wire({"op": "b"}, v=np.zeros(100_000))
    recv = _reader(data)
    h1, a1 = protocol.read_frame(recv)
    h2, a2 = protocol.read_frame(recv)
    assert protocol.decode(h1["v"], a1) == 1
    assert protocol.decode(h2["v"], a2).shape == (100_000,)


def test_namedtuple_and_dict_subclasses_travel_as_plain_containers():
    Pair = namedtuple("Pair", "a b")
    assert same(roundtrip(Pair(1, 2)), (1, 2))
    assert same(roundtrip(OrderedDict(x=1)), {"x": 1})


def test_big_array_round_trip_is_not_json():
    a = np.random.default_rng(1).normal(size=(512, 512))
    data = _wire({"op": "t"}, v=a)
    assert len(data) < a.nbytes + 1024
    assert same(roundtrip(a), a)


# ---------------------------------------------------------------------------- no wire form


class Thing:
    pass


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.zeros(3)


class Sub(np.ndarray):
    pass


def _matrix():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix([[1, 2]])


@pytest.mark.parametrize(
    "make, what",
    [
        (lambda: np.array([1, "a"], dtype=object), "dtype object"),
        (lambda: np.array(["2024-01-01"], dtype="datetime64[D]"), "datetime64"),
        (lambda: np.array([b"ab"]), "dtype |S2"),
        (lambda: np.zeros(2, dtype=[("a", "i4")]), "dtype"),
        (lambda: np.zeros(2, dtype=np.longdouble), "float128"),
        (lambda: 1 + 2j, "type complex"),
        (lambda: {1, 2}, "type set"),
        (lambda: b"bytes", "type bytes"),
        (Thing, "Thing"),
        (AlwaysEqual, "AlwaysEqual"),
        (lambda: np.zeros(3).view(Sub), "Sub"),
        (_matrix, "matrix"),
        (lambda: {1: "a"}, "key of type int"),
        (lambda: [np.zeros(2), [lambda: 0]], "function"),
        (lambda: np.bytes_(b"x"), "numpy scalar"),
    ],
)
def test_values_without_a_wire_form_are_refused(make, what):
    with pytest.raises(Unsupported) as info:
        protocol.frame({"op": "t"}, v=make())
    assert what in info.value.what


def test_self_reference_and_deep_nesting_are_refused():
    loop: list = []
    loop.append(loop)
    with pytest.raises(Unsupported, match="nested"):
        protocol.frame({"op": "t"}, v=loop)
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(Unsupported, match="nested"):
        protocol.frame({"op": "t"}, v=deep)
    with pytest.raises(Unsupported):
        protocol.frame({"op": "t"}, v=10**5000)


# ---------------------------------------------------------------------------- forged input


def _raw_frame(header: bytes, payload: bytes = b"", *, hlen=None, plen=None) -> bytes:
    hlen = len(header) if hlen is None else hlen
    plen = len(payload) if plen is None else plen
    return protocol.PREFIX.pack(protocol.MAGIC, hlen, plen) + header + payload


def _npy(descr: str, shape: str, data: bytes, fortran="False", version=b"\x01\x00") -> bytes:
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    text += " " * ((-(10 + len(text) + 1)) % 64) + "\n"
    return b"\x93NUMPY" + version + struct.pack("<H", len(text)) + text.encode() + data


def _frame_with_blob(blob: bytes, tree=None) -> bytes:
    header = json.dumps({"op": "ok", "v": tree or {"A": 0}, "_n": [len(blob)]}).encode()
    return _raw_frame(header, blob + bytes((-len(blob)) % 64))


def _read(data: bytes, max_frame: int = protocol.DEFAULT_MAX_FRAME):
    header, arrays = protocol.read_frame(_reader(data), max_frame)
    return protocol.decode(header["v"], arrays)


def test_garbage_and_bad_magic():
    with pytest.raises(ProtocolError):
        _read(b"\xff" * 64)
    with pytest.raises(ProtocolError):
        _read(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_oversized_frames_are_refused_before_reading_them():
    asked: list[int] = []
    huge = _raw_frame(b"{}", hlen=2, plen=1 << 60)
    with pytest.raises(ProtocolError, match="too large"):
        protocol.read_frame(_reader(huge, asked))
    assert asked == [protocol.PREFIX.size]
    asked.clear()
    with pytest.raises(ProtocolError, match="too large"):
        protocol.read_frame(_reader(_raw_frame(b"{}", hlen=protocol.MAX_HEADER + 1), asked))
    assert asked == [protocol.PREFIX.size]
    with pytest.raises(ProtocolError, match="too large"):
        _read(_wire({"op": "t"}, v=np.zeros(1000)), max_frame=4096)


def test_truncated_frames():
    data = _wire({"op": "t"}, v=np.arange(1000))
    for cut in (3, 16, 40, len(data) - 1):
        with pytest.raises(EOFError):
            _read(data[:cut])


@pytest.mark.parametrize(
    "blob",
    [
        _npy("<f8", "(1000000000000, 1000000000000)", b"\0" * 8),  # 8e24 bytes claimed
        _npy("<f8", "(4611686018427387904, 4)", b""),  # product overflows int64
        _npy("<f8", "(3,)", b"\0" * 16),  # short data
        _npy("<f8", "(1,)", b"\0" * 16),  # extra data
        _npy("|O", "(1,)", b"\0" * 8),  # object dtype
        _npy("<V8", "(1,)", b"\0" * 8),
        _npy("|S4", "(1,)", b"abcd"),
        _npy("<M8[D]", "(1,)", b"\0" * 8),
        _npy("<f16", "(1,)", b"\0" * 16),
        _npy("<U0", "(1,)", b""),
        _npy("|b2", "(1,)", b"\0\0"),
        _npy("<i1", "(1,)", b"\0"),  # wrong byte-order mark for a 1-byte type
        _npy("<f8", "(-1,)", b"\0" * 8),
        _npy("<f8", "(" + "1, " * 33 + ")", b"\0" * 8),  # 33 dimensions
        _npy("<f8", "(1,)", b"\0" * 8, version=b"\x03\x00"),
        _npy("<U1", "(1,)", struct.pack("<I", 0x110000)),  # not a code point
        b"\x93NUMPY\x01\x00\xff\xff{'descr': '<f8'",  # header longer than the blob
        b"\x93NUMPY\x01\x00\x10\x00{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }",
        b"\x80\x04\x95" + b"\0" * 40,  # a pickle
        b"not numpy at all",
    ],
)
def test_forged_npy_blobs_are_refused(blob):
    with pytest.raises(ProtocolError):
        _read(_frame_with_blob(blob))


def test_pickled_object_array_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buf = io.BytesIO()
    np.save(buf, np.array([Evil()], dtype=object), allow_pickle=True)
    with pytest.raises(ProtocolError):
        _read(_frame_with_blob(buf.getvalue()))
    assert not marker.exists()


def test_real_npy_files_parse():
    buf = io.BytesIO()
    np.save(buf, np.arange(6, dtype=np.int16).reshape(2, 3))
    got = protocol.parse_npy(memoryview(bytearray(buf.getvalue())))
    assert same(got, np.arange(6, dtype=np.int16).reshape(2, 3))


def test_bool_bytes_other_than_0_1_are_normalized():
    got = _read(_frame_with_blob(_npy("|b1", "(3,)", b"\x00\x02\xff")))
    assert got.tolist() == [False, True, True]
    assert got.view(np.uint8).tolist() == [0, 1, 1]


@pytest.mark.parametrize(
    "header",
    [
        b"[1, 2]",
        b"not json",
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({"op": "ok", "v": {"X": 1}}).encode(),
        json.dumps({"op": "ok", "v": {"A": 0}}).encode(),  # no such blob
        json.dumps({"op": "ok", "v": {"T": 1}}).encode(),
        json.dumps({"op": "ok", "v": {"A": 0, "B": 1}}).encode(),
        json.dumps({"op": "ok", "v": 1, "_n": "x"}).encode(),
        json.dumps({"op": "ok", "v": 1, "_n": [64]}).encode(),  # blob beyond the payload
    ],
)
def test_forged_headers_are_refused(header):
    with pytest.raises(ProtocolError):
        _read(_raw_frame(header))


def test_deep_json_value_is_refused():
    tree: object = 1
    for _ in range(protocol.MAX_DEPTH + 5):
        tree = [tree]
    with pytest.raises(ProtocolError):
        _read(_raw_frame(json.dumps({"op": "ok", "v": tree}).encode()))


def test_scalar_tag_needs_a_zero_d_blob():
    blob = _npy("<f8", "(2,)", b"\0" * 16)
    with pytest.raises(ProtocolError):
        _read(_frame_with_blob(blob, {"S": 0}))


def test_payload_longer_than_its_blobs_is_refused():
    data = _wire({"op": "t"}, v=np.zeros(3))
    magic, hlen, plen = protocol.PREFIX.unpack(data[:16])
    forged = protocol.PREFIX.pack(magic, hlen, plen + 64) + data[16:] + bytes(64)
    with pytest.raises(ProtocolError):
        _read(forged)


def test_no_pickle_anywhere_in_the_protocol_module():
    import inspect

    source = inspect.getsource(protocol)
    for banned in ("import pickle", "from pickle", "np.load(", "allow_pickle", "marshal", "eval("):
        assert banned not in source
