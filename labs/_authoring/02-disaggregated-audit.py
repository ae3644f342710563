"""Write labs/02-disaggregated-audit/disaggregated-audit.ipynb (nbgrader source notebook).

Run from the repository root:
/opt/ai4scale/venv/bin/python labs/_authoring/02-disaggregated-audit.py
"""

from pathlib import Path

from _l1cells import answer, code, example, md, solution, test, write

OUT = Path(__file__).resolve().parents[1] / "02-disaggregated-audit" / "disaggregated-audit.ipynb"

# Shared by the hidden tests: a bootstrap resample the learner never sees.
HIDDEN_RESAMPLE = """
_rng = np.random.default_rng(20160523)
_resample = defendants.iloc[_rng.integers(0, len(defendants), size=2500)].reset_index(drop=True)
"""

CELLS = [
    md(
        """
# Disaggregated audit of a criminal-justice risk score

**The case.** COMPAS is a commercial risk-assessment tool used by US courts. In 2016 the
newsroom ProPublica obtained the scores of about 7,000 people screened in Broward County,
Florida, in 2013-2014, and checked who was charged with a new offence in the two following
years. Its finding: among people who did **not** reoffend, Black defendants had been labelled
higher-risk almost twice as often as white defendants. The vendor, Northpointe, replied that
the score was fair: at every score, Black and white defendants reoffended at about the same
rate. Both statements turned out to be true at once, and researchers proved that, in
general, they cannot both be "fixed" (Chouldechova 2017; Kleinberg, Mullainathan and
Raghavan 2016).

**Your role.** Your ministry of justice is offered a similar tool for probation and
pre-trial decisions; European services already use risk instruments (OASys in England and
Wales, RisCanvi in Catalonia). The vendor's brochure says "validated, equally accurate for
all groups". You audit what such a claim can mean, on the only large public data of this
kind.

**Why this is a legal duty.** A system used to assess the risk of a person offending or
reoffending is high-risk under the EU AI Act (Annex III, point 6(d); point 8(a) when it
assists a court), and a risk prediction based *solely* on profiling or personality traits
is prohibited (Art. 5(1)(d)). The provider must show the system performs appropriately for
the groups it is used on (Art. 10, Art. 15), and the deploying authority must organise
**human oversight** (Art. 14, Art. 26(2)): the officers who see the score must understand
its limits, including how its errors fall on different groups.

**What you will do.** Compute the error rates of the score for each group separately (a
*disaggregated* evaluation), check whether a "high risk" label means the same in every
group, verify the simple arithmetic behind the impossibility result, and write a memo.

Run the cells in order (Shift+Enter). Complete the exercises: each one says what to fill
in. Write your own answers in the cells marked `YOUR ANSWER HERE`. A cell that begins with
"Check" tests your work: if it shows no red error message, the check passed. When your
work is graded, the checks also use data you cannot see. Time: about 75 minutes.
""",
        "intro",
    ),
    code(
        """
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate
from sklearn.metrics import precision_score

from ai4scale import datasets

compas = datasets.load("compas-recidivism").frame
# ProPublica's analysis sample: 6,172 people with a known two-year outcome.
defendants = compas[compas["propublica_sample"]].reset_index(drop=True)
print(len(defendants), "defendants")
shown = ["sex", "age", "race", "priors_count", "decile_score", "high_risk", "two_year_recid"]
defendants[shown].head()
""",
        "load_data",
    ),
    md(
        """
Three columns matter most:

- `decile_score`: the COMPAS score, 1 (lowest risk) to 10 (highest);
- `high_risk`: 1 when the score is 5 or more (COMPAS "Medium" or "High"), the cut-off
  ProPublica used for "labelled higher risk": this is the **prediction**;
- `two_year_recid`: 1 when the person was charged with a new offence within two years:
  this is the **outcome** the score tries to predict. (A new *charge*, not a conviction:
  it measures policing as well as behaviour.)

How many people of each group are there, and how often did each group reoffend? The
share that reoffended is the group's **base rate**; it will matter a lot.
"""
    ),
    code(
        """
overview = defendants.groupby("race", observed=True).agg(
    people=("two_year_recid", "size"),
    base_rate=("two_year_recid", "mean"),
    labelled_high_risk=("high_risk", "mean"),
)
overview.round(3)
""",
        "overview",
    ),
    md(
        """
Asian (31) and Native American (11) defendants are too few for any reliable rate: keep
them in the tables, but draw conclusions only for the larger groups. In the rest of the lab
we compare mainly African-American and Caucasian defendants, as ProPublica did.

## 1. Error rates per group (3 points)

**Why.** A single accuracy figure hides who bears the errors. A risk score makes two kinds
of mistakes, and they hurt different people:

- a **false positive**: someone who would *not* reoffend is labelled high-risk, and may be
  kept in detention or supervised more strictly. The **false positive rate (FPR)** is the
  share of non-reoffenders labelled high-risk.
- a **false negative**: someone who *will* reoffend is labelled low-risk. The **false
  negative rate (FNR)** is the share of reoffenders labelled low-risk.

*Error-rate balance* means equal FPR and equal FNR in every group.

**Your task.** Complete `error_rates(y_true, y_pred, groups)`: given the outcomes
(`y_true`), the predictions (`y_pred`) and each person's group (`groups`), it returns a
table with **one row per group** and two columns, `false_positive_rate` and
`false_negative_rate`. It uses `MetricFrame` from the fairlearn library, which computes
any measure group by group; the table it returns is a pandas `DataFrame`.

*Hint:*

```python
mf = MetricFrame(
    metrics={"false_positive_rate": false_positive_rate, "false_negative_rate": ...},
    y_true=y_true, y_pred=y_pred, sensitive_features=groups,
)
mf.by_group   # the table, one row per group
```
"""
    ),
    example(
        """
# A worked example (not graded): two measures for each office, on 6 made-up decisions.
from fairlearn.metrics import selection_rate

example_table = pd.DataFrame(
    {
        "office": ["North", "North", "North", "South", "South", "South"],
        "needed_help": [0, 0, 1, 0, 1, 1],  # what really happened (the outcome)
        "flagged": [1, 0, 1, 0, 0, 1],  # what the tool said (the prediction)
    }
)
example_frame = MetricFrame(
    metrics={
        # "the column's name": the function that computes it
        "false_positive_rate": false_positive_rate,
        "selection_rate": selection_rate,  # the share of people flagged
    },
    y_true=example_table["needed_help"],
    y_pred=example_table["flagged"],
    sensitive_features=example_table["office"],  # the column that says who is in which group
)
example_frame.by_group  # the table: one row per office, one column per measure
"""
    ),
    solution(
        '''
def error_rates(y_true, y_pred, groups):
    """Return the false positive and false negative rate of each group (a DataFrame)."""
    ### BEGIN SOLUTION
    mf = MetricFrame(
        metrics={
            "false_positive_rate": false_positive_rate,
            "false_negative_rate": false_negative_rate,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
    )
    return mf.by_group
    ### END SOLUTION
''',
        "error_rates",
        guided='''
def error_rates(y_true, y_pred, groups):
    """Return the false positive and false negative rate of each group (a DataFrame)."""
    mf = MetricFrame(
        metrics={
            "false_positive_rate": false_positive_rate,
            # Fill in the function that measures the false negative rate
            # (it was loaded at the top of the notebook, next to false_positive_rate).
            "false_negative_rate": ...,
        },
        y_true=y_true,
        y_pred=y_pred,
        # Fill in which people are in which group (one of the three names in brackets
        # on the first line: y_true, y_pred or groups).
        sensitive_features=...,
    )
    return mf.by_group
''',
    ),
    code(
        """
rates = error_rates(defendants["two_year_recid"], defendants["high_risk"], defendants["race"])
(100 * rates).round(1)
""",
        locked=False,
    ),
    code(
        """
two = ["African-American", "Caucasian"]
ax = (100 * rates.loc[two]).T.plot.bar(rot=0, figsize=(7, 3.5), color=["#8e44ad", "#e67e22"])
ax.set_ylabel("% of the people concerned")
ax.set_xticklabels(
    ["labelled high-risk,\\ndid not reoffend (FPR)", "labelled low-risk,\\ndid reoffend (FNR)"]
)
ax.set_title("Who bears which error? (Broward County, 2013-2014)")
plt.show()
""",
        locked=False,
    ),
    test(
        '''
"""Check error_rates on the defendants (and on data you cannot see)."""
r = error_rates(defendants["two_year_recid"], defendants["high_risk"], defendants["race"])
assert isinstance(r, pd.DataFrame), "return a DataFrame (MetricFrame's by_group)"
assert abs(float(r.loc["African-American", "false_positive_rate"]) - 0.4234) < 1e-3
assert abs(float(r.loc["Caucasian", "false_negative_rate"]) - 0.4964) < 1e-3
### BEGIN HIDDEN TESTS
_t = pd.Series([0, 0, 0, 1, 1, 0, 1, 1])
_p = pd.Series([1, 0, 0, 1, 0, 1, 1, 0])
_g = pd.Series(list("AAAAABBB"))
_r = error_rates(_t, _p, _g)
for _grp, _fpr, _fnr in (("A", 1 / 3, 1 / 2), ("B", 1.0, 1 / 2)):
    assert abs(float(_r.loc[_grp, "false_positive_rate"]) - _fpr) < 1e-9
    assert abs(float(_r.loc[_grp, "false_negative_rate"]) - _fnr) < 1e-9
'''
        + HIDDEN_RESAMPLE
        + """
for _col in ("sex", "age_cat"):
    _r = error_rates(_resample["two_year_recid"], _resample["high_risk"], _resample[_col])
    for _grp in _resample[_col].unique():
        _m = _resample[_col] == _grp
        _y, _yp = _resample.loc[_m, "two_year_recid"], _resample.loc[_m, "high_risk"]
        _fpr = float(((_yp == 1) & (_y == 0)).sum() / (_y == 0).sum())
        _fnr = float(((_yp == 0) & (_y == 1)).sum() / (_y == 1).sum())
        assert abs(float(_r.loc[_grp, "false_positive_rate"]) - _fpr) < 1e-6, (_col, _grp)
        assert abs(float(_r.loc[_grp, "false_negative_rate"]) - _fnr) < 1e-6, (_col, _grp)
### END HIDDEN TESTS
""",
        "test_error_rates",
        3,
    ),
    md(
        """
Among people who did **not** reoffend, African-American defendants were labelled high-risk
about twice as often as Caucasian defendants (ProPublica published 45% against 23% from a
slightly different selection of the data). Among people who **did** reoffend, Caucasian
defendants were far more often labelled low-risk. The score's errors are not balanced.

## 2. Predictive parity (2 points)

**Why.** The vendor looks at the same table from the other side: *when the tool says
"high risk", how often is it right?* That share is the **positive predictive value (PPV)**,
also called precision: among the people labelled high-risk, the share who reoffended.
*Predictive parity* means equal PPV in every group: a "high risk" label means the same in
every group.

**Your task.** Complete `ppv_by_group(y_true, y_pred, groups)`: it returns the PPV of
each group, one number per group (a pandas `Series`). It uses `MetricFrame` again, this
time with a single measure, `precision_score` (loaded at the top from the scikit-learn
library); with one measure, `mf.by_group` is a single column of numbers, one per group.
"""
    ),
    example(
        """
# A worked example (not graded): one measure for each age band, on 6 made-up decisions.
# With a single measure, there is no list of names: metrics= is just the function.
example_table = pd.DataFrame(
    {
        "age_band": ["young", "young", "young", "older", "older", "older"],
        "needed_help": [0, 0, 1, 0, 1, 1],  # the outcome
        "flagged": [1, 0, 1, 0, 1, 0],  # the prediction
    }
)
example_frame = MetricFrame(
    metrics=false_positive_rate,
    y_true=example_table["needed_help"],
    y_pred=example_table["flagged"],
    sensitive_features=example_table["age_band"],
)
example_frame.by_group  # one number per age band
"""
    ),
    solution(
        '''
def ppv_by_group(y_true, y_pred, groups):
    """Return the positive predictive value (precision) of each group (a Series)."""
    ### BEGIN SOLUTION
    mf = MetricFrame(
        metrics=precision_score, y_true=y_true, y_pred=y_pred, sensitive_features=groups
    )
    return mf.by_group
    ### END SOLUTION
''',
        "ppv_by_group",
        guided='''
def ppv_by_group(y_true, y_pred, groups):
    """Return the positive predictive value (precision) of each group (a Series)."""
    # Fill in metrics=...: the one measure to compute for each group, the PPV
    # (its function was loaded at the top from scikit-learn; the task above names it).
    mf = MetricFrame(
        metrics=..., y_true=y_true, y_pred=y_pred, sensitive_features=groups
    )
    return mf.by_group
''',
    ),
    code(
        """
ppv = ppv_by_group(defendants["two_year_recid"], defendants["high_risk"], defendants["race"])
(100 * ppv.loc[two]).round(1)
""",
        locked=False,
    ),
    test(
        '''
"""Check ppv_by_group on the defendants (and on data you cannot see)."""
p = ppv_by_group(defendants["two_year_recid"], defendants["high_risk"], defendants["race"])
assert isinstance(p, pd.Series), "return a Series (MetricFrame's by_group with one metric)"
assert abs(float(p["African-American"]) - 0.6495) < 1e-3
assert abs(float(p["Caucasian"]) - 0.5948) < 1e-3
### BEGIN HIDDEN TESTS
_t = pd.Series([0, 1, 1, 1, 0, 1, 0, 0])
_p = pd.Series([1, 1, 1, 0, 1, 1, 1, 0])
_g = pd.Series(list("AAAABBBB"))
_r = ppv_by_group(_t, _p, _g)
assert abs(float(_r["A"]) - 2 / 3) < 1e-9
assert abs(float(_r["B"]) - 1 / 3) < 1e-9
'''
        + HIDDEN_RESAMPLE
        + """
_r = ppv_by_group(_resample["two_year_recid"], _resample["high_risk"], _resample["age_cat"])
for _grp in _resample["age_cat"].unique():
    _m = (_resample["age_cat"] == _grp) & (_resample["high_risk"] == 1)
    assert abs(float(_r[_grp]) - float(_resample.loc[_m, "two_year_recid"].mean())) < 1e-6
### END HIDDEN TESTS
""",
        "test_ppv_by_group",
        2,
    ),
    md(
        """
## 3. Calibration by group (2 points)

**Why.** Predictive parity looks at one cut-off. *Calibration* looks at every score: for
each value of the score, how many people with that score actually reoffended? A score is
**calibrated by group** when, at each score, the groups reoffend at about the same rate: a
"7" then means the same risk whoever receives it. This was the vendor's main defence.

**Your task.** Complete `calibration_by_group(scores, y_true, groups)`: it returns a
table with **one row per score value** and **one column per group**; each cell holds the
share of people with that score, in that group, for whom `y_true` is 1.

*Hint:* `pd.crosstab(scores, groups, values=y_true, aggfunc="mean")` builds exactly this
table (rows from the first argument, columns from the second, the mean of `values` in each
cell).
"""
    ),
    example(
        """
# A worked example (not graded): the approval rate for each office (rows) and sex
# (columns), on 6 made-up applications. The mean of a 0/1 column is a share.
example_table = pd.DataFrame(
    {
        "office": ["North", "North", "North", "South", "South", "South"],
        "sex": ["F", "M", "F", "M", "F", "M"],
        "approved": [1, 0, 0, 1, 1, 1],
    }
)
pd.crosstab(
    example_table["office"],  # the rows
    example_table["sex"],  # the columns
    values=example_table["approved"],  # the column averaged in each cell
    aggfunc="mean",
)
"""
    ),
    solution(
        '''
def calibration_by_group(scores, y_true, groups):
    """Return the observed outcome rate for each score (rows) and group (columns)."""
    ### BEGIN SOLUTION
    return pd.crosstab(scores, groups, values=y_true, aggfunc="mean")
    ### END SOLUTION
''',
        "calibration_by_group",
        guided='''
def calibration_by_group(scores, y_true, groups):
    """Return the observed outcome rate for each score (rows) and group (columns)."""
    # Rows: the scores; columns: the groups. Fill in values=...: the 0/1 column to
    # average in each cell, the one that says whether the person reoffended.
    return pd.crosstab(scores, groups, values=..., aggfunc="mean")
''',
    ),
    code(
        """
calibration = calibration_by_group(
    defendants["decile_score"], defendants["two_year_recid"], defendants["race"]
)
fig, ax = plt.subplots(figsize=(7, 4))
for group, colour in zip(two, ["#8e44ad", "#e67e22"]):
    ax.plot(calibration.index, 100 * calibration[group], marker="o", color=colour, label=group)
ax.set_xticks(range(1, 11))
ax.set_xlabel("COMPAS decile score")
ax.set_ylabel("% who reoffended within two years")
ax.set_title("At the same score, do the groups reoffend at the same rate?")
ax.legend()
plt.show()
""",
        locked=False,
    ),
    test(
        '''
"""Check calibration_by_group on the defendants (and on data you cannot see)."""
c = calibration_by_group(
    defendants["decile_score"], defendants["two_year_recid"], defendants["race"]
)
assert isinstance(c, pd.DataFrame), "return a DataFrame: rows are scores, columns groups"
assert abs(float(c.loc[1, "African-American"]) - 0.2329) < 1e-3
top_white = defendants.query("decile_score == 10 and race == 'Caucasian'")
assert abs(float(c.loc[10, "Caucasian"]) - float(top_white["two_year_recid"].mean())) < 1e-9
### BEGIN HIDDEN TESTS
_s = pd.Series([1, 1, 2, 2, 2, 1, 2, 2])
_t = pd.Series([0, 1, 1, 1, 0, 0, 1, 0])
_g = pd.Series(list("AAAAABBB"))
_c = calibration_by_group(_s, _t, _g)
_expected = {(1, "A"): 0.5, (2, "A"): 2 / 3, (1, "B"): 0.0, (2, "B"): 0.5}
for (_score, _grp), _rate in _expected.items():
    assert abs(float(_c.loc[_score, _grp]) - _rate) < 1e-9
'''
        + HIDDEN_RESAMPLE
        + """
_c = calibration_by_group(_resample["decile_score"], _resample["two_year_recid"], _resample["sex"])
_observed = _resample.groupby(["decile_score", "sex"], observed=True)["two_year_recid"].mean()
for (_score, _grp), _rate in _observed.items():
    assert abs(float(_c.loc[_score, _grp]) - float(_rate)) < 1e-6, (_score, _grp)
### END HIDDEN TESTS
""",
        "test_calibration_by_group",
        2,
    ),
    md(
        """
The two lines lie close together: at the same score, African-American and Caucasian
defendants reoffended at similar rates. By the vendor's yardstick the score is fair. By
ProPublica's it is not. How can both be true?

## 4. Why both cannot hold: Chouldechova's identity (2 points)

**Why.** Write *p* for a group's base rate, and PPV, FPR and FNR as above. Counting the
four kinds of people (true and false positives and negatives) in any group gives, exactly:

$$\\text{FPR} = \\frac{p}{1-p}\\cdot\\frac{1-\\text{PPV}}{\\text{PPV}}\\cdot(1-\\text{FNR})$$

So if two groups have **different base rates** *p*, a score cannot have the same PPV
*and* the same FNR *and* the same FPR in both: fix two, and the third must differ. Only a
perfect predictor, or equal base rates, escapes. Kleinberg, Mullainathan and Raghavan
proved the same for calibration and balanced errors.

**Your task.** Complete `implied_fpr(base_rate, ppv, fnr)`: it returns the FPR given by
the formula above (plain numbers in, a plain number out). In Python `*` multiplies, `/`
divides, and brackets group as on paper.
"""
    ),
    example(
        """
# A worked example (not graded): the formula  a / (1 - a) x b  written in Python,
# with made-up numbers a = 0.2 and b = 0.6.
a = 0.2
b = 0.6
a / (1 - a) * b  # 0.2 / 0.8 x 0.6 = 0.15
"""
    ),
    solution(
        '''
def implied_fpr(base_rate, ppv, fnr):
    """Return the false positive rate implied by the base rate, PPV and FNR."""
    ### BEGIN SOLUTION
    return base_rate / (1 - base_rate) * (1 - ppv) / ppv * (1 - fnr)
    ### END SOLUTION
''',
        "implied_fpr",
        guided='''
def implied_fpr(base_rate, ppv, fnr):
    """Return the false positive rate implied by the base rate, PPV and FNR."""
    # The formula's three factors, one after the other. Fill in the first one, p/(1-p),
    # writing base_rate for p (see how (1-PPV)/PPV is written just after it).
    return ... * (1 - ppv) / ppv * (1 - fnr)
''',
    ),
    md(
        """
First, check the identity on the real figures: the implied FPR should equal the measured
one. Then the chart asks the policy question: suppose the vendor re-tuned the score so that
both groups had the **same** PPV and the **same** FNR (the overall values). What FPR would
each group then get?
"""
    ),
    code(
        """
base = defendants.groupby("race", observed=True)["two_year_recid"].mean()
for group in two:
    implied = implied_fpr(base[group], ppv[group], rates.loc[group, "false_negative_rate"])
    measured = rates.loc[group, "false_positive_rate"]
    print(f"{group:17s} measured FPR {measured:.3f}   implied FPR {implied:.3f}")

overall_ppv = precision_score(defendants["two_year_recid"], defendants["high_risk"])
overall_fnr = false_negative_rate(defendants["two_year_recid"], defendants["high_risk"])
p = np.linspace(0.2, 0.7, 51)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(100 * p, 100 * implied_fpr(p, overall_ppv, overall_fnr), color="#2c3e50")
for group, colour in zip(two, ["#8e44ad", "#e67e22"]):
    fpr = implied_fpr(base[group], overall_ppv, overall_fnr)
    label = f"{group}: base rate {base[group]:.0%}, FPR {fpr:.0%}"
    ax.scatter(100 * base[group], 100 * fpr, color=colour, zorder=3, s=60, label=label)
ax.set_xlabel("base rate of the group (% who reoffend)")
ax.set_ylabel("false positive rate (%)")
ax.set_title(f"Same PPV ({overall_ppv:.0%}) and FNR ({overall_fnr:.0%}) for everyone")
ax.legend()
plt.show()
""",
        locked=False,
    ),
    test(
        '''
"""Check implied_fpr on the defendants (and on numbers you cannot see)."""
v = implied_fpr(0.5, 0.6, 0.3)
assert abs(float(v) - 0.5 / 0.5 * 0.4 / 0.6 * 0.7) < 1e-9
### BEGIN HIDDEN TESTS
for _p, _ppv, _fnr in ((0.2, 0.5, 0.4), (0.7, 0.9, 0.1), (0.45, 0.62, 0.38)):
    _expected = _p / (1 - _p) * (1 - _ppv) / _ppv * (1 - _fnr)
    assert abs(float(implied_fpr(_p, _ppv, _fnr)) - _expected) < 1e-9, (_p, _ppv, _fnr)
# The identity holds on a group of the real data (values computed here, not by the learner).
_m = defendants["race"] == "Hispanic"
_y, _yp = defendants.loc[_m, "two_year_recid"], defendants.loc[_m, "high_risk"]
_ppv = float(_y[_yp == 1].mean())
_fnr = float(((_yp == 0) & (_y == 1)).sum() / (_y == 1).sum())
_fpr = float(((_yp == 1) & (_y == 0)).sum() / (_y == 0).sum())
assert abs(float(implied_fpr(float(_y.mean()), _ppv, _fnr)) - _fpr) < 1e-9
### END HIDDEN TESTS
''',
        "test_implied_fpr",
        2,
    ),
    md(
        """
## 5. Memo: which fairness, and who decides? (4 points, graded by your trainer)

Write a memo of about 200 words to the head of the probation service, who must decide
whether to buy the tool. Use your figures. Explain:

- what ProPublica measured (error-rate balance) and what the vendor measured (predictive
  parity, calibration), and that both findings are correct;
- why a score cannot satisfy both when base rates differ (the identity of section 4), and
  what the different base rates themselves may reflect (the outcome is a new *charge*);
- which kind of error matters more in this use and for whom, and that choosing is a policy
  decision the service must take, document and justify, not a technical detail for the
  vendor.
"""
    ),
    answer(
        """
### BEGIN SOLUTION
**To the head of the probation service: what "fair" can mean for the risk tool**

Both sides in the COMPAS dispute were right. The score is calibrated by group: at the same
score, Black and white defendants reoffended at similar rates, and when it says "high risk"
it is right 65% of the time for African-American and 59% for Caucasian defendants
(predictive parity roughly holds). But its errors fall unevenly: 42% of African-American
defendants who did not reoffend were labelled high-risk against 22% of Caucasian ones,
while reoffending Caucasian defendants were missed far more often (FNR 50% against 28%).

This is not a bug the vendor can fix. The base rates differ (52% against 39%); given the
identity FPR = p/(1-p) x (1-PPV)/PPV x (1-FNR), a tool with the same PPV and FNR in both
groups must give the group with the higher base rate a higher FPR. Only equal base rates or
perfect prediction avoid the trade-off. The base rates are themselves suspect: the outcome
is a new charge, so heavier policing of a group raises its measured rate.

For probation and pre-trial decisions a false positive costs an innocent person liberty;
I would weigh equal false positive rates heavily. Whichever criterion we choose, it is our
decision under Art. 26 and the fundamental-rights assessment (Art. 27), to be written into
the procurement and monitored, not left to the vendor's brochure.
### END SOLUTION
""",
        "impossibility_memo",
        4,
    ),
    md(
        """
## 6. Human oversight (3 points, graded by your trainer)

If the service deploys the tool, officers will see a score before they decide. Article 14(4)
requires that the people overseeing a high-risk system can (a) understand its capacities and
limitations and monitor it, (b) stay aware of *automation bias*, the tendency to over-rely
on its output, (c) interpret the output correctly, and (d) decide not to use it or
override it in a given case. As deployer, the service must assign oversight to people with
the competence, training and authority to do this (Art. 26(2)) and monitor the system in
use (Art. 26(5)).

Propose **three concrete measures** for this tool, each tied to a point of Art. 14(4) or
Art. 26 and to something you found in this audit.
"""
    ),
    answer(
        """
### BEGIN SOLUTION
1. **Training and an instruction card (Art. 14(4)(a), (c)).** Before using the score,
   officers learn what it predicts (a new charge within two years, not guilt or danger),
   that a "high risk" label is wrong for about one in three people so labelled, and that
   non-reoffending Black defendants were labelled high-risk twice as often as white ones.
   The card shows the error rates per group next to the score bands.
2. **Decision first, score second, override without penalty (Art. 14(4)(b), (d)).** The
   officer records their own assessment and reasons before seeing the score; where they
   depart from the score they write one sentence and no approval is needed. A high score
   can never be the only ground for detention. This counters automation bias and keeps the
   decision human.
3. **Monitoring by group (Art. 26(5), Art. 14(4)(a)).** Every quarter the service
   recomputes false positive and false negative rates and calibration per group on
   decisions and outcomes, publishes them to the oversight board, and suspends the tool
   (Art. 14(4)(e)) and informs the provider if the gaps grow beyond an agreed threshold.
### END SOLUTION
""",
        "human_oversight",
        3,
    ),
    md(
        """
## What you did

You disaggregated a risk score's evaluation by group, found unequal
false positive and false negative rates alongside roughly equal predictive values and
calibration, and verified the identity that makes the two fairness ideas incompatible when
base rates differ. The choice between them is a policy choice: the AI Act makes the
deploying authority responsible for it (Art. 26, Art. 27) and for real human oversight
(Art. 14).

*The data describe one US county in 2013-2014; they say nothing direct about risk tools in
European courts.*
""",
        "outro",
    ),
]


if __name__ == "__main__":
    write(CELLS, OUT)
