"""Read an uploaded table: detect its format, then read it whole, fast.

A use-case table arrives as CSV the way European administrations export it
(``;``, ``,`` or tab separators, decimal commas, latin-1/cp1252 or UTF-8 with
or without a byte-order mark), as Excel ``.xlsx`` or as Parquet.
:func:`detect` guesses the format from the content (the file name is only a
hint), reads the whole table and returns a :class:`Detected` for the team to
confirm; :func:`read_table` reads it again with the confirmed options.

CSV is parsed by pyarrow's multi-threaded reader with every column as text
(so that postcodes and identity numbers keep their leading zeros); columns
whose every value is a number in the confirmed decimal style are then cast
by pyarrow, never by a Python loop over rows.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ai4scale.hub._errors import UserError

__all__ = ["Detected", "IntakeError", "check_column_names", "detect", "read_table"]

#: CSV separators tried, in order of preference on a tie.
SEPARATORS = (";", ",", "\t", "|")
#: Values read as missing.
NULL_VALUES = ["", "NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "#N/A", "-"]
PREVIEW_ROWS = 5
_SAMPLE_BYTES = 256 * 1024
_CHUNK = 16 * 1024 * 1024
_HIGH_BYTES = bytes(range(128, 256))
# A complete UTF-8 sequence of two to four bytes.
_UTF8_SEQ = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Word (.doc) file: save it as .xlsx or CSV",
    b"\x1f\x8b": "a compressed (gzip) file: unpack it first",
    b"7z\xbc\xaf": "a compressed (7-Zip) file: unpack it first",
    b"Rar!": "a compressed (RAR) file: unpack it first",
}


class IntakeError(UserError, ValueError):
    """A use-case file or step was refused; the message says why in plain words."""


@dataclass
class Detected:
    """What :func:`detect` found, for the team to confirm.

    Attributes
    ----------
    format : str
        ``"csv"``, ``"xlsx"`` or ``"parquet"``.
    encoding, separator, decimal : str or None
        CSV only: text encoding (``"utf-8"``, ``"utf-8-sig"``, ``"cp1252"``,
        ``"latin-1"``), column separator and decimal mark.
    rows : int
        Number of data rows (the header not counted).
    columns : list of str
        Column names.
    dtypes : dict
        Column name -> ``"number"``, ``"integer"``, ``"text"``, ``"date"`` or
        ``"yes/no"``.
    preview : list of list
        The first rows, values as text.
    """

    format: str
    encoding: str | None
    separator: str | None
    decimal: str | None
    rows: int
    columns: list[str]
    dtypes: dict = field(default_factory=dict)
    preview: list = field(default_factory=list)

    def to_dict(self):
        """Return a JSON-able dict."""
        return asdict(self)


def check_column_names(names):
    r"""Refuse empty, duplicate or unsafe column names.

    Raises
    ------
    IntakeError
        A name is empty, repeated, contains ``/``, ``\\``, ``..`` or a control
        character.
    """
    seen = set()
    for i, name in enumerate(names, start=1):
        if not isinstance(name, str) or not name.strip():
            raise IntakeError(f"column {i} has no name: give every column a name in the header")
        if "/" in name or "\\" in name or ".." in name:
            raise IntakeError(
                f"column name {name!r} contains '/', '\\' or '..': rename the column "
                "(letters, digits, spaces, '-' and '_' are fine)"
            )
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
            raise IntakeError(
                f"column {i} ({name.encode('unicode_escape').decode()!r}) contains an invisible "
                "control character: rename the column"
            )
        if name in seen:
            raise IntakeError(
                f"the column name {name!r} appears twice: give each column its own name"
            )
        seen.add(name)


def _sniff_kind(path, filename):
    with open(path, "rb") as f:
        head = f.read(8192)
    if not head:
        raise IntakeError("the file is empty")
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise IntakeError(f"this is not a table: the file is {what}")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile as e:
            raise IntakeError("this is not a table: the file is a damaged zip archive") from e
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "word/document.xml" in names:
            raise IntakeError("this is not a table: the file is a Word document")
        raise IntakeError("this is not a table: the file is a zip archive, not an Excel workbook")
    if head.startswith(b"PAR1"):
        return "parquet"
    if b"\x00" in head:
        ext = Path(filename or "").suffix.lower()
        raise IntakeError(
            f"this is not a table: the file{' ' + ext if ext else ''} holds binary data, not text"
        )
    return "csv"


def _detect_encoding(path):
    """Return the encoding of a CSV file; refuse a file that mixes UTF-8 and latin-1."""
    with open(path, "rb") as f:
        first = f.read(4)
        if first.startswith(codecs.BOM_UTF8):
            bom = True
        elif first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        else:
            bom = False
        f.seek(0)
        high = valid = 0
        carry = b""
        while chunk := f.read(_CHUNK):
            chunk = carry + chunk
            # Keep an incomplete trailing sequence for the next chunk.
            cut = len(chunk)
            for back in range(1, 4):
                if cut - back >= 0 and chunk[cut - back] >= 0xC0:
                    cut -= back
                    break
            chunk, carry = chunk[:cut], chunk[cut:]
            n_high = len(chunk) - len(chunk.translate(None, _HIGH_BYTES))
            if n_high:
                high += n_high
                valid += sum(len(m) for m in _UTF8_SEQ.findall(chunk))
        if carry:  # the file's last bytes: a complete sequence, or a stray byte
            high += len(carry) - len(carry.translate(None, _HIGH_BYTES))
            valid += sum(len(m) for m in _UTF8_SEQ.findall(carry))
    if bom and valid < high:
        raise IntakeError(
            "the file mixes text encodings: it starts as UTF-8 but some lines are in another "
            "encoding (latin-1/Windows). Export it again in one encoding (UTF-8 is best)"
        )
    if bom:
        return "utf-8-sig"
    if valid == high:
        return "utf-8"
    if valid:
        raise IntakeError(
            "the file mixes text encodings: some lines are UTF-8 and others latin-1/Windows "
            "(accented letters are written two ways). Export it again in one encoding "
            "(UTF-8 is best)"
        )
    return _single_byte_encoding(path)


def _single_byte_encoding(path):
    """Choose between Windows Western (cp1252), Central European (cp1250) and latin-1.

    The one that turns most non-ASCII bytes into letters wins (``ł``, ``ą``,
    ``ż`` are letters in cp1250 but symbols in cp1252); on a tie, cp1252.
    """
    with open(path, "rb") as f:
        sample = f.read(4 * _CHUNK)
    raw = sample.translate(None, bytes(range(128)))[:1_000_000]
    best, best_score = "latin-1", -1
    for enc in ("cp1252", "cp1250"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        score = sum(ch.isalpha() for ch in text)
        if score > best_score:
            best, best_score = enc, score
    return best


def _sample_text(path, encoding):
    with open(path, "rb") as f:
        raw = f.read(_SAMPLE_BYTES)
    text = raw.decode(encoding, errors="ignore")
    lines = text.splitlines()
    if len(raw) == _SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    return [line for line in lines if line.strip()]


def _detect_separator(lines):
    best, best_score = None, None
    for sep in SEPARATORS:
        rows = list(csv.reader(lines[:200], delimiter=sep))
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        same = sum(len(r) == width for r in rows) / len(rows)
        score = (same, width)
        if best_score is None or score > best_score:
            best, best_score = sep, score
    if best is None or best_score[0] < 0.9:
        raise IntakeError(
            "this is not a table: no separator (';', ',', tab or '|') splits the lines into "
            "the same number of columns"
        )
    return best


def _detect_decimal(lines, sep):
    if sep == ",":
        return "."
    comma = dot = 0
    for row in csv.reader(lines[1:200], delimiter=sep):
        for value in row:
            v = value.strip()
            if re.fullmatch(r"[-+]?\d+,\d+", v):
                comma += 1
            elif re.fullmatch(r"[-+]?\d+\.\d+", v) and not re.fullmatch(r"\d{1,2}\.\d{1,2}", v):
                dot += 1
    return "," if comma > dot else "."


def _number_pattern(decimal):
    if decimal == ",":
        return r"^[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$"
    return r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$"


def _convert_text_columns(table, decimal):
    """Cast all-number text columns to numbers, keeping codes with leading zeros as text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for name in table.column_names:
        col = table[name]
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            columns.append(col)
            continue
        stripped = pc.utf8_trim_whitespace(col)
        present = pc.drop_null(stripped)
        if len(present) == 0:
            columns.append(pa.chunked_array([pa.nulls(len(col), pa.float64())]))
            continue
        if not pc.all(pc.match_substring_regex(present, _number_pattern(decimal))).as_py():
            low = pc.utf8_lower(present)
            if pc.all(pc.is_in(low, pa.array(["true", "false"]))).as_py():
                columns.append(pc.equal(pc.utf8_lower(stripped), "true"))
            else:
                columns.append(col)
            continue
        if pc.any(pc.match_substring_regex(present, r"^[-+]?0\d")).as_py():
            columns.append(col)  # a code with leading zeros (postcode, identity number)
            continue
        text = stripped
        if decimal == ",":
            text = pc.replace_substring(text, ".", "")
            text = pc.replace_substring(text, ",", ".")
        integer = not pc.any(pc.match_substring(present, decimal)).as_py()
        if integer and col.null_count == 0 and decimal != ",":
            columns.append(pc.cast(text, pa.int64()))
        elif integer and col.null_count == 0:
            as_float = pc.cast(text, pa.float64())
            columns.append(pc.cast(as_float, pa.int64()))
        else:
            columns.append(pc.cast(text, pa.float64()))
    return pa.table(columns, names=table.column_names)


