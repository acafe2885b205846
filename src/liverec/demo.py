"""The end-to-end demo: the whole library on synthetic live-commerce data.

``make demo``, ``liverec demo`` and ``examples/quickstart.py`` run [`run_demo`][liverec.demo.run_demo]:

1. generate a live-commerce world (rooms on air on a schedule, viewers with tastes and
   favourite streamers, bilingual titles / transcripts / comments, products in rooms);
2. split it with the live-streaming protocol (one test case per viewer in the last day);
3. turn each room's text into a vector (hashing encoder: no model download);
4. build viewer profiles (decayed affinities to streamers, categories, price bands);
5. train Popularity, ALS, BPR and the SequentialTransformer (live- and repeat-aware);
6. evaluate them against the rooms live at each test time (all / repeat / new, 95% CIs);
7. for a few viewers at one evening moment: the live rooms to watch, and in the first room
   the products to buy, with the profile affinities that explain them;
8. replay the test day through a ``LiveService`` (rooms on and off air, events observed as
   they happen): online HR@10 / NDCG@10 and request latency.

Each step prints a short, readable summary. ``quick=True`` shrinks everything (tests).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .data import Interactions

__all__ = ["run_demo"]


def _step(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 72 - len(title)))


def _timed(label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<44s} {seconds:6.1f} s")
    return out, seconds


def _fmt_ci(result: Any, key: str, segment: str = "all") -> str:
    value = result.mean[segment][key]
    low, high = result.ci[segment][key]
    if not np.isfinite(value):
        return "-"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def run_demo(quick: bool = False, random_state: int = 0) -> dict[str, Any]:
    """Run the end-to-end demo and print its story.

    Args:
        quick: A much smaller world and shorter training (for tests and a first look).
        random_state: Seed of the data and of every model.

    Returns:
        A dict with the data bundle, the split, the fitted models and the evaluation results
        (for notebooks that want to keep exploring).

    Training and evaluation show progress (``verbose=True``): tqdm bars when tqdm is
    installed, else the ``liverec`` progress log records, printed with the story while the
    demo runs unless the application has configured logging itself.

    Examples:
        >>> out = run_demo(quick=True)  # doctest: +SKIP
    """
    with _progress_records_printed():
        return _run_demo(quick, random_state)


@contextlib.contextmanager
def _progress_records_printed() -> Iterator[None]:
    """Print ``liverec`` INFO records (progress without tqdm) for the demo's duration."""
    logger = logging.getLogger("liverec")
    configured = logging.getLogger().handlers or any(
        not isinstance(h, logging.NullHandler) for h in logger.handlers)
    if configured:  # the application decides where records go
        yield
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("    %(message)s"))
    handler.setLevel(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _run_demo(quick: bool, random_state: int) -> dict[str, Any]:  # noqa: PLR0915  # a linear printed walkthrough
    import torch

    from .datasets import make_live_commerce
    from .metrics import evaluate
    from .model_selection import live_split
    from .models import ALS, BPR, Popularity, ProfileRanker, SequentialTransformer
    from .profiles import UserProfileBuilder
    from .text import HashingTextEncoder, embed_streams

    torch.manual_seed(random_state)
    n_users, n_streamers, n_days = (300, 40, 6) if quick else (2000, 120, 14)
    total_start = time.perf_counter()

    # 1. Data ---------------------------------------------------------------------------------
    _step("1. A synthetic live-commerce world")
    data, _ = _timed("make_live_commerce", lambda: make_live_commerce(
        n_users=n_users, n_streamers=n_streamers, n_days=n_days, random_state=random_state))
    X = data.interactions
    print(f"  {len(X):,} events by {X.n_users:,} viewers in {X.n_items} rooms; "
          f"{len(data.schedule):,} broadcasts; {len(data.text) if data.text is not None else 0:,} texts; "
          f"{len(data.products['product']):,} products")
    summary = data.summary()
    if "repeat_share" in summary:
        print(f"  repeat visits: {summary['repeat_share']:.0%} of views go to a room the viewer watched before")

    # 2. Split ------------------------------------------------------------------------------------
    _step("2. Leakage-free live split (last day = test)")
    day = 86400.0
    split = live_split(X, data.schedule, test_window=day, history_len=16)
    print(f"  train: {len(split.train):,} events before the test day; "
          f"test: {len(split.test):,} cases (one per viewer, ranked among the rooms live at that moment)")

    # 3. Text features ------------------------------------------------------------------------------
    _step("3. Room text -> vectors (titles, transcripts, comments; zh + en)")
    encoder = HashingTextEncoder(dim=512)
    train_end = split.train.time_values().max()  # a datetime64, like the data
    assert data.text is not None  # the generator makes text unless asked not to
    room_text = data.text.between(None, train_end)
    item_features, _ = _timed(
        "hashing encoder + time-decayed aggregation",
        lambda: embed_streams(room_text, encoder, items=X.items, half_life=3 * day),
    )
    print(f"  item_features: {item_features.shape[0]} rooms x {item_features.shape[1]} dims")

    # 4. Profiles -----------------------------------------------------------------------------------
    _step("4. Viewer profiles")
    builder = UserProfileBuilder(half_life=7 * day, top_n=3)
    _timed("UserProfileBuilder.fit", lambda: builder.fit(split.train, item_metadata=data.items))

    # 5. Models -------------------------------------------------------------------------------------
    _step("5. Training")
    epochs = 8 if quick else 20
    seq_limit = 10.0 if quick else 30.0
    models: dict[str, Any] = {
        "Popularity (live)": Popularity(strategy="live"),
        "ALS": ALS(n_factors=32, n_epochs=10, random_state=random_state, verbose=True),
        "BPR (live negatives)": BPR(n_factors=32, n_epochs=epochs, random_state=random_state, verbose=True),
        "Transformer (plain)": SequentialTransformer(
            max_len=50, embedding_dim=48, n_epochs=epochs, availability=False, patience=None,
            time_limit=seq_limit / 2, random_state=random_state, verbose=True),
        "Transformer (live + repeat)": SequentialTransformer(
            max_len=50, embedding_dim=48, n_epochs=epochs, repeat_aware=True, patience=None,
            time_limit=seq_limit, random_state=random_state, verbose=True),
    }
    fit_seconds: dict[str, float] = {}
    for name, model in models.items():
        schedule = None if name == "Transformer (plain)" else data.schedule

        def fit(m: Any = model, s: Any = schedule) -> Any:
            return m.fit(split.train, schedule=s)

        _, fit_seconds[name] = _timed(f"fit {name}", fit)

    # 6. Evaluation ----------------------------------------------------------------------------------
    _step("6. Evaluation: rank the true room among the rooms live at that moment")
    results = {}
    rows = []
    for name, model in models.items():
        res = evaluate(model, split, k=(1, 10), verbose=False)
        results[name] = res
        rows.append((name, _fmt_ci(res, "hit_rate@10"), _fmt_ci(res, "ndcg@10"),
                     _fmt_ci(res, "ndcg@10", "repeat"), _fmt_ci(res, "ndcg@10", "new")))
    first = next(iter(results.values()))
    print(f"  {first.n_cases['all']} cases: {first.n_cases['repeat']} return to a room seen before, "
          f"{first.n_cases['new']} go to a new room; ~{first.n_candidates.mean():.0f} live rooms per case")
    print(f"  {'model':<28s} {'HR@10 [95% CI]':<22s} {'NDCG@10 [95% CI]':<22s} "
          f"{'NDCG@10 repeat':<22s} {'NDCG@10 new':<22s}")
    for name, hr, ndcg, rep, new in rows:
        print(f"  {name:<28s} {hr:<22s} {ndcg:<22s} {rep:<22s} {new:<22s}")

    # 7. Recommendations at time t -----------------------------------------------------------------
    _step("7. Tonight at 20:30: what to watch, what to buy")
    best = models["Transformer (live + repeat)"]
    test_day = np.datetime64(int(split.test.time.min()), "s").astype("datetime64[D]")
    at = test_day + np.timedelta64(20 * 60 + 30, "m")
    live_now = data.schedule.live_at(at)
    print(f"  {at.astype('datetime64[m]')}: {len(live_now)} of {X.n_items} rooms are live")
    ranker = ProfileRanker(n_epochs=10 if quick else 15, random_state=random_state)
    products_train = data.product_events.between(None, train_end)
    product_table = data.products
    _timed("ProfileRanker.fit (products in rooms)",
           lambda: ranker.fit(products_train, item_features=product_table))
    viewers = _pick_viewers(split.train, best, 3)
    room_of = dict(zip(product_table["product"].tolist(), product_table["item"].tolist(), strict=True))
    title_of = dict(zip(product_table["product"].tolist(), product_table["title"].tolist(), strict=True))
    price_of = dict(zip(product_table["product"].tolist(), product_table["price"].tolist(), strict=True))
    cat_of_room = dict(zip(data.items["item"].tolist(), data.items["category"].tolist(), strict=True))
    for user in viewers:
        recs = best.recommend(user, k=3, at=at)
        prof = builder.profile(user)
        favourites = ", ".join(f"room {s} ({w:.0%})" for s, w in prof.top_streamers[:2]) or "-"
        tastes = ", ".join(f"{c} ({w:.0%})" for c, w in prof.top_categories[:2]) or "-"
        print(f"\n  viewer {user}: favourite rooms {favourites}; likes {tastes}")
        # reasons come from the model: the history events that raise each room's score most
        explained = best.explain(user, recs[0]) if recs[0] else []
        for rank, (room, score, expl) in enumerate(
                zip(recs[0], recs.scores[0][recs.mask[0]], explained, strict=True), start=1):
            top = expl.top(1)
            why = (f"{cat_of_room.get(room, '?')}; because you watched room {top[0].name}" if top
                   else f"{cat_of_room.get(room, '?')}: liked by viewers like you")
            print(f"    {rank}. room {room:<6} score {score:6.2f}  ({why})")
        if not recs[0]:
            continue
        first_room = recs[0][0]
        in_room = [p for p, r in room_of.items() if r == first_room and p in ranker.items_]
        if not in_room:
            continue
        if user in ranker.users_:
            top = ranker.recommend(user, k=3, candidates=in_room, at=at)
        else:  # no product event in training: scored from the (empty) product history, i.e. cold start
            top = ranker.recommend(user, k=3, candidates=in_room, at=at, history=[])
        print(f"    in room {first_room}, buy:")
        # the profile feature that raises each product's score most (known buyers only)
        because = {e.item: e.top(1) for e in ranker.explain(user, top[0])} if user in ranker.users_ else {}
        for product in top[0]:
            reason = because.get(product)
            note = f"  [{reason[0].name} = {reason[0].value:.2g}]" if reason else ""
            print(f"      - {title_of[product]}  (¥{price_of[product]:.0f}){note}")

    # 8. Real time: replay the test day through a live service --------------------------------------
    _step("8. Real time: the test day replayed through a LiveService")
    from .serving import LiveService, replay

    test_day_events = X.select(X.time > split.train.time.max())
    n_replay = min(len(test_day_events), 300 if quick else 3000)
    service = LiveService(best, history_len=50)  # its schedule starts empty: the replay drives it
    online, _ = _timed(f"replay {n_replay:,} events of the test day",
                       lambda: replay(service, test_day_events, data.schedule, k=10, max_events=n_replay))
    print(f"  {online}")
    print("  each event was scored just before it happened (among the rooms on air then), then observed,")
    print(f"  so the next request saw it; rooms went on or off air {online.n_schedule_changes:,} times")

    total = time.perf_counter() - total_start
    _step(f"done in {total:.0f} s")
    return {"data": data, "split": split, "models": models, "results": results,
            "profiles": builder, "ranker": ranker, "fit_seconds": fit_seconds, "replay": online}


def _pick_viewers(train: Interactions, model: Any, n: int) -> list[Any]:
    """A few active viewers known to the model (deterministic)."""
    counts = np.bincount(train.user_codes, minlength=train.n_users)
    order = np.argsort(-counts, kind="stable")
    known = [u for u in train.users.take(order[: 5 * n]).tolist() if u in model.users_]
    return known[::5][:n] if len(known) >= 5 * n else known[:n]

