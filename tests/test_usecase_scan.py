"""Personal-data detectors of the use-case intake: valid numbers caught, look-alikes not.

Valid identity numbers are built here by computing their check digits (each
construction is first checked with python-stdnum), and every detector is
also fed checksum-invalid look-alikes, amounts, case numbers and decision
dates that must not be flagged.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from ai4scale.hub.usecase._scan import (
    is_email,
    is_iban,
    is_phone,
    mask,
    national_id,
    scan_frame,
    scan_text,
)
from stdnum import iban
from stdnum.at import vnr
from stdnum.be import nn
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.iso7064 import mod_11_10
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel

N = 200

# --- constructions of valid numbers -------------------------------------------


def make_bsn(rng):
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10 and any(digits):
            return "".join(map(str, digits)) + str(check)


def make_nir(rng):
    body = (
        f"{rng.choice('12')}{rng.randrange(40, 99):02d}{rng.randrange(1, 13):02d}"
        f"{rng.randrange(1, 95):02d}{rng.randrange(1, 999):03d}{rng.randrange(1, 999):03d}"
    )
    return body + nir.calc_check_digits(body)


def make_idnr(rng):
    while True:
        digits = rng.sample(range(10), 9)
        digits.insert(rng.randrange(1, 10), digits[rng.randrange(9)])  # one digit twice
        if digits[0] == 0:
            continue
        body = "".join(map(str, digits))
        return body + mod_11_10.calc_check_digit(body)


def make_codice_fiscale(rng):
    letters = "".join(rng.choice("BCDFGLMNPRSTVZ") for _ in range(6))
    body = (
        f"{letters}{rng.randrange(40, 99):02d}{rng.choice('ABCDEHLMPRST')}"
        f"{rng.randrange(1, 29) + rng.choice((0, 40)):02d}{rng.choice('ABDFHLM')}"
        f"{rng.randrange(100, 999):03d}"
    )
    return body + codicefiscale.calc_check_digit(body)


def make_dni(rng):
    body = f"{rng.randrange(10**7, 10**8):08d}"
    return body + dni.calc_check_digit(body)


def make_nie(rng):
    body = f"{rng.choice('XYZ')}{rng.randrange(10**6, 10**7):07d}"
    return body + nie.calc_check_digit(body)


def make_be_nn(rng):
    body = f"{rng.randrange(40, 99):02d}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    body += f"{rng.randrange(1, 998):03d}"
    return body + f"{97 - int(body) % 97:02d}"


def make_pesel(rng):
    body = f"{rng.randrange(40, 99):02d}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    body += f"{rng.randrange(0, 10000):04d}"
    return body + pesel.calc_check_digit(body)


def make_at_vnr(rng):
    while True:
        serial = f"{rng.randrange(100, 1000)}"
        birth = f"{rng.randrange(1, 29):02d}{rng.randrange(1, 13):02d}{rng.randrange(40, 99):02d}"
        check = vnr.calc_check_digit(serial + "0" + birth)
        if check != "10":
            return serial + check + birth


def make_iban(rng):
    account = f"{rng.randrange(10**9, 10**10):010d}"
    bank = rng.choice(["ABNA", "INGB", "RABO", "TRIO"])
    return "NL" + iban.calc_check_digits(f"NL00{bank}{account}") + bank + account


VALID = {
    "nl": (make_bsn, bsn),
    "fr": (make_nir, nir),
    "de": (make_idnr, idnr),
    "it": (make_codice_fiscale, codicefiscale),
    "es": (make_dni, dni),
    "be": (make_be_nn, nn),
    "pl": (make_pesel, pesel),
    "at": (make_at_vnr, vnr),
}
ES_NIE = (make_nie, nie)


def broken(number):
    """The same number with its last character changed so that the checksum fails."""
    last = number[-1]
    if last.isdigit():
        for d in "0123456789":
            if d != last:
                candidate = number[:-1] + d
                if national_id(candidate) is None:
                    return candidate
    for c in "ABCDEFGHJKLMNPQRSTVWXYZ":
        candidate = number[:-1] + c
        if c != last and national_id(candidate) is None:
            return candidate
    raise AssertionError(f"no invalid look-alike of {number}")


def column_of(values, name="waarde"):
    return pd.DataFrame({name: values})


def kinds(findings):
    return {(f["column"], f["kind"]) for f in findings}


# --- national identity numbers ------------------------------------------------


@pytest.mark.parametrize("cc", sorted(VALID))
def test_constructions_are_valid_per_stdnum(cc):
    make, module = VALID[cc]
    rng = random.Random(cc)
    for _ in range(50):
        assert module.is_valid(make(rng))


@pytest.mark.parametrize("cc", sorted(VALID))
def test_valid_national_ids_are_flagged_with_their_country(cc):
    make, _ = VALID[cc]
    rng = random.Random(1)
    values = [make(rng) for _ in range(N)]
    findings = scan_frame(column_of(values, "nummer"))
    assert kinds(findings) == {("nummer", f"national_id:{cc}")}
    f = findings[0]
    assert f["share"] == 1.0 and f["count"] == N and f["blocking"] and f["resolution"] is None
    for shown in f["examples"]:
        assert not any(v in shown for v in values)
        assert re.fullmatch(r"\*+[0-9A-Z]{4}", shown)


def test_spanish_nie_is_flagged_as_spain():
    make, module = ES_NIE
    rng = random.Random(2)
    values = [make(rng) for _ in range(N)]
    assert all(module.is_valid(v) for v in values)
    assert kinds(scan_frame(column_of(values))) == {("waarde", "national_id:es")}


@pytest.mark.parametrize("cc", sorted(VALID))
def test_checksum_invalid_look_alikes_are_not_flagged(cc):
    make, module = VALID[cc]
    rng = random.Random(3)
    values = [broken(make(rng)) for _ in range(N)]
    assert not any(module.is_valid(v) for v in values)
    # Even a column named after the number is not flagged when its checksums fail.
    assert scan_frame(column_of(values, "bsn")) == []


def test_random_nine_digit_numbers_are_not_a_bsn_column():
    rng = np.random.default_rng(4)
    values = [str(v) for v in rng.integers(100_000_000, 999_999_999, 2000)]
    share_valid = np.mean([bsn.is_valid(v) for v in values])
    assert 0.02 < share_valid < 0.2  # some pass the checksum by chance ...
    assert scan_frame(column_of(values, "zaaknummer")) == []  # ... the column is not flagged
    assert scan_frame(pd.DataFrame({"zaaknummer": [int(v) for v in values]})) == []


def test_random_long_numbers_are_not_flagged():
    rng = np.random.default_rng(5)
    for digits in (10, 11, 15):
        values = [str(v) for v in rng.integers(10 ** (digits - 1), 10**digits - 1, 1000)]
        assert scan_frame(column_of(values)) == [], digits


def test_bsn_with_a_lost_leading_zero_in_an_integer_column_is_found():
    rng = random.Random(6)
    values = []
    while len(values) < N:
        v = make_bsn(rng)
        values.append("0" + v[1:] if bsn.is_valid("0" + v[1:]) else v)
    as_int = pd.DataFrame({"bsn": [int(v) for v in values]})
    assert kinds(scan_frame(as_int)) == {("bsn", "national_id:nl")}


def test_a_few_valid_numbers_among_many_do_not_flag_the_column():
    rng = random.Random(7)
    values = [make_bsn(rng) if i % 10 == 0 else broken(make_bsn(rng)) for i in range(N)]
    assert scan_frame(column_of(values)) == []


# --- e-mail, phone, IBAN ------------------------------------------------------


def test_email_addresses_flagged_and_masked():
    values = [f"jan.jansen{i}@gemeente-utrecht.nl" for i in range(N)]
    findings = scan_frame(column_of(values, "contact"))
    assert kinds(findings) == {("contact", "email")}
    assert findings[0]["examples"][0] == "j***@***.nl"
    assert is_email("a.b@c.de") and not is_email("a.b@c") and not is_email("geen e-mail")


def valid_phones(rng, n):
    out = []
    while len(out) < n:
        cand = rng.choice(
            [
                f"+31 6 {rng.randrange(10**7, 10**8)}",
                f"06-{rng.randrange(10**7, 10**8)}",
                f"+49 30 {rng.randrange(10**7, 10**8)}",
                f"+33 6 {rng.randrange(10**7, 10**8)}",
                f"0048 {rng.choice('5678')}{rng.randrange(10**7, 10**8)}",
            ]
        )
        region = "NL" if cand.startswith("0") and not cand.startswith("00") else None
        number = phonenumbers.parse(cand.replace("0048", "+48"), region)
        if phonenumbers.is_valid_number(number):
            out.append(cand)
    return out


def test_valid_phone_numbers_flagged():
    values = valid_phones(random.Random(8), N)
    findings = scan_frame(column_of(values, "telefoon"))
    assert kinds(findings) == {("telefoon", "phone")}
    assert all(set(e) <= set("+*0123456789") for e in findings[0]["examples"])
    assert all(len(re.sub(r"\D", "", e)) == 2 for e in findings[0]["examples"])


@pytest.mark.parametrize(
    "values",
    [
        ["1234,56", "87,10", "100000,00", "45,99"] * 50,  # amounts with decimal commas
        ["2023-004512", "2024-100233", "2022-000017", "2021-778812"] * 50,  # case numbers
        ["Z/24/104512", "Z/23/000233", "Z/22/990017", "Z/21/118812"] * 50,
        ["01-02-2023", "12.03.2024", "03/11/2022", "2024-05-06"] * 50,  # decision dates
        ["612345678", "687654321", "201234567", "301234567"] * 50,  # 9 digits, no trunk 0
        ["+31 6 1234", "0000000000", "06-000", "+99 123 456 789"] * 50,  # invalid numbers
    ],
)
def test_amounts_case_numbers_and_dates_are_not_phones_or_ids(values):
    assert scan_frame(column_of(values, "telefoon")) == []
    assert not any(is_phone(v) for v in values)


def test_iban_valid_flagged_invalid_not():
    rng = random.Random(9)
    values = [make_iban(rng) for _ in range(N)]
    assert all(iban.is_valid(v) for v in values)
    spaced = [" ".join(v[i : i + 4] for i in range(0, len(v), 4)) for v in values]
    findings = scan_frame(column_of(spaced, "rekening"))
    assert kinds(findings) == {("rekening", "iban")}
    assert findings[0]["examples"][0].startswith("NL") and "*" in findings[0]["examples"][0]
    wrong = [v[:2] + f"{(int(v[2:4]) + 1) % 100:02d}" + v[4:] for v in values]
    assert not any(is_iban(v) for v in wrong)
    assert scan_frame(column_of(wrong, "iban")) == []


# --- dates of birth, addresses, free text -------------------------------------


def test_dates_of_birth_by_name_or_by_range_but_not_decision_dates():
    rng = np.random.default_rng(10)
    births = pd.to_datetime(rng.integers(-15000, 12000, N), unit="D")
    decisions = pd.to_datetime(rng.integers(19000, 19700, N), unit="D")
    df = pd.DataFrame(
        {
            "geboortedatum": births.strftime("%d-%m-%Y"),
            "datum_x": births.strftime("%Y-%m-%d"),  # no hint in the name, but spans decades
            "besluitdatum": decisions.strftime("%d-%m-%Y"),
            "as_dates": decisions,
            "geboren": births,  # a real datetime column named after birth
        }
    )
    found = kinds(scan_frame(df))
    assert found == {
        ("geboortedatum", "date_of_birth"),
        ("datum_x", "date_of_birth"),
        ("geboren", "date_of_birth"),
    }
    f = next(f for f in scan_frame(df) if f["column"] == "geboortedatum")
    assert all(re.fullmatch(r"(19|20)\d\d-\*\*-\*\*", e) for e in f["examples"])


def test_addresses_flagged_postcodes_and_places_not():
    rng = random.Random(11)
    streets = ["Hoofdstraat", "Rue de la Paix", "Musterstraße", "Via Roma", "Calle Mayor",
               "ul. Marszałkowska", "Kerkweg", "Dorpsplein"]  # fmt: skip
    values = [f"{rng.choice(streets)} {rng.randrange(1, 300)}" for _ in range(N)]
    df = pd.DataFrame(
        {
            "adres": values,
            "woonplaats": [rng.choice(["Utrecht", "Lyon", "Köln", "Gdańsk"]) for _ in range(N)],
        }
    )
    findings = scan_frame(df)
    assert ("adres", "address") in kinds(findings)
    ex = next(f for f in findings if f["kind"] == "address")["examples"]
    assert not any(v in ex for v in values) and all("#" in e for e in ex)
    assert not any(
        f["column"] == "woonplaats" and f["kind"] != "quasi_identifiers" for f in findings
    )


def test_free_text_flagged_short_categories_not():
    rng = random.Random(12)
    words = "de aanvrager heeft op tijd alle stukken aangeleverd maar de huur is hoger dan".split()
    text = [" ".join(rng.choice(words) for _ in range(12)) + f" ({i})" for i in range(N)]
    df = pd.DataFrame(
        {"toelichting": text, "status": [rng.choice(["open", "dicht"]) for _ in text]}
    )
    findings = scan_frame(df)
    assert kinds(findings) == {("toelichting", "free_text")}
    assert findings[0]["examples"][0].startswith("(text of ")


# --- quasi-identifiers --------------------------------------------------------


def qi_frame(n=2000, seed=13):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "postcode": rng.integers(1000, 9999, n).astype(str),
            "geboortejaar": rng.integers(1940, 2005, n),
            "geslacht": rng.choice(["M", "V"], n),
            "nationaliteit": rng.choice(["NL", "DE", "PL"], n),
            "bedrag": rng.normal(100, 10, n),
            "toegekend": rng.integers(0, 2, n),
        }
    )


def test_quasi_identifier_combination_leaves_small_groups():
    df = qi_frame()
    roles = {"geslacht": {"role": "protected", "kind": "sex"}, "toegekend": "target"}
    findings = scan_frame(df, roles=roles)
    (f,) = [f for f in findings if f["kind"] == "quasi_identifiers"]
    assert set(f["columns"]) == {"postcode", "geboortejaar", "geslacht", "nationaliteit"}
    assert f["count"] > 0 and f["blocking"] and "postcode" in f["message"]


def test_quasi_identifiers_with_large_groups_pass_and_k_is_configurable():
    df = qi_frame()[["geslacht", "nationaliteit", "bedrag"]]
    roles = {"geslacht": {"role": "protected", "kind": "sex"}}
    assert scan_frame(df, roles=roles, k=5) == []
    smallest = int(df.groupby(["geslacht", "nationaliteit"]).size().min())
    findings = scan_frame(df, roles=roles, k=smallest + 1)
    assert [f["kind"] for f in findings] == ["quasi_identifiers"]


# --- masking and free-text scan -----------------------------------------------


def test_mask_never_shows_the_value():
    assert mask("jan.jansen@example.nl", "email") == "j***@***.nl"
    assert mask("111222333", "national_id:nl") == "*****2333"
    assert mask("NL91ABNA0417164300", "iban") == "NL************4300"
    assert mask("+31 6 12345678", "phone") == "+*********78"


def test_scan_text_finds_every_identifier_and_nothing_in_clean_text():
    rng = random.Random(14)
    ids = {cc: make(rng) for cc, (make, _) in VALID.items()}
    phone = valid_phones(rng, 1)[0]
    account = make_iban(rng)
    text = f"Contact j.jansen@gemeente.nl, phone {phone}, account {account}. " + " ".join(
        f"id {v}." for v in ids.values()
    )
    found = {h["kind"] for h in scan_text(text)}
    assert {"email", "phone", "iban"} <= found
    assert {f"national_id:{cc}" for cc in ids} <= found
    for h in scan_text(text):
        assert not any(v in h["examples"][0] for v in [*ids.values(), phone, account])
    clean = (
        "Selection rate 0.4123 (95% CI 0.39-0.43), 1,000,000 rows, decided 2026-12-07, "
        "case 2023-004512, amount 1234,56, sha256 "
        "3f1a9c0e8d7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f, version 3.1.1, "
        + " ".join(broken(make(rng)) for make, _ in VALID.values())
    )
    assert scan_text(clean) == []


def test_hex_digests_in_free_text_are_not_phone_numbers():
    from ai4scale.hub.usecase._scan import scan_text

    # A sha256 that starts like a Dutch mobile number (a dossier's provenance.json).
    digest = "0612345678" + "ab" * 27
    assert scan_text(f'{{"files": {{"report.html": "{digest}"}}}}') == []
    # The same number standing alone is one.
    assert [h["kind"] for h in scan_text('{"phone": "0612345678"}')] == ["phone"]