def _read_csv(path, encoding, separator, decimal):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    lines = _sample_text(path, encoding)
    if not lines:
        raise IntakeError("the file is empty")
    header = next(csv.reader(lines[:1], delimiter=separator))
    names = [h.strip().lstrip("\ufeff") for h in header]
    check_column_names(names)
    read = pacsv.ReadOptions(
        encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
        column_names=names,
        skip_rows=1,
        block_size=8 << 20,
    )
    parse = pacsv.ParseOptions(delimiter=separator, newlines_in_values=False)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        null_values=NULL_VALUES,
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    try:
        table = pacsv.read_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid as e:
        msg = str(e)
        if "UTF8" in msg or "utf8" in msg or "decode" in msg.lower():
            raise IntakeError(
                f"the file cannot be read as {encoding}: choose another encoding"
            ) from e
        m = re.search(r"Expected (\d+) columns, got (\d+)", msg)
        if m:
            raise IntakeError(
                f"a line has {m.group(2)} values where the header has {m.group(1)} columns: "
                f"check the separator ({separator!r}) and the quotes. ({msg.splitlines()[0]})"
            ) from e
        raise IntakeError(f"the file cannot be read as a table: {msg.splitlines()[0]}") from e
    except UnicodeDecodeError as e:
        raise IntakeError(f"the file cannot be read as {encoding}: choose another encoding") from e
    return _convert_text_columns(table, decimal)


