"""Declared hyper-parameter constraints (liverec._params) and their one exception type."""

from __future__ import annotations

import datetime as dt
import math
import numbers
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import liverec.models
import liverec.profiles
import liverec.text
from liverec._params import Device, Interval, ParamsMixin, Timedelta, validate_parameter
from liverec.base import BaseRecommender
from liverec.data import Interactions, TextEvents
from liverec.exceptions import InvalidParameterError, LiverecError
from liverec.models import (
    ALS,
    MatrixFactorization,
    Popularity,
    ProfileRanker,
    SequentialTransformer,
)
from liverec.persistence import registered_classes
from liverec.profiles import UserProfileBuilder
from liverec.text import HashingTextEncoder, StreamTextEmbedder, TransformerTextEncoder


def liverec_classes() -> list[type]:
    """Every liverec class with constructor parameters: registered ones and all ParamsMixin subclasses."""
    for package in (liverec.models, liverec.text, liverec.profiles):  # import the lazy modules too
        for name in package.__all__:
            getattr(package, name)
    found: dict[str, type] = dict(registered_classes())
    stack: list[type] = [ParamsMixin]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith("liverec."):
                found[f"{sub.__module__}.{sub.__qualname__}"] = sub
    return sorted(set(found.values()), key=lambda c: c.__name__)


CLASSES = liverec_classes()
INTERVALS = [
    (cls, name, c)
    for cls in CLASSES
    for name, constraints in sorted(cls._parameter_constraints.items())
    for c in constraints
    if isinstance(c, Interval)
]


def tiny() -> Interactions:
    return Interactions.from_arrays(["a", "a", "b"], ["x", "y", "x"], time=[0.0, 1.0, 2.0],
                                    event=["view", "cart", "view"])


# Every parameter is declared --------------------------------------------------------------------
def test_the_class_list_covers_every_saveable_class() -> None:
    names = {c.__name__ for c in CLASSES}
    assert set(registered_classes()) <= names
    assert {"ALS", "BPR", "MatrixFactorization", "Popularity", "ProfileRanker", "SequentialTransformer",
            "HashingTextEncoder", "TransformerTextEncoder", "StreamTextEmbedder", "UserProfileBuilder"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_constructor_parameter_is_declared(cls: type) -> None:
    assert set(cls._parameter_constraints) == set(cls._param_names())


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_defaults_validate(cls: type) -> None:
    cls()._validate_params()


def test_no_hand_written_check_params_is_left() -> None:
    assert not [c.__name__ for c in CLASSES if hasattr(c, "_check_params")]


# Intervals, property-based ------------------------------------------------------------------------
def _inside(c: Interval) -> st.SearchStrategy[Any]:
    lo_open = c.closed in ("right", "neither")
    hi_open = c.closed in ("left", "neither")
    if c.kind is numbers.Integral:
        lo = None if c.left is None else int(math.floor(c.left)) + (1 if lo_open or c.left % 1 else 0)
        hi = None if c.right is None else int(math.ceil(c.right)) - (1 if hi_open or c.right % 1 else 0)
        np_ints = st.integers(min_value=lo if lo is not None else -(2**62),
                              max_value=hi if hi is not None else 2**62).map(np.int64)
        return st.one_of(st.integers(min_value=lo, max_value=hi), np_ints)
    floats = st.floats(min_value=c.left, max_value=c.right, exclude_min=c.left is not None and lo_open,
                       exclude_max=c.right is not None and hi_open, allow_nan=False, allow_infinity=False)
    return st.one_of(floats, floats.map(np.float64))


def _outside(c: Interval) -> st.SearchStrategy[Any]:
    bad: list[st.SearchStrategy[Any]] = [
        st.sampled_from([float("nan"), float("inf"), -float("inf"), True, False, np.bool_(True), None]),
        st.text(max_size=5),
    ]
    lo_closed = c.closed in ("left", "both")
    hi_closed = c.closed in ("right", "both")
    if c.kind is numbers.Integral:
        bad.append(st.floats(allow_nan=False, allow_infinity=False))  # a float is not an int, even 2.0
        if c.left is not None:
            bad.append(st.integers(max_value=int(c.left) - (1 if lo_closed else 0)))
        if c.right is not None:
            bad.append(st.integers(min_value=int(c.right) + (1 if hi_closed else 0)))
    else:
        if c.left is not None:
            bad.append(st.floats(max_value=c.left, exclude_max=lo_closed, allow_nan=False, allow_infinity=False))
        if c.right is not None:
            bad.append(st.floats(min_value=c.right, exclude_min=hi_closed, allow_nan=False, allow_infinity=False))
    return st.one_of(bad)


def _oracle(c: Any, v: Any) -> bool:
    """Independent membership test of the numeric constraints (None/Interval) used below."""
    if c is None:
        return v is None
    if not isinstance(c, Interval):
        return False
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, c.kind):
        return False
    if not math.isfinite(float(v)):
        return False
    ok_lo = c.left is None or (v >= c.left if c.closed in ("left", "both") else v > c.left)
    ok_hi = c.right is None or (v <= c.right if c.closed in ("right", "both") else v < c.right)
    return bool(ok_lo and ok_hi)


