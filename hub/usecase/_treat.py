"""Treatments of a personal-data finding: drop, pseudonymise, coarsen, confirm.

Each treatment returns a new DataFrame (the caller stores it atomically) and
a plain description of what was done, written into the datasheet. The
pseudonymisation key is an argument, held by the service: it is never
written into a table, a state file or a datasheet.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from ._read import IntakeError

__all__ = ["ACTIONS", "coarsen", "drop", "pseudonymise", "require_reason"]

#: What a team can do with a finding.
ACTIONS = ("drop", "pseudonymise", "coarsen", "confirm")
#: Hex characters kept of each HMAC-SHA256 (128 bits: no collision in any real table).
DIGEST_CHARS = 32
MIN_REASON = 10


def _column(df, column):
    if column not in df.columns:
        raise IntakeError(f"there is no column {column!r} (any more)")
    return df[column]


def drop(df, column):
    """Return ``(df without column, description)``."""
    _column(df, column)
    return df.drop(columns=[column]), f"column '{column}' removed"


def _normalise(values, kind):
    text = values.astype(str).str.strip()
    if kind and (kind.startswith("national_id") or kind in ("iban", "phone")):
        text = text.str.replace(r"[\s.\-/()]", "", regex=True).str.upper()
    elif kind == "email":
        text = text.str.lower()
    return text


def pseudonymise(df, column, key, *, kind=None):
    """Replace the values of ``column`` by keyed hashes (HMAC-SHA256).

    Equal values get equal pseudonyms, so counts and joins still work; without
    the key nobody can recompute them from a guessed value.

    Parameters
    ----------
    df : pandas.DataFrame
    column : str
    key : bytes or str
        The secret key (at least 16 bytes), held by the service.
    kind : str, optional
        The finding's kind: identity numbers, IBANs and phone numbers are
        hashed without spaces and dots, e-mail addresses in lower case, so
        that two spellings of one value get one pseudonym.

    Returns
    -------
    (pandas.DataFrame, str)
    """
    import numpy as np
    import pandas as pd

    values = _column(df, column)
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes) or len(key) < 16:
        raise IntakeError("pseudonymising needs a secret key of at least 16 bytes")
    present = values.notna()
    codes, uniques = pd.factorize(_normalise(values[present], kind))
    digests = [
        hmac.new(key, str(u).encode(), hashlib.sha256).hexdigest()[:DIGEST_CHARS] for u in uniques
    ]
    hashed = pd.Series(
        np.array(digests, dtype=object)[codes], index=values.index[present], dtype=object
    )
    df = df.copy()
    df[column] = hashed.reindex(df.index).astype("str")
    return df, (
        f"column '{column}' replaced by keyed hashes (HMAC-SHA256; the key stays with the service)"
    )


def _fr_department(code):
    if code.startswith(("97", "98")):
        return code[:3]
    if code.startswith("20"):
        return "2A" if int(code) < 20200 else "2B"
    return code[:2]


_POSTCODE = re.compile(r"^(\d{4})\s?[A-Za-z]{2}$|^\d{4,5}$|^\d{2}-\d{3}$")
_BIRTH_YEAR = re.compile(r"(?i)birth|geboorte|geburt|naissance|nascita|nacimiento|urodz|jaar|year")


def _coarsen_postcodes(text, country):
    if (country or "").upper() == "FR":
        return text.map(lambda c: _fr_department(c) if c == c and len(c) == 5 else c)
    return text.str.slice(0, 2)


def coarsen(df, column, *, country=None):
    """Make ``column`` less precise: dates to the year, postcodes to their region.

    - dates (date type or text in a day-month-year or year-month-day form)
      become the year;
    - postcodes become their first two digits (NL ``1234 AB`` -> ``12``,
      DE ``80331`` -> ``80``, PL ``00-950`` -> ``00``), in France
      (``country="FR"``) the department (``75``, ``2A``, ``971``);
    - birth years become five-year bands (``1970-1974``), ages ten-year
      bands (``30-39``).

    Returns
    -------
    (pandas.DataFrame, str)

    Raises
    ------
    IntakeError
        The column is none of these: drop it, pseudonymise it or confirm it.
    """
    import pandas as pd

    from ._scan import _parse_dates

    values = _column(df, column)
    present = values.dropna()
    df = df.copy()
    if pd.api.types.is_datetime64_any_dtype(values):
        df[column] = values.dt.year.astype("Int64")
        return df, f"dates in '{column}' reduced to the year"
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        lo, hi = (present.min(), present.max()) if len(present) else (0, 0)
        if _BIRTH_YEAR.search(str(column)) and 1880 <= lo and hi <= 2100:
            start = (values // 5 * 5).astype("Int64")
            df[column] = start.astype("string") + "-" + (start + 4).astype("string")
            return df, f"years in '{column}' grouped in five-year bands"
        if re.search(r"(?i)post|zip|plz|cap\b|cp\b", str(column)) and 1000 <= lo and hi <= 99999:
            text = values.astype("Int64").astype("string")
            df[column] = _coarsen_postcodes(text, country)
            return df, f"postcodes in '{column}' reduced to their region"
        if 0 <= lo and hi <= 120:
            start = (values // 10 * 10).astype("Int64")
            df[column] = start.astype("string") + "-" + (start + 9).astype("string")
            return df, f"ages in '{column}' grouped in ten-year bands"
        raise IntakeError(
            f"'{column}' holds numbers that are neither ages, years nor postcodes: "
            "drop it, pseudonymise it or confirm it"
        )
    text = values.astype("string").str.strip()
    sample = text.dropna().head(2000)
    if len(sample) and sample.str.match(_POSTCODE).mean() >= 0.9:
        digits = text.str.extract(r"^(\d{2}-\d{3}|\d+)", expand=False).str.replace("-", "")
        df[column] = _coarsen_postcodes(digits, country)
        return df, f"postcodes in '{column}' reduced to their region"
    if len(sample) and _parse_dates(sample) is not None:
        for fmt in ("%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d", "%Y/%m/%d", "%d-%m-%y"):
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
            if parsed.notna().sum() >= 0.8 * text.notna().sum():
                df[column] = parsed.dt.year.astype("Int64")
                return df, f"dates in '{column}' reduced to the year"
    raise IntakeError(
        f"'{column}' holds neither dates, postcodes, years nor ages, so it cannot be made "
        "coarser: drop it, pseudonymise it or confirm it with a reason"
    )


def require_reason(reason):
    """Return the stripped reason; refuse an empty or too short one."""
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise IntakeError(
            "confirming personal data needs a reason (at least a sentence), for example the "
            "legal basis that allows keeping it; it is written into the datasheet"
        )
    return reason
