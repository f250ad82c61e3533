"""A trained LightGBM model predicted through machine code compiled from its trees (lleaves).

Why: the learned span scores ~110 candidate spans through 300 trees for every answer. LightGBM
walks them in ~1.15 ms, the compiled forest in ~0.26 ms, with the same probabilities to within
1e-15 (`bench/bench_forest.py`, on the rows the dev questions produce). Compiling costs a few seconds, once per model file and machine:
the code is cached under `$SEEDQA_CACHE` (default `~/.cache/seedqa`), keyed by the model's bytes,
the compiler's versions and this CPU (the code is specialised for the CPU it was built on, so a
copied cache never runs on another). Where the compiler cannot be had or fails, or with
`SEEDQA_TREES=lightgbm`, LightGBM predicts, as before.

Inlining is off: it made prediction ~2x faster (0.08 against 0.15 ms for 140 random rows) but
compiling ~6x slower (27 against 4.7 s), which a user would wait through on first use.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from qa.core import cache, versioned

log = logging.getLogger(__name__)

ENV = "SEEDQA_TREES"  # `lightgbm` turns the compiled path off
FLAGS = "finline=False"  # the compile options, part of the cache key


class Forest:
    """`predict(x)` of a LightGBM model file: compiled when it can be, else LightGBM's own."""

    def __init__(self, model_file: Path, compiled: bool | None = None) -> None:
        import lightgbm

        self.model_file = Path(model_file)
        self.booster = lightgbm.Booster(model_file=str(self.model_file))
        self.n_features = self.booster.num_feature()
        if compiled is None:
            compiled = os.environ.get(ENV, "").strip().lower() != "lightgbm"
        self.compiled = _compile(self.model_file) if compiled else None

    @property
    def kind(self) -> str:
        return "compiled" if self.compiled is not None else "lightgbm"

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities, one per row of `x` (rows × the model's features)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"rows must have {self.n_features} features, got shape {x.shape}")
        if not len(x):
            return np.zeros(0)
        if self.compiled is not None:
            return self.compiled.predict(x, n_jobs=1)
        return np.asarray(self.booster.predict(x, num_threads=1), dtype=np.float64)


def compiled_path(model_file: Path) -> Path:
    """Where the compiled code of `model_file` is cached on this machine."""
    import lleaves
    import llvmlite
    import llvmlite.binding as llvm

    h = hashlib.sha256(Path(model_file).read_bytes())
    for part in (getattr(lleaves, "__version__", "?"), llvmlite.__version__,
                 llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten(), FLAGS):
        h.update(part.encode())
    return cache.root() / "trees" / f"{Path(model_file).stem}-{h.hexdigest()[:16]}.so"


def _compile(model_file: Path):
    """The compiled model (from the cache, else compiled into it), or None where it cannot be."""
    try:
        import lleaves

        path = compiled_path(model_file)
        model = lleaves.Model(model_file=str(model_file))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with versioned.locked(path.with_name(path.name + ".lock")):
                if not path.exists():
                    log.info("compiling %s into %s (once, a few seconds)", model_file.name, path)
                    # compiled beside the cache, then renamed: a file in the cache is whole
                    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
                    os.close(fd)
                    os.unlink(tmp)  # lleaves writes the code only where no file is
                    try:
                        model.compile(cache=tmp, finline=False)
                        os.replace(tmp, path)
                        return model
                    finally:
                        if os.path.exists(tmp):
                            os.unlink(tmp)
        model.compile(cache=str(path))
        return model
    except Exception as exc:  # noqa: BLE001 - any failure leaves LightGBM predicting
        log.warning("compiled trees unavailable (%s: %s); LightGBM predicts",
                    exc.__class__.__name__, exc)
        return None


__all__ = ["ENV", "Forest", "compiled_path"]