@given(data=st.data(), case=st.sampled_from(INTERVALS))
def test_values_inside_a_declared_interval_pass(data: st.DataObject, case: tuple) -> None:
    cls, name, interval = case
    value = data.draw(_inside(interval), label=f"{cls.__name__}.{name}")
    assert interval.is_satisfied_by(value)
    validate_parameter(cls.__name__, name, value, cls._parameter_constraints[name])


@given(data=st.data(), case=st.sampled_from(INTERVALS))
def test_values_outside_every_declared_constraint_raise(data: st.DataObject, case: tuple) -> None:
    cls, name, interval = case
    value = data.draw(_outside(interval), label=f"{cls.__name__}.{name}")
    constraints = cls._parameter_constraints[name]
    if any(_oracle(c, value) for c in constraints):  # e.g. None where None is allowed
        return
    obj = cls()
    setattr(obj, name, value)
    with pytest.raises(InvalidParameterError, match=f"parameter '{name}'"):
        obj._validate_params()


# The exception and its message --------------------------------------------------------------------
def test_the_message_names_class_parameter_constraint_and_value() -> None:
    with pytest.raises(InvalidParameterError) as err:
        ALS(n_factors=0).fit(tiny())
    assert str(err.value) == "ALS: parameter 'n_factors' must be an int in [1, inf), got 0."


def test_the_error_is_a_liverec_value_and_type_error() -> None:
    assert issubclass(InvalidParameterError, LiverecError)
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)


def test_a_bad_entry_of_a_dict_is_named() -> None:
    with pytest.raises(InvalidParameterError, match=r"event_weights\['view'\] = -1.0 is not a float in \[0, inf\)"):
        UserProfileBuilder(event_weights={"view": -1.0})._validate_params()


def test_a_bad_item_of_a_tuple_is_named() -> None:
    with pytest.raises(InvalidParameterError, match=r"char_ngram_range\[0\] = 3 is above char_ngram_range\[1\] = 1"):
        HashingTextEncoder(char_ngram_range=(3, 1))._validate_params()


def test_every_choice_is_listed_for_an_unknown_option() -> None:
    with pytest.raises(InvalidParameterError, match="'solver' must be one of 'als', 'sgd', got 'svd'"):
        MatrixFactorization(solver="svd")._validate_params()


def test_a_long_value_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidParameterError) as err:
        Popularity(strategy="x" * 1000)._validate_params()
    assert len(str(err.value)) < 300 and str(err.value).endswith("....")


# Where validation runs ------------------------------------------------------------------------------
def test_fit_validates_before_looking_at_the_data() -> None:
    with pytest.raises(InvalidParameterError, match="'alpha'"):
        ALS(alpha=-1.0).fit("not interactions")  # type: ignore[arg-type]


def test_set_params_is_checked_at_the_next_fit() -> None:
    model = Popularity().set_params(window=float("nan"))
    with pytest.raises(InvalidParameterError, match="'window'"):
        model.fit(tiny())


def test_text_encoders_validate_in_transform() -> None:
    with pytest.raises(InvalidParameterError, match="'dim'"):
        HashingTextEncoder(dim=0).transform(["x"])


def test_the_stream_embedder_validates_in_fit() -> None:
    T = TextEvents.from_arrays(item=["r"], text=["hi"], time=[0])
    with pytest.raises(InvalidParameterError, match="kind_weights"):
        StreamTextEmbedder(kind_weights={"chat": 1.0}).fit(T)


def test_the_profile_builder_validates_in_fit() -> None:
    with pytest.raises(InvalidParameterError, match="'half_life'"):
        UserProfileBuilder(half_life=0).fit(tiny())


def test_validation_reads_only_parameters_and_is_cheap() -> None:
    model = SequentialTransformer()
    before = dict(vars(model))
    start = time.perf_counter()
    for _ in range(200):
        model._validate_params()
    assert time.perf_counter() - start < 2.0
    assert vars(model) == before


