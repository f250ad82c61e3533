"""The question-wide columns of the answer model's rows (`qa.features.with_question_columns`)
and the late ones (`qa.features.late_columns`)."""

import math

import numpy as np

from qa.features import (
    _BASE,
    FEATURES,
    LATE_COLUMNS,
    QUESTION_COLUMNS,
    late_columns,
    with_question_columns,
)

WIDE = len(FEATURES) - len(LATE_COLUMNS)  # the columns up to the late ones


def _rows(values: dict[str, list[float]]) -> np.ndarray:
    n = len(next(iter(values.values())))
    x = np.zeros((n, _BASE), dtype=np.float32)
    for name, col in values.items():
        x[:, FEATURES.index(name)] = col
    return x


def test_columns_follow_the_best_and_worst_of_each_question():
    x = _rows({"cover": [0.2, 0.9, 0.5, 0.1, 0.3], "dense": [0.8, 0.7, 0.6, 0.5, 0.4],
               "fused": [1.0, 2.0, 3.0, 4.0, 5.0]})
    q = np.array([0, 0, 0, 1, 1])
    out = with_question_columns(x, q)
    assert out.shape == (5, WIDE)
    col = {n: out[:, FEATURES.index(n)] for n in FEATURES[_BASE:WIDE]}
    np.testing.assert_allclose(col["cover_qmax"], [0.9, 0.9, 0.9, 0.3, 0.3], rtol=1e-6)
    np.testing.assert_allclose(col["cover_dmax"], [-0.7, 0.0, -0.4, -0.2, 0.0], atol=1e-6)
    np.testing.assert_allclose(col["fused_qmin"], [1.0, 1.0, 1.0, 4.0, 4.0])
    np.testing.assert_allclose(col["dense_dmax"], [0.0, -0.1, -0.2, 0.0, -0.1], atol=1e-6)
    # the per-candidate columns pass through untouched
    np.testing.assert_array_equal(out[:, :_BASE], x)


def test_one_question_at_a_time_matches_many_at_once():
    rng = np.random.default_rng(1)
    x = rng.random((12, _BASE)).astype(np.float32)
    q = np.repeat([0, 1, 2], 4)
    together = with_question_columns(x, q)
    alone = np.vstack([with_question_columns(x[q == k]) for k in range(3)])
    np.testing.assert_array_equal(together, alone)


def test_a_missing_value_is_never_the_best():
    x = _rows({"cover": [math.nan, 0.4], "dense": [0.1, 0.2], "fused": [0.0, 0.0]})
    out = with_question_columns(x)
    assert out[0, FEATURES.index("cover_qmax")] == np.float32(0.4)
    assert out[0, FEATURES.index("cover_qmin")] == -1.0
    assert len(QUESTION_COLUMNS) * 3 == WIDE - _BASE


def test_no_rows_give_an_empty_matrix_of_every_column():
    assert with_question_columns(np.zeros((0, _BASE), np.float32)).shape == (0, WIDE)
    assert late_columns([]).shape == (0, len(LATE_COLUMNS))


def test_late_columns_are_the_cosine_and_its_distance_to_the_best_across_hits():
    out = late_columns([np.array([0.5, 0.8], np.float32), np.array([0.9], np.float32)])
    np.testing.assert_allclose(out, [[0.5, -0.4], [0.8, -0.1], [0.9, 0.0]], atol=1e-6)
    assert FEATURES[-len(LATE_COLUMNS):] == LATE_COLUMNS  # last: earlier columns keep their place


def test_late_columns_without_a_question_vector_are_missing():
    out = late_columns([np.full(3, np.nan, np.float32)])
    assert out.shape == (3, 2) and np.isnan(out).all()
