"""Find personal data in a use-case table before anything is shared.

Detectors look at column names and at a random sample of each column's
values: e-mail addresses, phone numbers (``phonenumbers``, valid European
numbers only), IBANs (checksum), national identity numbers validated by
checksum with python-stdnum (NL BSN, FR NIR, DE Steuer-ID, IT codice fiscale,
ES DNI/NIE, BE national number, PL PESEL, AT social-security number), dates
of birth, postal addresses and free text. A column is flagged when the share
of sampled values that pass a detector reaches a threshold (lower when the
column's name says so), so a column of case numbers where a few happen to
pass a checksum is not flagged. Quasi-identifiers (postcode, birth year,
sex, nationality, ...) are checked together on every row: the combination
must not leave groups smaller than ``k`` people.

Findings carry masked examples only (``j***@***.nl``, ``*****2333``), never
a raw value.
"""

from __future__ import annotations

import datetime as _dt
import re

__all__ = ["KINDS", "mask", "scan_frame", "scan_text"]

#: Finding kinds (``national_id:<cc>`` with the country code).
KINDS = (
    "email",
    "phone",
    "iban",
    "national_id",
    "date_of_birth",
    "address",
    "free_text",
    "quasi_identifiers",
)
#: Share of sampled values that must pass a detector to flag a column.
SHARE = 0.5
#: The same when the column's name hints at the kind (``email``, ``bsn``, ...).
HINTED_SHARE = 0.25
SAMPLE = 2000
#: Regions whose phone numbers are recognised (EU, EEA, Switzerland, UK).
PHONE_REGIONS = (
    "NL", "BE", "DE", "FR", "LU", "AT", "IT", "ES", "PT", "PL", "CZ", "SK", "HU", "SI",
    "HR", "RO", "BG", "GR", "CY", "MT", "IE", "DK", "SE", "FI", "EE", "LV", "LT",
    "NO", "IS", "LI", "CH", "GB",
)  # fmt: skip
# Regions tried for numbers written nationally (0...), most common first.
_NATIONAL_REGIONS = ("NL", "DE", "FR", "BE", "AT", "IT", "ES", "PL", "LU", "PT", "IE", "DK")

_HINTS = {
    "email": r"e-?mail|mail|courriel|correo|poczta",
    "phone": r"phone|telefo|tel\b|tel_|gsm|mobiel|mobile|handy|portable|cellulare|movil|komork",
    "iban": r"iban|rekening|account|konto|compte|conto|cuenta",
    "national_id": r"bsn|burgerservice|nir|insee|secu|steuer|idnr|tin\b|codice|fiscal|dni|nie\b"
    r"|nif|rijksregister|registre|national|pesel|svnr|vnr|versicherung|ssn|social|identit",
    "date_of_birth": r"birth|geboorte|geb|dob|naissance|nascita|nacimiento|urodz|born",
    "address": r"adres|address|adresse|anschrift|indirizzo|direcci|straat|street|strasse"
    r"|straße|rue\b|via\b|calle|ulica|woonadres",
    "free_text": r"toelichting|opmerking|notitie|note|comment|remark|bemerkung|commentaire"
    r"|observa|descri|omschrijving|motivering|begründung|text|tekst|uwagi",
}
_QI_HINTS = (
    r"post|zip|plz|postleitzahl|code_?postal|\bcp\b|\bcap\b|pc4|pc6|kod_?poczt"
    r"|birth|geboorte|geburt|naissance|nascita|nacimiento|urodz|jaar|year|age\b|leeftijd|alter"
    r"|âge|eta\b|edad|wiek|sex|gender|geslacht|geschlecht|sesso|sexo|płeć|plec"
    r"|national|staatsang|cittadin|obywatel|geboorteland|country|land\b|gemeente|woonplaats"
    r"|municip|gemeinde|commune|comune|gmina|city|stad|wijk|buurt|district|regio|provin|kreis|bundesland|departement|départ"
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?:\+|00)[1-9][\d \-().\/]{6,18}|0[1-9][\d \-().\/]{6,16}")
_DATEISH = re.compile(r"\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d{4}[-./]\d{1,2}[-./]\d{1,2}.*")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
_STREET_WORDS = (
    r"straat|str\.|straße|strasse|weg|laan|plein|gracht|kade|dijk|singel|steenweg|dreef"
    r"|gasse|platz|allee|ring|rue|avenue|boulevard|chemin|allée|impasse|place|quai|via|viale"
    r"|piazza|corso|vicolo|calle|avenida|plaza|paseo|carrer|ulica|ul\.|aleja|al\.|rua|street"
    r"|road|lane|square"
)
_ADDRESS = re.compile(rf"(?i)^(?=.*\b\d{{1,4}}\s?[a-z]?\b)(?=.*(?:{_STREET_WORDS})).{{5,120}}$")
_DATE_FORMATS = ("%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d", "%Y/%m/%d", "%d-%m-%y")