def _read_xlsx(path):
    import pandas as pd

    try:
        # header=None: pandas would rename a repeated header ("naam.1") without a word.
        raw = pd.read_excel(path, engine="openpyxl", sheet_name=0, header=None)
    except Exception as e:  # openpyxl raises many types on a damaged workbook
        raise IntakeError(f"the Excel workbook cannot be read: {e}") from e
    raw = raw.dropna(how="all").dropna(axis=1, how="all")
    if raw.empty:
        raise IntakeError("the Excel workbook's first sheet is empty")
    names = ["" if v is None or v != v else str(v).strip() for v in raw.iloc[0]]
    check_column_names(names)
    df = raw.iloc[1:].reset_index(drop=True).infer_objects()
    df.columns = names
    return df


def _read_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise IntakeError(f"the Parquet file cannot be read: {e}") from e
    check_column_names(table.column_names)
    return table


def read_table(path, fmt, *, encoding=None, separator=None, decimal=None):
    """Read the whole table at ``path`` as a pandas DataFrame.

    Parameters
    ----------
    path : path-like
        The uploaded file.
    fmt : {"csv", "xlsx", "parquet"}
        Its format.
    encoding, separator, decimal : str, optional
        CSV options (as confirmed by the team); detected when omitted.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    IntakeError
        The file cannot be read with these options, has no data rows, or has
        bad column names.
    """
    path = Path(path)
    if fmt == "csv":
        encoding = encoding or _detect_encoding(path)
        try:
            codecs.lookup(encoding)
        except LookupError as e:
            raise IntakeError(f"unknown encoding {encoding!r}") from e
        lines = _sample_text(path, encoding)
        if not lines:
            raise IntakeError("the file is empty")
        separator = separator or _detect_separator(lines)
        if separator not in SEPARATORS:
            raise IntakeError(f"separator must be one of {', '.join(map(repr, SEPARATORS))}")
        decimal = decimal or _detect_decimal(lines, separator)
        if decimal not in (",", "."):
            raise IntakeError("decimal mark must be ',' or '.'")
        if decimal == separator:
            raise IntakeError("the decimal mark cannot be the separator")
        table = _read_csv(path, encoding, separator, decimal)
    elif fmt == "xlsx":
        table = _read_xlsx(path)
    elif fmt == "parquet":
        table = _read_parquet(path)
    else:
        raise IntakeError(f"unknown format {fmt!r}: csv, xlsx or parquet")
    if len(table.columns if fmt == "xlsx" else table.column_names) < 2:
        raise IntakeError(
            "the table has only one column: check the separator, or add the other columns"
        )
    if len(table) == 0:
        raise IntakeError("the file has a header but no data rows")
    if fmt == "xlsx":
        return table
    return table.to_pandas()


