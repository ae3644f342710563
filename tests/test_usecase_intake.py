"""Use-case intake (library, no hub): reading uploads, bad input, treatments, lifecycle."""

from __future__ import annotations

import json
import random
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from ai4scale.datasets._cards import render_html, render_markdown, validate_card
from ai4scale.hub.usecase._intake import Intake
from ai4scale.hub.usecase._read import IntakeError, detect
from ai4scale.hub.usecase._treat import coarsen, pseudonymise
from stdnum.nl import bsn

KEY = b"service-held-key-0123456789abcdef"


def make_bsn(rng):
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10 and any(digits):
            return "".join(map(str, digits)) + str(check)


def admin_rows(n=300, seed=0):
    """Rows as a municipality exports them: names with é, ß and ł, amounts, a decision."""
    rng = random.Random(seed)
    names = ["José Martínez", "Jürgen Groß", "Hélène Dupré", "Zoë de Vries"]
    return [
        {
            "naam": rng.choice(names),
            "bedrag": f"{rng.randrange(0, 5000)},{rng.randrange(0, 100):02d}",
            "postcode": f"{rng.randrange(1000, 9999)} {rng.choice(['AB', 'ZX'])}",
            "geslacht": rng.choice(["M", "V"]),
            "besluit": rng.choice(["toegekend", "afgewezen"]),
        }
        for _ in range(n)
    ]


def write_csv(path, rows, *, sep=";", encoding="cp1252", bom=False):
    header = sep.join(rows[0])
    lines = [header] + [sep.join(r.values()) for r in rows]
    data = ("\r\n".join(lines) + "\r\n").encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def png_bytes():
    def chunk(kind, body):
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --- reading as administrations export ----------------------------------------


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [("cp1252", False, "cp1252"), ("utf-8", True, "utf-8-sig"), ("utf-8", False, "utf-8")],
)
def test_semicolon_decimal_comma_csv_in_each_encoding(tmp_path, encoding, bom, expected):
    rows = admin_rows()
    path = write_csv(tmp_path / "aanvragen.csv", rows, encoding=encoding, bom=bom)
    found, df = detect(path, "aanvragen.csv", frame=True)
    assert (found.format, found.separator, found.decimal, found.encoding) == (
        "csv",
        ";",
        ",",
        expected,
    )
    assert found.rows == len(rows) and found.columns == list(rows[0])
    assert found.dtypes["bedrag"] == "number" and found.dtypes["naam"] == "text"
    assert len(found.preview) == 5 and found.preview[0][0] == rows[0]["naam"]
    assert set(df["naam"]) <= {"José Martínez", "Jürgen Groß", "Hélène Dupré", "Zoë de Vries"}
    first = rows[0]["bedrag"].replace(",", ".")
    assert df["bedrag"].iloc[0] == pytest.approx(float(first))
    json.dumps(found.to_dict())


def test_central_european_windows_encoding_keeps_polish_letters(tmp_path):
    rows = [
        {"naam": n, "bedrag": "12,50", "plaats": p, "besluit": b}
        for n, p, b in [
            ("Małgorzata Łęcka", "Łódź", "tak"),
            ("Paweł Żak", "Gdańsk", "nie"),
            ("Zofia Wąs", "Kraków", "tak"),
        ]
    ]
    path = write_csv(tmp_path / "wnioski.csv", rows, encoding="cp1250")
    found, df = detect(path, "wnioski.csv", frame=True)
    assert found.encoding == "cp1250"
    assert list(df["naam"]) == [r["naam"] for r in rows]


@pytest.mark.parametrize("sep", [",", "\t", ";"])
def test_separators(tmp_path, sep):
    rows = [
        {"a": str(i), "b": f"x{i}", "c": f"{i}.5" if sep == "," else f"{i},5"} for i in range(20)
    ]
    found, df = detect(write_csv(tmp_path / "t.csv", rows, sep=sep), "t.csv", frame=True)
    assert found.separator == sep
    assert df["c"].iloc[3] == pytest.approx(3.5)