def _national_ids():
    from stdnum.at import vnr
    from stdnum.be import nn
    from stdnum.de import idnr
    from stdnum.es import dni, nie
    from stdnum.fr import nir
    from stdnum.it import codicefiscale
    from stdnum.nl import bsn
    from stdnum.pl import pesel

    # country -> [(module, pattern of the compact form, digits to zero-pad integers to)]
    return {
        "nl": [(bsn, r"\d{9}", 9)],
        "fr": [(nir, r"[1-478]\d{4}[0-9AB]\d{9}", 15)],
        "de": [(idnr, r"[1-9]\d{10}", 11)],
        "it": [(codicefiscale, r"[A-Z]{6}[0-9A-Z]{2}[A-Z][0-9A-Z]{2}[A-Z][0-9A-Z]{3}[A-Z]", 0)],
        "es": [(dni, r"\d{8}[A-Z]", 0), (nie, r"[XYZ]\d{7}[A-Z]", 0)],
        "be": [(nn, r"\d{11}", 11)],
        "pl": [(pesel, r"\d{11}", 11)],
        "at": [(vnr, r"[1-9]\d{9}", 10)],
    }


_ID_SCHEMES = None


def _schemes():
    global _ID_SCHEMES
    if _ID_SCHEMES is None:
        _ID_SCHEMES = {
            cc: [(mod, re.compile(pat), pad) for mod, pat, pad in entries]
            for cc, entries in _national_ids().items()
        }
    return _ID_SCHEMES


def _compact(value):
    return re.sub(r"[\s.\-/]", "", value).upper()


# --- value detectors ----------------------------------------------------------


def is_email(value):
    """Return True if ``value`` is an e-mail address."""
    return bool(_EMAIL.fullmatch(value.strip()))


