"""User profiles and the products of a live room, on the synthetic live-commerce data.

1. Build time-decayed profiles of viewers from room-level events, stream text and streamer
   metadata; print one viewer's profile.
2. Fold in the newest events incrementally and check it matches a refit.
3. Train ``ProfileRanker`` on product events and rank the products of a room that is live
   for that viewer; rank a brand-new product known only by its title.

Runs in well under a minute on a laptop: ``python examples/profiles_and_products.py``
(``LIVEREC_QUICK=1`` for a smaller, faster run).
"""

from __future__ import annotations

import os

import numpy as np

from liverec.datasets import make_live_commerce
from liverec.models import ProfileRanker
from liverec.profiles import UserProfileBuilder
from liverec.text import HashingTextEncoder


def main() -> None:
    quick = os.environ.get("LIVEREC_QUICK") == "1"
    size = dict(n_users=300, n_streamers=20, n_days=6) if quick else dict(n_users=800, n_streamers=40, n_days=10)
    data = make_live_commerce(**size, random_state=0)
    X = data.interactions
    encoder = HashingTextEncoder(dim=256)

    # 1. Profiles from room-level events (streamers carry category and mean price).
    cut = np.quantile(X.time, 0.9)
    older, newest = X.select(X.time < cut), X.select(X.time >= cut)
    builder = UserProfileBuilder(half_life=3 * 86400.0, text_encoder=encoder)
    builder.fit(older, text=data.text, item_metadata=data.items)

    # 2. Fold in the newest 10% of events: same result as fitting on everything.
    builder.update(newest)
    refit = UserProfileBuilder(half_life=3 * 86400.0, text_encoder=encoder).fit(
        X, text=data.text, item_metadata=data.items)
    users = np.unique(X.user)
    gap = np.abs(builder.transform(users) - refit.transform(users)).max()
    print(f"update == refit: largest difference over {len(users)} profiles = {gap:.1e}")

    counts = np.bincount(X.user_codes, minlength=X.n_users)
    user = X.users.ids[int(np.argsort(counts)[len(counts) // 2])]  # a typical viewer
    print()
    print(builder.profile(user))
    taste = data.users["taste"][list(data.users["user"]).index(user)]
    truth = {c: round(float(w), 2) for c, w in zip(data.categories, taste, strict=True) if w >= 0.05}
    print("  (the generator's hidden taste of this viewer:", truth, ")")

    # 3. Products in a live room: train on product events (view = shown and clicked).
    products = data.products
    ranker = ProfileRanker(half_life=3 * 86400.0, text_encoder=encoder, random_state=0)
    ranker.fit(data.product_events, item_features=products)
    live = data.schedule.live_at(X.time_values().max() - np.timedelta64(1, "h"))
    favourite = builder.profile(user).top_categories[0][0]
    matching = [r for r in live.tolist() if data.items["category"][list(data.items["item"]).index(r)] == favourite]
    room = (matching or live.tolist() or [products["item"][0]])[0]
    in_room = products["product"][products["item"] == room]
    scores = ranker.score(user, in_room)  # a viewer never seen in product events gets a cold-start score
    name = data.items["name"][list(data.items["item"]).index(room)]
    print(f"\nRoom {room} ({name}), live now: products ranked for viewer {user}")
    for rank, j in enumerate(np.argsort(-scores)[:5], 1):
        k = int(np.flatnonzero(products["product"] == in_room[j])[0])
        print(f"  {rank}. {products['title'][k]:<34} {products['category'][k]:<9} "
              f"{products['price'][k]:>8.2f}  score {scores[j]:+.2f}")

    # A product announced a minute ago: only a title, no events, no category, no price.
    new_id = int(products["product"].max()) + 1  # ids of one type (ints), so the model can be saved
    title = f"{products['title'][int(np.flatnonzero(products['item'] == room)[0])]} 2.0"
    ranker.add_items({"product": [new_id], "title": [title]})
    print(f"  new product {new_id} '{title}' (title only) scores {float(ranker.score(user, [new_id])[0]):+.2f}")

if __name__ == "__main__":
    main()
