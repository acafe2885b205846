"""SequentialTransformer: a causal Transformer over each user's events, live- and repeat-aware.

Tiny models on tiny synthetic data, so the whole file runs in seconds on one CPU thread.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import liverec
from liverec._ranking import parse_request
from liverec.data import Interactions
from liverec.exceptions import DataValidationError
from liverec.models import SequentialTransformer
from liverec.models.sequential import training
from liverec.models.sequential.data import (
    FlatSequences,
    TimeBuckets,
    gather_batch,
    last_occurrence_pairs,
    sample_live,
)
from liverec.models.sequential.losses import ChunkedSoftmaxCE, LossSettings, _Targets, sampled_loss
from liverec.testing import contract_data

TINY = dict(embedding_dim=16, max_len=16, batch_size=32, random_state=0, verbose=False)


@functools.cache
def live_model() -> tuple[SequentialTransformer, Interactions, object]:
    X, schedule = contract_data()
    model = SequentialTransformer(n_epochs=3, repeat_aware=True, **TINY).fit(X, schedule=schedule)
    return model, X, schedule


def ndcg_at_10(model: SequentialTransformer, users: list, targets: list, **kwargs: object) -> float:
    recs = model.recommend(users, k=10, **kwargs)
    gains = []
    for row, target in enumerate(targets):
        hits = [j for j, item in enumerate(recs[row]) if item == target]
        gains.append(1.0 / np.log2(hits[0] + 2) if hits else 0.0)
    return float(np.mean(gains))


# Shapes and availability -----------------------------------------------------------------------
def test_scores_cover_every_item_for_many_users_at_once() -> None:
    model, X, _ = live_model()
    scores = model._score_known(np.arange(X.n_users), None)
    assert tuple(scores.shape) == (X.n_users, X.n_items)
    assert torch.isfinite(scores).all()


@given(st.floats(min_value=0.0, max_value=6 * 24.0))
def test_live_only_recommendation_never_contains_an_off_air_item(t: float) -> None:
    model, X, schedule = live_model()
    live = set(schedule.live_at(t).tolist())
    recs = model.recommend(X.users.ids[:8], k=5, at=t)
    for row in range(8):
        assert set(recs[row]) <= live
        assert len(recs[row]) == min(5, len(live))


# Causal masking --------------------------------------------------------------------------------
@given(st.integers(min_value=1, max_value=11), st.integers(min_value=1, max_value=25))
def test_changing_a_later_event_leaves_earlier_positions_unchanged(position: int, new_item: int) -> None:
    model, _, _ = live_model()
    rng = np.random.default_rng(position)
    seq = torch.as_tensor(rng.integers(1, 26, size=(2, 12)))
    changed = seq.clone()
    changed[:, position] = new_item
    with torch.inference_mode():
        a, b = model.net_(seq), model.net_(changed)
    torch.testing.assert_close(a[:, :position], b[:, :position], rtol=0, atol=1e-6)


# Learning --------------------------------------------------------------------------------------
def cyclic_data(n_users: int = 30, n_items: int = 12, length: int = 7) -> tuple[Interactions, list, list]:
    """Each user walks the items in a fixed cycle from a random start; the last step is held out."""
    rng = np.random.default_rng(0)
    users, items, times, targets = [], [], [], []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        walk = [(start + j) % n_items for j in range(length)]
        for j, item in enumerate(walk[:-1]):
            users.append(u)
            items.append(item)
            times.append(float(j))
        targets.append(walk[-1])
    return Interactions.from_arrays(users, items, time=times), list(range(n_users)), targets


def test_overfits_a_tiny_deterministic_data_set_to_ndcg_1() -> None:
    X, users, targets = cyclic_data()
    model = SequentialTransformer(n_epochs=60, dropout=0.0, learning_rate=5e-3, validation_size=0,
                                  **TINY).fit(X)
    assert ndcg_at_10(model, users, targets) == 1.0


@pytest.mark.parametrize("loss", ["sampled_ce", "bce"])
def test_sampled_losses_learn_too(loss: str) -> None:
    X, users, targets = cyclic_data()
    model = SequentialTransformer(n_epochs=150, dropout=0.0, learning_rate=5e-3, validation_size=0,
                                  loss=loss, n_negatives=4, **TINY).fit(X)
    assert model.history_[-1]["loss"] < 0.5 * model.history_[0]["loss"]
    assert ndcg_at_10(model, users, targets) > 0.9


def test_target_horizon_trains_on_later_events_and_still_fits_the_next_one() -> None:
    X, users, targets = cyclic_data()
    # the optimum puts 2/3 of the softmax on the next item and 1/3 on the one after
    model = SequentialTransformer(n_epochs=120, dropout=0.0, learning_rate=5e-3, validation_size=0,
                                  target_horizon=2, **TINY).fit(X)
    assert model.history_[-1]["loss"] < 0.7
    assert ndcg_at_10(model, users, targets) == 1.0


# The fused cross-entropy ------------------------------------------------------------------------
@given(st.integers(1, 300), st.integers(1, 3), st.integers(1, 97), st.booleans(), st.integers(0, 2**16))
def test_chunked_cross_entropy_matches_log_softmax_and_autograd(n: int, k: int, chunk: int, masked: bool,
                                                                 seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    n_items = 40
    h = torch.randn(n, 8, generator=g, requires_grad=True)
    w = torch.randn(n_items, 8, generator=g, requires_grad=True)
    target = torch.randint(0, n_items, (n, k), generator=g)
    weight = torch.rand(n, k, generator=g)
    allowed = None
    logits = h @ w.T
    if masked:
        allowed = (torch.rand(n, n_items, generator=g) < 0.3).scatter_(1, target, True)
        logits = logits.masked_fill(~allowed, -torch.inf)
    expected = -(torch.log_softmax(logits, 1).gather(1, target) * weight).sum() / weight.sum()
    grads = torch.autograd.grad(expected, (h, w))
    got = ChunkedSoftmaxCE.apply(h, w, target, weight, allowed, chunk)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(torch.autograd.grad(got, (h, w)), grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@given(st.integers(1, 200), st.integers(1, 97), st.integers(0, 2**16))
def test_chunked_cross_entropy_in_bfloat16_stays_close_to_float32(n: int, chunk: int, seed: int) -> None:
    # bf16 operands carry 8 bits of mantissa: the loss and gradients agree to about 1e-2
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, 16, generator=g, requires_grad=True)
    w = torch.randn(60, 16, generator=g, requires_grad=True)
    target = torch.randint(0, 60, (n, 1), generator=g)
    weight = torch.ones(n, 1)
    exact = ChunkedSoftmaxCE.apply(h, w, target, weight, None, chunk)
    low = ChunkedSoftmaxCE.apply(h, w, target, weight, None, chunk, torch.bfloat16)
    torch.testing.assert_close(low, exact, rtol=2e-2, atol=2e-2)
    for a, b in zip(torch.autograd.grad(low, (h, w)), torch.autograd.grad(exact, (h, w)), strict=True):
        assert float((a - b).norm() / b.norm().clamp_min(1e-12)) < 5e-2


def test_bfloat16_output_layer_learns_like_float32() -> None:
    X, users, targets = cyclic_data()
    runs = {p: SequentialTransformer(n_epochs=60, dropout=0.0, learning_rate=5e-3, validation_size=0,
                                     output_precision=p, **TINY).fit(X) for p in ("float32", "bfloat16")}
    assert runs["bfloat16"].history_[-1]["loss"] == pytest.approx(runs["float32"].history_[-1]["loss"], rel=0.1)
    assert ndcg_at_10(runs["bfloat16"], users, targets) == 1.0


def test_sampled_warmup_trains_the_first_part_on_the_sampled_softmax_then_the_full_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[str] = []
    real = training.batch_loss

    def spy(net: object, batch: object, rng: object, cfg: LossSettings) -> object:
        used.append(cfg.loss)
        return real(net, batch, rng, cfg)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "batch_loss", spy)
    X, _, _ = cyclic_data()
    SequentialTransformer(n_epochs=4, validation_size=0, sampled_warmup=0.5, n_negatives=4, **TINY).fit(X)
    switch = used.index("ce")
    assert switch == len(used) // 2  # the clock's fraction of the steps
    assert set(used[:switch]) == {"sampled_ce"} and set(used[switch:]) == {"ce"}


def test_sampled_warmup_learns_too() -> None:
    X, users, targets = cyclic_data()
    model = SequentialTransformer(n_epochs=60, dropout=0.0, learning_rate=5e-3, validation_size=0,
                                  sampled_warmup=0.5, n_negatives=4, **TINY).fit(X)
    assert ndcg_at_10(model, users, targets) > 0.9


@given(st.integers(1, 50), st.integers(2, 300), st.integers(0, 2**16))
def test_corrected_sampled_softmax_of_equal_scores_matches_the_full_one(k: int, n_pool: int, seed: int) -> None:
    # every score equal: the full softmax loss is log(n); the corrected sampled one log(1 + n)
    # (the target is also among the n candidates), the uncorrected one log(1 + k)
    rng = np.random.default_rng(seed)
    n = 7
    t = _Targets(torch.zeros(n, 4), torch.randn(n_pool + 3, 4), np.full(n, n_pool + 2), torch.full((n,), n_pool + 2),
                 torch.ones(n), np.zeros(n), None)
    cfg = LossSettings(loss="sampled_ce", n_items=n_pool + 3, n_negatives=k, target_horizon=1, horizon_decay=0.5,
                       live_codes=None, pool=np.arange(n_pool), time_buckets=None, cold=None,
                       device=torch.device("cpu"), correct_sampling=True)
    loss = sampled_loss(None, t, rng, cfg)  # type: ignore[arg-type]  # the network only serves repeat scores
    np.testing.assert_allclose(loss.numpy(), np.log1p(n_pool), rtol=1e-5)
    plain = sampled_loss(None, t, rng, dataclasses.replace(cfg, correct_sampling=False))  # type: ignore[arg-type]
    np.testing.assert_allclose(plain.numpy(), np.log1p(k), rtol=1e-5)


@given(st.integers(1, 50), st.lists(st.integers(1, 40), min_size=1, max_size=6), st.integers(0, 2**16))
def test_corrected_live_sampled_softmax_corrects_each_row_by_its_own_live_set(k: int, sizes: list[int],
                                                                              seed: int) -> None:
    # equal scores again: each row's loss is log(1 + n_live) for its own live set, whatever the
    # number of negatives drawn
    rng = np.random.default_rng(seed)
    n, n_items = len(sizes), 50
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    live = np.concatenate([np.arange(size) for size in sizes]).astype(np.int64)
    target = n_items - 1  # never live, so never drawn as a negative of its own row
    t = _Targets(torch.zeros(n, 4), torch.randn(n_items, 4), np.full(n, target), torch.full((n,), target),
                 torch.ones(n), np.zeros(n), None)
    cfg = LossSettings(loss="sampled_ce", n_items=n_items, n_negatives=k, target_horizon=1, horizon_decay=0.5,
                       live_codes=lambda tau: (indptr, live), pool=np.arange(n_items), time_buckets=None,
                       cold=None, device=torch.device("cpu"), correct_sampling=True)
    loss = sampled_loss(None, t, rng, cfg)  # type: ignore[arg-type]  # the network only serves repeat scores
    np.testing.assert_allclose(loss.numpy(), np.log1p(np.asarray(sizes, dtype=np.float64)), rtol=1e-5)


def test_horizon_targets_are_the_later_events_of_the_same_window() -> None:
    items = np.array([10, 11, 12, 13, 20, 21, 22])
    flat = FlatSequences(items, np.arange(7.0), np.ones(7, dtype=np.float32), np.array([0, 4, 7]))
    batch = gather_batch(flat, np.array([0, 4]), np.array([4, 3]), horizon=3)
    # user 0: inputs 10 11 12 -> next 11 12 13; two ahead 12 13 (end); three ahead 13 (end) (end)
    assert batch.targets[0].tolist() == [11, 12, 13]
    assert batch.later_targets[0, :, 0].tolist() == [12, 13, 13]
    assert batch.later_weights[0, :, 0].tolist() == [1, 1, 0]
    assert batch.later_weights[0, :, 1].tolist() == [1, 0, 0]
    assert batch.later_targets[0, 0, 1] == 13
    # user 1 (shorter, right-padded): inputs 20 21 -> next 21 22; two ahead 22 (end)
    assert batch.later_weights[1, :2, 0].tolist() == [1, 0]
    assert batch.later_targets[1, 0, 0] == 22


def test_early_stopping_keeps_the_best_validation_epoch() -> None:
    X, _ = contract_data()
    model = SequentialTransformer(n_epochs=8, patience=2, validation_size=0.25, **TINY).fit(X)
    scores = [h["val_ndcg"] for h in model.history_]
    assert all(s is not None for s in scores)
    assert model.best_epoch_ == int(np.argmax(scores)) + 1
    assert model.best_val_ndcg_ == max(scores)


def test_time_limit_stops_training_after_the_first_step() -> None:
    X, _ = contract_data()
    model = SequentialTransformer(n_epochs=50, time_limit=1e-6, **TINY).fit(X)
    assert model.n_epochs_ == 1


# Repeat consumption ----------------------------------------------------------------------------
def return_after_a_long_gap(n_users: int, seed: int) -> tuple[Interactions, list, list, list]:
    """Users watch X, then Y after a short or a long gap; they go back to X only after a long one.

    The order of events is the same in both cases: only the time since each item was last
    watched tells the two apart.
    """
    rng = np.random.default_rng(seed)
    users, items, times, next_items, at = [], [], [], [], []
    for u in range(n_users):
        x, y = rng.choice(20, size=2, replace=False)
        gap = 100.0 if rng.random() < 0.5 else 1.0
        users += [f"u{seed}-{u}"] * 2
        items += [int(x), int(y)]
        times += [0.0, gap]
        next_items.append(int(x) if gap > 1 else int(y))
        at.append(gap + 1.0)
    X = Interactions.from_arrays(users, items, time=times)
    return X, sorted(set(users), key=users.index), next_items, at


def fit_and_score_return_task(repeat_aware: bool) -> float:
    X, users, next_items, at = return_after_a_long_gap(300, seed=0)
    full = Interactions.from_arrays(
        np.concatenate([X.user, np.asarray(users)]), np.concatenate([X.item, next_items]),
        time=np.concatenate([X.time, at]))
    model = SequentialTransformer(n_epochs=40, dropout=0.0, learning_rate=5e-3, validation_size=0,
                                  repeat_aware=repeat_aware, n_time_buckets=16, **TINY).fit(full)
    H, new_users, new_next, new_at = return_after_a_long_gap(100, seed=1)
    recs = model.recommend(new_users, k=1, history=H, at=new_at)
    return float(np.mean([recs[r][0] == new_next[r] for r in range(len(new_users))]))


def test_repeat_aware_model_uses_the_time_since_last_consumption() -> None:
    assert fit_and_score_return_task(repeat_aware=True) > 0.9
    assert fit_and_score_return_task(repeat_aware=False) < 0.75


def test_repeat_feature_moves_only_the_scores_of_consumed_items() -> None:
    model, X, _ = live_model()
    seen = X.items.codes(X.items.ids[[0, 1, 2]])
    hist = Interactions.from_arrays(["new"] * 3, X.items.ids[[0, 1, 2]], time=[1.0, 2.0, 3.0])
    folded = parse_request(model, ["new"], 1, history=hist).histories
    soon = model._score_history(folded, np.array([3.5]))
    late = model._score_history(folded, np.array([300.0]))
    never = np.setdiff1d(np.arange(X.n_items), seen)
    torch.testing.assert_close(soon[0, never], late[0, never])
    assert not torch.allclose(soon[0, seen], late[0, seen])


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50))
def test_time_buckets_are_monotone_and_never_zero(gaps: list[float]) -> None:
    buckets = TimeBuckets.fit(np.array([1.0, 10.0, 1000.0]), 8)
    dt = np.sort(np.array(gaps))
    b = buckets(dt)
    assert (b >= 1).all() and (b <= buckets.n_buckets).all()
    assert (np.diff(b) >= 0).all()


@given(st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=8), min_size=1, max_size=4))
def test_last_occurrence_pairs_match_a_brute_force_scan(rows: list[list[int]]) -> None:
    t = max(len(r) for r in rows)
    inputs = np.zeros((len(rows), t), dtype=np.int64)
    valid = np.zeros((len(rows), t), dtype=bool)
    for b, r in enumerate(rows):
        inputs[b, :len(r)] = np.asarray(r) + 1
        valid[b, :len(r)] = True
    got = set(zip(*(x.tolist() for x in last_occurrence_pairs(inputs, valid)), strict=True))
    want = {(b, p, j) for b, r in enumerate(rows) for p in range(len(r)) for j in range(p + 1)
            if r[j] not in r[j + 1:p + 1]}
    assert got == want


@given(st.lists(st.lists(st.integers(0, 30), max_size=6, unique=True), min_size=1, max_size=5),
       st.integers(0, 1000))
def test_live_negatives_come_from_the_live_set(live_sets: list[list[int]], seed: int) -> None:
    indptr = np.zeros(len(live_sets) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in live_sets], out=indptr[1:])
    live = np.asarray([x for s in live_sets for x in s], dtype=np.int64)
    out = sample_live(indptr, live, 7, np.random.default_rng(seed), n_items=31)
    assert out.shape == (len(live_sets), 7)
    for row, s in enumerate(live_sets):
        if s:
            assert set(out[row].tolist()) <= set(s)
        else:
            assert ((out[row] >= 0) & (out[row] < 31)).all()


# Cold start and fold-in ------------------------------------------------------------------------
def category_data() -> tuple[Interactions, dict]:
    """Users stay within one of three categories; items have a one-hot category feature.

    Item ``c9`` (category 0) never occurs in the interactions.
    """
    rng = np.random.default_rng(0)
    cats = {f"c{i}": i % 3 for i in range(9)}
    users, items, times = [], [], []
    for u in range(60):
        mine = [i for i, c in cats.items() if c == u % 3]
        for j in range(6):
            users.append(u)
            items.append(str(rng.choice(mine)))
            times.append(float(j))
    cats["c9"] = 0
    features = {item: np.eye(3, dtype=np.float32)[c] for item, c in cats.items()}
    return Interactions.from_arrays(users, items, time=times), features


def test_an_item_known_only_from_its_features_is_scored_like_its_category() -> None:
    X, features = category_data()
    model = SequentialTransformer(n_epochs=30, learning_rate=5e-3, validation_size=0, **TINY)
    model.fit(X, item_features=features)
    assert "c9" in model.items_ and "c9" not in X.items
    recs = model.recommend("fan", k=4, history=["c0", "c3", "c6", "c0"])
    assert "c9" in recs[0]
    for other in ("c1", "c2", "c4", "c5", "c7", "c8"):
        assert other not in recs[0]


def test_item_features_must_have_one_row_per_item() -> None:
    X, _ = category_data()
    with pytest.raises(DataValidationError, match="one row per item"):
        SequentialTransformer(n_epochs=1, **TINY).fit(X, item_features=np.ones((3, 2)))


def test_fold_in_history_scores_like_the_same_known_user() -> None:
    model, X, _ = live_model()
    user = X.users.ids[3]
    mine = X.select(X.user_codes == 3)
    known = model.recommend(user, k=8)
    folded = model.recommend("someone-new", k=8, history=Interactions.from_arrays(
        ["someone-new"] * len(mine), mine.item, time=mine.time))
    np.testing.assert_array_equal(known.items, folded.items)
    np.testing.assert_allclose(known.scores, folded.scores, rtol=1e-5, atol=1e-5)


# Persistence and determinism -------------------------------------------------------------------
def test_saved_model_with_features_and_repeats_predicts_identically() -> None:
    X, features = category_data()
    model = SequentialTransformer(n_epochs=2, repeat_aware=True, **TINY).fit(X, item_features=features)
    with tempfile.TemporaryDirectory() as d:
        model.save(d)
        again = liverec.load(d)
    for kwargs in ({}, {"at": 9.0}, {"history": {"x": ["c1", "c9"]}}):
        users = ["x"] if "history" in kwargs else [0, 1, 2]
        a, b = model.recommend(users, k=5, **kwargs), again.recommend(users, k=5, **kwargs)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_array_equal(a.scores, b.scores)
    assert again.history_ == model.history_


def test_same_random_state_gives_identical_weights_on_cpu() -> None:
    X, _ = contract_data()
    a = SequentialTransformer(n_epochs=2, **TINY).fit(X)
    b = SequentialTransformer(n_epochs=2, **TINY).fit(X)
    c = SequentialTransformer(n_epochs=2, **{**TINY, "random_state": 1}).fit(X)
    for (name, wa), wb in zip(a.net_.state_dict().items(), b.net_.state_dict().values(), strict=True):
        assert torch.equal(wa, wb), name
    assert not torch.equal(a.net_.item_emb.weight, c.net_.item_emb.weight)


def test_fit_leaves_the_global_torch_random_state_alone() -> None:
    X, _ = contract_data()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    SequentialTransformer(n_epochs=1, **TINY).fit(X)
    torch.testing.assert_close(torch.rand(3), expected)


# The saved format is the one models were saved in before the class became a package: names
# of every array and attribute that belong to SequentialTransformer (the base class's "base/"
# entries are checked by the base tests). A change here breaks loading of saved models.
SAVED_NETWORK = [
    "blocks.0.ff1.bias", "blocks.0.ff1.weight", "blocks.0.ff2.bias", "blocks.0.ff2.weight",
    "blocks.0.ln1.bias", "blocks.0.ln1.weight", "blocks.0.ln2.bias", "blocks.0.ln2.weight",
    "blocks.0.out.bias", "blocks.0.out.weight", "blocks.0.qkv.bias", "blocks.0.qkv.weight",
    "feature_proj.weight", "features", "item_emb.weight", "ln.bias", "ln.weight",
    "pos_emb.weight", "repeat_emb.weight",
]
SAVED_ARRAYS = sorted([*(f"net/{name}" for name in SAVED_NETWORK),
                       "seq/indptr", "seq/items", "seq/times", "time_bucket_edges", "trained_items"])
SAVED_ATTRIBUTES = ["best_epoch", "best_val_ndcg", "fit_seconds", "history", "median_gap", "n_epochs",
                    "n_features", "n_items", "repeat_rate"]


def test_the_saved_format_keeps_its_class_array_and_attribute_names(tmp_path: Path) -> None:
    X, schedule = contract_data()
    features = np.random.default_rng(0).normal(size=(X.n_items, 3))
    model = SequentialTransformer(n_epochs=1, n_layers=1, repeat_aware=True, **TINY)
    model.fit(X, schedule=schedule, item_features=features).save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    raw = (tmp_path / "arrays.safetensors").read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    own = sorted(k for k in header if k != "__metadata__" and not k.startswith(("base/", "__str__/base/")))
    assert config["class"] == "SequentialTransformer"
    assert sorted(k for k in config["attributes"] if not k.startswith("base/")) == SAVED_ATTRIBUTES
    assert own == SAVED_ARRAYS
    assert sorted(config["params"]) == sorted(SequentialTransformer().get_params())
    assert liverec.persistence.CLASS_MODULES["SequentialTransformer"] == type(model).__module__
    assert type(liverec.load(tmp_path)) is SequentialTransformer


# Hyper-parameter errors ------------------------------------------------------------------------
@pytest.mark.parametrize("params, message", [
    ({"loss": "hinge"}, "'loss' must be one of"),
    ({"embedding_dim": 10, "n_heads": 3}, "must divide embedding_dim"),
    ({"max_len": 0}, r"'max_len' must be an int in \[1, inf\)"),
    ({"dropout": 1.0}, r"'dropout' must be a float in \[0, 1\)"),
    ({"lr_schedule": "step"}, "'lr_schedule' must be one of"),
    ({"loss_weighting": "clicks"}, "'loss_weighting' must be one of"),
    ({"target_horizon": 2, "loss": "bce"}, "target_horizon=2 needs loss='ce'"),
    ({"target_horizon": 0}, r"'target_horizon' must be an int in \[1, inf\)"),
    ({"horizon_decay": 0.0}, r"'horizon_decay' must be a float in \(0, 1\]"),
    ({"sampled_warmup": 0.5, "loss": "bce"}, "sampled_warmup=0.5 needs loss='ce'"),
    ({"sampled_warmup": 1.0}, r"'sampled_warmup' must be a float in \[0, 1\)"),
])
def test_bad_hyper_parameters_are_named_in_the_error(params: dict, message: str) -> None:
    X, _ = contract_data()
    with pytest.raises(ValueError, match=message):
        SequentialTransformer(**{**TINY, **params}).fit(X)
