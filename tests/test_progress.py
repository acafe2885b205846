"""Progress and training logs: one ``verbose`` flag (default off) everywhere; a tqdm bar on
request, log records of ``liverec.*`` loggers without tqdm; nothing printed otherwise."""

from __future__ import annotations

import inspect
import logging
import sys

import pytest

import liverec
from liverec._utils import Progress
from liverec.metrics import evaluate
from liverec.models import ALS, BPR, MatrixFactorization, SequentialTransformer
from liverec.testing import contract_data
from liverec.text import TransformerTextEncoder

#: Everything with a long loop takes the same flag with the same default.
VERBOSE_CLASSES = [ALS, BPR, MatrixFactorization, SequentialTransformer, TransformerTextEncoder]


def test_disabled_progress_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress(5, "fit", "epoch", enabled=False)
    for _ in range(5):
        bar.update(1, loss=0.1)
    bar.close()
    assert capsys.readouterr() == ("", "")


def test_without_tqdm_progress_goes_to_log_records(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # makes `from tqdm.auto import tqdm` fail
    caplog.set_level(logging.INFO, logger="liverec")
    bar = Progress(2, "fit", "epoch", enabled=True, logger=logging.getLogger("liverec.models.als"))
    bar.update(1, loss=0.25)
    bar.update(1, loss=0.125)
    bar.close()
    assert capsys.readouterr() == ("", "")  # never printed directly
    messages = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert messages == [("liverec.models.als", logging.INFO, "fit: 1/2 epochs, loss 0.2500"),
                        ("liverec.models.als", logging.INFO, "fit: 2/2 epochs, loss 0.1250")]


def test_every_update_is_a_debug_record_even_when_quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="liverec")
    bar = Progress(3, "fit", "epoch", enabled=False)
    for _ in range(3):
        bar.update(1, loss=0.5)
    bar.close()
    assert [r.levelno for r in caplog.records] == [logging.DEBUG] * 3
    assert caplog.records[-1].getMessage() == "fit: 3/3 epochs, loss 0.5000"


def test_the_library_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("liverec").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
    assert liverec.__name__ == "liverec"


@pytest.mark.parametrize("cls", VERBOSE_CLASSES, ids=lambda c: c.__name__)
def test_one_flag_name_and_default_everywhere(cls: type) -> None:
    param = inspect.signature(cls).parameters["verbose"]
    assert param.default is False
    assert cls._parameter_constraints["verbose"] == [bool]  # type: ignore[attr-defined]
    assert cls().get_params()["verbose"] is False


def test_evaluate_takes_the_same_flag() -> None:
    params = inspect.signature(evaluate).parameters
    assert params["verbose"].default is False
    assert params["progress"].default is None  # the deprecated spelling


@pytest.mark.parametrize("model", [ALS(n_factors=4, n_epochs=2), BPR(n_factors=4, n_epochs=2, random_state=0),
                                   MatrixFactorization(n_factors=2, n_epochs=2, random_state=0)],
                         ids=lambda m: type(m).__name__)
def test_models_are_quiet_by_default(model: object, capsys: pytest.CaptureFixture[str],
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="liverec")
    X, _ = contract_data()
    model.fit(X)  # type: ignore[attr-defined]
    assert capsys.readouterr() == ("", "")
    assert caplog.records == []


@pytest.mark.parametrize("cls", [ALS, BPR, MatrixFactorization], ids=lambda c: c.__name__)
def test_training_logs_go_to_the_module_logger(cls: type, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    caplog.set_level(logging.INFO, logger="liverec")
    X, _ = contract_data()
    cls(n_factors=2, n_epochs=2, random_state=0, verbose=True).fit(X)
    names = {r.name for r in caplog.records}
    assert names == {cls.__module__}, names
    assert caplog.records[-1].getMessage().startswith(f"{cls.__name__}: 2/2 epochs")


@pytest.mark.parametrize("model", [ALS(n_factors=4, n_epochs=2, verbose=True),
                                   BPR(n_factors=4, n_epochs=2, verbose=True, random_state=0),
                                   MatrixFactorization(n_factors=2, n_epochs=2, verbose=True, random_state=0)],
                         ids=lambda m: type(m).__name__)
def test_models_show_progress_when_verbose(model: object, capsys: pytest.CaptureFixture[str]) -> None:
    X, _ = contract_data()
    model.fit(X)  # type: ignore[attr-defined]
    assert type(model).__name__ in capsys.readouterr().err
