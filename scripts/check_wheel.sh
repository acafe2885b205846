#!/usr/bin/env bash
# Build the wheel and sdist, install the wheel into a brand-new virtual environment (no
# access to the source tree) and check that the package imports, generates its synthetic
# data and runs its console command. Needs a package index for the dependencies, so it is
# a manual / CI check rather than a unit test (tests/test_packaging.py checks the files).
#
#   scripts/check_wheel.sh            # uses python3 from PATH
#   PYTHON=python3.12 scripts/check_wheel.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH=${TORCH:-torch==2.13.0}   # pinned on the same pip line: an unpinned torch pulls a multi-GB CUDA build
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== build (wheel + sdist) into $WORK/dist"
if "$PYTHON" -c "import build, hatchling" 2>/dev/null; then
    "$PYTHON" -m build --no-isolation --outdir "$WORK/dist" . >"$WORK/build.log"
else
    "$PYTHON" -m venv "$WORK/buildenv"
    "$WORK/buildenv/bin/pip" install -q build
    "$WORK/buildenv/bin/python" -m build --outdir "$WORK/dist" . >"$WORK/build.log"
fi
ls -l "$WORK/dist"
WHEEL=$(ls "$WORK"/dist/liverec-*.whl)

echo "== fresh venv, install the wheel"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --upgrade pip
"$WORK/venv/bin/pip" install -q "$WHEEL" "$TORCH"

echo "== import and generate data, from outside the source tree"
cd "$WORK"
"$WORK/venv/bin/python" - <<'PY'
import liverec
import liverec.datasets

assert "site-packages" in liverec.__file__, liverec.__file__
data = liverec.datasets.make_live_commerce()
print(f"liverec {liverec.__version__} from {liverec.__file__}")
print(f"make_live_commerce(): {len(data.interactions)} events, {len(data.schedule)} broadcasts")
model = liverec.models.Popularity().fit(data.interactions)
print("Popularity top-3 for one user:", model.recommend(data.interactions.users.ids[0], k=3)[0])
PY
"$WORK/venv/bin/liverec" info
echo "== liverec demo --quick (the console command, core dependencies only)"
"$WORK/venv/bin/liverec" demo --quick >"$WORK/demo.log"
tail -n 5 "$WORK/demo.log"
"$WORK/venv/bin/python" -c "import importlib.resources as r; assert r.files('liverec').joinpath('py.typed').is_file(); print('py.typed shipped')"
echo "== save every model in one process, load and score it in another (only 'import liverec')"
"$WORK/venv/bin/python" - "$WORK/models" <<'PY'
import json, sys
from liverec.models import ALS, BPR, MatrixFactorization, Popularity, ProfileRanker, SequentialTransformer
from liverec.testing import contract_data

X, schedule = contract_data()
out = sys.argv[1]
models = {"ALS": ALS(n_factors=4, n_epochs=2, random_state=0), "BPR": BPR(n_factors=4, n_epochs=1, random_state=0),
          "MF": MatrixFactorization(n_factors=2, n_epochs=2, random_state=0), "Popularity": Popularity(),
          "ProfileRanker": ProfileRanker(n_windows=2, n_epochs=1, embedding_dim=4, random_state=0),
          "Sequential": SequentialTransformer(embedding_dim=8, max_len=8, n_epochs=1, random_state=0)}
users = X.users.ids[:3].tolist()
scores = {}
for name, model in models.items():
    model.fit(X, schedule=schedule).save(f"{out}/{name}")
    scores[name] = model.recommend(users, k=3).scores.tolist()
json.dump({"users": users, "scores": scores}, open(f"{out}/scores.json", "w"))
PY
"$WORK/venv/bin/python" - "$WORK/models" <<'PY'
import json, sys
import numpy as np
import liverec

out = sys.argv[1]
expected = json.load(open(f"{out}/scores.json"))
for name, scores in expected["scores"].items():
    again = liverec.load(f"{out}/{name}")
    got = again.recommend(expected["users"], k=3).scores
    np.testing.assert_allclose(got, np.asarray(scores, dtype=np.float32), rtol=1e-6)
    print(f"{name}: loaded in a fresh process, same scores")
PY
echo "== wheel check passed"
