"""The assessment library ``ai4scale.assess`` on a seeded public-sector table.

The table is the synthetic childcare-benefit scenario (``ai4scale.datasets.
synthetic.toeslagen``, a known injected bias against dual nationals) with a
decision date and a few empty cells added. Models: a skops pipeline, an ONNX
model built with skl2onnx, the existing system's decisions (``flagged``) and
no model (a baseline). The generated notebook runs top to bottom in a real
kernel (nbclient) against a local Parquet copy and against a stand-in course
service (a real HTTP server started here) that serves the table, the roles
and the model and receives the results.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from ai4scale.datasets.synthetic import toeslagen

from ai4scale import assess

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

ROLES = {
    "application_id": "identifier",
    "dual_nationality": {"role": "protected", "kind": "nationality"},
    "parent_country_of_birth": {"role": "protected", "kind": "ethnicity_proxy"},
    "contact_language": "feature",
    "region": "feature",
    "years_at_address": "feature",
    "household_income": "legitimate",
    "single_parent": "feature",
    "n_children": "legitimate",
    "childcare_type": "feature",
    "childcare_hours_per_month": "feature",
    "hourly_price": "feature",
    "allowance_per_year": "feature",
    "irregularity": "target",
    "flagged": "score",
    "application_date": "date",
}
NUMERIC = ["years_at_address", "household_income", "n_children", "hourly_price"]


def make_table(n=6000, seed=3):
    df, _ = toeslagen.generate(seed=seed, n_rows=n)
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 3 * 365, n)
    df["application_date"] = pd.Timestamp("2021-01-01") + pd.to_timedelta(days, unit="D")
    df["irregularity"] = df["irregularity"].astype("boolean")
    df.loc[df.index[:7], "irregularity"] = pd.NA  # an unknown outcome
    df["dual_nationality"] = df["dual_nationality"].astype("boolean")
    df.loc[df.index[7:10], "dual_nationality"] = pd.NA  # an unknown group
    return df


@pytest.fixture(scope="module")
def table():
    return make_table()


@pytest.fixture(scope="module")
def decisions(table):
    return assess.predict(table, roles=ROLES)


# -- roles and the outcome ------------------------------------------------------------


def test_outcome_two_labels_needs_positive_value():
    df = pd.DataFrame({"d": ["granted", "refused", "granted", None]})
    with pytest.raises(assess.AssessError, match=r"'positive': 'granted'"):
        assess._roles.outcome(df, {"d": {"role": "target"}})
    coded = assess._roles.outcome(df, {"d": {"role": "target", "positive": "refused"}})
    assert coded.tolist()[:3] == [0.0, 1.0, 0.0] and np.isnan(coded.iloc[3])
    assert assess._roles.outcome(
        pd.DataFrame({"d": [True, False]}), {"d": {"role": "target"}}
    ).tolist() == [1.0, 0.0]
    assert assess._roles.outcome(
        pd.DataFrame({"d": ["yes", "No"]}), {"d": {"role": "target"}}
    ).tolist() == [1.0, 0.0]
    for yes, no in (("ja", "nee"), ("oui", "non"), ("Tak", "Nie")):
        df = pd.DataFrame({"d": [no, yes, no]})
        assert assess._roles.outcome(df, {"d": {"role": "target"}}).tolist() == [0.0, 1.0, 0.0]


def test_outcome_with_three_values_says_what_to_do():
    df = pd.DataFrame({"d": ["granted", "refused", "pending"]})
    with pytest.raises(assess.AssessError, match="Make a column with two values"):
        assess.profile(df, roles={"d": "target"})


def test_roles_checked():
    with pytest.raises(assess.AssessError, match="exactly one column as the outcome"):
        assess.normalise_roles({"a": "feature"})
    with pytest.raises(assess.AssessError, match="not one of"):
        assess.normalise_roles({"a": "target", "b": "secret"})
    with pytest.raises(assess.AssessError, match="not in the table"):
        assess.normalise_roles({"nope": "target"}, pd.DataFrame({"a": [1]}))


def test_score_outside_zero_one_needs_threshold():
    df = pd.DataFrame({"y": [0, 1, 1], "points": [10, 70, 90]})
    with pytest.raises(assess.AssessError, match="threshold"):
        assess.predict(df, roles={"y": "target", "points": "score"})
    got = assess.predict(df, roles={"y": "target", "points": {"role": "score", "threshold": 60}})
    assert got.tolist() == [0.0, 1.0, 1.0]


# -- the steps -------------------------------------------------------------------------


def test_profile(table):
    r = assess.profile(table, roles=ROLES)
    cols = r.tables["columns"].set_index("column")
    assert cols.loc["irregularity", "missing"] == 7
    assert cols.loc["dual_nationality", "role"] == "protected"
    by = r.tables["outcome_by_group"]
    dual = by[by.attribute == "dual_nationality"].set_index("group")
    expected = table.groupby("dual_nationality")["irregularity"].apply(
        lambda s: s.astype(float).mean()
    )
    assert dual.loc["True", "outcome_rate"] == pytest.approx(expected[True])
    assert dual["rows"].sum() == len(table) - 3
    assert any("empty in 3 rows" in n for n in r.notes)
    assert "outcome_by_group_plot" in r.figures


def test_performance_matches_direct_counts(table, decisions):
    r = assess.performance(table, roles=ROLES, predictions=decisions, n_boot=300)
    m = r.tables["metrics"]
    assert any("7 of 6,000 rows" in n for n in r.notes)  # unknown outcome left out, said so
    frame = table.assign(y=table.irregularity.astype(float), p=decisions)
    frame = frame.dropna(subset=["y", "p", "parent_country_of_birth"])
    for group, part in frame.groupby("parent_country_of_birth", observed=True):
        row = m[(m.attribute == "parent_country_of_birth") & (m.group == str(group))].iloc[0]
        assert row["count"] == len(part)
        assert row["selection_rate"] == pytest.approx(part.p.mean())
        assert row["accuracy"] == pytest.approx((part.p == part.y).mean())
        assert row["false_positive_rate"] == pytest.approx(part[part.y == 0].p.mean())
        assert row["false_negative_rate"] == pytest.approx(1 - part[part.y == 1].p.mean())
        for metric in ("selection_rate", "accuracy", "false_positive_rate"):
            assert row[f"{metric}_low"] <= row[metric] <= row[f"{metric}_high"]
    # Smaller groups get wider intervals.
    dual = m[m.attribute == "dual_nationality"].set_index("group")
    width = dual.selection_rate_high - dual.selection_rate_low
    assert dual.loc["True", "count"] < dual.loc["False", "count"]
    assert width["True"] > width["False"]


def test_bootstrap_on_counts_agrees_with_resampling_rows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.where(rng.random(400) < 0.8, y, 1 - y)
    counts = assess._performance.group_counts(y, p, np.zeros(400, dtype=int), 1)
    draws = assess._performance.bootstrap_counts(counts, n_boot=4000, random_state=1)
    fast = assess._performance._rates(draws)["false_positive_rate"][:, 0]
    rows = rng.integers(0, 400, (4000, 400))
    yy, pp = y[rows], p[rows]
    slow = ((pp == 1) & (yy == 0)).sum(axis=1) / (yy == 0).sum(axis=1)
    assert fast.std() == pytest.approx(slow.std(), rel=0.1)
    assert np.quantile(fast, 0.975) == pytest.approx(np.quantile(slow, 0.975), abs=0.01)


def test_small_group_warned():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "y": rng.integers(0, 2, 1000),
            "g": ["a"] * 990 + ["tiny"] * 10,
            "p": rng.integers(0, 2, 1000),
        }
    )
    roles = {"y": "target", "g": {"role": "protected", "kind": "other"}, "p": "score"}
    r = assess.performance(df, roles=roles, predictions=df.p)
    assert any("'tiny' (10 rows)" in n for n in r.notes)
    d = assess.disparities(df, roles=roles, predictions=df.p)
    assert any("too small to compare" in n for n in d.notes)


def test_disparities(table, decisions):
    perf = assess.performance(table, roles=ROLES, predictions=decisions).tables["metrics"]
    r = assess.disparities(table, roles=ROLES, predictions=decisions)
    d = r.tables["differences"].set_index(["attribute", "measure"])
    dual = perf[perf.attribute == "dual_nationality"].set_index("group")
    row = d.loc[("dual_nationality", "selection_rate")]
    # The scenario flags dual nationals more often.
    assert row["highest_group"] == "True"
    assert row["difference"] == pytest.approx(dual.selection_rate.max() - dual.selection_rate.min())
    assert row["ratio"] == pytest.approx(dual.selection_rate.min() / dual.selection_rate.max())
    assert row["difference_low"] <= row["difference"] <= row["difference_high"]
    assert any("four-fifths" in n for n in r.notes)


def test_numeric_protected_attribute_in_bands():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"y": rng.integers(0, 2, 3000), "age": rng.integers(18, 90, 3000)})
    df["p"] = df.y
    roles = {"y": "target", "age": {"role": "protected", "kind": "age"}, "p": "score"}
    m = assess.performance(df, roles=roles, predictions=df.p).tables["metrics"]
    bands = m[m.attribute == "age"]
    assert len(bands) == 5 and bands["count"].sum() == 3000
    assert bands.group.iloc[0].startswith("18 to ")
    # Many small groups: one note, not one per group.
    df["office"] = [f"office {i % 100}" for i in range(3000)]
    roles["office"] = {"role": "protected", "kind": "other"}
    notes = [n for n in assess.profile(df, roles=roles).notes if "'office'" in n]
    assert len(notes) == 1 and "and 92 more" in notes[0]


def test_difference_by_chance_said_so():
    rng = np.random.default_rng(4)
    df = pd.DataFrame(
        {
            "y": rng.integers(0, 2, 400),
            "g": rng.choice(["a", "b"], 400),
            "p": rng.integers(0, 2, 400),
        }
    )
    roles = {"y": "target", "g": {"role": "protected", "kind": "other"}, "p": "score"}
    r = assess.disparities(df, roles=roles, predictions=df.p)
    row = r.tables["differences"].iloc[0]
    assert row["difference_low"] < 0 < row["difference_high"]  # the same process for both
    assert any("could be chance" in n for n in r.notes)


def test_conditional_disparity_removes_a_difference_explained_by_legitimate_factor():
    rng = np.random.default_rng(2)
    n = 20000
    group = rng.choice(["a", "b"], n)
    # Group b has lower incomes; the decision depends on income only.
    income = rng.normal(np.where(group == "b", 20, 30), 5)
    band = pd.cut(income, [-np.inf, 20, 25, 30, np.inf], labels=["1", "2", "3", "4"])
    decision = (
        rng.random(n) < np.select([band == "1", band == "2", band == "3"], [0.6, 0.4, 0.2], 0.1)
    ).astype(int)
    df = pd.DataFrame({"y": decision, "group": group, "band": band, "d": decision})
    roles = {
        "y": "target",
        "group": {"role": "protected", "kind": "other"},
        "band": "legitimate",
        "d": "score",
    }
    r = assess.conditional_disparity(df, roles=roles, predictions=df.d)
    s = r.tables["summary"].iloc[0]
    assert s["raw_difference"] > 0.15
    assert abs(s["conditional_difference"]) < 0.03
    assert s["conditional_low"] <= s["conditional_difference"] <= s["conditional_high"]
    # Without legitimate factors the step says there is nothing to control for.
    roles.pop("band")
    assert (
        "No legitimate factor"
        in assess.conditional_disparity(df, roles=roles, predictions=df.d).notes[0]
    )


def test_conditional_disparity_bins_numbers(table, decisions):
    r = assess.conditional_disparity(table, roles=ROLES, predictions=decisions)
    assert set(r.tables["summary"].attribute) == {"dual_nationality", "parent_country_of_birth"}
    assert r.tables["by_stratum"].stratum.str.contains("household_income=").all()
    assert (r.tables["by_stratum"]["rows"] >= 10).all()


def test_permutation_shap_is_shaps_estimator():
    import shap

    rng = np.random.default_rng(0)
    Z = rng.normal(size=(20, 4))
    bg = rng.normal(size=(10, 4))
    w = np.array([1.0, -2.0, 0.5, 3.0])

    def f(x):
        return x @ w + np.sin(x[:, 0])  # additive: SHAP values are exact for any order

    ours, base = assess._explain.permutation_shap(f, Z, bg)
    theirs = shap.explainers.Permutation(f, shap.maskers.Independent(bg, max_samples=10))(Z)
    np.testing.assert_allclose(ours, theirs.values, atol=1e-9)
    assert base == pytest.approx(float(np.mean(theirs.base_values)))
    # Interactions too: the mean over orders approaches shap's.
    g = lambda x: x[:, 0] * x[:, 1] + x[:, 2]  # noqa: E731
    ours, _ = assess._explain.permutation_shap(g, Z, bg, n_permutations=30)
    exact = shap.explainers.Exact(g, shap.maskers.Independent(bg, max_samples=10))(Z).values
    np.testing.assert_allclose(ours, exact, atol=1e-6)


def test_explain_with_baseline(table):
    model = assess.baseline(table, roles=ROLES)
    r = assess.explain(table, roles=ROLES, model=model, n_sample=200)
    g = r.tables["global"]
    assert set(g.feature) == set(assess._roles.model_columns(table, assess.normalise_roles(ROLES)))
    assert "dual_nationality" not in set(g.feature)  # protected columns are not the model's
    assert (g.mean_abs_contribution >= 0).all() and g.mean_abs_contribution.iloc[0] > 0
    case = r.tables["case"]
    assert list(case.columns) == ["feature", "contribution"]  # no one's values
    assert {"global_plot", "case_plot"} <= set(r.figures)


def test_mitigation_narrows_the_gap(table, decisions):
    r = assess.mitigation(table, roles=ROLES, predictions=decisions, n_sample=4000)
    c = r.tables["comparison"].set_index("method")
    current = c.loc["current decisions", "selection_rate_difference"]
    post = c.loc["threshold per group (ThresholdOptimizer)", "selection_rate_difference"]
    assert post < current
    assert "simple model under a constraint (ExponentiatedGradient)" in c.index
    assert "trade_off_plot" in r.figures


def test_stability(table, decisions):
    r = assess.stability(table, roles=ROLES, predictions=decisions)
    t = r.tables["by_period"]
    assert set(t.attribute) == {"(all rows)", "dual_nationality", "parent_country_of_birth"}
    assert t[t.attribute == "(all rows)"]["rows"].sum() == len(table) - 7
    assert t.period.nunique() == 12  # three years by quarter
    roles = {k: v for k, v in ROLES.items() if v != "date"}
    assert "No date column" in assess.stability(table, roles=roles, predictions=decisions).notes[0]


# -- models ----------------------------------------------------------------------------


def numeric_pipeline(table):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = table.irregularity.fillna(False).astype(int)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(table[NUMERIC], y)


def test_skops_pipeline_loads_and_runs(table, tmp_path):
    import skops.io as sio

    model = numeric_pipeline(table)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    loaded = assess.load_model(path)
    np.testing.assert_allclose(
        loaded.predict_proba(table[NUMERIC]), model.predict_proba(table[NUMERIC])
    )
    results = assess.run_all(table, roles=ROLES, model=loaded, n_boot=50)
    assert "model the team brought" in results["performance"].notes[0]
    assert set(results["explain"].tables["global"].feature) == set(NUMERIC)


def test_model_with_word_labels_decides_the_declared_positive(table):
    from sklearn.linear_model import LogisticRegression

    words = table.assign(outcome=np.where(table.irregularity.fillna(False), "refused", "granted"))
    roles = {**ROLES, "outcome": {"role": "target", "positive": "refused"}}
    roles.pop("irregularity")
    model = LogisticRegression().fit(words[NUMERIC], words.outcome)  # classes_: granted, refused
    assert list(model.classes_) == ["granted", "refused"]
    got = assess.predict(words, roles=roles, model=model)
    assert got.tolist() == (model.predict(words[NUMERIC]) == "refused").astype(float).tolist()
    roles["outcome"]["positive"] = "granted"
    scores = assess.predict_scores(model, words, roles=roles)
    np.testing.assert_allclose(scores, model.predict_proba(words[NUMERIC])[:, 0])


def test_skops_untrusted_types_listed_then_approved(table, tmp_path):
    import skops.io as sio

    model = assess.baseline(table, roles=ROLES)  # holds a function of ours: not trusted by skops
    path = tmp_path / "baseline.skops"
    sio.dump(model, path)
    with pytest.raises(assess.UntrustedModel) as caught:
        assess.load_model(path)
    assert "ai4scale.assess._models.as_text" in caught.value.types
    assert "instructor" in str(caught.value)
    loaded = assess.load_model(path, trusted=caught.value.types)
    np.testing.assert_allclose(
        loaded.predict_proba(table.head(50)), model.predict_proba(table.head(50))
    )


class Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/ai4scale-assess-unpickled",))


def test_pickle_refused_and_never_opened(tmp_path):
    import os

    marker = "/tmp/ai4scale-assess-unpickled"
    if os.path.exists(marker):
        os.unlink(marker)
    for suffix in (".pkl", ".pickle", ".joblib"):
        path = tmp_path / f"model{suffix}"
        path.write_bytes(pickle.dumps(Boom()))
        with pytest.raises(assess.RefusedModel, match="pickle file") as caught:
            assess.load_model(path)
        assert "skops" in str(caught.value) and "ONNX" in str(caught.value)
    assert not os.path.exists(marker)
    with pytest.raises(assess.RefusedModel, match="not a format"):
        assess.load_model(tmp_path / "model.h5")


def test_onnx_model(table, tmp_path):
    from skl2onnx import to_onnx

    model = numeric_pipeline(table)
    onx = to_onnx(model, table[NUMERIC].to_numpy(dtype=np.float32)[:5], options={"zipmap": False})
    meta = onx.metadata_props.add()
    meta.key, meta.value = "feature_names", json.dumps(NUMERIC)
    path = tmp_path / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    loaded = assess.load_model(path)
    assert list(loaded.feature_names_in_) == NUMERIC
    np.testing.assert_allclose(
        loaded.predict_proba(table)[:, 1], model.predict_proba(table[NUMERIC])[:, 1], atol=1e-5
    )
    assert (loaded.predict(table) == model.predict(table[NUMERIC])).mean() > 0.999
    results = assess.run_all(table, roles=ROLES, model=loaded, n_boot=50)
    assert set(results["explain"].tables["global"].feature) == set(NUMERIC)
    # Without the column names, a one-matrix model says how to give them.
    onx.metadata_props.pop()
    path.write_bytes(onx.SerializeToString())
    with pytest.raises(assess.AssessError, match="features="):
        assess.load_model(path).predict_proba(table)
    assert assess.load_model(path, features=NUMERIC).predict_proba(table).shape == (len(table), 2)


def test_onnx_model_with_one_input_per_column(table, tmp_path):
    from skl2onnx import to_onnx
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = table[["region", "household_income"]].astype({"region": str})
    y = table.irregularity.fillna(False).astype(int)
    model = make_pipeline(
        ColumnTransformer(
            [
                ("c", OneHotEncoder(handle_unknown="ignore"), ["region"]),
                ("n", StandardScaler(), ["household_income"]),
            ]
        ),
        LogisticRegression(),
    ).fit(X, y)
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    onx = to_onnx(
        model,
        initial_types=[
            ("region", StringTensorType([None, 1])),
            ("household_income", FloatTensorType([None, 1])),
        ],
    )
    path = tmp_path / "columns.onnx"
    path.write_bytes(onx.SerializeToString())
    loaded = assess.load_model(path)  # ZipMap output: a list of dicts
    np.testing.assert_allclose(
        loaded.predict_proba(table)[:, 1], model.predict_proba(X)[:, 1], atol=1e-5
    )


def test_run_all_with_scores_and_without_model(table):
    scores = assess.run_all(table, roles=ROLES, n_boot=50)
    assert "existing system (column 'flagged'" in scores["performance"].notes[0]
    assert "explain" not in scores
    roles = {k: v for k, v in ROLES.items() if v != "score"}
    none = assess.run_all(table, roles=roles, n_boot=50)
    assert "simple, transparent model" in none["performance"].notes[0]
    assert set(none) == {
        "profile",
        "performance",
        "disparities",
        "conditional_disparity",
        "explain",
        "mitigation",
        "stability",
    }
    # The baseline flags about as many cases as the outcome is positive.
    sel = none["performance"].tables["metrics"].iloc[0]["selection_rate"]
    assert sel == pytest.approx(table.irregularity.astype(float).mean(), abs=0.02)


def test_payload_is_json_with_citable_ids(table):
    results = assess.run_all(table, roles=ROLES, n_boot=50)
    payload = json.loads(json.dumps(assess.to_payload(results)))
    ids = [item["id"] for item in payload["items"]]
    assert len(ids) == len(set(ids))
    assert "performance.metrics" in ids and "disparities.differences_plot" in ids
    for item in payload["items"]:
        step, name = item["id"].split(".", 1)
        assert item["step"] == step and name
        if item["kind"] == "figure":
            assert base64.b64decode(item["png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert isinstance(item["records"], list)
    assert [s["name"] for s in payload["steps"]] == list(results)
    assert payload["packages"]["fairlearn"]
    # No row of the table travels: no identifier value appears anywhere.
    text = json.dumps(payload)
    assert not any(f'"application_id": {v}' in text for v in table.application_id.head(50))


def test_library_imports_nothing_of_hub_or_grading():
    import subprocess
    import sys

    code = (
        "import sys, ai4scale.assess as a; a.notebook('x', 'y', roles={'t': 'target'});"
        "bad = [m for m in sys.modules if m.startswith(('ai4scale.hub', 'ai4scale.grading'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stdout + out.stderr


# -- the notebook ----------------------------------------------------------------------


class StandIn:
    """A real HTTP server on 127.0.0.1 standing in for the course service's use-case API."""

    def __init__(self, routes):
        self.routes, self.posted = routes, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, body = outer.routes.get(self.path, (404, b'{"error": "no such thing"}'))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.posted.append(
                    (self.path, self.headers.get("Authorization"), json.loads(body))
                )
                answer = b'{"ok": true}'
                self.send_response(201)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/course/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def run_notebook(nb, folder, monkeypatch, service):
    import nbformat
    from nbclient import NotebookClient

    path = folder / "assessment.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    monkeypatch.setenv("AI4SCALE_COURSE_URL", service.url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "kernel-token")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    client = NotebookClient(
        nbformat.read(path, as_version=4),
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    executed = client.execute()
    return executed, sha


