"""What procurement and legal units look for first: the licence text, and how to contribute."""

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_declared_licence_ships_its_text():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]
    assert declared == {"text": "EUPL-1.2"}
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("EUROPEAN UNION PUBLIC LICENCE v. 1.2\n")
    for article in ("1.Definitions", "2.Scope of the rights granted by the Licence", "Appendix"):
        assert article in text, article
    assert "Compatible Licences" in text and len(text) > 12_000  # the whole text, not a stub


def test_contributing_says_how_to_run_test_and_add_a_lab():
    guide = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^(\./sandbox \w+)", readme, re.M)[:2]
    assert commands == ["./sandbox up", "./sandbox test"]
    for command in commands:
        assert command in guide
    for step in ("ai4scale lab build", "ai4scale lab validate", "import-nbgrader", "guided"):
        assert step in guide, step
    assert "LICENSE" in guide and "EUPL-1.2" in guide
