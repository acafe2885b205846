"""Data-parallel training over torch.distributed: 2 processes (gloo, CPU, loopback only).

One ``torchrun`` launch of ``_ddp_worker.py`` fits the models on 2 ranks with batch ``b``;
the tests compare with one process fitting with batch ``2b`` and the same seed.

Tolerance of the loss trajectory: relative 1e-5 per epoch. Both runs see the same global
batches and the same weights; only the float summation order differs (each rank pads its
half of a batch to its own length and DDP sums the two halves' gradients), which moved the
losses by about 1e-8 relative in 4 epochs when this test was written. BPR's replicas apply
exactly one process's updates in the same order, so its scores agree to float32 rounding.
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

import _ddp_worker as worker
import numpy as np
import pytest
import torch

from liverec._distributed import Replicas, replicas
from liverec.exceptions import InvalidParameterError
from liverec.models import BPR, SequentialTransformer

HERE = Path(__file__).resolve().parent
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


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Launch 2 ranks with torchrun on 127.0.0.1, then load the saved models in a fresh process."""
    out = tmp_path_factory.mktemp("ddp")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(HERE / "_ddp_worker.py"), str(out)]
    done = _run(cmd, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fresh = _run([sys.executable, str(HERE / "_ddp_worker.py"), "--load", str(out)], timeout=120)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    return out


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