def test_notebook_runs_against_a_local_table(table, tmp_path, monkeypatch):
    import nbformat
    import skops.io as sio

    table.to_parquet(tmp_path / "table.parquet")
    sio.dump(numeric_pipeline(table), tmp_path / "model.skops")
    nb = assess.notebook(
        "benefit-checks", "applications", roles=ROLES, model="./model.skops", data="table.parquet"
    )
    nbformat.validate(nb)
    assert nb.cells[-1].source == "assess.save_results(results, usecase='benefit-checks')"
    assert sum(c.cell_type == "code" for c in nb.cells) <= 16
    service = StandIn({})
    try:
        executed, sha = run_notebook(nb, tmp_path, monkeypatch, service)
    finally:
        service.close()
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    html = "".join(
        o.get("data", {}).get("text/html", "") for c in executed.cells for o in c.get("outputs", [])
    )
    assert "performance.metrics" in html and "data:image/png;base64," in html
    [(path, auth, body)] = service.posted
    assert path == "/services/course/api/usecases/benefit-checks/results"
    assert auth == "token kernel-token"
    assert body["notebook_sha256"] == sha
    ids = {i["id"] for i in body["payload"]["items"]}
    assert {
        "profile.columns",
        "explain.global_plot",
        "mitigation.comparison",
        "stability.by_period",
    } <= ids


