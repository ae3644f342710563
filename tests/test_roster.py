"""Roster CSV parsing: good files, and every kind of bad line refused with its line number."""

from __future__ import annotations

import pytest
from ai4scale.hub.roster import (
    RosterEntry,
    RosterError,
    UsernameError,
    read_roster,
    validate_username,
)

HEADER = "username,full_name,role,team\n"


def write(tmp_path, text, name="roster.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def refused(tmp_path, text):
    with pytest.raises(RosterError) as info:
        read_roster(write(tmp_path, text))
    return info.value


def test_reads_a_good_roster(tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "amina,Amina Haddad,learner,tax-office\n"
        + "jonas, Jonas Berg ,Learner,\n"
        + "\n"
        + 'eva,"Novak, Eva",instructor,tax-office\n',
    )
    assert read_roster(path) == [
        RosterEntry("amina", "Amina Haddad", "learner", "tax-office"),
        RosterEntry("jonas", "Jonas Berg", "learner", None),
        RosterEntry("eva", "Novak, Eva", "instructor", "tax-office"),
    ]


def test_team_column_may_be_left_out_and_bom_is_accepted(tmp_path):
    path = write(tmp_path, "\ufeffusername,full_name,role\r\nbo,Bo Lind,learner\r\n")
    assert read_roster(path) == [RosterEntry("bo", "Bo Lind", "learner", None)]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../root", "not allowed"),
        ("root", "reserved"),
        ("admin", "reserved"),
        ("nobody", "reserved"),
        ("jupyterhub", "reserved"),
        ("Root", "use lower case"),
        ("a" * 100, "100 characters long"),
        ("a" * 33, "33 characters long"),
        ("1abc", "not allowed"),
        ("", "empty"),
        ("al ice", "not allowed"),
        ("ali.ce", "not allowed"),
    ],
)
def test_validate_username_refuses(name, why):
    with pytest.raises(UsernameError, match=why):
        validate_username(name)


@pytest.mark.parametrize("name", ["a", "amina", "a_b-c9", "x" * 32])
def test_validate_username_accepts(name):
    assert validate_username(name) == name


def test_every_bad_line_is_reported_with_its_number(tmp_path):
    error = refused(
        tmp_path,
        HEADER
        + "amina,Amina,learner,t1\n"  # line 2: fine
        + "../root,Evil,learner,\n"  # line 3
        + "Root,Big Root,learner,\n"  # line 4
        + f"{'a' * 100},Long,learner,\n"  # line 5
        + "amina,Amina Again,learner,\n"  # line 6: duplicate
        + "bo,Bo,teacher,\n"  # line 7: role
        + "cy,Cy,learner,Team One\n"  # line 8: team
        + "di,,learner,\n"  # line 9: empty name
        + "ed,Ed,learner,t1,extra\n",  # line 10: too many fields
    )
    text = str(error)
    assert len(error.errors) == 8, error.errors
    expected = {
        3: "username '../root' is not allowed",
        4: "username 'Root' is not allowed (use lower case)",
        5: "100 characters long",
        6: "duplicate username 'amina' (first on line 2)",
        7: "unknown role 'teacher'",
        8: "team 'Team One' is not allowed",
        9: "full_name is empty",
        10: "expected 4 fields",
    }
    for line, message in expected.items():
        matching = [e for e in error.errors if f"roster.csv line {line}:" in e]
        assert matching and message in matching[0], (line, error.errors)
        assert f"line {line}:" in text
    assert "nothing imported" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("username,full_name,team\nbo,Bo,\n", "line 1: missing column role"),
        ("username,fullname,role,team\nbo,Bo,learner,\n", "missing column full_name"),
        ("username,full_name,role,teams\nbo,Bo,learner,\n", "unknown column 'teams'"),
        ("", "line 1: the file is empty"),
        (HEADER, "no users in the roster"),
    ],
)
def test_bad_header_or_empty_file(tmp_path, text, message):
    error = refused(tmp_path, text)
    assert any(message in e for e in error.errors), error.errors


def test_not_utf8_and_missing_file(tmp_path):
    utf8 = write(tmp_path, HEADER + "bo,Bj\xf6rn \u0141ukasz,learner,\n", name="utf8.csv")
    assert read_roster(utf8)[0].full_name == "Bj\xf6rn \u0141ukasz"
    latin = tmp_path / "latin.csv"
    latin.write_bytes((HEADER + "bo,Bj\xf6rn,learner,\n").encode("latin-1"))
    with pytest.raises(RosterError, match="not UTF-8"):
        read_roster(latin)
    with pytest.raises(RosterError, match="no such file"):
        read_roster(tmp_path / "missing.csv")
