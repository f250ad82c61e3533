"""The compiled trees (`qa.forest`) give LightGBM's probabilities, are compiled once into the
cache, and leave LightGBM predicting when they cannot be had."""

from __future__ import annotations

import logging

import lightgbm
import numpy as np
import pytest

from qa.forest import ENV, Forest, compiled_path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A small binary model with a categorical column and missing values, like the span model."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4))
    x[:, 3] = rng.integers(0, 5, 600)  # categorical
    x[rng.random(x.shape) < 0.1] = np.nan
    y = ((np.nan_to_num(x[:, 0]) + (x[:, 3] == 2) - np.nan_to_num(x[:, 1]) * 0.5) > 0.3)
    data = lightgbm.Dataset(x, label=y.astype(int), categorical_feature=[3])
    booster = lightgbm.train({"objective": "binary", "num_leaves": 7, "verbosity": -1,
                              "min_data_in_leaf": 5, "deterministic": True, "num_threads": 1},
                             data, num_boost_round=25)
    path = tmp_path_factory.mktemp("model") / "model.txt"
    booster.save_model(str(path))
    return path


@pytest.fixture
def rows():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4)) * 2
    x[:, 3] = rng.integers(-1, 7, 200)  # unseen categories too
    x[rng.random(x.shape) < 0.15] = np.nan
    return x


def test_compiled_gives_lightgbms_probabilities(model_file, rows, tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDQA_CACHE", str(tmp_path))
    monkeypatch.delenv(ENV, raising=False)
    compiled, plain = Forest(model_file), Forest(model_file, compiled=False)
    assert (compiled.kind, plain.kind) == ("compiled", "lightgbm")
    p = compiled.predict(rows)
    assert np.allclose(p, plain.predict(rows), rtol=0, atol=1e-12)
    assert np.allclose(p, lightgbm.Booster(model_file=str(model_file)).predict(rows),
                       rtol=0, atol=1e-12)
    assert p.min() < 0.2 and p.max() > 0.8  # a model that separates, not a constant
    assert compiled.predict(rows[:0]).shape == (0,)


def test_compiled_once_then_loaded_from_the_cache(model_file, rows, tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDQA_CACHE", str(tmp_path))
    first = Forest(model_file)
    path = compiled_path(model_file)
    assert path.is_file() and path.is_relative_to(tmp_path)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp file left
    stamp = path.stat().st_mtime_ns
    again = Forest(model_file)
    assert path.stat().st_mtime_ns == stamp
    assert np.array_equal(first.predict(rows), again.predict(rows))


def test_another_model_gets_its_own_compiled_file(model_file, tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDQA_CACHE", str(tmp_path))
    other = tmp_path / "other.txt"
    other.write_text(model_file.read_text().replace("sigmoid:1", "sigmoid:2"))
    assert other.read_text() != model_file.read_text()
    assert compiled_path(other) != compiled_path(model_file)


def test_lightgbm_where_the_compiler_cannot_write(model_file, rows, tmp_path, monkeypatch,
                                                  caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SEEDQA_CACHE", str(blocker))
    with caplog.at_level(logging.WARNING, logger="qa.forest"):
        forest = Forest(model_file)
    assert forest.kind == "lightgbm"
    assert "LightGBM predicts" in caplog.text
    plain = lightgbm.Booster(model_file=str(model_file))
    assert np.array_equal(forest.predict(rows), plain.predict(rows))


def test_switched_off_by_the_environment(model_file, tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDQA_CACHE", str(tmp_path))
    monkeypatch.setenv(ENV, "lightgbm")
    assert Forest(model_file).kind == "lightgbm"
    assert not (tmp_path / "models" / "trees").exists()


def test_rows_of_the_wrong_width_are_refused(model_file, tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDQA_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match="4 features"):
        Forest(model_file).predict(np.zeros((3, 5)))