def _kind(series):
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "yes/no"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    return "text"


def describe_frame(df):
    """Return ``(dtypes, preview)`` of a DataFrame for :class:`Detected`."""
    dtypes = {str(c): _kind(df[c]) for c in df.columns}
    head = df.head(PREVIEW_ROWS)
    preview = [
        ["" if v is None or v != v else str(v) for v in row] for row in head.itertuples(index=False)
    ]
    return dtypes, preview


def detect(path, filename=None, *, frame=False):
    r"""Detect the format of an uploaded table and read it.

    Parameters
    ----------
    path : path-like
        The uploaded file.
    filename : str, optional
        The name the team gave it; only a hint (the content decides).
    frame : bool
        Also return the DataFrame read, to save a second read.

    Returns
    -------
    Detected or (Detected, pandas.DataFrame)

    Raises
    ------
    IntakeError
        Empty file, not a table (an image, a PDF, a Word document, binary
        data), mixed encodings, a header without data rows, or bad column
        names (empty, repeated, with ``/``, ``\\``, ``..`` or control
        characters).

    Examples
    --------
    >>> d = detect("aanvragen.csv", "aanvragen.csv")  # doctest: +SKIP
    >>> d.separator, d.decimal, d.encoding  # doctest: +SKIP
    (';', ',', 'cp1252')
    """
    path = Path(path)
    fmt = _sniff_kind(path, filename)
    encoding = separator = decimal = None
    if fmt == "csv":
        encoding = _detect_encoding(path)
        lines = _sample_text(path, encoding)
        if not lines:
            raise IntakeError("the file is empty")
        separator = _detect_separator(lines)
        decimal = _detect_decimal(lines, separator)
    df = read_table(path, fmt, encoding=encoding, separator=separator, decimal=decimal)
    dtypes, preview = describe_frame(df)
    found = Detected(
        format=fmt,
        encoding=encoding,
        separator=separator,
        decimal=decimal,
        rows=len(df),
        columns=[str(c) for c in df.columns],
        dtypes=dtypes,
        preview=preview,
    )
    return (found, df) if frame else found
