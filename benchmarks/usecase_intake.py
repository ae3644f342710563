"""Intake speed: detect + read + scan of a 1,000,000-row x 30-column ';'-CSV with decimal commas.

Usage: python benchmarks/usecase_intake.py [ROWS]   (prints figures; asserts nothing)
The issue's goal for the whole use-case path (benchmarks/usecase.py): <= 60 s, <= 2 GiB.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROLES = {
    "geslacht": {"role": "protected", "kind": "sex"},
    "nationaliteit": {"role": "protected", "kind": "nationality"},
    "toegekend": "target",
}


def make_csv(path, rows, seed=0):
    rng = np.random.default_rng(seed)
    cols = {}
    cols["dossier"] = np.char.add("Z-", rng.integers(100000, 999999, rows).astype(str))
    cols["postcode"] = rng.integers(1000, 9999, rows).astype(str)
    cols["geslacht"] = rng.choice(["M", "V"], rows)
    cols["nationaliteit"] = rng.choice(["NL", "DE", "PL", "MA", "TR", "SY"], rows)
    cols["geboortejaar"] = rng.integers(1940, 2005, rows).astype(str)
    cols["besluitdatum"] = pd.to_datetime(rng.integers(19000, 19700, rows), unit="D").strftime(
        "%d-%m-%Y"
    )
    for i in range(20):
        vals = np.round(rng.normal(1000, 300, rows), 2)
        cols[f"bedrag_{i}"] = np.char.replace(vals.astype(str), ".", ",")
    for i in range(3):
        cols[f"score_{i}"] = rng.integers(0, 100, rows).astype(str)
    cols["toegekend"] = rng.integers(0, 2, rows).astype(str)
    df = pd.DataFrame(cols)
    assert df.shape[1] == 30
    df.to_csv(path, sep=";", index=False, encoding="cp1252")


def measure(path):
    """Read + scan of the table."""
    from ai4scale.hub.usecase._read import detect
    from ai4scale.hub.usecase._scan import scan_frame

    t = time.perf_counter()
    detected, df = detect(path, path.name, frame=True)
    read_s = time.perf_counter() - t
    print(
        f"detect + read: {read_s:.2f} s ({detected.separator!r}, decimal "
        f"{detected.decimal!r}, {detected.encoding}, {detected.rows:,} rows)"
    )
    t = time.perf_counter()
    findings = scan_frame(df, roles=ROLES)
    scan_s = time.perf_counter() - t
    print(
        f"scan: {scan_s:.2f} s, findings: "
        + ", ".join(f"{f['column']}:{f['kind']}" for f in findings)
    )
    print(f"read + scan: {read_s + scan_s:.2f} s; {peak()}")


def measure_intake(path):
    """The whole Intake: copy, detect, parquet, roles, scan, confirm, finish, datasheet."""
    from ai4scale.hub.usecase._intake import Intake

    with tempfile.TemporaryDirectory() as folder:
        intake = Intake(Path(folder) / "ds")
        t = time.perf_counter()
        intake.receive(path, path.name)
        intake.set_roles(ROLES)
        found = intake.scan()
        for f in found:
            intake.resolve(f["column"], "confirm", reason="benchmark: kept on purpose")
        intake.finish()
        intake.datasheet()
        print(
            f"Intake receive -> roles -> scan -> confirm -> finish -> datasheet: "
            f"{time.perf_counter() - t:.2f} s; {peak()}"
        )


def peak():
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak (the CSV writer) across exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return f"peak RSS {int(line.split()[1]) / 1024:.0f} MiB"
    return "peak RSS unknown"


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "aanvragen.csv"
        t = time.perf_counter()
        make_csv(path, rows)
        print(
            f"wrote {rows:,} rows x 30 columns ({path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - t:.1f} s"
        )
        # Measured in a fresh process so that the peak memory is the intake's own.
        for step in ("--measure", "--intake"):
            subprocess.run([sys.executable, __file__, step, str(path)], check=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        measure(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["--intake"]:
        measure_intake(Path(sys.argv[2]))
    else:
        main()
