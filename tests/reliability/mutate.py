"""Seeded byte-level mutations of a valid file, biased towards its header where parsers decide."""
from __future__ import annotations

import numpy as np

_EXTREMES = (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00",
             b"\x00\x00\x01\x00", b"\xff\xff", b"\x00\x00")


def _position(rng: np.random.Generator, size: int) -> int:
    header = min(size, 512)
    return int(rng.integers(header)) if rng.random() < 0.6 else int(rng.integers(size))


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One to three random edits: flipped bytes, extreme integers written over header fields,
    truncation, a zeroed or duplicated run."""
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(5))
        at = _position(rng, len(buf))
        if kind == 0:
            for _ in range(int(rng.integers(1, 9))):
                buf[_position(rng, len(buf))] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            value = _EXTREMES[int(rng.integers(len(_EXTREMES)))]
            buf[at:at + len(value)] = value
        elif kind == 2:
            del buf[max(at, 8):]
        elif kind == 3:
            end = at + int(rng.integers(1, 64))
            buf[at:end] = bytes(len(buf[at:end]))
        else:
            run = buf[at:at + int(rng.integers(1, 256))]
            buf[at:at] = run
    return bytes(buf)


def fuzz_files(seed_file, folder, count: int, seed: int, prefix: str):
    """``count`` mutants of ``seed_file`` in ``folder`` named ``{prefix}{i:03d}{suffix}``."""
    rng = np.random.default_rng(seed)
    data = seed_file.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{prefix}{i:03d}{seed_file.suffix}"
        path.write_bytes(mutate(data, rng))
        paths.append(path)
    return paths
