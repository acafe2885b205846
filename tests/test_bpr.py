"""BPR: pairwise ranking with sampled negatives, live-aware when a schedule is given."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from liverec.data import IdMap, Interactions, LiveSchedule
from liverec.models import BPR
from liverec.models import bpr as bpr_module
from liverec.models.bpr import LiveNegativeSampler


def two_tastes(seed: int = 0, n_per_group: int = 30) -> Interactions:
    """Two groups of users; each user saw 4 of their group's 5 items (a different one left out)."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for g, group_items in enumerate((["a0", "a1", "a2", "a3", "a4"], ["b0", "b1", "b2", "b3", "b4"])):
        for k in range(n_per_group):
            left_out = k % 5
            for j, item in enumerate(group_items):
                if j != left_out:
                    users.append(f"g{g}u{k}")
                    items.append(item)
    order = rng.permutation(len(users))
    return Interactions.from_arrays(np.array(users)[order], np.array(items)[order])


def small_bpr(**kw: object) -> BPR:
    params = dict(n_factors=8, n_epochs=60, learning_rate=0.1, regularization=0.001, batch_size=64,
                  random_state=0, threads=1)
    params.update(kw)
    return BPR(**params)  # type: ignore[arg-type]


def test_bpr_ranks_the_planted_preference_first() -> None:
    X = two_tastes()
    model = small_bpr().fit(X)
    users = X.users.ids
    recs = model.recommend(users, k=1, exclude_seen=True)
    for u, top in zip(users, recs.items[:, 0], strict=True):
        k = int(u.split("u")[1])
        group = "a" if u.startswith("g0") else "b"
        assert top == f"{group}{k % 5}", f"{u} should get the one item of their group they have not seen"


def test_fold_in_ranks_the_missing_item_of_the_taste_first() -> None:
    model = small_bpr().fit(two_tastes())
    recs = model.recommend("newcomer", k=1, history=["b0", "b1", "b3", "b4"], exclude_seen=True)
    assert recs.items[0, 0] == "b2"


def test_same_seed_gives_the_same_model_and_another_seed_another() -> None:
    X = two_tastes()
    a = small_bpr(n_epochs=3).fit(X)
    b = small_bpr(n_epochs=3).fit(X)
    c = small_bpr(n_epochs=3, random_state=1).fit(X)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_predict_is_the_user_item_score() -> None:
    X = two_tastes()
    model = small_bpr(n_epochs=5).fit(X)
    full = model._score_known(model.users_.codes(["g0u1"]), None).numpy()[0]
    got = model.predict(["g0u1", "g0u1"], ["a3", "b2"])
    np.testing.assert_allclose(got, full[model.items_.codes(["a3", "b2"])], rtol=1e-5)


# Live-aware negative sampling ------------------------------------------------------------------
def staggered_schedule() -> LiveSchedule:
    """Rooms r0..r5; r0-r2 live in [0, 10), r3-r4 in [10, 20), r5 alone in [20, 30)."""
    return LiveSchedule.from_arrays(["r0", "r1", "r2", "r3", "r4", "r5"],
                                    [0, 0, 0, 10, 10, 20], [10, 10, 10, 20, 20, 30])


def test_live_negatives_are_live_at_the_event_time_and_never_the_positive() -> None:
    schedule = staggered_schedule()
    items = IdMap(["r0", "r1", "r2", "r3", "r4", "r5", "never-live"])
    times = np.array([1.0, 5.0, 12.0, 15.0, 9.9])
    positives = items.codes(["r0", "r2", "r3", "r4", "r1"])
    sampler = LiveNegativeSampler(schedule, items, times, positives)
    gen = torch.Generator().manual_seed(0)
    events = torch.arange(len(times)).repeat(400)
    neg = sampler.sample(events, gen).numpy()
    for e in range(len(times)):
        drawn = set(items.ids[neg[events.numpy() == e]].tolist())
        live = set(schedule.live_at(times[e]).tolist())
        assert drawn == live - {items.ids[positives[e]]}, f"event {e}: drew {drawn}"


def test_live_negatives_fall_back_to_uniform_when_nothing_else_is_live() -> None:
    schedule = staggered_schedule()
    items = IdMap(["r0", "r1", "r2", "r3", "r4", "r5"])
    times = np.array([25.0, 100.0])  # r5 is alone on air; at 100 nothing is
    positives = items.codes(["r5", "r0"])
    sampler = LiveNegativeSampler(schedule, items, times, positives)
    neg = sampler.sample(torch.tensor([0, 1]).repeat(300), torch.Generator().manual_seed(0)).numpy()
    assert len(np.unique(neg)) == len(items), "the fallback must reach the whole catalogue"


