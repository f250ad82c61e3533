"""The learned answer choice: a calibrated probability that a candidate sentence answers.

A gradient-boosted model (LightGBM) over `qa.features` replaces hand-set weights: it was trained
by `seedqa train` on thousands of real questions (the fit parts of CMRC 2018 and DRCD, imported
as open-domain tasks with held-out paragraphs, plus the fit part of our own seeds questions), and
its refusal threshold was chosen on out-of-fold predictions of those fit parts alone. The model,
the data it saw and its figures are recorded beside it in `qa/models/`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.core.errors import SeedQAError
from qa.features import FEATURES

MODEL_DIR = Path(__file__).resolve().parent / "models"
# LightGBM settings shared by both learned models: one thread and `deterministic`, so training
# from the same rows gives the same model bit for bit (a test refits the shipped one)
DETERMINISTIC = {"num_threads": 1, "deterministic": True, "force_row_wise": True, "seed": 0,
                 "verbosity": -1}
# A check after the model: a question that names a year is refused when that year occurs nowhere in
# the chosen sentence's passage. Out of fold on the fit parts it raised refusal recall (seeds
# 0.47 -> 0.51, DRCD 0.865 -> 0.884) at no cost in false refusals on CMRC or seeds (+0.3 points
# on DRCD); the same check for places, names or organisations cost 1-6 points of false
# refusals, so the model weighs those alone.
_YEAR_COLS = (FEATURES.index("q_years"), FEATURES.index("year_in_ctx"))
MODEL_FILE = "answer_model.txt"
META_FILE = "answer_model.json"


@dataclass
class AnswerModel:
    booster: object  # lightgbm.Booster
    meta: dict

    @property
    def threshold(self) -> float:
        return float(self.meta["threshold"])

    @classmethod
    def load(cls, folder: Path | None = None) -> AnswerModel:
        import lightgbm

        folder = Path(folder or MODEL_DIR)
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            booster = lightgbm.Booster(model_file=str(folder / MODEL_FILE))
        except (OSError, ValueError, lightgbm.basic.LightGBMError) as exc:
            raise SeedQAError(
                f"cannot load the answer model from {folder} ({exc}); run `seedqa train`"
            ) from None
        if list(meta.get("features", [])) != list(FEATURES):
            raise SeedQAError(
                f"the answer model in {folder} was trained on other features; run `seedqa train`"
            )
        return cls(booster, meta)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(the candidate sentence answers the question), one per row of `x`."""
        if len(x) == 0:
            return np.zeros(0)
        return np.asarray(self.booster.predict(x, num_threads=1), dtype=np.float64)

    @staticmethod
    def contradicted(row: np.ndarray) -> bool:
        """Whether a candidate's passage lacks the year the question names."""
        asked, found = row[_YEAR_COLS[0]], row[_YEAR_COLS[1]]
        return bool(asked > 0 and found < 1.0)


_default: AnswerModel | None = None
_lock = threading.Lock()


def default_model() -> AnswerModel:
    """The shipped model, loaded once per process."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = AnswerModel.load()
    return _default
