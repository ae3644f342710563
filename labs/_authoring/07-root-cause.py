"""Write labs/07-root-cause/root-cause.ipynb (nbgrader source notebook).

Run from the repository root:
    /opt/ai4scale/venv/bin/python labs/_authoring/07-root-cause.py
The script keeps the nbgrader metadata exact and the cells easy to edit as text;
it is self-contained (no import from other authoring scripts).
"""

from pathlib import Path
from textwrap import dedent

import nbformat

OUT = Path(__file__).resolve().parents[1] / "07-root-cause" / "root-cause.ipynb"
_count = iter(range(1, 100))


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _src(text):
    return dedent(text).strip("\n")


def md(text):
    """A locked instruction cell."""
    gid = f"text_{next(_count):02d}"
    return nbformat.v4.new_markdown_cell(_src(text), metadata=_meta(gid, locked=True))


def code(text, *, locked=True):
    """A read-only code cell, or a free one (the learner may edit) with locked=False."""
    if not locked:
        return nbformat.v4.new_code_cell(_src(text))
    gid = f"code_{next(_count):02d}"
    return nbformat.v4.new_code_cell(_src(text), metadata=_meta(gid, locked=True))


def solution(text, grade_id, *, guided=None, title=None):
    """A code cell the learner writes (solution region replaced by the placeholder).

    ``guided``: the guided track's version of the cell: the reference code with at
    most three lines left as blanks (``...``) for the learner to complete.
    ``title``: the exercise's name when the heading before it does not say it.
    """
    cell = nbformat.v4.new_code_cell(_src(text), metadata=_meta(grade_id, solution=True))
    extra = {}
    if guided is not None:
        extra["guided"] = _src(guided)
    if title:
        extra["title"] = title
    if extra:
        cell.metadata["ai4scale"] = extra
    return cell


def example(text, *, markdown=False, track="guided"):
    """A cell shown in one track only (a worked example before an exercise); never graded."""
    make = nbformat.v4.new_markdown_cell if markdown else nbformat.v4.new_code_cell
    return make(_src(text), metadata={"ai4scale": {"track": track}})


def test(visible, hidden_body, grade_id, points):
    """An autograded test cell: the visible checks, then the hidden ones."""
    text = _src(visible) + "\n" + hidden(hidden_body)
    return nbformat.v4.new_code_cell(
        text, metadata=_meta(grade_id, grade=True, locked=True, points=points)
    )


def answer(text, grade_id, points):
    """A Markdown answer graded by a person; the model answer between solution markers."""
    body = "### BEGIN SOLUTION\n" + _src(text) + "\n### END SOLUTION"
    return nbformat.v4.new_markdown_cell(
        body, metadata=_meta(grade_id, grade=True, solution=True, points=points)
    )


# Builds the hidden "other counties" inside the hidden tests: the same generator with
# another seed, and variants whose cause is a feature, the label among harmed families,
# or none at all (a real difference in harm). Kept as text so that each test cell is
# self-contained and nothing of it reaches the learner's version.
HIDDEN_CASES = '''
import numpy as _np
from ai4scale.datasets.synthetic import child_welfare as _cw, top_k_mask as _top_k

def _relabel(frame, rates, rng):
    g = frame["minority"].to_numpy()
    h = frame["substantiated_harm"].to_numpy()
    w = _np.exp(0.2 * _np.minimum(frame["prior_referrals"].to_numpy(), 4))
    out = _np.zeros(len(frame), dtype=bool)
    for (gg, hh), p in rates.items():
        idx = _np.flatnonzero((g == gg) & (h == hh))
        out[idx] = _top_k(rng, w[idx], round(p * len(idx)))
    frame["rereferred"] = out

def _case(cause, seed, n=8000):
    """Return (frame, expected diagnosis) for a hidden county."""
    frame, truth = _cw.generate(seed=seed, n_rows=n)
    rng = _np.random.default_rng([seed, 7])  # not the generator's own stream
    g = frame["minority"].to_numpy()
    fair = {(False, False): 0.1, (True, False): 0.1, (False, True): 0.6, (True, True): 0.6}
    if cause == "label":
        return frame, truth["injected_cause"]
    if cause == "label-harmed":  # harm among minority families is under-reported
        _relabel(frame, {**fair, (True, True): 0.35}, rng)
    elif cause == "feature":  # earlier referrals over-recorded for minority families
        _relabel(frame, fair, rng)
        frame["prior_referrals"] = frame["prior_referrals"] + rng.poisson(1.2, n) * g
    elif cause == "feature-dv":  # domestic violence over-recorded for minority families
        _relabel(frame, fair, rng)
        extra = g & (rng.random(n) < 0.15)
        frame["domestic_violence"] = frame["domestic_violence"].to_numpy() | extra
    elif cause == "none":  # a real difference in harm, measured alike in both groups
        age = frame["child_age_band"].cat.codes.to_numpy()
        w = _np.exp(
            0.5 * (age == 0)
            + 0.25 * _np.minimum(frame["prior_referrals"].to_numpy(), 4)
            + 0.8 * frame["caregiver_substance_use"].to_numpy()
            + 0.7 * frame["domestic_violence"].to_numpy()
            + 0.6 * frame["prior_substantiated"].to_numpy()
        )
        harm = _np.zeros(n, dtype=bool)
        for gg, rate in ((True, 0.08), (False, 0.16)):
            idx = _np.flatnonzero(g == gg)
            harm[idx] = _top_k(rng, w[idx], round(rate * len(idx)))
        frame["substantiated_harm"] = harm
        _relabel(frame, fair, rng)
    return frame, cause.split("-")[0]

_RISK = ["child_age_band", "prior_referrals", "caregiver_substance_use",
         "domestic_violence", "prior_substantiated"]

def _ratio(frame, column):
    rates = frame.groupby("minority")[column].mean()
    return float(rates[True]) / float(rates[False])

def _smd(frame):
    out = {}
    for f in _RISK:
        x = frame[f].cat.codes if f == "child_age_band" else frame[f]
        x = x.astype(float)
        a, b = x[frame["minority"]], x[~frame["minority"]]
        out[f] = (a.mean() - b.mean()) / _np.sqrt((a.var() + b.var()) / 2)
    return out
'''.strip("\n")


