"""Plain-language errors in a real kernel: the friendly stop and the learner's line first."""

import os
import sys
from html import unescape

import pytest
from jupyter_client.manager import start_new_kernel

EXT = "ai4scale.hub.plain_errors"


@pytest.fixture(scope="module")
def kernel():
    env = {**os.environ, "AI4SCALE_PLAIN_ERRORS": "1"}
    km, kc = start_new_kernel(
        kernel_name="python3", env=env, extra_arguments=[f"--ext={EXT}"], startup_timeout=120
    )
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc, code):
    """Run a cell; return (status, shown text of error outputs, html of displays, all text)."""
    outputs = []
    reply = kc.execute_interactive(code, output_hook=outputs.append, timeout=60)
    errors, html, text = [], [], []
    for msg in outputs:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            errors.append("\n".join(content["traceback"]))
        elif kind in ("display_data", "execute_result"):
            html.append(unescape(content["data"].get("text/html", "")))
            text.append(content["data"].get("text/plain", ""))
        elif kind == "stream":
            text.append(content["text"])
    return reply["content"]["status"], "\n".join(errors), "\n".join(html), "\n".join(text)


def test_a_guided_blank_stops_with_the_exercise_named(kernel):
    cell = "# Exercise 2: Error rates per group\nrates = ...  # choose the right function\n"
    status, shown, _, _ = run(kernel, cell)
    assert status == "error"  # "Run All" stops here
    assert "Exercise 2 (Error rates per group) is not answered yet" in shown
    assert "Run All" in shown
    assert "Traceback" not in shown and "ExerciseNotAnswered" not in shown
    # nothing of the cell ran
    assert run(kernel, "print('rates' in globals())")[3].strip() == "False"


def test_the_analyst_placeholder_stops_the_same_way(kernel):
    cell = (
        "# Exercise 1: Rates\ndef f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\nf()"
    )
    status, shown, _, _ = run(kernel, cell)
    assert status == "error"
    assert "Exercise 1 (Rates) is not answered yet" in shown
    assert "NotImplementedError" not in shown and "Traceback" not in shown


def test_dots_outside_an_exercise_or_in_comments_run(kernel):
    assert run(kernel, "# Exercise 3: Done\nx = 1  # ... was a blank here\nx")[0] == "ok"
    assert run(kernel, "y = ...\nprint('my own cell', y)")[0] == "ok"  # not an exercise cell
    assert run(kernel, "# Exercise 4: Text\ns = '...'\ns")[0] == "ok"  # dots in a string


def test_name_error_after_a_skipped_cell_speaks_plainly(kernel):
    status, shown, html, text = run(kernel, "total = 3\nprint(approval_rates)")
    assert status == "error"
    assert "line 2 of this cell" in shown
    assert "NameError" not in shown and "Traceback" not in shown
    assert "'approval_rates' is not known yet" in html and "Run All Above" in html
    assert "<code>print(approval_rates)</code>" in html
    # the full technical message is one click away, folded
    details = html[html.index("<details>") :]
    assert "Show the technical details" in details and "NameError" in details
    assert "'approval_rates' is not known yet" in text  # plain-text form too


def test_the_learners_own_line_comes_first_even_inside_a_function(kernel):
    define = "import pandas as pd\ndef share(table):\n    return table['Approved'].mean()\n"
    assert run(kernel, define)[0] == "ok"
    status, shown, html, _ = run(kernel, "share(pd.DataFrame({'approved': [1, 0]}))")
    assert status == "error"
    assert "line 3 of the cell numbered [" in shown  # the learner's line, not pandas' internals
    assert "<code>return table['Approved'].mean()</code>" in html
    assert "There is no column or entry called 'Approved'" in html
    assert "capitals" in html


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("1 / 0", "divided by zero"),
        ("[1, 2][5]", "position that does not exist"),
        ("import not_a_library_xyz", "not available here"),
        ("'a' + 1", "do not go together"),
        ("def f():\n    pass\nf().upper()", "gave no result (None)"),
        ("import pandas as pd\npd.DataFrame({'a': [1, 2]})['b'] = [1, 2, 3]", "different lengths"),
        ("assert 1 == 2, 'the rate must be a share'", "A check did not pass: the rate must be"),
        ("x = ...\nx + 1", "still has a blank"),
        ("open('no-such-file.csv')", "no file at that place"),
    ],
)
def test_common_beginner_errors_get_a_hint(kernel, code, words):
    status, _, html, _ = run(kernel, code)
    assert status == "error"
    assert words in html


def test_other_errors_keep_their_own_words(kernel):
    code = (
        "class ServiceDown(Exception):\n    pass\n"
        "raise ServiceDown('the course service does not answer right now')"
    )
    status, shown, html, _ = run(kernel, code)
    assert status == "error"
    assert "the course service does not answer right now" in shown
    assert "ServiceDown" not in shown and "Traceback" not in shown


def test_grading_and_plain_kernels_keep_pythons_report():
    """Without a hub server around it (the grader's kernels), the extension does nothing."""
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER",)}
    env["AI4SCALE_PLAIN_ERRORS"] = ""
    km, kc = start_new_kernel(
        kernel_name="python3", env=env, extra_arguments=[f"--ext={EXT}"], startup_timeout=120
    )
    try:
        status, shown, html, _ = run(kc, "print(undefined_name)")
        assert status == "error" and "NameError" in shown and html == ""
        status, shown, _, _ = run(kc, "# Exercise 1: X\nz = ...\nprint('ran', z)")
        assert status == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert sys.executable  # the kernels are this environment's