def is_phone(value):
    """Return True if ``value`` is a valid phone number of a European region."""
    import phonenumbers

    v = value.strip()
    if not _PHONE.fullmatch(v) or _DATEISH.fullmatch(v):
        return False
    digits = re.sub(r"\D", "", v)
    if not 8 <= len(digits) <= 15:
        return False
    if v.startswith("00"):
        v = "+" + v[2:]
    regions = (None,) if v.startswith("+") else _NATIONAL_REGIONS
    for region in regions:
        try:
            num = phonenumbers.parse(v, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return phonenumbers.region_code_for_number(num) in PHONE_REGIONS
    return False


def is_iban(value):
    """Return True if ``value`` is an IBAN with a valid checksum."""
    from stdnum import iban

    v = re.sub(r"\s", "", value).upper()
    return bool(_IBAN.fullmatch(v)) and iban.is_valid(v)


def national_ids(value, *, integer=False):
    """Return the country codes whose identity-number checksum ``value`` passes."""
    v = _compact(value)
    found = []
    for cc, entries in _schemes().items():
        for mod, pattern, pad in entries:
            w = v.zfill(pad) if integer and pad and len(v) < pad else v
            if pattern.fullmatch(w) and mod.is_valid(w):
                found.append(cc)
                break
    return found


def national_id(value, *, integer=False):
    """Return the first country code whose identity-number checksum ``value`` passes, or None."""
    found = national_ids(value, integer=integer)
    return found[0] if found else None


def is_address(value):
    """Return True if ``value`` looks like a street and house number."""
    return bool(_ADDRESS.match(value.strip()))


# --- masking ------------------------------------------------------------------


def mask(value, kind):
    """Return ``value`` masked for showing in a finding (never the raw value).

    Examples
    --------
    >>> mask("jan.jansen@example.nl", "email")
    'j***@***.nl'
    >>> mask("111222333", "national_id")
    '*****2333'
    """
    v = str(value).strip()
    if kind == "email":
        local, _, domain = v.partition("@")
        return f"{local[:1]}***@***.{domain.rsplit('.', 1)[-1]}"
    if kind == "phone":
        digits = re.sub(r"\D", "", v)
        return ("+" if v.startswith("+") else "") + "*" * (len(digits) - 2) + digits[-2:]
    if kind == "iban":
        c = _compact(v)
        return c[:2] + "*" * (len(c) - 6) + c[-4:]
    if kind.startswith("national_id"):
        c = _compact(v)
        return "*" * (len(c) - 4) + c[-4:]
    if kind == "date_of_birth":
        m = re.search(r"(19|20)\d\d", v)
        return f"{m.group(0) if m else '****'}-**-**"
    if kind == "address":
        return re.sub(r"\d", "#", re.sub(r"(\w)\w+", r"\1***", v))
    return f"(text of {len(v)} characters)"


# --- columns ------------------------------------------------------------------


def _role(roles, column):
    r = (roles or {}).get(column)
    if isinstance(r, dict):
        return r.get("role")
    return r


def _hinted(kind, name):
    return bool(re.search(_HINTS[kind], str(name), re.IGNORECASE))


def _finding(column, kind, matched, sample, n_present, message):
    share = len(matched) / len(sample)
    return {
        "column": column,
        "kind": kind,
        "count": round(share * n_present),
        "share": round(share, 4),
        "examples": [mask(v, kind) for v in matched[:3]],
        "blocking": True,
        "resolution": None,
        "message": message,
    }


def _parse_dates(series):
    """Parse a sample of text dates with the format that fits most; None if it is not dates."""
    import pandas as pd

    best, best_ok = None, 0
    for fmt in _DATE_FORMATS:
        parsed = pd.to_datetime(series, format=fmt, errors="coerce")
        ok = int(parsed.notna().sum())
        if ok > best_ok:
            best, best_ok = parsed, ok
    if best is None or best_ok < 0.8 * len(series):
        return None
    return best.dropna()


def _date_of_birth(column, values, sample_text, n_present):
    """Flag a date column whose name says birth, or whose range spans generations."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values
    elif sample_text is not None:
        dates = _parse_dates(pd.Series(sample_text))
    else:
        return None
    if dates is None or len(dates) == 0:
        return None
    years = dates.dt.year
    today = _dt.date.today().year
    hinted = _hinted("date_of_birth", column)
    spans = years.max() - years.min() >= 25 and years.min() >= 1900 and years.max() <= today
    if not (hinted or spans):
        return None
    shown = [d.strftime("%Y-%m-%d") for d in dates.head(3)]
    why = "its name says birth" if hinted else "its dates span generations"
    found = _finding(
        column, "date_of_birth", shown, shown, n_present,
        f"'{column}' looks like dates of birth ({why}).",
    )  # fmt: skip
    share = len(dates) / (len(values) if sample_text is None else len(sample_text))
    found["share"], found["count"] = round(share, 4), round(share * n_present)
    return found


def _scan_column(column, series, *, sample_size, random_state):
    import pandas as pd

    present = series.dropna()
    n_present = len(present)
    if n_present == 0:
        return []
    sample = present
    if n_present > sample_size:
        sample = present.sample(sample_size, random_state=random_state)
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_float_dtype(series):
        return []  # amounts and yes/no answers are not identifiers
    if pd.api.types.is_datetime64_any_dtype(series):
        found = _date_of_birth(column, sample, None, n_present)
        return [found] if found else []
    integer = pd.api.types.is_integer_dtype(series)
    texts = [str(v).strip() for v in sample.tolist()]
    texts = [t for t in texts if t]
    if not texts:
        return []

    def need(kind):
        return HINTED_SHARE if _hinted(kind, column) else SHARE

    findings = []
    if not integer:
        for kind, test, what in (
            ("email", is_email, "e-mail addresses"),
            ("iban", is_iban, "bank account numbers (IBAN)"),
            ("phone", is_phone, "phone numbers"),
        ):
            matched = [t for t in texts if test(t)]
            if matched and len(matched) / len(texts) >= need(kind):
                findings.append(
                    _finding(column, kind, matched, texts, n_present, f"'{column}' holds {what}.")
                )
    by_country = {}
    for t in texts:
        for cc in national_ids(t, integer=integer):
            by_country.setdefault(cc, []).append(t)
    if by_country:
        cc, matched = max(by_country.items(), key=lambda kv: len(kv[1]))
        if len(matched) / len(texts) >= need("national_id"):
            kind = f"national_id:{cc}"
            findings.append(
                _finding(
                    column,
                    kind,
                    matched,
                    texts,
                    n_present,
                    f"'{column}' holds national identity numbers ({cc.upper()}) with valid "
                    "check digits.",
                )  # fmt: skip
            )
    if integer or findings:
        return findings
    dob = _date_of_birth(column, sample, texts, n_present)
    if dob:
        return [dob]
    matched = [t for t in texts if is_address(t)]
    if matched and len(matched) / len(texts) >= need("address"):
        findings.append(
            _finding(column, "address", matched, texts, n_present, f"'{column}' holds addresses.")
        )
        return findings
    lengths = [len(t) for t in texts]
    mean_len = sum(lengths) / len(lengths)
    words = sum(len(t.split()) for t in texts) / len(texts)
    distinct = len(set(texts)) / len(texts)
    if (mean_len >= 40 and words >= 6 and distinct >= 0.5) or (
        _hinted("free_text", column) and mean_len >= 20 and distinct >= 0.5
    ):
        f = _finding(
            column, "free_text", texts, texts, n_present,
            f"'{column}' holds free text, which often names people or their circumstances.",
        )  # fmt: skip
        f["examples"] = [mask(t, "free_text") for t in texts[:3]]
        findings.append(f)
    return findings


def quasi_identifier_columns(df, roles=None):
    """Return the columns that can single people out in combination.

    Protected attributes, and other columns (not the target, the score, an
    identifier or an excluded column) whose name says postcode, birth year,
    age, sex, nationality, place and the like.
    """
    cols = []
    for c in df.columns:
        role = _role(roles, c)
        if role == "protected":
            cols.append(c)
        elif role in (None, "feature", "legitimate", "date") and re.search(
            _QI_HINTS, str(c), re.IGNORECASE
        ):
            cols.append(c)
    return cols


def small_groups(df, columns, k):
    """Return ``(rows in groups smaller than k, number of such groups, smallest size)``."""
    sizes = df.groupby(list(columns), dropna=False, observed=True, sort=False).size()
    small = sizes[sizes < k]
    return int(small.sum()), int(len(small)), int(small.min()) if len(small) else 0


def quasi_identifier_finding(df, columns, k):
    """Return the quasi-identifier finding of ``columns``, or None if every group has k rows."""
    if len(columns) < 2:
        return None
    rows, groups, smallest = small_groups(df, columns, k)
    if not rows:
        return None
    label = " + ".join(map(str, columns))
    finest = max(columns, key=lambda c: df[c].nunique(dropna=False))
    return {
        "column": label,
        "columns": list(columns),
        "kind": "quasi_identifiers",
        "count": rows,
        "share": round(rows / len(df), 4),
        "examples": [f"{groups} groups smaller than {k} (smallest: {smallest})"],
        "blocking": True,
        "resolution": None,
        "k": k,
        "message": (
            f"{rows} rows are in groups of fewer than {k} people sharing the same {label}: "
            f"someone who knows these facts about a person could find their row. Coarsen "
            f"'{finest}' (it has the most different values), drop one of these columns, or "
            "confirm with a reason."
        ),
    }


def scan_frame(df, *, roles=None, k=5, sample_size=SAMPLE, random_state=0):
    """Scan a table for personal data.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict, optional
        Column roles (``{"col": {"role": "protected", "kind": "sex"}}`` or
        ``{"col": "feature"}``); protected attributes enter the
        quasi-identifier check.
    k : int
        Smallest group size allowed for quasi-identifier combinations.
    sample_size : int
        Values sampled per column for the value detectors.
    random_state : int
        Seed of the sample.

    Returns
    -------
    list of dict
        Findings: ``column``, ``kind``, ``count``, ``share``, ``examples``
        (masked), ``blocking``, ``resolution`` (None), ``message``.
    """
    findings = []
    for column in df.columns:
        findings.extend(
            _scan_column(column, df[column], sample_size=sample_size, random_state=random_state)
        )
    direct = {f["column"] for f in findings}
    qi = [c for c in quasi_identifier_columns(df, roles) if c not in direct]
    found = quasi_identifier_finding(df, qi, k)
    if found:
        findings.append(found)
    return findings


_TEXT_TOKEN = re.compile(r"(?<![\w@])[A-Za-z0-9][A-Za-z0-9.\-]*[A-Za-z0-9](?![\w@])")
_TEXT_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
#: A phone number stands alone: not glued to letters or digits on either side
#: (the start of a hex digest, ``"0612345678ab…"``, is no phone number).
_TEXT_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9][\d \-()/.]{6,18}\d(?!\w)"
    r"|(?<![\w.\-])0[1-9][\d \-()/]{6,14}\d(?!\w)"
)
_TEXT_DIGIT_RUN = re.compile(r"(?<![\w.\-])\d{2,4}(?:[ .\-]\d{1,4}){1,6}(?![\w])")
#: A number with one decimal point (a rate in a results file, ``0.3912439614``): its
#: digits are not an identity number, however their check digit falls.
_TEXT_DECIMAL = re.compile(r"\d{1,3}\.\d+")


def scan_text(text):
    """Find direct identifiers in free text (an exported file, a report).

    Looks for e-mail addresses, valid phone numbers, IBANs and national
    identity numbers with valid check digits.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of dict
        One per hit: ``kind``, ``count`` (1), ``examples`` (masked),
        ``position`` (character offset), ``blocking`` (True).
    """
    hits = []
    claimed = []  # spans already reported, so one number is reported once

    def free(m):
        return not any(a < m.end() and m.start() < b for a, b in claimed)

    def hit(kind, m):
        claimed.append(m.span())
        hits.append(
            {"kind": kind, "count": 1, "examples": [mask(m.group(0), kind)],
             "position": m.start(), "blocking": True}
        )  # fmt: skip

    for m in _EMAIL.finditer(text):
        hit("email", m)
    for m in _TEXT_IBAN.finditer(text):
        if free(m) and is_iban(m.group(0)):
            hit("iban", m)
    for rx in (_TEXT_TOKEN, _TEXT_DIGIT_RUN):
        for m in rx.finditer(text):
            token = m.group(0)
            if len(token) < 8 or len(token) > 25 or not free(m) or _DATEISH.fullmatch(token):
                continue
            if _TEXT_DECIMAL.fullmatch(token):
                continue
            cc = national_id(token)
            if cc:
                hit(f"national_id:{cc}", m)
    for m in _TEXT_PHONE.finditer(text):
        if free(m) and is_phone(m.group(0).strip()):
            hit("phone", m)
    return sorted(hits, key=lambda h: h["position"])
