"""The estimator API shared by all models: params, Recommendations, history, filters."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from liverec.base import Recommendations
from liverec.data import Interactions
from liverec.exceptions import (
    InvalidParameterError,
    NotFittedError,
    UnknownItemError,
    UnknownUserError,
)
from liverec.models import Popularity


def _data() -> Interactions:
    return Interactions.from_arrays(user=[1, 1, 2, 3, 3, 3], item=["a", "b", "a", "a", "c", "b"],
                                    time=[1, 2, 3, 4, 5, 6])


def test_set_params_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="no parameter 'strategyy'.*valid parameters"):
        Popularity().set_params(strategyy="live")


def test_get_set_params_round_trip() -> None:
    model = Popularity(strategy="recent", window=5.0)
    twin = Popularity().set_params(**model.get_params())
    assert twin.get_params() == model.get_params()
    assert repr(twin) == "Popularity(strategy='recent', window=5.0)"


def test_sklearn_clone_gives_unfitted_copy() -> None:
    clone = pytest.importorskip("sklearn.base").clone
    model = Popularity(strategy="recent").fit(_data())
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "is_fitted_")


def test_not_fitted_error_is_also_attribute_error() -> None:
    with pytest.raises(NotFittedError, match="call fit"):
        Popularity().recommend([1])
    assert not hasattr(Popularity(), "item_popularity_")


def test_recommendations_are_padded_when_few_candidates() -> None:
    recs = Popularity().fit(_data()).recommend([1, 2], k=3, candidates=["a", "b"])
    assert recs.items.dtype == object and recs.items[:, 2].tolist() == [None, None]
    assert recs.mask.tolist() == [[True, True, False]] * 2
    assert recs[0] == ["a", "b"]
    assert [r["rank"] for r in recs.to_records()] == [1, 2, 1, 2]


def test_recommendations_to_frame() -> None:
    pytest.importorskip("pandas")
    frame = Popularity().fit(_data()).recommend([1], k=2).to_frame()
    assert frame.columns.tolist() == ["user", "rank", "item", "score"] and len(frame) == 2


def test_recommendations_keep_native_dtype_without_padding() -> None:
    recs = Recommendations.from_codes(np.array([1]), np.array([[1, 0]]), np.array([[2.0, 1.0]]),
                                      _data().items)
    assert recs.items.dtype.kind == "U"


def test_unknown_user_error_names_history() -> None:
    with pytest.raises(UnknownUserError, match="history=") as info:
        Popularity().fit(_data()).recommend([99])
    assert isinstance(info.value, KeyError)


def test_predict_unknown_item_raises() -> None:
    with pytest.raises(UnknownItemError):
        Popularity().fit(_data()).predict([1], ["zzz"])


def test_per_user_exclude_dict() -> None:
    recs = Popularity().fit(_data()).recommend([1, 2], k=1, exclude={1: ["a"]})
    assert recs.items[:, 0].tolist() == ["b", "a"]


def test_history_as_interactions() -> None:
    model = Popularity().fit(_data())
    new = Interactions.from_arrays(["new"], ["c"], time=[9])
    recs = model.recommend(["new"], k=2, history=new, exclude_seen=True)
    assert "c" not in recs[0]


def test_k_must_be_positive() -> None:
    with pytest.raises(InvalidParameterError, match=r"parameter 'k' must be an int in \[1, "):
        Popularity().fit(_data()).recommend([1], k=0)


@pytest.mark.parametrize("k", [None, 2.0, "3", True])
def test_k_must_be_an_integer(k: object) -> None:
    with pytest.raises(InvalidParameterError, match="parameter 'k'"):
        Popularity().fit(_data()).recommend([1], k=k)  # type: ignore[arg-type]


def test_a_k_too_large_to_allocate_is_refused_before_any_work() -> None:
    model = Popularity().fit(_data())
    with pytest.raises(InvalidParameterError, match="result cells"):
        model.recommend([1, 2], k=2**28)
    with pytest.raises(InvalidParameterError, match="parameter 'k'"):
        model.recommend([1], k=2**63)


def test_similar_items_checks_k_like_recommend() -> None:
    from liverec.models import ALS

    model = ALS(n_factors=2, n_epochs=1, random_state=0, threads=1).fit(_data())
    with pytest.raises(InvalidParameterError, match="parameter 'k'"):
        model.similar_items(["a"], k=1.5)  # type: ignore[arg-type]


def test_import_is_light() -> None:
    code = "import sys, liverec; print('transformers' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "False", "import liverec must not import transformers"


# Notebook niceties ------------------------------------------------------------------------------
def test_recommendations_html_table_escapes_and_truncates() -> None:
    users = np.array(["<script>u</script>", *[f"u{i}" for i in range(29)]], dtype=object)
    items = np.array([[f"<b>i{c}</b>" for c in range(15)]] * 30, dtype=object)
    scores = np.tile(np.linspace(1.0, 0.1, 15, dtype=np.float32), (30, 1))
    recs = Recommendations(users, items, scores)
    html = recs._repr_html_()
    assert html.startswith("<div><table>") and "Recommendations: 30 users, k=15" in html
    assert "<script>" not in html and "<b>" not in html  # every value escaped
    assert "&lt;script&gt;u&lt;/script&gt;" in html and "&lt;b&gt;i0&lt;/b&gt; (1)" in html
    assert html.count("<tr>") == 1 + Recommendations._html_max_rows  # header + shown rows
    assert html.count("<th>") == 1 + Recommendations._html_max_k
    assert "10 more users" in html and "ranks 11 to 15 not shown" in html


def test_recommendations_html_table_leaves_padding_empty() -> None:
    recs = Popularity().fit(_data()).recommend([1, 2], k=3, candidates=["a", "b"])
    html = recs._repr_html_()
    assert html.startswith("<table>") and "more users" not in html
    assert html.count("<td></td>") == 2 and "None" not in html


def _every_model() -> list[object]:
    from liverec.models import ALS, BPR, MatrixFactorization, ProfileRanker, SequentialTransformer

    return [Popularity(), MatrixFactorization(n_factors=2, n_epochs=2, random_state=0),
            ALS(n_factors=2, n_epochs=2, random_state=0), BPR(n_factors=2, n_epochs=2, random_state=0),
            SequentialTransformer(embedding_dim=8, max_len=8, n_epochs=1, random_state=0),
            ProfileRanker(n_windows=2, n_epochs=1, embedding_dim=8, random_state=0)]


@pytest.mark.parametrize("model", _every_model(), ids=lambda m: type(m).__name__)
def test_sklearn_estimator_html_repr_works(model: object) -> None:
    estimator_html_repr = pytest.importorskip("sklearn.utils").estimator_html_repr
    name = type(model).__name__
    html = estimator_html_repr(model)
    assert name in html and "Not fitted" in html
    if name != "ProfileRanker":  # needs item features; fitted state is checked on the others
        X = _data()
        rated = Interactions.from_arrays(X.user, X.item, time=X.time_values(), weight=[5, 3, 4, 2, 1, 5])
        model.fit(rated)  # type: ignore[attr-defined]  # ratings, for MatrixFactorization
        fitted = estimator_html_repr(model)
        assert name in fitted and ">Fitted<" in fitted
