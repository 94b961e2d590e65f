"""Camera RAW test files written by the tests: linear test scenes and DNG writers (tifffile).

Shared by ``tests/runtime`` (through the ``dng`` fixture of its conftest) and ``tests/reliability``
(imported directly: ``from tests._raw_files import write_tagged_dng``)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest


def linear_scene(h=64, w=96, seed=0, lo=0.05, hi=0.85):
    """A linear BGR float64 test scene in [lo, hi]: smooth shading, discs with sharp edges, stripes."""
    import cv2

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([0.5 + 0.3 * np.sin(x / (7 + 3 * c) + y / 13) for c in range(3)], axis=2)
    for _ in range(5):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(6, 20)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0.1, 0.9, 3)
    img[h // 4:h // 2, w // 2:] = (0.5 + 0.35 * np.sin(x[h // 4:h // 2, w // 2:] * 0.9))[..., None]
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    return lo + (hi - lo) * (img - img.min()) / (img.max() - img.min())


def sample_scene():
    """A natural image in the repository: the bundled 256x256 RGGB sample mosaic binned 2x2 into a
    128x128 BGR float64 image (R, mean of the two G, B per block), which has no demosaicking in it."""
    import cv2

    mosaic = cv2.imread(str(Path(__file__).parents[1] / "imgadapt" / "data" / "astronaut_rggb.png"),
                        cv2.IMREAD_UNCHANGED).astype(np.float64) / 255
    return np.stack([mosaic[1::2, 1::2], (mosaic[0::2, 1::2] + mosaic[1::2, 0::2]) / 2, mosaic[0::2, 0::2]], axis=2)


def write_dng(path, linear_bgr, pattern="RGGB", black=512, white=16383, neutral=(1.0, 1.0, 1.0),
              matrix="srgb", orientation=1):
    """Sample a linear camera-RGB image (BGR order, 0..1) with a Bayer CFA, scale it to
    ``black..white`` per site, write it as a DNG and return the uint16 mosaic written."""
    from imgadapt import bayer
    from imgadapt.bench.peers import mosaic_to_dng

    pytest.importorskip("tifffile", reason="DNG files are written with tifffile")
    h, w = linear_bgr.shape[:2]
    black4 = np.broadcast_to(np.asarray(black, np.float64), (4,))
    black_map = np.tile(black4.reshape(2, 2), (h // 2 + 1, w // 2 + 1))[:h, :w]
    mosaic = bayer.mosaic(np.asarray(linear_bgr, np.float64), pattern)
    values = np.clip(np.rint(black_map + mosaic * (white - black_map)), 0, white).astype(np.uint16)
    black_tag = int(black4[0]) if np.ndim(black) == 0 else tuple(int(b) for b in black4)
    path.write_bytes(mosaic_to_dng(values, pattern, white_level=white, color_matrix=matrix, black_level=black_tag,
                                   as_shot_neutral=neutral, orientation=orientation))
    return values


def rationals(values, denominator=10_000_000):
    """(numerator, denominator) pairs of a DNG RATIONAL/SRATIONAL tag; ``(n, 0)`` pairs, which no
    writer of ``mosaic_to_dng`` accepts, make infinite or NaN values."""
    out = []
    for v in values:
        out += list(v) if isinstance(v, tuple) else [int(round(v * denominator)), denominator]
    return out


def write_tagged_dng(path, data=None, *, cfa=(0, 1, 1, 2), dim=(2, 2), planes=(0, 1, 2), matrix=None,
                     neutral=None, white=65535, shape=(48, 60)):
    """A DNG with the tags as given, valid or not: ``cfa`` (codes into ``planes``, 0 R, 1 G, 2 B,
    3 C, 4 M, 5 Y) repeating every ``dim``; ``matrix`` (ColorMatrix1, 3 values per plane) and
    ``neutral`` (AsShotNeutral) as numbers or ``(numerator, denominator)`` pairs; ``None`` leaves
    AsShotNeutral out and writes an identity-like ColorMatrix1. Returns the mosaic written."""
    tifffile = pytest.importorskip("tifffile", reason="DNG files are written with tifffile")
    ncol = len(planes)
    matrix = list(np.eye(ncol, 3).ravel() if matrix is None else
                  matrix if isinstance(matrix, (list, tuple)) else np.ravel(matrix))
    if data is None:
        data = np.random.default_rng(0).integers(0, min(white, 60000), shape).astype(np.uint16)
    tags = [(274, "H", 1, 1, True), (33421, "H", 2, dim, True), (33422, "B", len(cfa), bytes(cfa), True),
            (50706, "B", 4, (1, 4, 0, 0), True), (50708, "s", 0, "imgadapt test", True),
            (50710, "B", ncol, tuple(planes), True), (50711, "H", 1, 1, True), (50714, "I", 1, 0, True),
            (50717, "I", 1, int(white), True), (50721, "2i", 3 * ncol, rationals(matrix), True),
            (50778, "H", 1, 21, True)]
    if neutral is not None:
        tags.append((50728, "2I", len(neutral), rationals(neutral, 1_000_000), True))
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, data, photometric=32803, planarconfig=None, compression=None, subfiletype=0,
                     metadata=None, extratags=sorted(tags))
    Path(path).write_bytes(buffer.getvalue())
    return data


XTRANS = [1, 1, 0, 1, 1, 2, 1, 1, 2, 1, 1, 0, 2, 0, 1, 0, 2, 1,
          1, 1, 2, 1, 1, 0, 1, 1, 0, 1, 1, 2, 0, 2, 1, 2, 0, 1]


def write_odd_cfa_dng(path, kind, h=48, w=60):
    """A DNG whose sensor is not a 2x2 RGB Bayer: ``"xtrans"`` (6x6) or ``"cmyg"`` (four colours)."""
    dim, cfa, planes = {"xtrans": ((6, 6), XTRANS, (0, 1, 2)), "cmyg": ((2, 2), (0, 1, 2, 3), (3, 4, 5, 1))}[kind]
    write_tagged_dng(path, cfa=cfa, dim=dim, planes=planes, neutral=(1,) * len(planes), shape=(h, w))


# EXIF tags a test DNG can carry: name -> (tag, TIFF type). Types: 2 ASCII, 3 SHORT, 5 RATIONAL, 7 UNDEFINED.
EXIF_TAGS = {"Make": (271, 2), "Model": (272, 2), "DateTime": (306, 2), "Artist": (315, 2),
             "ExposureTime": (33434, 5), "FNumber": (33437, 5), "ISOSpeedRatings": (34855, 3),
             "DateTimeOriginal": (36867, 2), "FocalLength": (37386, 5), "MakerNote": (37500, 7),
             "LensModel": (42036, 2), "GPSLatitudeRef": (1, 2), "GPSLatitude": (2, 5)}
IFD0_NAMES = ("Make", "Model", "DateTime", "Artist")


def _tiff_value(kind: int, value) -> tuple[int, bytes]:
    """(count, little-endian bytes) of a TIFF value: str for ASCII, int(s) for SHORT,
    (numerator, denominator) pair(s) for RATIONAL, bytes for UNDEFINED."""
    import struct

    if kind == 2:
        data = value.encode() + b"\x00"
        return len(data), data
    if kind == 7:
        return len(value), bytes(value)
    if kind == 3:
        values = [value] if isinstance(value, int) else list(value)
        return len(values), struct.pack(f"<{len(values)}H", *values)
    pairs = [value] if isinstance(value[0], int) else list(value)
    return len(pairs), b"".join(struct.pack("<II", n, d) for n, d in pairs)


def _directory(entries: dict[int, tuple[int, int, bytes]], at: int) -> bytes:
    """A little-endian IFD placed at offset ``at``: entries ``{tag: (type, count, data)}`` with
    data over 4 bytes stored after the table; no next directory."""
    import struct

    table, extra = b"", b""
    data_at = at + 2 + 12 * len(entries) + 4
    for tag in sorted(entries):
        kind, count, data = entries[tag]
        if len(data) <= 4:
            table += struct.pack("<HHI", tag, kind, count) + data.ljust(4, b"\x00")
        else:
            table += struct.pack("<HHII", tag, kind, count, data_at + len(extra))
            extra += data + b"\x00" * (len(data) % 2)
    return struct.pack("<H", len(entries)) + table + b"\x00\x00\x00\x00" + extra


def add_exif(path, tags: dict) -> None:
    """Give a little-endian DNG written by :func:`write_dng` the camera metadata ``tags`` (names
    of :data:`EXIF_TAGS`): first-directory tags in IFD0, the rest in an EXIF directory (GPS
    names in a GPS directory). Written with struct, independently of imgadapt: the directories
    are appended and a new IFD0 (the old entries and the new ones) replaces the first."""
    import struct

    data = bytearray(Path(path).read_bytes())
    assert data[:4] == b"II*\x00"
    first = struct.unpack("<I", data[4:8])[0]
    count = struct.unpack("<H", data[first:first + 2])[0]
    old = {}
    for i in range(count):
        tag, kind, n, raw_value = struct.unpack("<HHI4s", data[first + 2 + 12 * i:first + 14 + 12 * i])
        old[tag] = (kind, n, raw_value)  # values over 4 bytes stay where they are: raw_value is their offset
    groups = {"ifd0": {}, "exif": {}, "gps": {}}
    for name, value in tags.items():
        tag, kind = EXIF_TAGS[name]
        group = "ifd0" if name in IFD0_NAMES else "gps" if name.startswith("GPS") else "exif"
        groups[group][tag] = (kind, *_tiff_value(kind, value))
    data += b"\x00" * (len(data) % 2)
    pointers = {}
    for group, pointer in (("exif", 34665), ("gps", 34853)):
        if groups[group]:
            pointers[pointer] = len(data)
            data += _directory(groups[group], len(data))
            data += b"\x00" * (len(data) % 2)
    new = {tag: (kind, n, raw_value) for tag, (kind, n, raw_value) in old.items()}
    entries = {}
    for tag, (kind, n, payload) in groups["ifd0"].items():
        entries[tag] = (kind, n, payload)
    for tag, offset in pointers.items():
        entries[tag] = (4, 1, struct.pack("<I", offset))
    # new IFD0: old entries verbatim (offsets unchanged), new ones with their data after the table
    at = len(data)
    merged = {t: v for t, v in new.items() if t not in entries}
    table, extra = b"", b""
    all_tags = sorted(set(merged) | set(entries))
    data_at = at + 2 + 12 * len(all_tags) + 4
    for tag in all_tags:
        if tag in merged:
            kind, n, raw_value = merged[tag]
            table += struct.pack("<HHI", tag, kind, n) + raw_value
            continue
        kind, n, payload = entries[tag]
        if len(payload) <= 4:
            table += struct.pack("<HHI", tag, kind, n) + payload.ljust(4, b"\x00")
        else:
            table += struct.pack("<HHII", tag, kind, n, data_at + len(extra))
            extra += payload + b"\x00" * (len(payload) % 2)
    data += struct.pack("<H", len(all_tags)) + table + b"\x00\x00\x00\x00" + extra
    data[4:8] = struct.pack("<I", at)
    Path(path).write_bytes(bytes(data))
