"""A use case at scale: a 1,000,000-row x 30-column CSV through intake and the whole assessment.

The CSV is written as European administrations export it (``;`` separators,
decimal commas, dates as dd-mm-yyyy), seeded, into a temporary folder. Then,
in a fresh process (so that its peak memory is the pipeline's own):

- read: the intake's ``detect`` (format, encoding, separator, decimal, the whole table);
- scan: the intake's personal-data scan (``scan_frame``);
- profile, a transparent model (``assess.baseline``, saved with skops and loaded
  back through the trusted-type check), its decisions, and every step of
  the assessment with that model, then ``to_payload``.

Prints seconds per step, the total, and the peak memory (maxrss of the process
and of its children). Goal: <= 60 s and <= 2 GiB on the 2-core machine.

Usage: /opt/ai4scale/venv/bin/python benchmarks/usecase.py [--rows N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 60.0
GOAL_BYTES = 2 << 30

ROLES = {
    "case_id": "identifier",
    "sex": {"role": "protected", "kind": "sex"},
    "age_band": {"role": "protected", "kind": "age"},
    "nationality": {"role": "protected", "kind": "nationality"},
    "disability": {"role": "protected", "kind": "disability"},
    "income": "legitimate",
    "household_size": "legitimate",
    "irregular": {"role": "target", "positive": "ja"},
    "risk_score": "score",
    "application_date": "date",
}
FEATURES = [
    "region",
    "municipality_size",
    "employment_status",
    "years_registered",
    "prior_claims",
    "benefit_amount",
    "rent",
    "savings",
    "housing_type",
    "education",
    "children",
    "partner",
    *[f"indicator_{i}" for i in range(1, 9)],
]
ROLES.update(dict.fromkeys(FEATURES, "feature"))


def generate(path, n, seed=11):
    """Write the seeded CSV: 30 columns, a known bias against non-EU nationals."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)

    def pick(values, p=None):
        return np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p)]

    nationality = pick(["NL", "EU", "non-EU"], [0.8, 0.12, 0.08])
    income = np.round(rng.lognormal(10.2, 0.45, n), 2)
    household = rng.integers(1, 7, n)
    prior = rng.poisson(0.4, n)
    logit = -3.2 + 0.5 * prior - 0.00002 * (income - 27000) + 0.1 * household
    irregular = rng.random(n) < 1 / (1 + np.exp(-logit))
    bias = np.where(nationality == "non-EU", 0.9, 0.0)
    risk = 1 / (1 + np.exp(-(logit + bias + rng.normal(0, 0.6, n))))
    frame = {
        "case_id": np.arange(1, n + 1),
        "sex": pick(["F", "M", "X"], [0.5, 0.495, 0.005]),
        "age_band": pick(["18-29", "30-44", "45-64", "65+"], [0.2, 0.35, 0.3, 0.15]),
        "nationality": nationality,
        "disability": pick(["ja", "nee"], [0.08, 0.92]),
        "income": income,
        "household_size": household,
        "region": pick([f"R{i:02d}" for i in range(12)]),
        "municipality_size": pick(["small", "medium", "large", "city"]),
        "employment_status": pick(
            ["employed", "unemployed", "self-employed", "retired", "student"]
        ),
        "years_registered": rng.integers(0, 40, n),
        "prior_claims": prior,
        "benefit_amount": np.round(rng.gamma(2.0, 400.0, n), 2),
        "rent": np.round(rng.normal(800, 200, n), 2),
        "savings": np.round(rng.exponential(4000, n), 2),
        "housing_type": pick(["rent", "social", "own", "other"]),
        "education": pick(["primary", "secondary", "vocational", "tertiary"]),
        "children": rng.integers(0, 5, n),
        "partner": pick(["ja", "nee"]),
    }
    for i in range(1, 9):
        frame[f"indicator_{i}"] = np.round(rng.normal(0, 1, n), 3)
    days = rng.integers(0, 3 * 365, n)
    frame["application_date"] = (
        pd.Timestamp("2022-01-01") + pd.to_timedelta(days, unit="D")
    ).strftime("%d-%m-%Y")
    frame["risk_score"] = np.round(risk, 4)
    frame["irregular"] = np.where(irregular, "ja", "nee")
    df = pd.DataFrame(frame)
    assert df.shape[1] == 30
    df.to_csv(path, sep=";", decimal=",", index=False)