def test_quoted_values_with_separators_and_line_breaks(tmp_path):
    text = (
        'naam;toelichting;bedrag\r\nJosé;"te laat; zie brief\r\nvan 3 mei";12,5\r\nZoë;ok;1,25\r\n'
    )
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("cp1252"))
    found, df = detect(path, "t.csv", frame=True)
    assert found.rows == 2 and df["toelichting"][0] == "te laat; zie brief\r\nvan 3 mei"
    assert list(df["bedrag"]) == [12.5, 1.25]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_file_ending_in_an_accented_letter_without_newline(tmp_path, encoding):
    path = tmp_path / "t.csv"
    path.write_bytes("bedrag;naam\r\n1,5;José\r\n2;René".encode(encoding))
    found, df = detect(path, "t.csv", frame=True)
    assert found.encoding == encoding and list(df["naam"]) == ["José", "René"]


def test_codes_with_leading_zeros_stay_text(tmp_path):
    rows = [{"postcode": f"0{1000 + i}", "bsn": f"0{i:08d}", "n": str(i)} for i in range(20)]
    _, df = detect(write_csv(tmp_path / "t.csv", rows), "t.csv", frame=True)
    assert df["postcode"].iloc[0] == "01000" and df["bsn"].iloc[1] == "000000001"
    assert str(df["n"].dtype) == "int64"


def test_xlsx_round_trip(tmp_path):
    src = pd.DataFrame(
        {
            "naam": ["Zoë", "Jürgen", "Hélène"],
            "bedrag": [12.5, 3.75, 1234.5],
            "besluit": [1, 0, 1],
            "geboortedatum": pd.to_datetime(["1950-01-02", "1984-05-06", "2001-07-08"]),
        }
    )
    path = tmp_path / "aanvragen.xlsx"
    src.to_excel(path, index=False, engine="openpyxl")
    found, df = detect(path, "aanvragen.xlsx", frame=True)
    assert found.format == "xlsx" and found.rows == 3 and found.encoding is None
    assert found.dtypes["geboortedatum"] == "date" and found.dtypes["besluit"] == "integer"
    pd.testing.assert_frame_equal(df, src, check_dtype=False)


def test_parquet_round_trip_and_name_is_only_a_hint(tmp_path):
    src = pd.DataFrame({"naam": ["Zoë", "Łukasz"], "bedrag": [12.5, 3.75], "besluit": [1, 0]})
    path = tmp_path / "export.csv"  # wrongly named: the content decides
    src.to_parquet(path, index=False)
    found, df = detect(path, "export.csv", frame=True)
    assert found.format == "parquet"
    pd.testing.assert_frame_equal(df, src, check_dtype=False)


# --- bad input ----------------------------------------------------------------


