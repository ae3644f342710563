"""A learner loads prepared datasets in a real kernel of their server, read-only."""

from __future__ import annotations

import hubtest
import pytest
from ai4scale.datasets import prepare
from conftest import ROSTER

pytestmark = pytest.mark.hub

CODE = """
import os
from ai4scale.datasets import load, list_datasets
b = load("compas-recidivism")
print("SHAPE", b.frame.shape, b.sensitive.shape[1])
print("PREPARED", list_datasets(prepared_only=True))
print("HOME", os.environ.get("AI4SCALE_DATASETS"))
try:
    open(os.path.join(os.environ["AI4SCALE_DATASETS"], "compas-recidivism", "data.parquet"), "ab")
    print("WRITE", "allowed")
except PermissionError:
    print("WRITE", "denied")
try:
    open(os.path.join(os.environ["AI4SCALE_DATASETS"], "mine.csv"), "w")
    print("CREATE", "allowed")
except PermissionError:
    print("CREATE", "denied")
"""

pytest_plugins = ["datasets_fixtures"]


def test_learner_loads_from_read_only_directory(hub, source_cache):
    data_dir = hub.settings["paths"]["datasets_dir"]
    prepare(["compas-recidivism", "hmda-boston"], data_dir=data_dir, cache_dir=source_cache)
    s, r = hubtest.login(hub, "tom", ROSTER["tom"][2])
    assert r.status_code == 302, r.text
    token = hubtest.user_token(s, hub, "tom")
    hubtest.spawn(hub, "tom", token=token)
    kernel = hubtest.Kernel(hub, "tom", token)
    try:
        out = kernel.execute(CODE)
    finally:
        kernel.shutdown()
    assert out["error"] is None, out["stderr"]
    assert "SHAPE (7214, 18) 3" in out["stdout"]
    assert "PREPARED ['compas-recidivism', 'hmda-boston']" in out["stdout"]
    assert f"HOME {data_dir}" in out["stdout"]
    assert "WRITE denied" in out["stdout"]
    assert "CREATE denied" in out["stdout"]
