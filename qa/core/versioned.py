"""A folder of immutable versions with a manifest, checksums, a lock and an atomic switch.

Both the index of a documents folder and the converted default model are built this way: a new
version is written into a temporary folder beside the live one, every file is checksummed into
`manifest.json` and fsynced, and only then is it made live with one atomic rename. A build
killed at any point leaves the previous version live and usable; a truncated or corrupted file is
caught by `verify` on load instead of being read as garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.core.errors import StaleIndex

MANIFEST = "manifest.json"
CURRENT = "CURRENT"
LOCK = ".lock"


_memo: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) within a process: a model folder of
    130 MB is verified on every load, and a process often loads it more than once. A file
    modified in the last two seconds is not remembered: it may change again within the same
    mtime tick and keep its size."""
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _memo:
        return _memo[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    if st.st_mtime_ns < time.time_ns() - 2_000_000_000:
        _memo[key] = h.hexdigest()
    return h.hexdigest()


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file below `folder` except the manifest, by relative path."""
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def write_json(path: Path, obj: object) -> None:
    """Write and fsync: a manifest must be on disk before the version it describes goes live."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def read_manifest(folder: Path, fmt: int | None = None) -> dict:
    """The manifest of a version folder; `StaleIndex` when unreadable or of another format."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StaleIndex(f"manifest unreadable ({exc.__class__.__name__})") from exc
    if not isinstance(manifest, dict) or (fmt is not None and manifest.get("format") != fmt):
        raise StaleIndex("manifest from another format")
    return manifest


def verify(folder: Path, manifest: dict, content: bool = True) -> None:
    """Every file listed in the manifest exists and matches its checksum, else `StaleIndex`.

    `content=False` checks each file's size only (recorded by `seal`): enough to catch a
    truncated or missing file in a large folder written once by us (the 130 MB converted model is
    checked at every process start; hashing it costs half a second each time), while an index is
    hashed in full, where a flipped byte would silently change answers.
    """
    sums = manifest.get("checksums")
    if not isinstance(sums, dict) or not sums:
        raise StaleIndex("manifest has no checksums")
    if not content:
        sizes = manifest.get("sizes")
        if not isinstance(sizes, dict) or set(sizes) != set(sums):
            raise StaleIndex("manifest has no sizes")
        for rel, size in sizes.items():
            try:
                actual = os.stat(folder / rel).st_size
            except OSError:
                raise StaleIndex(f"{rel} is missing or unreadable") from None
            if actual != size:
                raise StaleIndex(f"{rel} is corrupted (size mismatch)")
        return
    for rel, digest in sums.items():
        try:
            actual = sha256_file(folder / rel)
        except OSError:
            # gone or unreadable, including removed by another process's build swapping
            # versions between a check and the read: a reason to rebuild, not a traceback
            raise StaleIndex(f"{rel} is missing or unreadable") from None
        if actual != digest:
            raise StaleIndex(f"{rel} is corrupted (checksum mismatch)")


def fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


def fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
    except OSError:
        pass


@contextmanager
def staging(parent: Path, prefix: str = "tmp-") -> Iterator[Path]:
    """A temporary folder beside the live versions, removed if the block does not finish."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def seal(folder: Path, manifest: dict) -> dict:
    """Checksum every file into `manifest`, write it and fsync the whole folder."""
    sums = checksums(folder)
    sizes = {rel: (folder / rel).stat().st_size for rel in sums}
    manifest = {**manifest, "checksums": sums, "sizes": sizes}
    write_json(folder / MANIFEST, manifest)
    fsync_tree(folder)
    return manifest


@contextmanager
def locked(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the file lock at `path`; `on_wait` is called once if another process holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0.1)
    except Timeout:
        if on_wait is not None:
            on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def switch_current(root: Path, name: str) -> None:
    """Point `root/CURRENT` at version `name`, atomically."""
    tmp = root / f"{CURRENT}.tmp{os.getpid()}"
    tmp.write_text(name + "\n", encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, root / CURRENT)
    fsync_dir(root)


def current_version(root: Path) -> Path | None:
    """The live version folder, or None when `CURRENT` is missing or names no version.

    A damaged pointer (binary garbage, a path leading out of the folder) counts as no version:
    the caller rebuilds rather than reading from wherever the pointer leads.
    """
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None
    if not name.startswith("v-") or "/" in name or "\\" in name or "\0" in name:
        return None
    folder = root / name
    return folder if folder.is_dir() else None


def cleanup_stale(root: Path) -> None:
    """Remove what a killed build left behind (staging folders and temp files)."""
    for p in root.iterdir():
        if p.name.startswith("tmp-") and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif ".tmp" in p.name and p.is_file():
            p.unlink(missing_ok=True)


def remove_old_versions(root: Path, live: str) -> None:
    for p in root.glob("v-*"):
        if p.is_dir() and p.name != live:
            shutil.rmtree(p, ignore_errors=True)
