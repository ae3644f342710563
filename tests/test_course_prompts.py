"""What the grading pages show as each item's question: its own section, rendered safely."""

from pathlib import Path
from types import SimpleNamespace

from ai4scale.grading.labformat import load_lab, read_lab_notebooks
from ai4scale.hub.course._answers import _prompts
from ai4scale.hub.course._markdown import render_markdown

LABS = Path(__file__).resolve().parents[1] / "labs"


def test_each_item_shows_its_own_section():
    lab = load_lab(LABS / "01-know-your-data")
    prompts = _prompts(SimpleNamespace(sources=read_lab_notebooks(lab)))
    by_id = {gid: text for (_, gid), text in prompts.items()}
    # The check of exercise 2 shows exercise 2's question, not the Markdown that came last.
    assert by_id["test_base_rates"].startswith("## 2. Base rates")
    assert "## 1." not in by_id["test_base_rates"] and "## 3." not in by_id["test_base_rates"]
    assert by_id["test_group_counts"].startswith("## 1. Who is in the data?")
    assert by_id["art10_finding"].startswith("## 7. Your Article 10 finding")
    # Every item has a question, and no two items of different sections share one.
    assert all(by_id.values())
    assert by_id["test_base_rates"] != by_id["test_representation_gap"]


def test_markdown_is_rendered_and_cleaned():
    html = render_markdown(
        "## Why\n\n**Bold** and `code`\n\n<script>alert(1)</script>\n\n"
        "[x](javascript:alert(1)) [ok](https://example.org)\n\n<img src=x onerror=alert(1)>\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<h2>Why</h2>" in html and "<strong>Bold</strong>" in html
    assert "<code>code</code>" in html
    assert "<script" not in html and "onerror" not in html.replace("onerror=alert(1)&gt;", "")
    assert "<img" not in html and 'href="javascript' not in html
    assert 'href="https://example.org"' in html and 'rel="noopener noreferrer"' in html
    assert "<table>" in html and "<td>1</td>" in html
    assert render_markdown("") == "" and render_markdown(["# A", "\n"]) == "<h1>A</h1>\n"