# Nested estimators and cross-parameter rules ----------------------------------------------------
def test_a_nested_estimator_is_validated_with_its_path() -> None:
    builder = UserProfileBuilder(text_encoder=HashingTextEncoder(dim=0))
    with pytest.raises(InvalidParameterError,
                       match=r"^UserProfileBuilder: parameter 'text_encoder__dim' must be an int in \[1, inf\), got 0\.$"):
        builder.fit(tiny())


def test_a_nested_estimator_two_levels_down_is_validated() -> None:
    model = ProfileRanker(text_encoder=HashingTextEncoder(word_ngram_range=(0, 2)))
    with pytest.raises(InvalidParameterError, match="ProfileRanker: parameter 'text_encoder__word_ngram_range'"):
        model._validate_params()


def test_a_nested_estimators_relation_rule_is_reported_under_its_parameter() -> None:
    enc = HashingTextEncoder(char_ngram_range=None, word_ngram_range=None)
    with pytest.raises(InvalidParameterError, match="UserProfileBuilder: parameter 'text_encoder' is invalid: "
                                                    "HashingTextEncoder: .*no features"):
        UserProfileBuilder(text_encoder=enc)._validate_params()


@pytest.mark.parametrize("params, message", [
    ({"embedding_dim": 10, "n_heads": 3}, r"n_heads \(3\) must divide embedding_dim \(10\)"),
    ({"target_horizon": 2, "loss": "bce"}, "target_horizon=2 needs loss='ce'"),
    ({"repeat_aware": True, "n_time_buckets": 1}, "n_time_buckets >= 2"),
])
def test_cross_parameter_rules_run_after_the_single_checks(params: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        SequentialTransformer(**params)._validate_params()


def test_a_relation_rule_only_binds_when_its_condition_holds() -> None:
    SequentialTransformer(repeat_aware=False, n_time_buckets=1)._validate_params()


# What each form of constraint accepts ------------------------------------------------------------
def test_an_undeclared_parameter_of_an_outside_subclass_is_not_checked() -> None:
    class Outside(BaseRecommender):
        def __init__(self, anything: Any = None) -> None:
            self.anything = anything

    Outside(anything=object())._validate_params()


def test_bool_parameters_take_numpy_bools_but_not_ints() -> None:
    ALS(verbose=np.bool_(True))._validate_params()
    with pytest.raises(InvalidParameterError, match="'verbose' must be a bool, got 1"):
        ALS(verbose=1)._validate_params()  # type: ignore[arg-type]


def test_numpy_scalars_are_numbers() -> None:
    ALS(n_factors=np.int32(8), alpha=np.float32(2.0), regularization=np.int64(1))._validate_params()


def test_lists_from_a_saved_config_are_accepted_for_tuples() -> None:
    HashingTextEncoder(char_ngram_range=[1, 3], word_ngram_range=[2, 2])._validate_params()
    ProfileRanker(positive_events=["purchase"])._validate_params()


@pytest.mark.parametrize("device, ok", [("auto", True), ("cpu", True), ("cuda", True), ("cuda:1", True),
                                        ("cpu:0", True), ("cuda:x", False), ("tpu", False), ("mps", False),
                                        ("", False), (None, False)])
def test_the_factorisation_models_take_cpu_and_cuda_devices(device: Any, ok: bool) -> None:
    assert Device(("cpu", "cuda")).is_satisfied_by(device) is ok


@pytest.mark.parametrize("device, ok", [("mps", True), ("cuda:0", True), ("meta", True), ("cuda:x", False),
                                        ("gpu", False), (0, False)])
def test_torch_devices_are_whatever_torch_parses(device: Any, ok: bool) -> None:
    assert Device().is_satisfied_by(device) is ok
    if ok:
        TransformerTextEncoder(device=device)._validate_params()


def test_durations_take_numbers_and_positive_timedeltas() -> None:
    StreamTextEmbedder(window=dt.timedelta(minutes=5), half_life=np.timedelta64(60, "s"))._validate_params()
    assert not Timedelta().is_satisfied_by(dt.timedelta(seconds=-1))
    assert not Timedelta().is_satisfied_by(np.timedelta64("NaT"))
    with pytest.raises(InvalidParameterError, match="'window'"):
        StreamTextEmbedder(window=dt.timedelta(0))._validate_params()


def test_model_validation_data_may_be_interactions() -> None:
    MatrixFactorization(validation=tiny())._validate_params()


def test_declarations_themselves_are_checked() -> None:
    with pytest.raises(TypeError):
        Interval(float, 0, 1, closed="both")
    with pytest.raises(ValueError):
        Interval(numbers.Real, 1, 0, closed="both")
    with pytest.raises(TypeError):
        validate_parameter("X", "p", 1, ["not a constraint"])
