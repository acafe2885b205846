"""liverec.text keeps transformers optional: never imported eagerly, a clear error when missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_liverec_and_liverec_text_does_not_import_transformers() -> None:
    out = run(
        "import sys, liverec, liverec.text\n"
        "from liverec.text import HashingTextEncoder, TransformerTextEncoder, embed_streams\n"
        "TransformerTextEncoder(model='anything')\n"
        "print('transformers' in sys.modules)"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_missing_transformers_raises_an_import_error_naming_the_extra() -> None:
    out = run(
        "import sys\n"
        "sys.modules['transformers'] = None  # as if the package were not installed\n"
        "from liverec.text import TransformerTextEncoder\n"
        "try:\n"
        "    TransformerTextEncoder(model='x').transform(['hi'])\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    assert out.returncode == 0, out.stderr
    assert "pip install 'liverec[text]'" in out.stdout


def test_liverec_load_finds_text_encoders_without_importing_liverec_text(tmp_path: Path) -> None:
    from liverec.text import HashingTextEncoder

    HashingTextEncoder(dim=16, idf=True).fit(["主播好美", "hello"]).save(tmp_path / "enc")
    out = run(
        "import liverec\n"
        f"enc = liverec.load({str(tmp_path / 'enc')!r})\n"
        "print(type(enc).__name__, enc.transform(['主播']).shape)"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "HashingTextEncoder (1, 16)"
