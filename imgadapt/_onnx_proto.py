"""Just enough of the ONNX protobuf format to write small graphs and read a model's structure.

The runtime needs neither the ``onnx`` package nor ``protobuf`` (its dependencies are numpy, OpenCV
and onnxruntime, and onnxruntime ships no graph builder), yet it builds the small pre- and
post-processing graphs it chains to every model (:mod:`imgadapt._graphs`) at load time, and reads a
model's nodes to estimate its memory per pixel. The writer emits the bytes ``onnx.helper`` would
(fields in field-number order, proto2 encoding: repeated scalars unpacked), which the tests check
byte for byte against ``onnx.helper`` where the ``onnx`` package is installed.

Field numbers are those of ``onnx/onnx.proto`` (ModelProto, GraphProto, NodeProto, AttributeProto,
TensorProto, ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

# TensorProto.DataType
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL, FLOAT16, DOUBLE = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
ELEM_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int8): INT8,
              np.dtype(np.uint16): UINT16, np.dtype(np.int16): INT16, np.dtype(np.int32): INT32,
              np.dtype(np.int64): INT64, np.dtype(np.bool_): BOOL, np.dtype(np.float16): FLOAT16,
              np.dtype(np.float64): DOUBLE}
# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_TENSOR, _ATTR_GRAPH, _ATTR_FLOATS, _ATTR_INTS = 1, 2, 3, 4, 5, 6, 7

IR_VERSION = 8


# --- writing -------------------------------------------------------------------------------------

def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(int(value))


def _bytes(number: int, value) -> bytes:
    data = value.encode() if isinstance(value, str) else bytes(value)
    return _key(number, 2) + _varint(len(data)) + data


def _float(number: int, value: float) -> bytes:
    return _key(number, 5) + struct.pack("<f", value)


def tensor(name: str, array) -> bytes:
    """A TensorProto (an initializer) holding ``array`` as little-endian raw data."""
    array = np.asarray(array)
    if array.dtype not in ELEM_TYPES:
        raise TypeError(f"tensor {name!r}: unsupported dtype {array.dtype}")
    body = b"".join(_int(1, d) for d in array.shape) + _int(2, ELEM_TYPES[array.dtype])
    raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
    return body + _bytes(8, name) + _bytes(9, raw)


def attribute(name: str, value) -> bytes:
    """An AttributeProto: an int, a float, a string, or a list of ints or floats."""
    body = _bytes(1, name)
    if isinstance(value, bool) or isinstance(value, (int, np.integer)):
        return body + _int(3, value) + _int(20, _ATTR_INT)
    if isinstance(value, (float, np.floating)):
        return body + _float(2, value) + _int(20, _ATTR_FLOAT)
    if isinstance(value, (str, bytes)):
        return body + _bytes(4, value) + _int(20, _ATTR_STRING)
    values = list(value)
    if values and all(isinstance(v, (float, np.floating)) for v in values):
        return body + b"".join(_float(7, v) for v in values) + _int(20, _ATTR_FLOATS)
    return body + b"".join(_int(8, v) for v in values) + _int(20, _ATTR_INTS)


def node(op_type: str, inputs, outputs, name: str = "", **attrs) -> bytes:
    """A NodeProto; attributes sorted by name, as ``onnx.helper.make_node`` orders them."""
    body = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    if name:
        body += _bytes(3, name)
    body += _bytes(4, op_type)
    return body + b"".join(_bytes(5, attribute(k, v)) for k, v in sorted(attrs.items()))


def value_info(name: str, elem_type: int, shape=None) -> bytes:
    """A ValueInfoProto of a tensor; ``shape`` items are ints or dimension names (``None``: no shape)."""
    tensor_type = _int(1, elem_type)
    if shape is not None:
        dims = b"".join(_bytes(1, _int(1, d) if isinstance(d, (int, np.integer)) else _bytes(2, d)) for d in shape)
        tensor_type += _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def graph(nodes, name: str, inputs, outputs, initializers=()) -> bytes:
    """A GraphProto from the pieces above (each already encoded)."""
    return (b"".join(_bytes(1, n) for n in nodes) + _bytes(2, name) + b"".join(_bytes(5, t) for t in initializers)
            + b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs))


def model(graph_bytes: bytes, opset: int = 17, ir_version: int = IR_VERSION) -> bytes:
    """A serialized ModelProto of one graph using the default domain at ``opset``."""
    return _int(1, ir_version) + _bytes(7, graph_bytes) + _bytes(8, _bytes(1, "") + _int(2, opset))


# --- reading -------------------------------------------------------------------------------------

def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes):
    """``(field number, value)`` pairs of one message: ints for varints, bytes for the rest."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _ints(values) -> list[int]:
    """Repeated int64 values, packed or not."""
    out = []
    for v in values:
        if isinstance(v, int):
            out.append(_signed(v))
        else:
            pos = 0
            while pos < len(v):
                x, pos = _read_varint(v, pos)
                out.append(_signed(x))
    return out


@dataclass
class Node:
    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)
    subgraphs: list["Graph"] = field(default_factory=list)


@dataclass
class Graph:
    nodes: list[Node]
    initializers: dict[str, list[int]]  # name -> dims
    inputs: list[str]
    outputs: list[str]


def _read_attribute(data: bytes):
    name, ints, scalar, graphs = "", [], None, []
    for number, value in fields(data):
        if number == 1:
            name = value.decode()
        elif number == 3:
            scalar = _signed(value)
        elif number == 4:
            scalar = value.decode(errors="replace")
        elif number == 8:
            ints.append(value)
        elif number == 5:
            scalar = _tensor_dims(value)
        elif number == 6:
            graphs.append(read_graph(value))
        elif number == 11:
            graphs.append(read_graph(value))
    return name, (_ints(ints) if ints else scalar), graphs


def _read_node(data: bytes) -> Node:
    n = Node("", [], [])
    for number, value in fields(data):
        if number == 1:
            n.inputs.append(value.decode())
        elif number == 2:
            n.outputs.append(value.decode())
        elif number == 4:
            n.op_type = value.decode()
        elif number == 5:
            name, val, graphs = _read_attribute(value)
            n.attrs[name] = val
            n.subgraphs += graphs
    return n


def _name_of(data: bytes, number: int = 1) -> str:
    return next((v.decode() for k, v in fields(data) if k == number), "")


def _tensor_dims(data: bytes) -> list[int]:
    return _ints([v for k, v in fields(data) if k == 1])


def read_graph(data: bytes) -> Graph:
    """The nodes, initializer shapes, input and output names of a serialized GraphProto."""
    g = Graph([], {}, [], [])
    for number, value in fields(data):
        if number == 1:
            g.nodes.append(_read_node(value))
        elif number == 5:
            g.initializers[_name_of(value, 8)] = _tensor_dims(value)
        elif number == 11:
            g.inputs.append(_name_of(value))
        elif number == 12:
            g.outputs.append(_name_of(value))
    return g


def read_model(data: bytes) -> Graph:
    """The main graph of a serialized ModelProto."""
    for number, value in fields(data):
        if number == 7:
            return read_graph(value)
    raise ValueError("no graph in this ONNX model")