def peak_bytes():
    """Peak resident memory of this process and of its children (maxrss, KiB on Linux)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) * 1024


def run(path):
    """Run the pipeline on the CSV at ``path``; print one JSON line of figures."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    times = {}
    start = time.perf_counter()

    def step(name, f):
        t = time.perf_counter()
        out = f()
        times[name] = time.perf_counter() - t
        print(f"  {name:24s} {times[name]:6.2f} s", file=sys.stderr, flush=True)
        return out

    import skops.io as sio

    from ai4scale import assess

    try:  # the intake part's reader and scan, when present
        from ai4scale.hub.usecase._read import detect
        from ai4scale.hub.usecase._scan import scan_frame
    except ImportError:
        detect = scan_frame = None

    if detect is not None:
        detected, df = step("read (intake detect)", lambda: detect(path, path.name, frame=True))
        detected = detected.to_dict()
        found = (detected["separator"], detected["decimal"], detected["encoding"])
    else:
        import pandas as pd

        df = step("read (pandas)", lambda: pd.read_csv(path, sep=";", decimal=","))
        found = (";", ",", "utf-8")
    if scan_frame is not None:
        findings = step("scan (intake)", lambda: scan_frame(df, roles=ROLES))
    else:
        findings = None
    results = {}
    results["profile"] = step("profile", lambda: assess.profile(df, roles=ROLES))
    model = step("baseline (train)", lambda: assess.baseline(df, roles=ROLES))
    folder = path.parent

    def skops_round_trip():
        sio.dump(model, folder / "model.skops")
        try:
            return assess.load_model(folder / "model.skops")
        except assess.UntrustedModel as e:  # the baseline's text step: approved here
            return assess.load_model(folder / "model.skops", trusted=e.types)

    model = step("skops dump+load", skops_round_trip)
    decisions = step("predict", lambda: assess.predict(df, roles=ROLES, model=model))
    kw = {"roles": ROLES, "predictions": decisions}
    results["performance"] = step("performance", lambda: assess.performance(df, **kw))
    results["disparities"] = step("disparities", lambda: assess.disparities(df, **kw))
    results["conditional_disparity"] = step(
        "conditional_disparity", lambda: assess.conditional_disparity(df, **kw)
    )
    results["explain"] = step("explain", lambda: assess.explain(df, roles=ROLES, model=model))
    results["mitigation"] = step("mitigation", lambda: assess.mitigation(df, model=model, **kw))
    results["stability"] = step("stability", lambda: assess.stability(df, **kw))
    payload = step("to_payload", lambda: json.dumps(assess.to_payload(results)))
    total = time.perf_counter() - start
    print(
        json.dumps(
            {
                "rows": len(df),
                "columns": df.shape[1],
                "detected": found,
                "findings": None
                if findings is None
                else [(f["column"], f["kind"]) for f in findings],
                "seconds": times,
                "total_seconds": total,
                "peak_bytes": peak_bytes(),
                "payload_bytes": len(payload),
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", help="folder to keep the CSV in (reused when present)")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # the measured child process
    args = parser.parse_args()
    if args.run:
        run(Path(args.run))
        return
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ai4scale-usecase-"))
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"cases-{args.rows}.csv"
    try:
        if not csv.exists():
            t = time.perf_counter()
            generate(csv, args.rows)
            print(
                f"generated {csv.name}: {csv.stat().st_size / 2**20:.0f} MiB in "
                f"{time.perf_counter() - t:.1f} s (not counted)"
            )
        child = subprocess.run(
            [sys.executable, __file__, "--run", str(csv)],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(
        f"{figures['rows']:,} rows x {figures['columns']} columns; detected {figures['detected']}"
    )
    if figures["findings"] is not None:
        print(f"scan findings: {figures['findings']}")
    for name, seconds in figures["seconds"].items():
        print(f"  {name:24s} {seconds:6.2f} s")
    total, peak = figures["total_seconds"], figures["peak_bytes"]
    verdict = "ok" if total <= GOAL_SECONDS else "OVER"
    print(f"total {total:.1f} s (goal {GOAL_SECONDS:.0f} s): {verdict}")
    print(
        f"peak memory {peak / 2**30:.2f} GiB (goal {GOAL_BYTES / 2**30:.0f} GiB): "
        f"{'ok' if peak <= GOAL_BYTES else 'OVER'}"
    )
    print(f"results payload {figures['payload_bytes'] / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