def test_notebook_fetches_table_roles_and_model_from_the_service(table, tmp_path, monkeypatch):
    import io

    import skops.io as sio

    raw = io.BytesIO()
    table.to_parquet(raw)
    model_path = tmp_path / "m.skops"
    sio.dump(numeric_pipeline(table), model_path)
    api = "/services/course/api/usecases/uc1"
    usecase = {
        "id": "uc1",
        "datasets": [{"name": "apps", "status": "ready", "state": {"roles": ROLES}}],
        "models": [{"name": "risk", "kind": "skops", "untrusted_types": [], "approved_by": None}],
    }
    service = StandIn(
        {
            api: (200, json.dumps(usecase).encode()),
            f"{api}/datasets/apps/table.parquet": (200, raw.getvalue()),
            f"{api}/models/risk/file": (200, model_path.read_bytes()),
        }
    )
    nb = assess.notebook("uc1", "apps", model="risk")
    sources = "\n".join(c.source for c in nb.cells)
    assert "datasets.load('usecase:uc1/apps')" in sources
    assert "assess.fetch_roles('uc1', 'apps')" in sources
    try:
        executed, sha = run_notebook(nb, tmp_path, monkeypatch, service)
    finally:
        service.close()
    [(path, _, body)] = service.posted
    assert path == f"{api}/results" and body["notebook_sha256"] == sha
    notes = {s["name"]: s["notes"] for s in body["payload"]["steps"]}
    assert any("dual_nationality" in n for n in notes["disparities"])


def test_a_small_table_gets_plain_notes_not_a_crash():
    # 60 rows, eight groups of 7-8 rows: too few for the methods of mitigation
    rng = np.random.default_rng(2)
    n = 60
    df = pd.DataFrame(
        {
            "region": np.repeat(["north", "south", "east", "west"], n // 4),
            "sex": np.tile(["f", "m"], n // 2),
            "income": rng.normal(1800, 300, n).round(2),
            "refused": [i % 3 == 0 for i in range(n)],
        }
    )
    roles = {
        "region": "legitimate",
        "sex": {"role": "protected", "kind": "sex"},
        "income": "feature",
        "refused": "target",
    }
    results = assess.run_all(df, roles=roles)
    notes = " ".join(results["mitigation"].notes)
    assert "Too few rows to compare ways of deciding by 'sex'" in notes
    assert "comparison" not in results["mitigation"].tables
    assert "profile" in results and results["profile"].tables
