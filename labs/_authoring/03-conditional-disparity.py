"""Write labs/03-conditional-disparity/conditional-disparity.ipynb (nbgrader source notebook).

Run from the repository root:
/opt/ai4scale/venv/bin/python labs/_authoring/03-conditional-disparity.py
"""

from pathlib import Path

from _l1cells import answer, code, example, md, solution, test, write

OUT = (
    Path(__file__).resolve().parents[1] / "03-conditional-disparity" / "conditional-disparity.ipynb"
)

# The hidden tests' own implementation of the adjusted gap (the learner never sees it).
HIDDEN_REFERENCE = """
from sklearn.linear_model import LogisticRegression as _LR


def _reference_gap(df, group, outcome, controls):
    _X = df[[group] + controls].astype(float)
    _m = _LR(C=np.inf, max_iter=5000).fit(_X, df[outcome])
    _rows = _X[df[group].astype(bool)]
    _off = _rows.copy()
    _off[group] = 0.0
    return float((_m.predict_proba(_rows)[:, 1] - _m.predict_proba(_off)[:, 1]).mean())


_rng = np.random.default_rng(19921008)
_resample = mortgages.iloc[_rng.integers(0, len(mortgages), size=1800)].reset_index(drop=True)
"""

CELLS = [
    md(
        """
# Conditional disparity: are mortgage denials explained by risk?

**The case.** In 1990 the US Home Mortgage Disclosure Act data showed that Black applicants
in Boston were denied mortgages far more often than white applicants. Lenders answered that
the difference reflected credit risk: Black applicants had, on average, higher debts and
weaker credit histories. The Federal Reserve Bank of Boston went back to the lenders' own
files, added the information lenders say they use, and asked: *does the gap remain among
applicants with the same financial profile?* (Munnell et al., 1992, published 1996.) Its
answer, a smaller but clear remaining gap, was fiercely debated.

**Your role.** You work for a European supervisor (a financial supervisory authority, or
an equality body) investigating a complaint: a bank's mortgage decisions, partly driven by
a scoring model, deny applicants of an ethnic minority more often. The bank says "they are
riskier". You test that claim the way the Boston Fed did, on the Boston data.

**Why this is a legal duty.** Evaluating the creditworthiness of natural persons is
high-risk under the EU AI Act (Annex III, point 5(b)). Its provider must examine the data
for biases (Art. 10(2)(f)); a bank deploying it must carry out a fundamental-rights impact
assessment (Art. 27(1) names this use explicitly); and financial supervisors are the
market-surveillance authorities for banks (Art. 74(6)). Discrimination on grounds of racial
or ethnic origin in access to goods and services, housing included, is prohibited by the
Racial Equality Directive (2000/43/EC).

**The key idea.** A *raw gap* compares all applicants of two groups. An *adjusted* (or
conditional) gap compares applicants who are alike in the factors a lender may legitimately
use. If the adjusted gap is near zero, those factors explain the raw gap; if it stays
large, they do not. Which factors count as "legitimate" is not a statistical question, and
you will have to argue it.

Run the cells in order (Shift+Enter). Complete the exercises: each one says what to fill
in. Write your own answers in the cells marked `YOUR ANSWER HERE`. A cell that begins with
"Check" tests your work: if it shows no red error message, the check passed. When your
work is graded, the checks also use data you cannot see. Time: about 70 minutes.
""",
        "intro",
    ),
    code(
        """
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ai4scale import datasets

bunch = datasets.load("hmda-boston")
mortgages = bunch.frame
print(len(mortgages), "applications")
mortgages.head()
""",
        "load_data",
    ),
    md(
        """
One row per application. `deny` is 1 when the mortgage was denied; `afam` is True for
African-American applicants (the data hold only African-American and white applicants).
The other columns are what the lender knew:
"""
    ),
    code(
        """
pd.DataFrame(bunch.card["columns"])[["name", "role", "description"]].style.hide(axis="index")
""",
        "columns",
    ),
    md(
        """
## 1. The raw gap (2 points)

**Why.** The first figure any complaint rests on: how much more often is one group denied
than the other, all applicants together?

**Your task.** Complete `raw_gap(df, group, outcome)`: the share of rows with `outcome`
equal to 1 among rows where `group` is true, **minus** the same share where `group` is
false. It returns a plain number (`float`); 0.05 means 5 percentage points.

*Hint:* `df[df[group]]` keeps the rows where the group column is true, `df[~df[group]]`
the others; `.mean()` of a 0/1 column is a share. If the group column holds 0/1 numbers
instead of True/False, `df[group].astype(bool)` turns it into True/False first.
"""
    ),
    example(
        """
# A worked example (not graded): how much more often women were approved than others,
# on 5 made-up applications.
example_table = pd.DataFrame(
    {"woman": [True, True, False, False, False], "approved": [1, 0, 1, 1, 1]}
)
is_woman = example_table["woman"]
rate_women = example_table.loc[is_woman, "approved"].mean()  # 1 of 2 approved: 0.5
rate_others = example_table.loc[~is_woman, "approved"].mean()  # ~ means "not": 3 of 3: 1.0
float(rate_women - rate_others)  # -0.5: women were approved 50 points less often
"""
    ),
    solution(
        '''
def raw_gap(df, group, outcome):
    """Return the outcome rate where `group` is true minus the rate where it is false."""
    ### BEGIN SOLUTION
    in_group = df[group].astype(bool)
    return float(df.loc[in_group, outcome].mean() - df.loc[~in_group, outcome].mean())
    ### END SOLUTION
''',
        "raw_gap",
        guided='''
def raw_gap(df, group, outcome):
    """Return the outcome rate where `group` is true minus the rate where it is false."""
    in_group = df[group].astype(bool)
    # The rate of the rows in the group, minus ...: fill in the same rate for the rows
    # NOT in the group (see the worked example above).
    return float(df.loc[in_group, outcome].mean() - ...)
''',
    ),
    code(
        """
gap = raw_gap(mortgages, "afam", "deny")
print(f"Raw gap in denial rates: {gap:+.1%} points")
""",
        locked=False,
    ),
    test(
        '''
"""Check raw_gap on the applications (and on data you cannot see)."""
g = raw_gap(mortgages, "afam", "deny")
assert isinstance(g, float), "return a plain number (float)"
assert abs(g - (0.283186 - 0.092602)) < 1e-5
### BEGIN HIDDEN TESTS
_df = pd.DataFrame({"minority": [1, 1, 1, 0, 0, 0, 0], "refused": [1, 0, 0, 1, 0, 0, 0]})
assert abs(float(raw_gap(_df, "minority", "refused")) - (1 / 3 - 1 / 4)) < 1e-9
_df = pd.DataFrame({"g": [True, False, False], "y": [0, 1, 1]})
assert abs(float(raw_gap(_df, "g", "y")) - (-1.0)) < 1e-9
_s = mortgages[mortgages["chist"] >= 3]
_expected = float(_s.loc[_s["single"], "deny"].mean() - _s.loc[~_s["single"], "deny"].mean())
assert abs(float(raw_gap(_s, "single", "deny")) - _expected) < 1e-9
### END HIDDEN TESTS
''',
        "test_raw_gap",
        2,
    ),
    md(
        """
## 2. Compare like with like: a gap within each credit-history class (2 points)

**Why.** The simplest way to "control for" a factor is to compare the groups *within*
each of its values: African-American and white applicants with the same consumer credit
history (`chist`, 1 = no problems, 6 = serious delinquencies). If the raw gap came only
from worse credit histories, the gaps within each class would be near zero.

**Your task.** Complete `stratified_gap(df, group, outcome, stratum)`: for each value of
the column `stratum`, the raw gap (rate where `group` is true minus rate where it is
false) among the rows with that value. It returns one number per value of `stratum` (a
pandas `Series`).

*Hint:* `df.groupby([stratum, group])[outcome].mean().unstack()` gives a table with one
row per stratum and one column per group value (`False`, `True`); subtract the `False`
column from the `True` column. (Your `raw_gap` applied to each part of `df.groupby(stratum)`
works too.)
"""
    ),
    example(
        """
# A worked example (not graded): approval rates by office (rows) and by whether the
# applicant is a woman (columns), on 6 made-up applications; then the gap in each office.
example_table = pd.DataFrame(
    {
        "office": ["North", "North", "North", "South", "South", "South"],
        "woman": [True, False, False, True, True, False],
        "approved": [1, 1, 0, 0, 1, 1],
    }
)
example_rates = example_table.groupby(["office", "woman"])["approved"].mean().unstack()
print(example_rates)  # one row per office; one column for False, one for True
example_rates[True] - example_rates[False]  # women's rate minus the others', per office
"""
    ),
    solution(
        '''
def stratified_gap(df, group, outcome, stratum):
    """Return, for each value of `stratum`, the outcome-rate gap between the groups."""
    ### BEGIN SOLUTION
    rates = df.groupby([stratum, group])[outcome].mean().unstack()
    return rates[True] - rates[False]
    ### END SOLUTION
''',
        "stratified_gap",
        guided='''
def stratified_gap(df, group, outcome, stratum):
    """Return, for each value of `stratum`, the outcome-rate gap between the groups."""
    # Fill in the column to split by first, whose values become the rows (in the worked
    # example: "office"). Here it is one of the names on the function's first line.
    rates = df.groupby([..., group])[outcome].mean().unstack()
    # Fill in the column to subtract: the rate of the rows NOT in the group.
    return rates[True] - ...
''',
    ),
    code(
        """
by_credit = stratified_gap(mortgages, "afam", "deny", "chist")
counts = pd.crosstab(mortgages["chist"], mortgages["afam"])
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar(by_credit.index, 100 * by_credit, color="#16a085")
raw = 100 * raw_gap(mortgages, "afam", "deny")
ax.axhline(raw, color="#c0392b", linestyle="--", label="raw gap, all applicants")
ax.set_xlabel("consumer credit history (1 = clean ... 6 = serious delinquencies)")
ax.set_ylabel("denial-rate gap (% points)")
ax.set_title("Gap between African-American and white applicants with the same credit history")
ax.legend()
plt.show()
pd.DataFrame({"gap": by_credit.round(3), "white": counts[False], "African-American": counts[True]})
""",
        locked=False,
    ),
    test(
        '''
"""Check stratified_gap on the applications (and on data you cannot see)."""
s = stratified_gap(mortgages, "afam", "deny", "chist")
assert isinstance(s, pd.Series), "return a Series indexed by the stratum values"
assert abs(float(s[1]) - (0.133858 - 0.054649)) < 1e-5
assert abs(float(s[6]) - (0.441176 - 0.285714)) < 1e-5
### BEGIN HIDDEN TESTS
_df = pd.DataFrame(
    {
        "region": ["N", "N", "N", "N", "S", "S", "S"],
        "minority": [True, True, False, False, True, False, False],
        "refused": [1, 0, 0, 0, 1, 1, 0],
    }
)
_s = stratified_gap(_df, "minority", "refused", "region")
assert abs(float(_s["N"]) - 0.5) < 1e-9 and abs(float(_s["S"]) - 0.5) < 1e-9
_rng = np.random.default_rng(7)
_r = mortgages.iloc[_rng.integers(0, len(mortgages), size=2000)].reset_index(drop=True)
_s = stratified_gap(_r, "single", "deny", "mhist")
for _value in sorted(_r["mhist"].unique()):
    _part = _r[_r["mhist"] == _value]
    _e = _part.loc[_part["single"], "deny"].mean() - _part.loc[~_part["single"], "deny"].mean()
    assert abs(float(_s[_value]) - float(_e)) < 1e-9, _value
### END HIDDEN TESTS
''',
        "test_stratified_gap",
        2,
    ),
    md(
        """
Within every credit-history class, African-American applicants are denied more often, so
credit history alone does not explain the gap. But applicants also differ in their debts,
their loan size relative to the property's value, and more. Comparing within every
combination of all these factors at once would leave almost no applicants per cell. A
regression model does the comparison for all factors together.

## 3. The adjusted gap, with a logistic regression (3 points)

**Why.** A *logistic regression* estimates how each factor raises or lowers the
probability of denial, all factors held fixed. If we include the group among the factors,
the model can answer the question "what would this applicant's probability of denial be if
everything in the file stayed the same but the group were different?"

**Your task.** Complete `adjusted_gap(df, group, outcome, controls)` (`controls` is a
list of column names). It uses `LogisticRegression` from the scikit-learn library, and:

1. builds the table `X` of the columns `[group] + controls`, as numbers
   (`df[[group] + controls].astype(float)`);
2. fits `LogisticRegression(C=np.inf, max_iter=5000)` on `X` and `df[outcome]`
   (`C=np.inf` switches off the penalty scikit-learn applies by default, so the
   coefficients are the plain estimates);
3. takes the rows of `X` where the group is true; makes a copy of them with the group
   column set to `0.0` (same files, group switched);
4. returns, as a `float`, the **average** over those rows of the predicted probability of
   denial as recorded **minus** the predicted probability with the group switched
   (`model.predict_proba(rows)[:, 1]` is the probability of denial for each row).
"""
    ),
    example(
        """
# A worked example (not graded): the same switch on 8 made-up applications, with one
# control (debt) and the group column "woman" (1.0 = yes, 0.0 = no).
example_table = pd.DataFrame(
    {
        "woman": [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        "debt": [0.2, 0.4, 0.3, 0.5, 0.2, 0.4, 0.3, 0.5],
        "refused": [0, 1, 1, 1, 0, 0, 1, 0],
    }
)
example_X = example_table[["woman", "debt"]]
example_model = LogisticRegression().fit(example_X, example_table["refused"])
example_rows = example_X[example_table["woman"] == 1.0]  # the women's files
example_switched = example_rows.copy()  # the same files...
example_switched["woman"] = 0.0  # ...with the group switched off
as_recorded = example_model.predict_proba(example_rows)[:, 1]  # chance of refusal
if_switched = example_model.predict_proba(example_switched)[:, 1]
print("as recorded:  ", as_recorded.round(2))
print("group switched:", if_switched.round(2))
float((as_recorded - if_switched).mean())  # the average change: the adjusted gap
"""
    ),
    solution(
        '''
def adjusted_gap(df, group, outcome, controls):
    """Return the average change in predicted outcome probability for the group's rows
    when only the group is switched off, from a logistic regression with controls."""
    ### BEGIN SOLUTION
    X = df[[group] + controls].astype(float)
    model = LogisticRegression(C=np.inf, max_iter=5000).fit(X, df[outcome])
    rows = X[df[group].astype(bool)]
    switched = rows.copy()
    switched[group] = 0.0
    return float((model.predict_proba(rows)[:, 1] - model.predict_proba(switched)[:, 1]).mean())
    ### END SOLUTION
''',
        "adjusted_gap",
        guided='''
def adjusted_gap(df, group, outcome, controls):
    """Return the average change in predicted outcome probability for the group's rows
    when only the group is switched off, from a logistic regression with controls."""
    X = df[[group] + controls].astype(float)
    model = LogisticRegression(C=np.inf, max_iter=5000).fit(X, df[outcome])
    rows = X[df[group].astype(bool)]
    switched = rows.copy()
    # Switch the group off in the copy: fill in the number that means "not in the
    # group" (step 3 of the task says which).
    switched[group] = ...
    # The chance of denial as recorded, minus the chance with the group switched:
    # fill in which table of files the second prediction is made on.
    return float((model.predict_proba(rows)[:, 1] - model.predict_proba(...)[:, 1]).mean())
''',
    ),
    md(
        """
Now watch the gap as the supervisor adds, one block at a time, the factors the lender says
it uses. Each bar is the adjusted gap with all the factors above it.
"""
    ),
    code(
        """
steps = {
    "debt payments / income (pirat)": ["pirat"],
    "+ housing expenses / income (hirat)": ["hirat"],
    "+ loan / property value (lvrat)": ["lvrat"],
    "+ credit histories (chist, mhist, phist)": ["chist", "mhist", "phist"],
    "+ self-employed, condominium, industry unemployment": ["selfemp", "condomin", "unemp"],
    "+ denied mortgage insurance (insurance)": ["insurance"],
}
gaps = {"raw gap (no controls)": raw_gap(mortgages, "afam", "deny")}
controls = []
for label, columns in steps.items():
    controls = controls + columns
    gaps[label] = adjusted_gap(mortgages, "afam", "deny", controls)
gaps = pd.Series(gaps)
ax = (100 * gaps[::-1]).plot.barh(figsize=(8, 4), color="#2980b9")
ax.set_xlabel("gap in denial probability, African-American minus white (% points)")
ax.set_title("How much of the gap do the lender's criteria explain?")
plt.show()
(100 * gaps).round(1)
""",
        locked=False,
    ),
    test(
        '''
"""Check adjusted_gap on the applications (and on data you cannot see)."""
lender = ["pirat", "hirat", "lvrat", "chist", "mhist", "phist", "selfemp", "insurance"]
a = adjusted_gap(mortgages, "afam", "deny", lender)
assert isinstance(a, float), "return a plain number (float)"
assert 0.0 < a < 0.19, "the adjusted gap should be positive and smaller than the raw gap"
assert abs(a - 0.0888) < 0.002, f"{a:.4f}: did you use C=np.inf and average over the group?"
### BEGIN HIDDEN TESTS
'''
        + HIDDEN_REFERENCE
        + """
for _df, _group, _controls in (
    (_resample, "afam", ["pirat", "hirat", "lvrat", "chist", "mhist", "phist"]),
    (mortgages, "single", ["pirat", "lvrat", "chist", "selfemp", "unemp", "condomin"]),
    (_resample, "afam", ["lvrat", "insurance"]),
):
    _expected = _reference_gap(_df, _group, "deny", _controls)
    _got = float(adjusted_gap(_df, _group, "deny", list(_controls)))
    assert abs(_got - _expected) < 0.002, (_group, _controls, _got, _expected)
### END HIDDEN TESTS
""",
        "test_adjusted_gap",
        3,
    ),
    md(
        """
The lender's criteria explain about half of the raw gap; roughly 9 to 11 percentage points
remain. Does that prove discrimination? Only if the controls are the right ones: every
control you add, or leave out, changes the answer. That is what the last two questions
are about.

## 4. Which controls are legitimate? (4 points, graded by your trainer)

For each of these factors, say whether the supervisor should *control for* it when
measuring discrimination, and why: the debt-to-income ratio (`pirat`), the consumer credit
history (`chist`), being denied private mortgage insurance (`insurance`), and marital status
(`single`). Think about: is the factor one the lender may lawfully use? Does it measure the
applicant's risk, or could it itself carry discrimination (a decision by another
institution, or the result of past unequal treatment)? What happens to the gap if a
"tainted" factor is used as a control? Use the bars above.
"""
    ),
    answer(
        """
### BEGIN SOLUTION
- **Debt-to-income (`pirat`)**: legitimate. It measures the ability to repay, lenders
  must assess it (creditworthiness rules), and it is measured the same way for everyone.
  Controlling for it is right; it explains only a small part of the gap.
- **Credit history (`chist`)**: legitimate as a measure of repayment behaviour, and it
  explains the largest part of the gap. But it can carry past disadvantage (unequal access
  to credit, lower wealth buffers), so the supervisor should note that controlling for it
  may hide structural discrimination, and check that it is recorded and weighted the same
  way for both groups.
- **Denied mortgage insurance (`insurance`)**: a doubtful control. It is a decision by
  another institution, taken on much the same file, and may be biased in the same way;
  controlling for it "explains away" part of the gap by a decision that may itself be
  discriminatory (a *bad control*). The gap should be reported with and without it (about
  11 against 9 points here).
- **Marital status (`single`)**: not a legitimate criterion; it is itself a protected
  characteristic in many member states and says nothing about risk that income and debts do
  not already say. It should not be used by the lender, and not controlled for; rather, it
  deserves its own disparity check.

Adding a tainted control shrinks the measured gap and makes discrimination look smaller
than it is; leaving out a legitimate one makes it look larger.
### END SOLUTION
""",
        "legitimate_controls",
        4,
    ),
    md(
        """
## 5. What is missing? (3 points, graded by your trainer)

The remaining gap is "unexplained" only by the variables in the data. Name **two**
factors a lender could legitimately use that are *not* in these data (omitted variables).
For each, say whether leaving it out is likely to make the adjusted gap look larger or
smaller than the true effect of race, and why. Then say what data the supervisor should
request from the bank to settle the question.
"""
    ),
    answer(
        """
### BEGIN SOLUTION
1. **Wealth and liquid assets** (savings for the down payment and reserves). They lower
   the risk of default, and because of the wealth gap between groups they are probably
   lower on average for African-American applicants. Leaving them out lets the race
   variable pick up their effect: the adjusted gap looks **larger** than the true effect.
2. **Property and neighbourhood characteristics** (appraisal, location, condition). If
   African-American applicants more often buy in neighbourhoods with lower or uncertain
   appraisals, leaving these out also inflates the gap; but if appraisals themselves are
   biased (undervaluation in minority neighbourhoods), controlling for them would hide
   discrimination, as with insurance.
   (Also acceptable: employment history and income stability, data errors in the files,
   which can bias either way, or the lender's identity: differences between lenders that
   minority applicants use.)

The supervisor should request the bank's complete application files and model inputs for
a sample of applicants of both groups, the scoring model's documentation and its
coefficients, the decision rules and overrides, and the reasons for denial; and, under the
AI Act, the provider's Art. 10 bias examination and the bank's Art. 27 impact assessment.
### END SOLUTION
""",
        "omitted_variables",
        3,
    ),
    md(
        """
## What you did

You measured a raw disparity, compared like with like within credit-history classes, and
estimated an adjusted gap with a logistic regression, watching it shrink as the lender's
criteria were added. You argued which controls are legitimate and which may themselves
carry the bias, and what omitted variables could change the answer. A supervisor's
conclusion rests on those arguments as much as on the regression.

*The data describe one US city in 1990; they are a teaching example, not a finding about
lending in Europe today. The Boston Fed study's conclusions were disputed, partly on data
errors.*
""",
        "outro",
    ),
]


if __name__ == "__main__":
    write(CELLS, OUT)
