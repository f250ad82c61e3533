"""Build a SentencePiece "precompiled charsmap" from a per-codepoint replacement table.

Why: the engine normalises text with a codepoint -> string table (NFKC-like, control characters
removed). The only normaliser in ``tokenizers`` that applies an arbitrary table in one pass and
serialises into tokenizer.json is ``Precompiled``, which takes SentencePiece's binary format: a
darts-clone double-array trie over the UTF-8 keys whose leaf values are offsets into a blob of
NUL-terminated replacements. ``Replace`` chains would need thousands of passes per text.

Format: u32 trie size in bytes, the trie's u32 units, then the replacement blob. A unit holds
``label`` (low 8 bits), ``has_leaf`` (bit 8) and the XOR ``offset`` to its children's base
(bits 10+); a leaf unit (bit 31) holds the value. Child with byte c of a node with base b lives
at ``b ^ c``; the node's leaf lives at ``b ^ 0``.
"""

from __future__ import annotations

import struct
from collections import deque

import numpy as np

_MAX_OFFSET = 1 << 21  # larger offsets need darts' scaled encoding; our tries stay far below


def build_precompiled_charsmap(table: dict[int, str]) -> bytes:
    """Trie of UTF-8 encoded codepoints -> replacement, in SentencePiece's binary format."""
    blob = bytearray()
    value_of: dict[str, int] = {}
    trie: dict = {}
    for cp in sorted(table):
        out = table[cp]
        if out not in value_of:
            value_of[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        key = chr(cp).encode("utf-8")
        if 0 in key:
            raise ValueError("NUL cannot be a charsmap key")
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value_of[out]  # leaf marker

    units = np.zeros(1024, dtype=np.uint32)
    used = np.zeros(1024, dtype=bool)  # slot taken by a node or a leaf
    base_taken = np.zeros(1024, dtype=bool)  # bases must be unique per node
    used[0] = True  # the root

    def grow(size: int) -> None:
        nonlocal units, used, base_taken
        if size > len(used):
            new = max(size, 2 * len(used))
            units = np.concatenate([units, np.zeros(new - len(units), dtype=np.uint32)])
            used = np.concatenate([used, np.zeros(new - len(used), dtype=bool)])
            base_taken = np.concatenate([base_taken, np.zeros(new - len(base_taken), dtype=bool)])

    first_free = 1
    queue: deque[tuple[int, dict]] = deque([(0, trie)])
    while queue:
        pos, node = queue.popleft()
        labels = sorted(k for k in node if k is not None)
        has_leaf = None in node
        slots = np.array(([0] if has_leaf else []) + labels, dtype=np.int64)
        while used[first_free]:
            first_free += 1
            grow(first_free + 1)
        # Vectorised search: the first base >= first_free whose slots are all free.
        lo = max(1, first_free - 256)
        while True:
            cand = np.arange(lo, lo + 4096, dtype=np.int64)
            grow(int(cand[-1] | 0xFF) + 1)
            ok = ~base_taken[cand]
            for c in slots:
                ok &= ~used[cand ^ c]
            hits = np.flatnonzero(ok)
            if hits.size:
                base = int(cand[hits[0]])
                break
            lo += 4096
        base_taken[base] = True
        offset = pos ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("charsmap trie too large for the simple offset encoding")
        units[pos] |= np.uint32((offset << 10) | ((1 << 8) if has_leaf else 0))
        if has_leaf:
            units[base] = np.uint32((1 << 31) | node[None])
            used[base] = True
        for label in labels:
            child = base ^ label
            units[child] = label
            used[child] = True
            queue.append((child, node[label]))

    last = int(np.flatnonzero(used)[-1]) + 1
    trie_bytes = units[:last].astype("<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)