def test_live_negatives_ignore_live_items_the_model_does_not_know() -> None:
    schedule = staggered_schedule()
    items = IdMap(["r0", "r1"])  # r2 is live too but unknown to the model
    sampler = LiveNegativeSampler(schedule, items, np.array([3.0]), items.codes(["r0"]))
    neg = sampler.sample(torch.zeros(200, dtype=torch.long), torch.Generator().manual_seed(0))
    assert set(neg.tolist()) == {1}


def test_live_sampler_without_precomputed_lists_draws_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bpr_module, "_MAX_PRECOMPUTED_LIVE", 0)
    schedule = staggered_schedule()
    items = IdMap(["r0", "r1", "r2", "r3", "r4", "r5"])
    times = np.array([1.0, 12.0])
    sampler = LiveNegativeSampler(schedule, items, times, items.codes(["r0", "r3"]))
    assert not sampler.precomputed
    events = torch.tensor([0, 1]).repeat(200)
    neg = items.ids[sampler.sample(events, torch.Generator().manual_seed(0)).numpy()]
    assert set(neg[0::2].tolist()) == {"r1", "r2"} and set(neg[1::2].tolist()) == {"r4"}


def test_live_aware_training_credits_a_room_chosen_whenever_it_is_on_air() -> None:
    """Room "rare" broadcasts a tenth of the time and everyone watches it then; "common" is
    always on and gets three times as many events. Uniform negatives rank by popularity
    (common first). Live-aware negatives see that viewers left "common" for "rare" each time
    both were on, and never had the chance to pick "rare" otherwise: rare first.
    """
    rng = np.random.default_rng(0)
    fillers = ["f0", "f1", "f2"]  # always on air, watched once by a channel zapper
    schedule = LiveSchedule.from_arrays(["rare", "common", *fillers], [0] * 5, [10] + [100] * 4)
    users, items, times = ["zapper"] * 3, list(fillers), list(rng.uniform(10, 100, 3))
    for k in range(20):
        users += [f"u{k}"] * 8
        items += ["rare"] * 2 + ["common"] * 6
        times += list(rng.uniform(0, 10, 2)) + list(rng.uniform(10, 100, 6))
    X = Interactions.from_arrays(users, items, time=times)
    uniform = small_bpr(n_epochs=40).fit(X)
    live = small_bpr(n_epochs=40).fit(X, schedule=schedule)
    u_rare, u_common = uniform.predict(["u3", "u3"], ["rare", "common"])
    l_rare, l_common = live.predict(["u3", "u3"], ["rare", "common"])
    assert u_common > u_rare
    assert l_rare > l_common


@pytest.mark.parametrize("name, value", [("n_factors", 0), ("n_epochs", -1), ("batch_size", 0),
                                         ("learning_rate", -0.1), ("regularization", float("nan"))])
def test_bad_hyper_parameters_are_refused_by_name(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        BPR(**{name: value}).fit(two_tastes())  # type: ignore[arg-type]


def test_a_batch_larger_than_the_data_still_learns_the_preference() -> None:
    X = two_tastes()
    model = small_bpr(batch_size=10_000, n_epochs=300).fit(X)
    recs = model.recommend(["g0u2", "g1u4"], k=1, exclude_seen=True)
    assert recs.items[:, 0].tolist() == ["a2", "b4"]


def test_fit_leaves_the_torch_thread_count_as_it_was() -> None:
    before = torch.get_num_threads()
    small_bpr(n_epochs=1, threads=2).fit(two_tastes())
    assert torch.get_num_threads() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback when no GPU is present")
def test_cuda_without_a_gpu_falls_back_to_the_cpu_with_a_warning() -> None:
    with pytest.warns(RuntimeWarning, match="CUDA"):
        model = small_bpr(n_epochs=1, device="cuda").fit(two_tastes())
    assert model.device_ == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_ranks_the_planted_preference_first() -> None:
    X = two_tastes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = small_bpr(device="cuda").fit(X)
    assert model.device_.startswith("cuda")
    recs = model.recommend(["g0u1", "g1u3"], k=1, exclude_seen=True)
    assert recs.items[:, 0].tolist() == ["a1", "b3"]


def test_similar_items_are_items_of_the_same_taste() -> None:
    model = small_bpr().fit(two_tastes())
    sims = model.similar_items(["a0", "b3"], k=4)
    assert set(sims[0]) == {"a1", "a2", "a3", "a4"}
    assert set(sims[1]) == {"b0", "b1", "b2", "b4"}