BAD = {
    "png renamed csv": (png_bytes(), "not a table: the file is a PNG image"),
    "pdf renamed csv": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF"),
    "binary": (bytes(range(256)) * 4, "binary data"),
    "empty": (b"", "empty"),
    "blank lines": (b"\r\n\r\n  \r\n", "empty"),
    "header only": (b"naam;bedrag;besluit\r\n", "header but no data rows"),
    "mixed encodings": (
        "naam;bedrag\r\nJosé;1\r\n".encode() + "Zoë;2\r\n".encode("latin-1"),
        "mixes text encodings",
    ),
    "bom then latin-1": (
        b"\xef\xbb\xbf" + "naam;bedrag\r\nJosé;1\r\n".encode() + "Zoë;2\r\n".encode("latin-1"),
        "mixes text encodings",
    ),
    "dotdot slash": (b"../naam;bedrag\r\na;1\r\n", "'/', '\\' or '..'"),
    "slash": (b"naam/achternaam;bedrag\r\na;1\r\n", "'/', '\\' or '..'"),
    "backslash": (b"naam\\x;bedrag\r\na;1\r\n", "'/', '\\' or '..'"),
    "control char": (b"naam\x07;bedrag\r\na;1\r\n", "control character"),
    "duplicate": (b"naam;bedrag;naam\r\na;1;b\r\n", "appears twice"),
    "unnamed column": (b"naam;;besluit\r\na;1;b\r\n", "has no name"),
    "one column of prose": (b"Dit is een brief.\r\nMet vriendelijke groet\r\n", "not a table"),
    "ragged rows": (b"a;b;c\r\n1;2;3\r\n1;2\r\n4;5;6\r\n7;8;9\r\n1;2;3;4\r\n", "not a table"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_refused_with_a_plain_error_and_nothing_stored(tmp_path, case):
    data, words = BAD[case]
    src = tmp_path / "upload.csv"
    src.write_bytes(data)
    with pytest.raises(IntakeError, match=None) as err:
        detect(src, "upload.csv")
    assert isinstance(err.value, ValueError)
    assert words in str(err.value)
    folder = tmp_path / "ds"
    with pytest.raises(IntakeError):
        Intake(folder).receive(src, "upload.csv")
    assert [p.name for p in folder.iterdir()] == []


def test_bad_column_names_in_xlsx_and_parquet(tmp_path):
    df = pd.DataFrame([[1, 2]], columns=["ok", "../etc"])
    df.to_excel(tmp_path / "a.xlsx", index=False)
    with pytest.raises(IntakeError, match="'/'"):
        detect(tmp_path / "a.xlsx", "a.xlsx")
    df.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(IntakeError, match="'/'"):
        detect(tmp_path / "a.parquet", "a.parquet")
    import openpyxl

    book = openpyxl.Workbook()
    for row in (["naam", "bedrag", "naam"], ["a", 1, "b"]):
        book.active.append(row)
    book.save(tmp_path / "dup.xlsx")
    with pytest.raises(IntakeError, match="appears twice"):
        detect(tmp_path / "dup.xlsx", "dup.xlsx")
    pd.DataFrame({"a": [], "b": []}).to_parquet(tmp_path / "e.parquet")
    with pytest.raises(IntakeError, match="no data rows"):
        detect(tmp_path / "e.parquet", "e.parquet")


def test_zip_that_is_not_a_workbook_is_refused(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "x.xlsx", "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(IntakeError, match="zip archive"):
        detect(tmp_path / "x.xlsx", "x.xlsx")


def test_a_refused_upload_leaves_the_previous_table_whole(tmp_path):
    folder = tmp_path / "ds"
    intake = Intake(folder)
    intake.receive(write_csv(tmp_path / "good.csv", admin_rows()), "good.csv")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    bad = tmp_path / "bad.csv"
    bad.write_bytes(png_bytes())
    with pytest.raises(IntakeError):
        intake.receive(bad, "bad.csv")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    with pytest.raises(IntakeError, match="cannot be read as utf-8"):
        intake.confirm(encoding="utf-8")  # the file is cp1252 with é and ß
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


# --- treatments ---------------------------------------------------------------


def test_pseudonymise_is_keyed_stable_and_keeps_missing_values():
    df = pd.DataFrame({"bsn": ["111222333", "111 22 2333", None, "123456782"], "x": [1, 2, 3, 4]})
    out, note = pseudonymise(df, "bsn", KEY, kind="national_id:nl")
    values = list(out["bsn"])
    assert values[0] == values[1] and values[0] != values[3] and pd.isna(values[2])
    assert all(len(v) == 32 for v in (values[0], values[3]))
    other, _ = pseudonymise(df, "bsn", b"another-key-of-the-service-xyz", kind="national_id:nl")
    assert other["bsn"][0] != values[0]
    assert KEY.decode() not in note and "111222333" not in "".join(map(str, values))
    with pytest.raises(IntakeError, match="key"):
        pseudonymise(df, "bsn", b"short")


@pytest.mark.parametrize(
    ("values", "country", "expected"),
    [
        (["1234 AB", "9876ZX"], None, ["12", "98"]),  # NL
        (["80331", "01067"], None, ["80", "01"]),  # DE
        (["75011", "20167", "20200", "97110"], "FR", ["75", "2A", "2B", "971"]),  # FR departments
        (["00-950", "31-001"], None, ["00", "31"]),  # PL
        (["12-03-1980", "01-01-2001"], None, [1980, 2001]),  # dates to year
    ],
)
def test_coarsen(values, country, expected):
    out, _ = coarsen(pd.DataFrame({"c": values}), "c", country=country)
    assert list(out["c"]) == expected


def test_coarsen_numbers_and_refusal():
    df = pd.DataFrame(
        {"geboortejaar": [1971, 1984], "leeftijd": [34, 71], "naam": ["a", "b"], "bedrag": [1e6, 2]}
    )
    assert list(coarsen(df, "geboortejaar")[0]["geboortejaar"]) == ["1970-1974", "1980-1984"]
    assert list(coarsen(df, "leeftijd")[0]["leeftijd"]) == ["30-39", "70-79"]
    dated = pd.DataFrame({"d": pd.to_datetime(["1980-02-03", "1999-12-31"])})
    assert list(coarsen(dated, "d")[0]["d"]) == [1980, 1999]
    for column in ("naam", "bedrag"):
        with pytest.raises(IntakeError, match="drop it, pseudonymise it or confirm it"):
            coarsen(df, column)


# --- the lifecycle ------------------------------------------------------------


def case_table(n=600, seed=1):
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "bsn": [make_bsn(rng) for _ in range(n)],
            "email": [f"burger{i}@example.nl" for i in range(n)],
            "geslacht": nrng.choice(["M", "V"], n),
            "leeftijd": nrng.integers(18, 90, n),
            "regio": nrng.choice(["noord", "zuid", "oost", "west"], n),
            "bedrag": np.round(nrng.normal(800, 100, n), 2),
            "uitkomst": nrng.choice(["toegekend", "afgewezen"], n),
            "drie": nrng.choice(["ja", "nee", "misschien"], n),
            "land": "NL",
        }
    )


def upload(tmp_path, df, name="zaken.csv"):
    path = tmp_path / name
    df.to_csv(path, sep=";", decimal=",", index=False, encoding="cp1252")
    return path


def folder_bytes(folder):
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


def test_full_lifecycle(tmp_path):
    df = case_table()
    folder = tmp_path / "usecases" / "u1" / "datasets" / "zaken"
    intake = Intake(folder)
    assert intake.state() == {"status": "empty", "ready": False, "findings": None}
    detected = intake.receive(upload(tmp_path, df), "zaken.csv")
    assert (detected["separator"], detected["decimal"], detected["rows"]) == (";", ",", len(df))
    assert intake.state()["status"] == "received"
    intake.confirm(**{k: detected[k] for k in ("encoding", "separator", "decimal")})
    assert intake.state()["status"] == "confirmed"

    with pytest.raises(IntakeError, match="declare the columns' roles first"):
        intake.scan()
    sex = {"role": "protected", "kind": "sex"}
    with pytest.raises(IntakeError, match=r"has 3 different values .*needs two") as err:
        intake.set_roles({"drie": "target", "geslacht": sex})
    assert "granted/refused" in str(err.value)
    with pytest.raises(IntakeError, match="only one value"):
        intake.set_roles(
            {"uitkomst": "target", "land": {"role": "protected", "kind": "nationality"}}
        )
    with pytest.raises(IntakeError, match="no column 'nope'"):
        intake.set_roles({"uitkomst": "target", "nope": sex})
    with pytest.raises(IntakeError, match="role of"):
        intake.set_roles({"uitkomst": "target", "geslacht": "boss"})
    with pytest.raises(IntakeError, match="protected attribute"):
        intake.set_roles({"uitkomst": "target"})
    with pytest.raises(IntakeError, match="has no value 'granted'; its values are afgewezen"):
        intake.set_roles({"uitkomst": {"role": "target", "positive": "granted"}, "geslacht": sex})
    with pytest.raises(IntakeError, match="threshold of the score 'bedrag' must be a number"):
        intake.set_roles(
            {"uitkomst": "target", "geslacht": sex, "bedrag": {"role": "score", "threshold": "x"}}
        )
    roles = intake.set_roles(
        {
            "uitkomst": {"role": "target", "positive": "afgewezen"},
            "geslacht": sex,
            "leeftijd": {"role": "protected", "kind": "age"},
            "regio": "legitimate",
            "drie": "excluded",
        }
    )
    assert roles["bedrag"] == {"role": "feature"} and roles["leeftijd"]["kind"] == "age"
    assert roles["uitkomst"] == {"role": "target", "positive": "afgewezen"}
    assert intake.state()["detected"]["preview"] == []  # raw rows dropped once roles are set

    findings = intake.scan()
    found = {(f["column"], f["kind"]) for f in findings}
    assert ("bsn", "national_id:nl") in found and ("email", "email") in found
    qi = [f for f in findings if f["kind"] == "quasi_identifiers"]
    assert qi and set(qi[0]["columns"]) >= {"geslacht", "leeftijd", "regio"}
    state_text = json.dumps(intake.state())
    for raw in list(df["bsn"][:50]) + list(df["email"][:50]):
        assert raw not in state_text

    with pytest.raises(IntakeError, match=r"still blocks the table: .*bsn \(national_id:nl\)"):
        intake.finish()
    assert not (folder / "table.parquet").exists()

    intake.resolve("bsn", "pseudonymise", key=KEY)
    with pytest.raises(IntakeError, match="cannot be made coarser"):
        intake.resolve("email", "coarsen")
    with pytest.raises(IntakeError, match="reason"):
        intake.resolve("email", "confirm", reason=" ")
    intake.resolve("email", "drop")
    with pytest.raises(IntakeError, match="already resolved"):
        intake.resolve("email", "drop")
    with pytest.raises(IntakeError, match="say which column"):
        intake.resolve(qi[0]["column"], "drop")
    after = intake.resolve("leeftijd", "coarsen")  # ages to ten-year bands, then re-checked
    qi_now = [f for f in after if f["kind"] == "quasi_identifiers"][0]
    if not qi_now["resolution"]:
        reason = "Ten-year age bands and four regions are needed; approved by the DPO on 3 Dec."
        intake.resolve(qi_now["column"], "confirm", reason=reason)
    assert intake.blocking() == []

    path = intake.finish()
    assert path == folder / "table.parquet"
    table = pd.read_parquet(path)
    assert "email" not in table.columns
    assert not set(df["bsn"]) & set(table["bsn"])
    assert set(table["leeftijd"]) <= {f"{d}-{d + 9}" for d in range(10, 100, 10)}
    state = intake.state()
    assert state["status"] == "ready" and state["ready"] and state["blocking"] == []
    json.dumps(state)
    # The key never lands in a file of the folder, and neither do raw identifiers.
    everything = folder_bytes(folder)
    assert KEY not in everything
    for raw in df["email"][:20]:
        assert raw.encode() not in b"".join(
            p.read_bytes() for p in folder.iterdir() if not p.name.startswith("upload")
        )

    card = intake.datasheet(name="zaken")
    validate_card(card)
    assert card["kind"] == "usecase" and card["id"] == "zaken"
    assert card["personal_data_removed"] == ["email"]
    assert card["shape"] == {"rows": len(df), "columns": len(table.columns)}
    rates = card["statistics"]["base_rates"]["geslacht"]
    assert set(rates) == {"M", "V"} and sum(r["rows"] for r in rates.values()) == len(df)
    positive = card["target"]["positive"]
    expect = (df[df["geslacht"] == "M"]["uitkomst"] == positive).mean()
    assert rates["M"]["rate"] == pytest.approx(expect, abs=1e-4)
    resolutions = {
        (f["column"], f["kind"]): f["resolution"]["action"]
        for f in card["personal_data"]["findings"]
    }
    assert resolutions[("bsn", "national_id:nl")] == "pseudonymise"
    assert resolutions[("email", "email")] == "drop"
    confirmed = [
        f for f in card["personal_data"]["findings"] if f["resolution"]["action"] == "confirm"
    ]
    for f in confirmed:
        assert f["resolution"]["reason"] in render_markdown(card)
    assert "Personal data found" in render_html(card)
    assert "burger1@example.nl" not in json.dumps(card)


def test_small_groups_and_missingness_in_the_datasheet(tmp_path):
    df = case_table(n=300, seed=2)[["geslacht", "bedrag", "uitkomst"]].copy()
    df.loc[:9, "geslacht"] = "X"  # a group of ten people
    df.loc[:4, "bedrag"] = np.nan
    intake = Intake(tmp_path / "ds")
    intake.receive(upload(tmp_path, df), "t.csv")
    intake.set_roles({"uitkomst": "target", "geslacht": {"role": "protected", "kind": "sex"}})
    findings = intake.scan()
    assert findings == []  # one quasi-identifier alone is no combination
    intake.finish()
    card = intake.datasheet()
    validate_card(card)
    assert {"column": "geslacht", "group": "X", "rows": 10} in card["statistics"]["small_groups"]
    assert card["statistics"]["missingness"]["by_column"] == {"bedrag": 5}
    assert "5" in card["missing_values"] and "X" in " ".join(card["caveats"])


def test_existing_cards_still_validate_and_usecase_cards_are_checked(tmp_path):
    from ai4scale.datasets._cards import card_ids, load_card

    for name in card_ids():
        load_card(name)
    intake = Intake(tmp_path / "ds")
    intake.receive(upload(tmp_path, case_table(n=100)[["geslacht", "bedrag", "uitkomst"]]), "t.csv")
    intake.set_roles({"uitkomst": "target", "geslacht": {"role": "protected", "kind": "sex"}})
    intake.scan()
    card = intake.datasheet()
    validate_card(card)
    bad = json.loads(json.dumps(card))
    bad["personal_data"]["findings"] = [
        {
            "column": "x",
            "kind": "email",
            "count": 1,
            "share": 1.0,
            "examples": [],
            "blocking": True,
            "resolution": {"action": "confirm"},  # no reason
        }
    ]
    from ai4scale.datasets import CardError

    with pytest.raises(CardError, match="reason"):
        validate_card(bad)


def test_confirm_with_a_corrected_format_starts_over(tmp_path):
    df = case_table(n=50)[["geslacht", "bedrag", "uitkomst"]]
    intake = Intake(tmp_path / "ds")
    intake.receive(upload(tmp_path, df), "t.csv")
    intake.set_roles({"uitkomst": "target", "geslacht": {"role": "protected", "kind": "sex"}})
    detected = intake.confirm(decimal=".")
    assert detected["decimal"] == "." and detected["dtypes"]["bedrag"] == "text"
    assert intake.state()["roles"] is None and intake.state()["status"] == "confirmed"


def test_interrupted_step_leaves_previous_state(tmp_path):
    intake = Intake(tmp_path / "ds")
    intake.receive(upload(tmp_path, case_table(n=80)), "t.csv")
    intake.set_roles({"uitkomst": "target", "geslacht": {"role": "protected", "kind": "sex"}})
    intake.scan()
    before = {p.name: p.read_bytes() for p in (tmp_path / "ds").iterdir()}
    with pytest.raises(IntakeError, match="cannot be made coarser|neither"):
        intake.resolve("email", "coarsen")
    with pytest.raises(IntakeError, match="key"):
        intake.resolve("bsn", "pseudonymise", key=None)
    assert {p.name: p.read_bytes() for p in (tmp_path / "ds").iterdir()} == before
    assert bsn.is_valid(pd.read_parquet(tmp_path / "ds" / intake._load()["work"])["bsn"][0])
