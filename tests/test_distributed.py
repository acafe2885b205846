"""Data-parallel training over torch.distributed: 2 processes (gloo, CPU, loopback only).

One ``torchrun`` launch of ``_ddp_worker.py`` fits the models on 2 ranks with batch ``b``;
the tests compare with one process fitting with batch ``2b`` and the same seed.

Tolerance of the loss trajectory: relative 1e-5 per epoch. Both runs see the same global
batches and the same weights; only the float summation order differs (each rank pads its
half of a batch to its own length and DDP sums the two halves' gradients), which moved the
losses by about 1e-8 relative in 4 epochs when this test was written. BPR's replicas apply
exactly one process's updates in the same order, so its scores agree to float32 rounding.

A second launch, of ``_ddp_shard_worker.py``, gives each rank only its user shard
(``distributed_data="sharded"``). With one batch per epoch the global batch of each step is
the whole data set, as for one process with a batch as large: same loss trajectory (relative
1e-5, the same float-order argument) and the saved model holds exactly the union's sequences.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import _ddp_shard_worker as shard_worker
import _ddp_worker as worker
import numpy as np
import pytest
import torch

from liverec._distributed import Replicas, replicas
from liverec.data import Interactions, shard_of
from liverec.exceptions import InvalidParameterError
from liverec.models import BPR, SequentialTransformer

HERE = Path(__file__).resolve().parent
#: shard_of(range(6), 4) and shard_of(["a", "bb", "ccc"], 5) when the hash was fixed
PINNED_INT = [3, 1, 2, 1, 2, 2]
PINNED_STR = [3, 1, 3]
ROOT = HERE.parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in its own process group; on a timeout or an interruption, end the whole
    group (torchrun's workers too, which could otherwise wait for each other forever)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _launch(out: Path, script: str) -> Path:
    """Launch 2 ranks of ``script`` with torchrun on 127.0.0.1, then load the saved models in a
    fresh process."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(HERE / script), str(out)]
    done = _run(cmd, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fresh = _run([sys.executable, str(HERE / script), "--load", str(out)], timeout=120)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every rank holds the full data (``distributed_data="replicated"``)."""
    return _launch(tmp_path_factory.mktemp("ddp"), "_ddp_worker.py")


@pytest.fixture(scope="module")
def shard_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every rank holds only its user shard (``distributed_data="sharded"``)."""
    return _launch(tmp_path_factory.mktemp("ddp-shards"), "_ddp_shard_worker.py")


def _rank(out: Path, name: str, rank: int) -> Any:
    return np.load(out / f"{name}-rank{rank}.npz", allow_pickle=False)


@pytest.fixture(scope="module")
def single() -> dict[str, Any]:
    """The same models fitted in this process, alone, with twice the batch."""
    X = worker.make_data()
    return {name: worker.make_model(name, 2 * worker.BATCH[name], False).fit(X)
            for name in ("sequential", "bpr")}


def test_sequential_two_ranks_follow_one_process_loss_trajectory(run: Path, single: dict[str, Any]) -> None:
    expected = worker.losses(single["sequential"])
    got = _rank(run, "sequential", 0)["loss"]
    assert len(got) == len(expected) == 4
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_sequential_two_ranks_score_like_one_process(run: Path, single: dict[str, Any]) -> None:
    expected = worker.scores(single["sequential"], worker.make_data())
    np.testing.assert_allclose(_rank(run, "sequential", 0)["scores"], expected, rtol=1e-4, atol=1e-4)


def test_bpr_two_ranks_equal_one_process_with_twice_the_batch(run: Path, single: dict[str, Any]) -> None:
    expected = worker.scores(single["bpr"], worker.make_data())
    np.testing.assert_allclose(_rank(run, "bpr", 0)["scores"], expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["sequential", "bpr", "timed"])
def test_replicas_are_identical(run: Path, name: str) -> None:
    np.testing.assert_array_equal(_rank(run, name, 0)["scores"], _rank(run, name, 1)["scores"])


@pytest.mark.parametrize("name", ["sequential", "bpr", "timed"])
def test_saved_model_loads_in_fresh_process_and_scores_like_both_ranks(run: Path, name: str) -> None:
    loaded = np.load(run / f"{name}-loaded.npz", allow_pickle=False)["scores"]
    for rank in (0, 1):
        np.testing.assert_array_equal(loaded, _rank(run, name, rank)["scores"])


def test_time_limit_stops_every_rank_after_the_same_epoch(run: Path) -> None:
    lengths = {len(_rank(run, "timed", r)["loss"]) for r in (0, 1)}
    assert len(lengths) == 1 and 1 <= lengths.pop() < 1000


def test_fitted_attributes_record_rank_and_world_size(run: Path) -> None:
    assert [(int(_rank(run, "bpr", r)["world_size"]), int(_rank(run, "bpr", r)["rank"])) for r in (0, 1)] \
        == [(2, 0), (2, 1)]


def test_different_data_on_the_ranks_is_refused(run: Path) -> None:
    for rank in (0, 1):
        message = (run / f"different-data-rank{rank}.txt").read_text(encoding="utf-8")
        assert message.startswith("DataValidationError") and "same Interactions" in message


# Sharded data: each rank only its own users -------------------------------------------------
def _shard(out: Path, name: str) -> Any:
    return np.load(out / f"{name}.npz", allow_pickle=False)


def test_sharded_full_batch_follows_one_process_on_the_union(shard_run: Path) -> None:
    X = worker.make_data()
    single = shard_worker.make_model("equal").fit(X)  # no process group: an ordinary fit
    expected = worker.losses(single)
    for rank in (0, 1):
        got = _shard(shard_run, f"equal-rank{rank}")["loss"]
        assert len(got) == len(expected) == 4
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    loaded = _shard(shard_run, "equal-loaded")
    np.testing.assert_allclose(loaded["users1"], shard_worker.scores(single, shard_worker.shard_users(1), X.items.ids),
                               rtol=1e-4, atol=1e-4)


def test_sharded_saved_model_holds_exactly_the_unions_sequences(shard_run: Path) -> None:
    single = shard_worker.make_model("equal").fit(worker.make_data())
    loaded = _shard(shard_run, "equal-loaded")
    np.testing.assert_array_equal(loaded["users"], single.users_.ids)
    np.testing.assert_array_equal(loaded["items"], single.items_.ids)
    for key, want in (("seq_items", single.seq_items_), ("seq_times", single.seq_times_),
                      ("seq_indptr", single.seq_indptr_), ("seen_indptr", single.seen_.indptr),
                      ("seen_indices", single.seen_.indices)):
        np.testing.assert_array_equal(loaded[key], want, err_msg=key)


def test_sharded_ranks_train_identical_weights(shard_run: Path) -> None:
    every = _shard(shard_run, "sharded-rank0-all")
    for rank in (0, 1):  # a rank scores its own users as rank 0, which gathered everyone's events
        np.testing.assert_array_equal(_shard(shard_run, f"sharded-rank{rank}")["own"], every[f"users{rank}"])
    a, b = (_shard(shard_run, f"sharded-rank{r}")["loss"] for r in (0, 1))
    np.testing.assert_array_equal(a, b)
    assert len(a) == 4 and np.isfinite(a).all() and a[-1] < a[0]


def test_sharded_saved_model_knows_every_user_and_scores_like_the_ranks(shard_run: Path) -> None:
    loaded = _shard(shard_run, "sharded-loaded")
    np.testing.assert_array_equal(np.sort(loaded["users"]), np.sort(worker.make_data().users.ids))
    for rank in (0, 1):
        np.testing.assert_array_equal(loaded[f"users{rank}"], _shard(shard_run, f"sharded-rank{rank}")["own"])
    assert loaded["top"].shape == (3, 5)


def test_rank_other_than_zero_holds_only_its_users(shard_run: Path) -> None:
    held = _shard(shard_run, "sharded-rank1")["held"]
    assert held.sum() == worker.make_data().shard(1, 2).n_users and len(held) == worker.make_data().n_users
    assert len(_shard(shard_run, "sharded-rank0")["held"]) == 0  # rank 0: everyone
    message = (shard_run / "foreign.txt").read_text(encoding="utf-8")
    assert message.startswith("DataValidationError") and "another rank's shard" in message


def test_users_on_several_ranks_are_refused_on_every_rank(shard_run: Path) -> None:
    for rank in (0, 1):
        message = (shard_run / f"overlap-rank{rank}.txt").read_text(encoding="utf-8")
        assert message.startswith("DataValidationError") and "disjoint user shards" in message


def test_an_empty_shard_still_trains(shard_run: Path) -> None:
    n = len(worker.make_data())
    full, empty = (_shard(shard_run, f"empty-rank{r}") for r in (0, 1))
    np.testing.assert_array_equal(full["loss"], empty["loss"])
    assert len(full["loss"]) == 4 and np.isfinite(full["loss"]).all()
    assert int(full["n_events"]) == n and int(empty["n_events"]) == 0
    assert int(full["n_users"]) == int(empty["n_users"]) == 300


def test_bpr_on_shards_gives_every_rank_the_same_complete_model(shard_run: Path) -> None:
    X = worker.make_data()
    ranks = [_shard(shard_run, f"bpr-rank{r}") for r in (0, 1)]
    loaded = _shard(shard_run, "bpr-loaded")
    np.testing.assert_array_equal(ranks[0]["scores"], ranks[1]["scores"])
    np.testing.assert_array_equal(loaded["scores"], ranks[0]["scores"])
    np.testing.assert_array_equal(loaded["users"], X.users.ids)
    # seen_: every user's items, on every rank, as one process on the union has them
    seen = BPR(n_epochs=0).fit(X).seen_
    for r in ranks:
        np.testing.assert_array_equal(r["seen_indptr"], seen.indptr)
        np.testing.assert_array_equal(r["seen_indices"], seen.indices)
    # it trained: the scores moved away from the initial ones
    init = worker.scores(BPR(n_factors=8, n_epochs=0, random_state=0).fit(X), X)
    assert np.abs(ranks[0]["scores"] - init.reshape(ranks[0]["scores"].shape)).max() > 1e-2


def test_user_shards_are_disjoint_and_cover_the_data() -> None:
    X = worker.make_data()
    parts = [X.shard(r, 3) for r in range(3)]
    assert sum(len(p) for p in parts) == len(X)
    assert sum(p.n_users for p in parts) == X.n_users  # every user in exactly one shard
    for p in parts:  # whole sequences, in the original order
        np.testing.assert_array_equal(p.time, X.for_users(p.users.ids).time)


def test_shard_of_is_the_same_in_every_process() -> None:
    ids = ["viewer-1", "viewer-2", "直播间", "x"]
    code = ("from liverec.data import shard_of; "
            f"print(shard_of({ids!r}, 7).tolist(), shard_of([3, -5, 2**62], 7).tolist())")
    outs = set()
    for seed in ("1", "2"):  # Python's str hash() would differ between these processes
        env = {**_env(), "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                              check=True)
        outs.add(done.stdout.strip())
    assert outs == {f"{shard_of(ids, 7).tolist()} {shard_of([3, -5, 2**62], 7).tolist()}"}


def test_shard_of_pins_its_hash() -> None:
    # the hash is a contract (pipelines outside Python may split files with it)
    assert shard_of(np.arange(6), 4).tolist() == PINNED_INT
    assert shard_of(["a", "bb", "ccc"], 5).tolist() == PINNED_STR


def test_shard_rejects_a_rank_outside_the_world() -> None:
    from liverec.exceptions import DataValidationError

    X = Interactions.from_arrays([1, 2], [1, 1], [1, 2])
    with pytest.raises(DataValidationError, match="rank"):
        X.shard(2, 2)


def test_sharded_setting_without_process_group_is_an_ordinary_fit() -> None:
    X = worker.make_data()
    a = SequentialTransformer(max_len=10, embedding_dim=8, n_epochs=1, random_state=0, threads=1).fit(X)
    b = SequentialTransformer(max_len=10, embedding_dim=8, n_epochs=1, random_state=0, threads=1,
                              distributed_data="sharded").fit(X)
    np.testing.assert_array_equal(worker.scores(a, X), worker.scores(b, X))
    assert b.local_users_ is None


# Without a process group (in this process) -------------------------------------------------
def test_distributed_true_without_process_group_names_the_fix() -> None:
    X = worker.make_data()
    with pytest.raises(InvalidParameterError, match="torchrun"):
        BPR(n_epochs=1, distributed=True).fit(X)


def test_auto_without_process_group_trains_alone() -> None:
    model = BPR(n_factors=4, n_epochs=1, random_state=0).fit(worker.make_data())
    assert (model.world_size_, model.rank_) == (1, 0)


def test_distributed_false_is_the_same_model_as_auto_alone() -> None:
    X = worker.make_data()
    a = SequentialTransformer(max_len=10, embedding_dim=8, n_epochs=1, random_state=0, threads=1).fit(X)
    b = SequentialTransformer(max_len=10, embedding_dim=8, n_epochs=1, random_state=0, threads=1,
                              distributed=False).fit(X)
    np.testing.assert_array_equal(worker.scores(a, X), worker.scores(b, X))


def test_save_on_a_rank_other_than_zero_writes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = BPR(n_factors=4, n_epochs=1, random_state=0).fit(worker.make_data())
    model.rank_ = 1  # as after a distributed fit on rank 1
    with caplog.at_level(logging.INFO, logger="liverec._distributed"):
        model.save(str(tmp_path / "m"))
    assert not (tmp_path / "m").exists() and "rank 0 writes" in caplog.text


def test_replica_takes_its_part_of_every_batch() -> None:
    parts = [Replicas(r, 3, r, 3, torch.device("cpu")).shard(np.arange(8)).tolist() for r in range(3)]
    assert parts == [[0, 1, 2], [3, 4, 5], [6, 7]]


def test_replica_threads_share_the_cores_of_a_machine() -> None:
    from liverec._runtime import usable_cores

    assert Replicas(0, 4, 0, 2, torch.device("cpu")).threads(None) == max(1, usable_cores() // 2)


def test_replicas_context_is_none_when_switched_off() -> None:
    with replicas(False, torch.device("cpu"), "X") as ctx:
        assert ctx is None