def hidden(body):
    """Hidden-test block: the case builder, then the checks."""
    return (
        "### BEGIN HIDDEN TESTS\n" + HIDDEN_CASES + "\n\n" + _src(body) + "\n### END HIDDEN TESTS"
    )


cells = [
    md(
        """
        # Root-causing a disparity: a screening score trained on a biased label

        **The case.** Since 2016, Allegheny County (Pennsylvania, USA) has scored calls to
        its child-protection hotline with the *Allegheny Family Screening Tool*. The score
        (1 to 20) is computed from administrative records (earlier referrals, public
        benefits, police and health contacts) and helps a screener decide whether a call
        is investigated. What the tool learned to predict is not "was this child harmed?",
        which nobody observes directly, but a **proxy**: was the family referred again, or
        was the child placed in care, within two years. Critics (Eubanks, *Automating
        Inequality*, 2018) pointed out that families who depend on public services, and
        families from some minorities, are watched and reported more often, so the proxy
        measures *who is watched* as well as *who is harmed*. Researchers working with the
        county (Chouldechova et al., 2018) studied the disparities between groups in detail.

        **Your role.** You work in the quality and data-protection unit of a municipal
        youth-care service in the EU that pilots a similar tool. The vendor's pilot score
        flags minority families about twice as often as majority families. Before anyone
        "fixes" the model, the head of service asks you: **where does this disparity come
        from?**

        **Why it matters under the AI Act.** A score that helps a public authority decide
        which families are investigated would probably be a high-risk system (Annex III,
        point 5: access to essential public services). Art. 10(2) asks the provider to
        examine the training data, in particular the assumptions about "the information
        that the data are supposed to measure and represent" (point d) and possible biases,
        "especially where data outputs influence inputs for future operations" (point f) -
        exactly what happens when a score decides who is investigated, and investigations
        produce the next referrals. As a public deployer your service must also assess the
        impact on fundamental rights before use (Art. 27) and monitor the system (Art. 26).

        **Three suspects.** A difference between groups in who is flagged can come from
        1. **the label**: what the model learns to predict is measured differently for the
           two groups (here: families are *re-referred* more often for the same true
           situation);
        2. **a feature**: an input is recorded differently for the two groups (for example
           earlier referrals counted more often for families who are watched more);
        3. **neither**: label and features measure both groups alike, and the disparity
           mirrors a real difference in the outcome - which still calls for a policy
           answer, but not a data fix.

        **How to work.** Run the cells in order (Shift+Enter). Complete the exercises: each
        one says what to fill in. Sections 1-4 ask for a few lines of code, section 7 for
        written answers in the cells marked `YOUR ANSWER HERE`. The cell after each code
        exercise checks your work ("Check my work" runs these checks; your trainer's
        grading also runs checks on counties you do not see, so solve the task rather than
        the example).
        """
    ),
    code(
        """
        import numpy as np
        import pandas as pd
        import matplotlib.pyplot as plt
        from ai4scale import datasets

        bunch = datasets.load("child-welfare-screening")
        df = bunch.frame
        print(bunch.card["title"])
        print(len(df), "referrals")
        df.head()
        """
    ),
    md(
        """
        **The data** are synthetic: 15,000 hotline referrals made up by a program, so that
        no real family is exposed. Each row is one referral:

        | column | meaning |
        |---|---|
        | `minority` | the family belongs to an ethnic minority (about 25% of referrals) |
        | `district` | district of residence |
        | `child_age_band`, `prior_referrals`, `caregiver_substance_use`, `domestic_violence`, `prior_substantiated` | the **risk features** in the referral |
        | `rereferred` | the **label** the tool is trained on: referred again within two years |
        | `substantiated_harm` | the **truth**: the child was in fact harmed |

        A real service never has the `substantiated_harm` column; it is known here only
        because the data are synthetic. That is what lets us check a diagnosis - and
        question 3 at the end asks what you would do without it.
        """
    ),
    code(
        """
        # The vendor's pilot score: a logistic regression on the risk features and the
        # district, trained on the label `rereferred`. The 25% highest scores are flagged
        # for investigation.
        from sklearn.linear_model import LogisticRegression

        RISK_FEATURES = [
            "child_age_band",
            "prior_referrals",
            "caregiver_substance_use",
            "domestic_violence",
            "prior_substantiated",
        ]


        def model_inputs(frame, columns):
            # one 0/1 column per category (district, age band); numbers as they are
            categorical = [c for c in columns if c in ("district", "child_age_band")]
            return pd.get_dummies(frame[columns], columns=categorical, dtype=float).astype(float)


        def pilot_score(frame, columns, label):
            # train on `frame` and return the model, its inputs and the flags (top 25%)
            X = model_inputs(frame, columns)
            model = LogisticRegression(max_iter=1000).fit(X, frame[label])
            score = model.predict_proba(X)[:, 1]
            flagged = score >= np.quantile(score, 0.75)
            return model, X, flagged


        vendor_model, X_vendor, flagged = pilot_score(df, RISK_FEATURES + ["district"], "rereferred")
        flag_rates = pd.Series(flagged).groupby(df["minority"].to_numpy()).mean()
        flag_rates.index = ["majority", "minority"]

        ax = flag_rates.plot.bar(color=["tab:blue", "tab:orange"], rot=0, figsize=(4, 3))
        ax.set_ylabel("share flagged for investigation")
        ax.set_title("The vendor's pilot score")
        plt.show()
        print(f"flag-rate ratio (minority / majority): {flag_rates['minority'] / flag_rates['majority']:.2f}")
        """
    ),
    md(
        """
        ## 1. How big is the disparity? (2 points)

        The usual first measure is the **rate ratio**: the share of minority families with
        some outcome divided by the share of majority families with it. A ratio of 1 means
        equal rates; 2 means twice as often.

        Complete `rate_ratio(df, column)`: it returns one number, the mean of `column` (a
        True/False column) among rows where `minority` is True, divided by its mean among
        rows where `minority` is False.

        *Hint:* `df.groupby("minority")[column].mean()` gives both rates.
        """
    ),
    example(
        """
        # A worked example (not the exercise): 6 made-up applications, from men and women.
        tiny = pd.DataFrame({"woman": [True, False, True, False, False, True],
                             "approved": [True, True, False, True, False, False]})
        rates = tiny.groupby("woman")["approved"].mean()  # the share approved, in each group
        print(rates)
        # How many times as often are men (False) approved as women (True)?
        # The men's rate divided by the women's rate:
        print(float(rates[False] / rates[True]))
        """
    ),
    solution(
        """
        def rate_ratio(df, column):
            \"\"\"Return mean(column | minority) / mean(column | majority).\"\"\"
            ### BEGIN SOLUTION
            rates = df.groupby("minority")[column].mean()
            return float(rates[True] / rates[False])
            ### END SOLUTION
        """,
        "rate_ratio",
        guided="""
        def rate_ratio(df, column):
            \"\"\"Return mean(column | minority) / mean(column | majority).\"\"\"
            # the share of rows with the outcome, in each group. The blank: which column?
            # The one the function is given (its name is in the first line, after df).
            rates = df.groupby("minority")[...].mean()
            # The blank: the minority's rate divided by the majority's rate
            # (rates[True] is the rate of the minority families, rates[False] the majority's)
            return float(...)
        """,
    ),
    code(
        """
        print("label (re-referred):     ", round(rate_ratio(df, "rereferred"), 3))
        print("truth (harmed):          ", round(rate_ratio(df, "substantiated_harm"), 3))
        """,
        locked=False,
    ),
    test(
        """
        \"\"\"Check rate_ratio on the referrals above (and on data you cannot see).\"\"\"
        import math

        assert math.isclose(float(rate_ratio(df, "rereferred")), 1.824, abs_tol=1e-3)
        assert math.isclose(float(rate_ratio(df, "substantiated_harm")), 1.0, abs_tol=0.01)
        """,
        (
            """
            # another county from the same generator: its recorded disparity, and exactly
            other, truth = _cw.generate(seed=31, n_rows=6000)
            got = float(rate_ratio(other, "rereferred"))
            assert abs(got - truth["label_bias"]["disparity_ratio"]) <= truth["tolerance"]["ratio"]
            assert math.isclose(got, _ratio(other, "rereferred"), rel_tol=1e-9)
            # a small table with another column name and rows in another order
            tiny = pd.DataFrame(
                {"minority": [False, True, False, True, False, False],
                 "flag": [True, True, False, False, False, False]}
            )
            assert math.isclose(float(rate_ratio(tiny, "flag")), 2.0, rel_tol=1e-9)
            assert _np.ndim(rate_ratio(tiny, "flag")) == 0
            """
        ),
        "test_rate_ratio",
        2,
    ),
    md(
        """
        The label differs by group (about 1.8) while the truth does not (about 1.0). That
        is a first clue - but only a clue: the two groups could differ in who is harmed in
        some other population, and the label alone cannot tell you.

        ## 2. Is the label biased? Compare like with like (2 points)

        A label is biased if it treats **families in the same true situation** differently.
        So compare the groups *within* the families that were not harmed, and *within* the
        families that were harmed. If the label were a fair measure of harm, the
        re-referral rate would be the same for both groups in each of these two slices.

        Complete `label_ratio_given_truth(df, harmed)`: it keeps only the rows whose
        `substantiated_harm` equals `harmed` (True or False), and returns the rate ratio
        (minority / majority) of `rereferred` among them. It does not call `rate_ratio`
        (copy lines from it where you need them), so that each function can be checked on
        its own.
        """
    ),
    example(
        """
        # A worked example (not the exercise): 6 made-up employees. Among the full-time
        # staff only, how does the share of women promoted compare with that of men?
        tiny = pd.DataFrame({"woman": [True, False, True, False, True, False],
                             "full_time": [True, True, True, True, False, False],
                             "promoted": [False, True, True, True, True, False]})
        working_full_time = True
        same_hours = tiny[tiny["full_time"] == working_full_time]  # only the rows with that value
        rates = same_hours.groupby("woman")["promoted"].mean()  # the share promoted, in each group
        print(rates)
        print("women / men:", float(rates[True] / rates[False]))
        """
    ),
    solution(
        """
        def label_ratio_given_truth(df, harmed):
            \"\"\"Return the minority/majority ratio of `rereferred` among rows with this truth.\"\"\"
            ### BEGIN SOLUTION
            same_truth = df[df["substantiated_harm"] == harmed]
            rates = same_truth.groupby("minority")["rereferred"].mean()
            return float(rates[True] / rates[False])
            ### END SOLUTION
        """,
        "label_ratio_given_truth",
        guided="""
        def label_ratio_given_truth(df, harmed):
            \"\"\"Return the minority/majority ratio of `rereferred` among rows with this truth.\"\"\"
            # The blank: keep only the families in the same true situation, the rows whose
            # substantiated_harm column equals `harmed` (as the example keeps the full-time staff)
            same_truth = df[...]
            # The blank: the share re-referred in each group: which column holds the label?
            rates = same_truth.groupby("minority")[...].mean()
            return float(rates[True] / rates[False])
        """,
    ),
    code(
        """
        # The picture behind the two numbers: re-referral rates by group and true outcome.
        table = df.groupby(["substantiated_harm", "minority"])["rereferred"].mean().unstack()
        table.index = ["not harmed", "harmed"]
        table.columns = ["majority", "minority"]
        ax = table.plot.bar(rot=0, color=["tab:blue", "tab:orange"], figsize=(5, 3))
        ax.set_ylabel("share re-referred (the label)")
        ax.set_title("Same true situation, different label?")
        plt.show()
        table.round(3)
        """
    ),
    code(
        """
        print("not harmed:", round(label_ratio_given_truth(df, False), 3))
        print("harmed:    ", round(label_ratio_given_truth(df, True), 3))
        """,
        locked=False,
    ),
    test(
        """
        \"\"\"Check label_ratio_given_truth on the referrals above (and on data you cannot see).\"\"\"
        import math

        assert math.isclose(float(label_ratio_given_truth(df, False)), 2.5, abs_tol=0.01)
        assert math.isclose(float(label_ratio_given_truth(df, True)), 1.0, abs_tol=0.02)
        """,
        (
            """
            # a county where harm among minority families is under-reported
            hid, _ = _case("label-harmed", 41)
            for harmed in (False, True):
                want = _ratio(hid[hid["substantiated_harm"] == harmed], "rereferred")
                got = float(label_ratio_given_truth(hid, harmed))
                assert math.isclose(got, want, rel_tol=1e-6), (harmed, got, want)
            assert abs(float(label_ratio_given_truth(hid, True)) - 0.58) < 0.05
            other, _ = _case("label", 42)
            want = _ratio(other[~other["substantiated_harm"]], "rereferred")
            assert math.isclose(float(label_ratio_given_truth(other, False)), want, rel_tol=1e-6)
            """
        ),
        "test_label_ratio",
        2,
    ),
    md(
        """
        ## 3. Are the features biased? (2 points)

        If an input is recorded differently for one group, its distribution differs
        between the groups. The standard yardstick is the **standardised mean difference**
        (SMD) of each feature: the difference of the group means divided by a typical
        spread, so that features measured in different units can be compared:

        $$\\text{SMD} = \\frac{\\text{mean}_{\\text{minority}} - \\text{mean}_{\\text{majority}}}
        {\\sqrt{(\\text{var}_{\\text{minority}} + \\text{var}_{\\text{majority}})/2}}$$

        Rule of thumb: |SMD| below 0.1 means the groups are balanced on that feature.

        Complete `feature_gaps(df)`: it returns a column of numbers (a pandas `Series`)
        with one SMD per name in `RISK_FEATURES` (the index is the feature name). Treat
        True/False as 1/0 (use `.astype(float)`); for `child_age_band`, use its position
        in the ordered bands, `df["child_age_band"].cat.codes`. Use pandas' `.mean()` and
        `.var()`.
        """
    ),
    example(
        """
        # A worked example (not the exercise): the number of children in 6 made-up
        # families, in the countryside (rural) and in town. How far apart are the groups?
        tiny = pd.DataFrame({"rural": [True, True, True, False, False, False],
                             "children": [2, 3, 1, 1, 2, 0]})
        rural = tiny["rural"]
        values = tiny["children"].astype(float)
        a, b = values[rural], values[~rural]  # a: the rural families; b: the others (~ means "not")
        print("means:", a.mean(), b.mean(), "  variances:", a.var(), b.var())
        smd = (a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
        print("standardised mean difference, rural - town:", round(smd, 3))
        """
    ),
    solution(
        """
        def feature_gaps(df):
            \"\"\"Return the standardised mean difference (minority - majority) of each risk feature.\"\"\"
            ### BEGIN SOLUTION
            gaps = {}
            minority = df["minority"]
            for feature in RISK_FEATURES:
                values = df[feature]
                if feature == "child_age_band":
                    values = values.cat.codes
                values = values.astype(float)
                a, b = values[minority], values[~minority]
                gaps[feature] = (a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
            return pd.Series(gaps)
            ### END SOLUTION
        """,
        "feature_gaps",
        guided="""
        def feature_gaps(df):
            \"\"\"Return the standardised mean difference (minority - majority) of each risk feature.\"\"\"
            gaps = {}
            minority = df["minority"]
            for feature in RISK_FEATURES:
                values = df[feature]
                if feature == "child_age_band":
                    values = values.cat.codes
                values = values.astype(float)
                # a: the values of the minority families. The blank: b, the values of the
                # majority families, the rows where `minority` is NOT True (see the example)
                a, b = values[minority], values[...]
                # The blank: the standardised mean difference of a and b, as in the example
                gaps[feature] = ...
            return pd.Series(gaps)
        """,
    ),
    code(
        """
        gaps = feature_gaps(df)
        ax = gaps.plot.barh(figsize=(5, 3), color="tab:gray")
        ax.axvspan(-0.1, 0.1, color="tab:green", alpha=0.15, label="balanced (|SMD| < 0.1)")
        ax.set_xlim(-1, 1)
        ax.set_xlabel("standardised mean difference, minority - majority")
        ax.legend(loc="lower right")
        plt.show()
        gaps.round(3)
        """,
        locked=False,
    ),
    test(
        """
        \"\"\"Check feature_gaps on the referrals above (and on data you cannot see).\"\"\"
        gaps = feature_gaps(df)
        assert set(RISK_FEATURES) <= set(gaps.index), "one value per risk feature"
        assert all(abs(float(gaps[f])) < 0.1 for f in RISK_FEATURES)
        """,
        (
            """
            for cause, seed in (("feature", 51), ("feature-dv", 52), ("label", 53)):
                hid, _ = _case(cause, seed)
                got, want = feature_gaps(hid), _smd(hid)
                for f in _RISK:
                    assert abs(float(got[f]) - want[f]) < 0.01, (cause, f, float(got[f]), want[f])
            """
        ),
        "test_feature_gaps",
        2,
    ),
    md(
        """
        ## 4. The diagnosis: label, feature or neither? (3 points)

        Now put the pieces together. Complete `diagnose(df)`: it returns one of three words:

        - `"label"` if, among the harmed **or** among the non-harmed families, the
          re-referral ratio (minority / majority) lies outside **0.8 to 1.25** - the label
          treats families in the same situation differently;
        - otherwise `"feature"` if any risk feature has an SMD of **0.1 or more** in
          absolute value - an input is recorded differently;
        - otherwise `"none"` - label and features measure both groups alike.

        Check the label first, in that order. Your function will be tried on counties you
        have not seen, where the cause differs: test the conditions, do not return a
        fixed answer. `diagnose` does every step itself, without calling your functions
        above (copy lines from them where you need them).

        To try it, the next cell builds a **second county** (also synthetic) where the
        vendor's score again flags minority families more often, for another reason.
        """
    ),
    code(
        """
        from ai4scale.datasets.synthetic import child_welfare

        second, _ = child_welfare.generate(seed=2024, n_rows=8000)
        rng = np.random.default_rng(7)  # another seed than the county's, or the draws repeat
        # The label: the same chance of re-referral for both groups in the same true situation
        second["rereferred"] = rng.random(len(second)) < np.where(second["substantiated_harm"], 0.6, 0.1)
        # A feature: minority families get extra recorded referrals (they are watched more)
        second["prior_referrals"] += rng.poisson(1.2, len(second)) * second["minority"]

        _, _, second_flags = pilot_score(second, RISK_FEATURES + ["district"], "rereferred")
        rates = pd.Series(second_flags).groupby(second["minority"].to_numpy()).mean()
        print(f"second county, flag-rate ratio (minority / majority): {rates[True] / rates[False]:.2f}")
        """
    ),
    example(
        """
        # A worked example (not the exercise): does a number lie OUTSIDE the range 0.9 to 1.1?
        for number in (0.7, 1.0, 1.3):
            if not 0.9 <= number <= 1.1:  # "not between 0.9 and 1.1"
                print(number, "lies outside 0.9 to 1.1")
            else:
                print(number, "lies inside 0.9 to 1.1")

        # abs() drops the sign: a difference of -0.3 counts as much as one of +0.3
        print(abs(-0.3) >= 0.2)
        """
    ),
    solution(
        """
        def diagnose(df):
            \"\"\"Return "label", "feature" or "none": where the disparity comes from.\"\"\"
            ### BEGIN SOLUTION
            for harmed in (False, True):
                same_truth = df[df["substantiated_harm"] == harmed]
                rates = same_truth.groupby("minority")["rereferred"].mean()
                ratio = rates[True] / rates[False]
                if not 0.8 <= ratio <= 1.25:
                    return "label"
            minority = df["minority"]
            for feature in RISK_FEATURES:
                values = df[feature]
                if feature == "child_age_band":
                    values = values.cat.codes
                values = values.astype(float)
                a, b = values[minority], values[~minority]
                if abs(a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2) >= 0.1:
                    return "feature"
            return "none"
            ### END SOLUTION
        """,
        "diagnose",
        guided="""
        def diagnose(df):
            \"\"\"Return "label", "feature" or "none": where the disparity comes from.\"\"\"
            for harmed in (False, True):
                same_truth = df[df["substantiated_harm"] == harmed]
                rates = same_truth.groupby("minority")["rereferred"].mean()
                ratio = rates[True] / rates[False]
                # The blank: the condition "the ratio lies OUTSIDE 0.8 to 1.25" (see the example)
                if ...:
                    return "label"
            minority = df["minority"]
            for feature in RISK_FEATURES:
                values = df[feature]
                if feature == "child_age_band":
                    values = values.cat.codes
                values = values.astype(float)
                a, b = values[minority], values[~minority]
                # The blank: the SMD of this feature in absolute value, without its sign
                # (abs, as in the example; the SMD itself as in your feature_gaps above)
                if ... >= 0.1:
                    return "feature"
            return "none"
        """,
    ),
    code(
        """
        print("this county:  ", diagnose(df))
        print("second county:", diagnose(second))
        """,
        locked=False,
    ),
    test(
        """
        \"\"\"Check diagnose on both counties above (and on counties you cannot see).\"\"\"
        assert diagnose(df) == "label"
        assert diagnose(second) == "feature"
        """,
        (
            """
            # Five unseen counties: a fixed answer, or a test of the overall label rate
            # or of the non-harmed families only, gets some of them wrong.
            cases = [
                ("label", 61),
                ("label-harmed", 62),
                ("feature", 63),
                ("feature-dv", 64),
                ("none", 65),
            ]
            for cause, seed in cases:
                hid, want = _case(cause, seed)
                got = diagnose(hid)
                assert type(got) is str and got in ("label", "feature", "none"), repr(got)
                assert str(got) == want, f"county {seed}: expected {want!r}, got {got!r}"
            """
        ),
        "test_diagnose",
        3,
    ),
    md(
        """
        ## 5. What an explanation shows - and what it cannot

        Explanation tools such as SHAP split each score into contributions of the inputs.
        Below: the average contribution of each input to the vendor's score (in log-odds),
        for minority and for majority families; then the breakdown of one minority
        family's score, starting from the average score E[f(X)] at the bottom, as a
        caseworker would see it.
        Look at which input pushes minority families' scores up.
        """
    ),
    code(
        """
        import shap

        rows = X_vendor.sample(2000, random_state=0)
        explainer = shap.LinearExplainer(vendor_model, X_vendor.sample(500, random_state=1))
        explanation = explainer(rows)



        def input_name(column):
            # "district_Centre" -> "district": one bar per input, not per 0/1 column
            for name in ("district", "child_age_band"):
                if column.startswith(name + "_"):
                    return name
            return column


        contrib = pd.DataFrame(explanation.values, columns=rows.columns, index=rows.index)
        by_input = contrib.T.groupby(input_name).sum().T
        means = by_input.groupby(df.loc[rows.index, "minority"].to_numpy()).mean().T
        means.columns = ["majority", "minority"]
        ax = means.plot.barh(color=["tab:blue", "tab:orange"], figsize=(6, 3.5))
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel("average contribution to the score (log-odds)")
        ax.set_title("What the explanation says drives the score")
        plt.show()

        # one minority family: the same contributions, one per input, as a waterfall
        family = by_input[df.loc[rows.index, "minority"].to_numpy()]["district"].idxmax()
        shap.plots.waterfall(
            shap.Explanation(
                values=by_input.loc[family].to_numpy(),
                base_values=float(explanation.base_values[rows.index.get_loc(family)]),
                data=df.loc[family, by_input.columns].to_numpy(dtype=object),
                feature_names=list(by_input.columns),
            )
        )
        """
    ),
    md(
        """
        The explanation points at the **district**: the model has learned that living in
        some districts goes with being re-referred. But the districts are only a stand-in
        for the group (minority families live more often in Centre and South), and the
        reason why the group goes with re-referral is the label you diagnosed above. An
        explanation describes **how the model uses its inputs**; it says nothing about
        whether the label it was trained on measures the right thing.

        ## 6. Three repairs compared

        Suppose the service tries two repairs: drop the district from the inputs, or
        (only possible in this synthetic world) train on the true outcome. Compare the
        flag-rate ratios - and look at what the vendor's usual validation, which checks
        the score against the label, says about the model without the district.
        """
    ),
    code(
        """
        variants = {
            "vendor: all inputs, label": (RISK_FEATURES + ["district"], "rereferred"),
            "without district, label": (RISK_FEATURES, "rereferred"),
            "all inputs, true harm": (RISK_FEATURES + ["district"], "substantiated_harm"),
        }
        ratios = {}
        for name, (columns, label) in variants.items():
            model, X, flags = pilot_score(df, columns, label)
            r = pd.Series(flags).groupby(df["minority"].to_numpy()).mean()
            ratios[name] = r[True] / r[False]
            if name.startswith("without"):
                # the vendor's validation: average predicted risk versus the label's rate
                check = pd.DataFrame(
                    {"predicted risk": model.predict_proba(X)[:, 1], "re-referred": df["rereferred"]}
                ).groupby(df["minority"].map({True: "minority", False: "majority"}).to_numpy()).mean()

        ax = pd.Series(ratios).plot.barh(color="tab:gray", figsize=(6, 2.5))
        ax.axvline(1, color="black", linewidth=0.8)
        ax.set_xlabel("flag-rate ratio, minority / majority")
        plt.show()
        print("Validation of the model without district against the label:")
        check.round(3)
        """
    ),
    md(
        """
        Without the district the flags are balanced - yet, measured against the biased
        label, the model now seems to **under-predict** risk for minority families: it
        predicts about the same average risk for both groups, while the label says 29%
        of minority and 16% of majority families are re-referred. A vendor who validates against the label would
        "correct" this by adding the district, or any other proxy, back. Real data hold
        many proxies (benefit records, police contacts, the referrals themselves), so
        dropping one input rarely removes a label bias.

        ## 7. Your conclusions (graded by your trainer)

        ### 7.1 Label or feature? (3 points)

        Write a short note (5-8 sentences) to the head of service: where does the pilot
        score's disparity come from, what is your evidence (quote your numbers), and would
        removing the district from the inputs solve the problem? Say what would.
        """
    ),
    answer(
        """
        The disparity comes from the label, not from the features. The score flags
        minority families about 1.9 times as often as majority families. The truth
        (substantiated harm) is equally common in both groups (ratio 1.0), and the risk
        features are balanced (every |SMD| below 0.1). But among families who were *not*
        harmed, minority families are re-referred 2.5 times as often (25% versus 10%),
        while among harmed families the rates are equal: the label measures surveillance
        as well as harm. The model reproduces this through the district, a proxy for the
        group. Removing the district balances the flags here, but the model is still
        trained and validated on a label that calls minority families riskier, so the
        next proxy will bring the bias back and the validation will push for it. The fix
        is a better label (for example substantiated findings after investigation, with
        an independent check of how they are recorded) or a label-bias correction, and
        monitoring of error rates by group against that better measure.
        """,
        "label_vs_feature",
        3,
    ),
    md(
        """
        ### 7.2 The limits of explanations (3 points)

        A colleague proposes to publish SHAP explanations for every flagged family and
        says this would "show that the tool is fair". Using what you saw in section 5,
        explain what such explanations can and cannot tell a family or a supervisor, and
        what they would have missed in this case.
        """
    ),
    answer(
        """
        SHAP explains how the model combines its inputs into a score: here, that the
        district raised this family's score. It cannot say whether the label the model
        learned measures what we care about, whether an input was recorded fairly, or
        whether the score is right for this family: it is faithful to the model, not to
        the world. In this case the explanation blamed the district, a proxy, while the
        root cause was the re-referral label; acting on the explanation alone (dropping
        the district) would hide the symptom and keep the cause. Explanations are useful
        for a family to contest an input that is wrong and for a screener to see what
        drives a score, but showing fairness needs an audit of the data and the label by
        group (Art. 10(2)(f)), not a per-case explanation; and an explanation that names a
        district can itself reveal a sensitive proxy.
        """,
        "limits_of_explanations",
        3,
    ),
    md(
        """
        ### 7.3 Without the truth column (2 points)

        A real service never observes `substantiated_harm`. Name two ways to check a
        label for bias in practice, and one thing you would require from the provider
        under Art. 10(2) before deploying such a tool.
        """
    ),
    answer(
        """
        (1) Audit a random sample of referrals from both groups by independent case
        reviewers who assess the child's situation without knowing the score, and compare
        how often the label is "wrong" in each group. (2) Compare the label with other,
        less surveillance-driven outcome measures (e.g. hospital records of injuries,
        outcomes of full investigations) by group, and look for who reports: if reports
        about minority families come more often from public agencies, the label carries
        their attention. From the provider I would require documentation of why the label
        was chosen and what it is assumed to measure (Art. 10(2)(d)), and a bias
        examination of the label by group, including the feedback loop in which the tool
        produces its own future labels (Art. 10(2)(f)), with the measures taken (10(2)(g)).
        """,
        "real_world_check",
        2,
    ),
]

nb = nbformat.v4.new_notebook(cells=cells)
nb.metadata = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
for i, cell in enumerate(nb.cells):
    cell.id = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell-{i:02d}"
nbformat.validate(nb)
OUT.parent.mkdir(parents=True, exist_ok=True)
nbformat.write(nb, str(OUT))
print("wrote", OUT)
