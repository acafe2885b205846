"""Plots of the synthetic live-commerce data and of the models, saved as PNG files.

A notebook-style script (``# %%`` cells run one by one in VS Code, PyCharm or Jupytext):

1. popularity over a day: events per hour of the day, by event type;
2. live rooms over time: how many rooms are on air, every 10 minutes;
3. learning curves of the SequentialTransformer: training loss and validation NDCG@10;
4. metric comparison: NDCG@10 with 95% confidence intervals of four models, for all, repeat
   and new cases, ranking only the rooms live at each event's time.

Usage::

    python examples/plots.py [OUTPUT_FOLDER]

The PNG files go to OUTPUT_FOLDER, else to ``$LIVEREC_OUTPUT``, else to a new temporary
folder; the script prints where. Needs matplotlib (in the ``dev`` and ``docs`` extras).
``LIVEREC_QUICK=1`` makes a smaller, faster run.
"""

# %% Set-up
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import liverec  # noqa: E402
from liverec.datasets import make_live_commerce  # noqa: E402
from liverec.metrics import evaluate  # noqa: E402
from liverec.model_selection import temporal_split  # noqa: E402

QUICK = os.environ.get("LIVEREC_QUICK") == "1"
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("LIVEREC_OUTPUT") or tempfile.mkdtemp(prefix="liverec-plots-"))
OUT.mkdir(parents=True, exist_ok=True)

data = make_live_commerce(n_users=300 if QUICK else 600, n_streamers=40 if QUICK else 60,
                          n_days=5 if QUICK else 10, random_state=0)
X, schedule = data.interactions, data.schedule
print(data)


def save(fig: plt.Figure, name: str) -> None:
    path = OUT / name
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"saved {path}")


# %% 1. Popularity over a day
# Times are seconds since the epoch; the hour of the day is (seconds mod 1 day) / 1 hour.
hour = (X.time % 86400) // 3600
event_names = np.asarray(X.event_types)[X.event]
fig, ax = plt.subplots(figsize=(8, 4))
for name in ("view", "like", "comment", "cart", "purchase"):
    counts = np.bincount(hour[event_names == name].astype(int), minlength=24).astype(float)
    counts[counts == 0] = np.nan  # no point at hours without events (log scale)
    ax.plot(np.arange(24), counts / data.params["n_days"], marker="o", ms=3, label=name)
ax.set(xlabel="hour of the day (UTC)", ylabel="events per day", yscale="log",
       title="Popularity over a day: activity follows the evening broadcasts")
ax.set_xticks(range(0, 24, 2))
ax.legend()
save(fig, "popularity_over_a_day.png")

# %% 2. Live rooms over time
grid = np.arange(schedule.start.min(), schedule.end.max(), 600.0)  # every 10 minutes
indptr, _ = schedule.live_codes(grid)
n_live = np.diff(indptr)
fig, ax = plt.subplots(figsize=(10, 3.5))
ax.plot((grid - grid[0]) / 86400, n_live, lw=1)
ax.fill_between((grid - grid[0]) / 86400, n_live, alpha=0.2)
ax.set(xlabel="day", ylabel="rooms live", title=f"Rooms on air, of {len(data.items['item'])} streamers")
save(fig, "live_rooms_over_time.png")

# %% 3. Train four models; learning curves of the Transformer
split = temporal_split(X, test_size=0.15)
models = {
    "Popularity (live)": liverec.models.Popularity(strategy="live"),
    "ALS": liverec.models.ALS(n_factors=32, n_epochs=10, random_state=0),
    "BPR": liverec.models.BPR(n_factors=32, n_epochs=10 if QUICK else 20, random_state=0),
    "SequentialTransformer": liverec.models.SequentialTransformer(
        max_len=50, embedding_dim=32, n_epochs=4 if QUICK else 12, repeat_aware=True,
        random_state=0, verbose=False),
}
for model in models.values():
    model.fit(split.train, schedule=schedule)

history = models["SequentialTransformer"].history_
epochs = [h["epoch"] for h in history]
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(epochs, [h["loss"] for h in history], marker="o", color="tab:blue", label="training loss")
ax.set(xlabel="epoch", ylabel="training loss", title="SequentialTransformer learning curves")
val = [h.get("val_ndcg") for h in history]
if any(v is not None for v in val):
    ax2 = ax.twinx()
    ax2.plot(epochs, [np.nan if v is None else v for v in val], marker="s", color="tab:orange",
             label="validation NDCG@10")
    ax2.set_ylabel("validation NDCG@10")
    ax2.legend(loc="center right")
ax.legend(loc="upper right")
save(fig, "learning_curves.png")

# %% 4. Metric comparison: all / repeat / new, ranked among the live rooms
results = {name: evaluate(m, split.train, split.test, schedule=schedule, k=(10,),
                          n_bootstrap=200 if QUICK else 1000)
           for name, m in models.items()}
segments = ("all", "repeat", "new")
width = 0.8 / len(results)
fig, ax = plt.subplots(figsize=(9, 4.5))
for j, (name, r) in enumerate(results.items()):
    means = np.array([r.mean[s]["ndcg@10"] for s in segments])
    ci = np.array([r.ci[s]["ndcg@10"] for s in segments])
    err = np.abs(ci.T - means)
    ax.bar(np.arange(3) + (j - (len(results) - 1) / 2) * width, means, width, yerr=err, capsize=3, label=name)
ax.set_xticks(np.arange(3), [f"{s}\n(n={results['ALS'].n_cases[s]})" for s in segments])
ax.set(ylabel="NDCG@10 (95% CI)", title="Ranking the live rooms: all, repeat and new cases")
ax.legend(fontsize=8)
save(fig, "metric_comparison.png")

for name, r in results.items():
    print(f"{name:<24} NDCG@10 all {r['ndcg@10']:.4f}  repeat {r.mean['repeat']['ndcg@10']:.4f}  "
          f"new {r.mean['new']['ndcg@10']:.4f}")
print(f"PNG files in {OUT}")
