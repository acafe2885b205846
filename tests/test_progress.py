"""Progress bars: shown on request (tqdm, or plain lines without it), silent otherwise."""

from __future__ import annotations

import sys

import pytest

from liverec._utils import Progress
from liverec.models import ALS, BPR
from liverec.testing import contract_data


def test_disabled_progress_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress(5, "fit", "epoch", enabled=False)
    for _ in range(5):
        bar.update(1, loss=0.1)
    bar.close()
    assert capsys.readouterr() == ("", "")


def test_without_tqdm_progress_prints_plain_lines(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # makes `from tqdm.auto import tqdm` fail
    bar = Progress(2, "fit", "epoch", enabled=True)
    bar.update(1, loss=0.25)
    bar.update(1, loss=0.125)
    bar.close()
    err = capsys.readouterr().err
    assert "fit: 1/2 epochs, loss 0.2500" in err and "fit: 2/2 epochs, loss 0.1250" in err


@pytest.mark.parametrize("model", [ALS(n_factors=4, n_epochs=2, verbose=True),
                                   BPR(n_factors=4, n_epochs=2, verbose=True, random_state=0)])
def test_models_show_progress_when_verbose(model: object, capsys: pytest.CaptureFixture[str]) -> None:
    X, _ = contract_data()
    model.fit(X)  # type: ignore[attr-defined]
    assert type(model).__name__ in capsys.readouterr().err
