"""The first `VectorStore`: FAISS inner product over L2-normalised vectors (= cosine).

An exact `IndexFlatIP` is the right tool at seeds scale (thousands of passages search in well
under a millisecond); it sits inside an `IndexIDMap2` so passages keep their own ids through
upserts and deletes, and so vectors can be read back by id (the answer features compare the
question with each sentence of the passages retrieved).

At a million passages the exact index costs 1.5 GB of RAM (384-d float32) and every question
scans all of it, so from `IVF_MIN` vectors on the store becomes an inverted file with 8-bit
scalar quantisation (IVF-SQ8): a quarter of the memory, and a question scans only `nprobe` of
`nlist` clusters. The switch happens at `save`, once all the vectors are known (k-means needs
them), and `nprobe` is measured there rather than guessed: the smallest value whose recall@10
against the exact index is at least `RECALL_TARGET`. `store.json` beside the FAISS file records
what was built and measured, so a reader can tell an approximate index from an exact one.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from qa.core.errors import SeedQAError

FILE = "vectors.faiss"
META = "store.json"

INDEX_TYPES = ("auto", "flat", "ivf")
# Below this many vectors an exact scan is fast enough (100k x 384-d: ~10 ms a question) and
# worth its perfect recall; `SEEDQA_IVF_MIN` or `create(ivf_min=...)` moves the line.
IVF_MIN = 100_000
IVF_MIN_ENV = "SEEDQA_IVF_MIN"

# k-means wants >= 39 points per centroid (FAISS warns below that); 50k points are plenty for
# ~1,300 lists and keep training to seconds even at a million vectors.
TRAIN_PER_LIST = 39
TRAIN_MIN = 20_000
TRAIN_MAX = 50_000
# fewer lists than this scan >= 1/8 of the data per probe for lossy codes: stay exact instead
MIN_NLIST = 8
# powers of two and the halfway steps between them (1, 2, 3, 4, 6, 8, 12, ...) up to nlist: a hard
# collection may need many lists (a stub-encoded 100k corpus stopped at 0.896 when the probe was
# capped at 128; 512 reached 0.976), and a grid of doublings alone overshoots the smallest nprobe
# that reaches the target by a third on average, which a question pays in every search
NPROBES = tuple(sorted({2**i for i in range(16)} | {3 * 2**i for i in range(15)}))
# 0.99, not the 0.95 floor: on CMRC's fit questions an IVF at 0.959 lost 0.02 of recall@1 and
# 0.01 of sentence accuracy against exact search; a wider probe costs well under a millisecond
RECALL_TARGET = 0.99
# how far under the 8-bit ceiling the target may sit: at 0.01 DRCD's fit questions (nprobe 12 of
# 28) lost 0.012 of recall@1 and 0.033 of refusal precision against exact search; at 0.005
# (nprobe 24) recall@1 was unchanged and no figure moved by more than 0.008
RECALL_SLACK = 0.005
RECALL_FLOOR = 0.95
CALIBRATION_QUERIES = 200
SEED = 0
BATCH = 65_536  # vectors copied per step from the flat index into the IVF (bounds memory)


# A question or a few are searched on one OpenMP thread: with two, every scan ends in a barrier
# that waits for the other core, which a shared machine often has busy (bench/bench_stores_scale.py, one
# query, exact index: 100k vectors 48 ms with 2 threads vs 5.5 ms with 1; 1M: 135 vs 50 ms).
# Training and bulk searches keep every thread.
FEW_QUERIES = 4
_omp_lock = threading.Lock()


def _single_threaded(search, q: np.ndarray, k: int):
    import faiss

    with _omp_lock:  # the thread count is process-wide: set and restore it as one step
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return search(q, k)
        finally:
            faiss.omp_set_num_threads(before)


def ivf_min_default() -> int:
    """`IVF_MIN`, or `SEEDQA_IVF_MIN` when set (read at each call so a process can change it)."""
    raw = os.environ.get(IVF_MIN_ENV)
    if raw is None or not raw.strip():
        return IVF_MIN
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise SeedQAError(f"{IVF_MIN_ENV}={raw!r} is not a positive whole number of vectors")
    return value


def ivf_shape(n: int) -> tuple[int, int]:
    """(nlist, train_size) for `n` vectors: nlist ~ 4*sqrt(n), capped so every list gets at
    least `TRAIN_PER_LIST` training points from a sample of at most `TRAIN_MAX`."""
    cap = min(n, TRAIN_MAX)
    nlist = max(1, min(round(4 * math.sqrt(n)), cap // TRAIN_PER_LIST))
    return nlist, min(n, max(TRAIN_PER_LIST * nlist, TRAIN_MIN), TRAIN_MAX)


def _stamp(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _replace_atomically(path: Path, write) -> None:
    # a store may be serving from a memory map of `path`: truncating that file in place would
    # crash the process (SIGBUS), replacing it leaves the mapped old file intact
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class FaissStore:
    """Cosine search over vectors by id, saved as one FAISS file (plus `store.json`) in a folder.

    Exact until saved with at least `ivf_min` vectors (`index_type="auto"`); IVF-SQ8 from then
    on, updated in place by `add` and `delete` (the clusters are not retrained).
    """

    kind: ClassVar[str] = "faiss"

    def __init__(
        self,
        index: Any,
        index_type: str = "flat",
        ivf_min: int = IVF_MIN,
        info: dict | None = None,
    ) -> None:
        self._index = index
        self._index_type = index_type
        self._ivf_min = ivf_min
        self._info = dict(info) if info else {"type": "flat"}
        self._mapped: tuple[Path, tuple[int, int, int, int]] | None = None

    @classmethod
    def create(
        cls, dim: int, index_type: str = "auto", ivf_min: int | None = None
    ) -> FaissStore:
        """An empty exact store; `index_type` says what `save` may turn it into."""
        import faiss

        if index_type not in INDEX_TYPES:
            raise SeedQAError(
                f"unknown FAISS index type {index_type!r}; use one of: {', '.join(INDEX_TYPES)}"
            )
        if ivf_min is None:
            ivf_min = ivf_min_default()
        elif int(ivf_min) < 1:
            raise SeedQAError(f"ivf_min must be a positive number of vectors, not {ivf_min!r}")
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), index_type, int(ivf_min))

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def info(self) -> dict:
        """What the index is: {"type": "flat"} or, for IVF-SQ8, its nlist, the nprobe chosen and
        the recall@10 measured for it, with the query and training counts and the number of
        vectors `n` it was built from (later adds are not counted; see `len`)."""
        return dict(self._info)

    @property
    def is_ivf(self) -> bool:
        return self._info.get("type") != "flat"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        self.delete(ids)  # upsert: an id is never stored twice
        self._writable()
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def delete(self, ids: Sequence[int]) -> None:
        import faiss

        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) and len(self):
            self._writable()
            # the IVF's hashtable direct map removes by id lookup, which wants an id array
            self._index.remove_ids(faiss.IDSelectorArray(ids) if self.is_ivf else ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(int(k), len(self))
        if k <= 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if len(q) <= FEW_QUERIES:
            scores, ids = _single_threaded(self._index.search, q, k)
        else:
            scores, ids = self._index.search(q, k)
        if self.is_ivf:
            self._fill_short_rows(q, k, scores, ids)
        return scores, ids

    def _fill_short_rows(self, q: np.ndarray, k: int, scores: np.ndarray, ids: np.ndarray) -> None:
        # the probed lists can hold fewer than k vectors (small lists, deletes): FAISS pads with
        # id -1, which a caller would take for the last passage; probe wider for those rows
        nprobe = int(self._index.nprobe)
        short = np.flatnonzero((ids < 0).any(axis=1))
        try:
            while len(short) and nprobe < self._index.nlist:
                nprobe = min(nprobe * 2, int(self._index.nlist))
                self._index.nprobe = nprobe
                s, i = self._index.search(q[short], k)
                scores[short], ids[short] = s, i
                short = short[(i < 0).any(axis=1)]
        finally:
            self._index.nprobe = int(self._info["nprobe"])

    def get(self, ids: Sequence[int]) -> np.ndarray:
        # one call for the batch: the answer features read every sentence of 5 passages this way
        keys = np.asarray(list(ids), dtype=np.int64)
        if not len(keys):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(keys), dtype=np.float32)

    def save(self, folder: Path) -> None:
        """Write the index, first turning an exact one into IVF-SQ8 if it has grown big enough.

        Files are replaced, not rewritten, so a store memory-mapped from this folder (by this or
        another process) keeps working.
        """
        import faiss

        folder = Path(folder)
        if not self.is_ivf and self._wants_ivf():
            self._to_ivf()
        folder.mkdir(parents=True, exist_ok=True)
        _replace_atomically(folder / FILE, lambda p: faiss.write_index(self._index, str(p)))
        meta = {"info": self._info, "index_type": self._index_type, "ivf_min": self._ivf_min}
        _replace_atomically(
            folder / META, lambda p: p.write_text(json.dumps(meta, indent=1) + "\n", "utf-8")
        )

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> FaissStore:
        """Open a saved store; with `mmap` the vectors stay in the file (the page cache) until
        the first `add` or `delete` copies them into memory.

        FAISS 1.15.1 maps both index types used here with `IO_FLAG_MMAP_IFC`: the flat codes of
        `IndexIDMap2(IndexFlatIP)` and the inverted lists of the IVF are then views of the file,
        and any write through them aborts the process (a C++ assertion, not an exception), hence
        `_writable`. `IO_FLAG_MMAP` is not used: it reads a flat index fully into memory anyway,
        and for the IVF gives read-only `OnDiskInvertedLists` that cannot be cloned or saved.
        """
        import faiss

        folder = Path(folder)
        path = folder / FILE
        meta: dict = {}
        if (folder / META).exists():
            meta = json.loads((folder / META).read_text("utf-8"))
        index, mapped = None, False
        if mmap:
            try:
                stamp = _stamp(path)
                index, mapped = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), True
            except RuntimeError:  # an index type FAISS cannot map: read it into memory
                index = None
        if index is None:
            index = faiss.read_index(str(path))
        info = dict(meta.get("info") or {})
        if isinstance(index, faiss.IndexIVF):
            # trust the file over store.json should the two disagree (e.g. a crash between them)
            if info.get("type") != "ivf-sq8" or int(info.get("nlist", -1)) != index.nlist:
                info = {"type": "ivf-sq8", "nlist": int(index.nlist),
                        "nprobe": min(16, int(index.nlist)), "n": int(index.ntotal)}
            index.nprobe = int(info["nprobe"])
        else:
            info = {"type": "flat"}
        # a folder from before store.json stays exact, as it was built
        store = cls(index, meta.get("index_type", "flat"), int(meta.get("ivf_min", IVF_MIN)), info)
        if mapped:
            store._mapped = (path, stamp)
        return store

    def _writable(self) -> None:
        """Copy a memory-mapped index into memory before its first change."""
        if self._mapped is None:
            return
        import faiss

        path, stamp = self._mapped
        try:
            same = _stamp(path) == stamp
        except OSError:
            same = False
        # re-reading the unchanged file costs one copy; if it was replaced since, copy what is
        # mapped (serialising holds a second copy for a moment)
        index = (faiss.read_index(str(path)) if same
                 else faiss.deserialize_index(faiss.serialize_index(self._index)))
        if self.is_ivf:
            index.nprobe = int(self._info["nprobe"])
        self._index, self._mapped = index, None

    @classmethod
    def build(
        cls, dim: int, n: int, batches: Callable[[], Iterator[np.ndarray]],
        index_type: str = "auto", ivf_min: int | None = None,
    ) -> FaissStore:
        """The store `create` + `add` (ids 0..n-1) + `save` would give, from vectors read
        batch by batch: `batches()` yields consecutive float32 row blocks and may be called
        several times (the build reads them back from a file). An IVF is trained on a sample
        and filled batch by batch, never holding the exact index of all n vectors (1.5 GB at
        a million 384-d vectors, plus a copy while converting)."""
        store = cls.create(dim, index_type, ivf_min)
        if not store._wants_ivf(n):
            lo = 0
            for part in batches():
                store.add(range(lo, lo + len(part)), part)
                lo += len(part)
            return store
        rng = np.random.default_rng(SEED)
        nlist, train_size = ivf_shape(n)
        # the same draws as `_to_ivf`, so both routes build the same index
        sample = np.sort(rng.choice(n, size=train_size, replace=False))
        qpos = np.sort(rng.choice(n, size=min(n, CALIBRATION_QUERIES), replace=False))
        train = np.zeros((len(sample), dim), np.float32)
        queries = np.zeros((len(qpos), dim), np.float32)
        lo = 0
        for part in batches():
            hi = lo + len(part)
            for want, out in ((sample, train), (qpos, queries)):
                a, b = np.searchsorted(want, [lo, hi])
                out[a:b] = part[want[a:b] - lo]
            lo = hi
        if lo != n:
            raise SeedQAError(f"{lo} vectors read back, {n} expected")
        k = min(10, n)

        def fill(ivf) -> np.ndarray:
            import faiss

            heap = faiss.ResultHeap(len(queries), k, keep_max=True)
            start = 0
            for part in batches():
                part = np.ascontiguousarray(part, dtype=np.float32)
                ids = np.arange(start, start + len(part), dtype=np.int64)
                ivf.add_with_ids(part, ids)
                flat = faiss.IndexFlatIP(dim)  # exact neighbours of the calibration queries
                flat.add(part)
                d, i = flat.search(queries, min(k, len(part)))
                if d.shape[1] < k:
                    pad = k - d.shape[1]
                    d = np.pad(d, ((0, 0), (0, pad)), constant_values=-np.inf)
                    i = np.pad(i, ((0, 0), (0, pad)), constant_values=-1)
                heap.add_result(d, np.where(i >= 0, i + start, -1))
                start += len(part)
            heap.finalize()
            return heap.I

        store._train_ivf(n, train, queries, fill)
        return store

    def _wants_ivf(self, n: int | None = None) -> bool:
        n = len(self) if n is None else n
        if self._index_type == "flat" or (self._index_type == "auto" and n < self._ivf_min):
            return False
        # too few vectors for MIN_NLIST well-trained lists: exact is both better and fast here
        return ivf_shape(n)[0] >= MIN_NLIST

    def _to_ivf(self) -> None:
        """Replace the exact index with a trained IVF-SQ8 holding the same ids and vectors."""
        import faiss

        flat = self._index
        inner = faiss.downcast_index(flat.index)
        n = len(self)
        ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
        nlist, train_size = ivf_shape(n)
        rng = np.random.default_rng(SEED)
        sample = np.sort(rng.choice(n, size=train_size, replace=False))
        train = np.ascontiguousarray(inner.reconstruct_batch(sample), dtype=np.float32)
        # nprobe from measured recall on the store's own vectors as questions
        qpos = np.sort(rng.choice(n, size=min(n, CALIBRATION_QUERIES), replace=False))
        queries = np.ascontiguousarray(inner.reconstruct_batch(qpos), dtype=np.float32)

        def fill(ivf) -> np.ndarray:
            for lo in range(0, n, BATCH):
                hi = min(n, lo + BATCH)
                ivf.add_with_ids(inner.reconstruct_n(lo, hi - lo), ids[lo:hi])
            return flat.search(queries, min(10, n))[1]

        self._train_ivf(n, train, queries, fill)

    def _train_ivf(self, n: int, train: np.ndarray, queries: np.ndarray,
                   fill: Callable[[Any], np.ndarray]) -> None:
        """Train an IVF-SQ8 on `train`, let `fill` add every vector to it (and return the
        exact top-10 of `queries`), then choose nprobe by measured recall; it becomes the
        store's index."""
        import faiss

        dim = self.dim
        nlist, train_size = ivf_shape(n)
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        ivf.train(train)
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # get/remove by arbitrary id
        exact = fill(ivf)
        k = min(10, n)
        candidates = [p for p in NPROBES if p <= nlist]
        if nlist not in candidates:
            candidates.append(nlist)  # all lists: the best SQ8 can do
        # what 8-bit codes reach at the widest probe bounds what any nprobe can: aim just under
        # it (within RECALL_SLACK), never under RECALL_FLOOR, so a ceiling below the target does
        # not turn every question into a scan of every list
        ivf.nprobe = candidates[-1]
        ceiling = recall_at(ivf.search(queries, k)[1], exact)
        target = max(RECALL_FLOOR, min(RECALL_TARGET, ceiling - RECALL_SLACK))
        nprobe, recall = candidates[-1], ceiling
        for p in candidates:
            ivf.nprobe = p
            _, found = ivf.search(queries, k)
            recall = recall_at(found, exact)
            if recall >= target:
                nprobe = p
                break
        ivf.nprobe = nprobe
        self._index, self._mapped = ivf, None
        self._info = {
            "type": "ivf-sq8", "nlist": int(nlist), "nprobe": int(nprobe),
            "recall_at_10": round(float(recall), 4), "recall_ceiling": round(float(ceiling), 4),
            "queries": len(queries),
            "train_size": int(train_size), "n": int(n),
        }


def recall_at(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each row of `exact` ids that `found` also returned (recall@k, k = width)."""
    if exact.size == 0:
        return 1.0
    hits = sum(len(np.intersect1d(f[f >= 0], e[e >= 0])) for f, e in zip(found, exact, strict=True))
    return hits / float((exact >= 0).sum())
