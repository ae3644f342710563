"""Write labs/01-know-your-data/know-your-data.ipynb (nbgrader source notebook).

Run from the repository root:  /opt/ai4scale/venv/bin/python labs/_authoring/01-know-your-data.py
The notebook is the source of truth once written; this script only keeps the
metadata exact and the cells easy to edit as text.
"""

from pathlib import Path

from _l1cells import answer, code, example, md, solution, test, write

OUT = Path(__file__).resolve().parents[1] / "01-know-your-data" / "know-your-data.ipynb"


CELLS = [
    md(
        """
# Know your data: an Article 10 examination of a fraud-risk dataset

**The case.** From 2013 the Dutch Tax and Customs Administration (Belastingdienst/Toeslagen)
used a risk-classification model to pick childcare-allowance (*kinderopvangtoeslag*)
applications for extra checks. One of its indicators was whether the applicant had Dutch
nationality. Tens of thousands of parents, many with a migration background or a second
nationality, were treated as fraudsters and ordered to pay back their allowance in full.
In 2020 the Dutch Data Protection Authority (Autoriteit Persoonsgegevens) found the use of
nationality unlawful and discriminatory; a parliamentary inquiry called the affair
*Ongekend onrecht* ("unprecedented injustice"), and the government resigned in January 2021.

**Your role.** You work in the data-governance team of a benefits agency. A vendor proposes
a new fraud-risk model trained on the agency's past applications. Before anyone trains
anything, you examine the data.

**Why this is a legal duty.** A system that public authorities use to decide on, reduce or
reclaim essential public benefits is *high-risk* under the EU AI Act (Annex III, point 5(a)).
**Article 10** then requires, among other things, that its training data be:

- documented: design choices, where the data come from, how they were labelled
  (Art. 10(2)(a)-(e));
- examined for possible biases that could lead to discrimination, *especially where the
  outputs of the system influence its future inputs* (Art. 10(2)(f)), with measures to
  detect, prevent and mitigate them (Art. 10(2)(g)) and the gaps named (Art. 10(2)(h));
- relevant and sufficiently representative of the people the system will be used on
  (Art. 10(3)-(4)).

**The data.** 20,000 *synthetic* applications, generated to resemble the case. No row is a
real person and no figure here is a statistic about the Dutch system. The data hold two
labels: `flagged` (the old system sent the file for a fraud investigation) and
`irregularity` (what a full audit of the file would have found). In real life the second
label does not exist; here it lets you see what the first one hides.

**How to work.** Run the cells in order (Shift+Enter). Complete the exercises: each one
says what to fill in. Sections 1-4 ask for a short piece of code, sections 5-7 for a few
sentences in the cells marked `YOUR ANSWER HERE`. A checking cell follows each code
exercise: when it runs without an error message you are probably right (your trainer's
checks also use data you cannot see). Time: about 75 minutes.
""",
        "intro",
    ),
    code(
        """
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ai4scale import datasets

bunch = datasets.load("childcare-benefit-fraud")
applications = bunch.frame
print(applications.shape[0], "applications,", applications.shape[1], "columns")
applications.head()
""",
        "load_data",
    ),
    md(
        """
The dataset comes with a description of each column. Read it once: which column is the
protected attribute, which is the label the old system produced, which is the truth?
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
## 1. Who is in the data? Count each group and its share (2 points)

**Why.** Article 10(3) asks whether the data are *sufficiently representative*. The first
question is simply: how many people of each group are there, and what share of the whole
do they make up? A group with few rows gives unreliable figures, and a model learns little
about it.

**Your task.** Complete the function `group_counts(df, column)`. It takes a table `df`
and the name of one of its columns, and returns a table (a `pandas.DataFrame`) with
**one row per value** of `column` and two columns:

- `count`: the number of rows with that value;
- `share`: that number divided by the number of rows of `df` (a number between 0 and 1).

*Hint:* `df[column].value_counts()` counts the rows per value, and
`df[column].value_counts(normalize=True)` gives the shares;
`pd.DataFrame({"count": ..., "share": ...})` puts two Series side by side.
Use the `df` you are given, not `applications`: your function will be tried on other
tables too.
"""
    ),
    example(
        """
Worked example. Below, a small table of five families is made on the spot, with the kind of
childcare each one uses. The code counts the families of each kind, then turns the counts
into shares. The exercise after it asks for the same two steps on any table and column.
""",
        markdown=True,
    ),
    example(
        """
# A worked example: five families and the kind of childcare each one uses.
families = pd.DataFrame(
    {"childcare": ["daycare", "childminder", "daycare", "daycare", "after-school"]}
)
# value_counts() counts the rows for each value of one column.
per_kind = families["childcare"].value_counts()
print(per_kind)
# Dividing by the number of rows, len(families), turns each count into a share.
per_kind / len(families)
"""
    ),
    solution(
        '''
def group_counts(df, column):
    """Return the number and share of rows for each value of `column`."""
    ### BEGIN SOLUTION
    counts = df[column].value_counts()
    return pd.DataFrame({"count": counts, "share": counts / len(df)})
    ### END SOLUTION
''',
        "group_counts",
        guided='''
def group_counts(df, column):
    """Return the number and share of rows for each value of `column`."""
    # Count the rows for each value of the column `column` of the table `df`,
    # as the worked example above does for the column "childcare".
    counts = ...
    # The share: the counts divided by the number of rows of `df`, written len(df).
    return pd.DataFrame({"count": counts, "share": ...})
''',
    ),
    code(
        """
group_counts(applications, "dual_nationality")
""",
        locked=False,
    ),
    code(
        """
group_counts(applications, "region")
""",
        locked=False,
    ),
    test(
        '''
"""Check group_counts on the applications (and on tables you cannot see)."""
table = group_counts(applications, "dual_nationality")
assert isinstance(table, pd.DataFrame), "return a DataFrame"
assert {"count", "share"} <= set(table.columns), "the columns must be called count and share"
assert int(table.loc[True, "count"]) == 2172
assert abs(float(table.loc[True, "share"]) - 0.1086) < 1e-4
### BEGIN HIDDEN TESTS
from ai4scale.datasets.synthetic import toeslagen

_hidden = pd.DataFrame({"office": ["Zwolle", "Zwolle", "Breda", "Zwolle", "Assen"]})
_t = group_counts(_hidden, "office")
assert type(_t) is pd.DataFrame
for _office, _n in {"Zwolle": 3, "Breda": 1, "Assen": 1}.items():
    assert int(_t.loc[_office, "count"]) == _n
    assert abs(float(_t.loc[_office, "share"]) - _n / 5) < 1e-9
assert abs(float(np.asarray(_t["share"], dtype=float).sum()) - 1.0) < 1e-9

_other, _ = toeslagen.generate(seed=31, n_rows=3000)
_t = group_counts(_other, "contact_language")
_expected = _other["contact_language"].value_counts()
for _lang, _n in _expected.items():
    assert int(_t.loc[_lang, "count"]) == int(_n)
    assert abs(float(_t.loc[_lang, "share"]) - _n / 3000) < 1e-9
### END HIDDEN TESTS
''',
        "test_group_counts",
        2,
    ),
    md(
        """
## 2. Base rates: how often is each group flagged? (2 points)

**Why.** The *base rate* of a label in a group is the share of that group that carries the
label. If a model is trained on a label whose base rate differs between groups, it learns
that difference. The question Article 10(2)(f) makes you ask is: *does the difference
reflect reality, or the way the label was produced?*

**Your task.** Complete `base_rates(df, group, label)`: for each value of the column
`group`, the share of rows in which the column `label` is true (or 1). It returns a list
of figures labelled by the group values (a `pandas.Series`).

*Hint:* the mean of a column of True/False values is the share of True.
`df.groupby(group)[label].mean()` does it in one line.
"""
    ),
    example(
        """
# A worked example: six files, the region of each and whether it was checked.
files = pd.DataFrame(
    {
        "region": ["North", "North", "North", "South", "South", "South"],
        "checked": [True, False, False, True, True, False],
    }
)
# groupby("region") puts the rows of each region together; ["checked"] takes that column;
# mean() of True/False values is the share of True in each region.
files.groupby("region")["checked"].mean()
"""
    ),
    solution(
        '''
def base_rates(df, group, label):
    """Return, per value of `group`, the share of rows where `label` is true."""
    ### BEGIN SOLUTION
    return df.groupby(group)[label].mean()
    ### END SOLUTION
''',
        "base_rates",
        guided='''
def base_rates(df, group, label):
    """Return, per value of `group`, the share of rows where `label` is true."""
    # Replace the first ... by the column that forms the groups, and the second ... by the
    # column whose share of True you want. The function receives these two column names as
    # `group` and `label`: write those words without quotes (the worked example writes
    # its own column names, in quotes).
    return df.groupby(...)[...].mean()
''',
    ),
    md(
        """
Compare the two labels side by side. `flagged` is what the old system decided;
`irregularity` is what a full audit would have found.
"""
    ),
    code(
        """
rates = pd.DataFrame(
    {
        "flagged (old system)": base_rates(applications, "dual_nationality", "flagged"),
        "irregularity (truth)": base_rates(applications, "dual_nationality", "irregularity"),
    }
)
rates.index = rates.index.map({False: "other applicants", True: "dual nationality"})
ax = (100 * rates).plot.bar(rot=0, figsize=(7, 3.5), color=["#c0392b", "#7f8c8d"])
ax.set_ylabel("% of applicants")
ax.set_xlabel("")
ax.set_title("Flagged versus truly irregular, by nationality (synthetic data)")
plt.show()
(100 * rates).round(1)
""",
        locked=False,
    ),
    test(
        '''
"""Check base_rates on the applications (and on tables you cannot see)."""
flag = base_rates(applications, "dual_nationality", "flagged")
assert isinstance(flag, pd.Series), "return a Series"
assert abs(float(flag[True]) - 0.1344) < 1e-3
assert abs(float(flag[False]) - 0.0579) < 1e-3
### BEGIN HIDDEN TESTS
from ai4scale.datasets.synthetic import toeslagen

_hidden = pd.DataFrame(
    {"office": ["Zwolle", "Zwolle", "Breda", "Breda", "Breda", "Assen"],
     "checked": [1, 0, 1, 1, 0, 0]}
)
_r = base_rates(_hidden, "office", "checked")
assert type(_r) is pd.Series
for _office, _rate in {"Zwolle": 0.5, "Breda": 2 / 3, "Assen": 0.0}.items():
    assert abs(float(_r[_office]) - _rate) < 1e-9

_other, _truth = toeslagen.generate(seed=32, n_rows=6000)
_r = base_rates(_other, "single_parent", "flagged")
for _value in (True, False):
    _expected = float(_other.loc[_other["single_parent"] == _value, "flagged"].mean())
    assert abs(float(_r[_value]) - _expected) < 1e-9
_r = base_rates(_other, "dual_nationality", "irregularity")
assert abs(float(_r[True]) - 0.05) < 0.01 and abs(float(_r[False]) - 0.05) < 0.01
### END HIDDEN TESTS
''',
        "test_base_rates",
        2,
    ),
    md(
        """
### The false-flag rate

Both groups have the same rate of real irregularities (about 5%), yet dual nationals are
flagged more than twice as often. Where does the extra come from? Look only at the
applications **without** any irregularity: every flag there is a false alarm, an innocent
family put through an investigation.
"""
    ),
    code(
        """
innocent = applications[~applications["irregularity"]]
false_flags = base_rates(innocent, "dual_nationality", "flagged")
print(f"False-flag rate, dual nationality: {false_flags[True]:.1%}")
print(f"False-flag rate, other applicants: {false_flags[False]:.1%}")
print(f"Ratio: {false_flags[True] / false_flags[False]:.1f}")
""",
        locked=False,
    ),
    md(
        """
A model trained to predict `flagged` would learn that dual nationals are "riskier",
although they are not. And once such a model selects files for investigation, the
investigations it triggers become next year's training data: this is the feedback loop
Article 10(2)(f) warns about ("data outputs influence inputs for future operations").
"""
    ),
    md(
        """
## 3. Is the training sample representative? (3 points)

**Why.** The vendor does not want all applications: it proposes to train on the files that
were **investigated** in the past, "because only there do we know the outcome". That sample
was chosen by the old, biased system. Article 10(3) asks whether training data are
representative of the people the system will be used on, that is, all applicants.

**Your task.** Complete `representation_gap(sample, population, column)`: for each value of
`column`, the share of that value in `sample` **minus** its share in `population`. It
returns a list of figures labelled by the values (a `pandas.Series`). A positive gap means the group is over-represented in
the sample, a negative gap under-represented. A value that occurs in the population but
not at all in the sample has a share of 0 in the sample, so its gap is minus its
population share: it must not disappear from your result.

*Hint:* compute the two shares with `value_counts(normalize=True)`, then subtract with
`sample_shares.sub(population_shares, fill_value=0)`; `fill_value=0` treats a missing
value as a share of 0.
"""
    ),
    example(
        """
# A worked example: the languages of three files picked for a check, and of all five files.
picked = pd.DataFrame({"language": ["English", "English", "Dutch"]})
everyone = pd.DataFrame({"language": ["Dutch", "Dutch", "English", "Turkish", "Dutch"]})
picked_shares = picked["language"].value_counts(normalize=True)
everyone_shares = everyone["language"].value_counts(normalize=True)
# Share among the picked files minus share among all files. Turkish does not occur among
# the picked files: fill_value=0 counts it as a share of 0 there, so it stays in the result.
picked_shares.sub(everyone_shares, fill_value=0)
"""
    ),
    solution(
        '''
def representation_gap(sample, population, column):
    """Return, per value of `column`, its share in `sample` minus its share in `population`."""
    ### BEGIN SOLUTION
    sample_shares = sample[column].value_counts(normalize=True)
    population_shares = population[column].value_counts(normalize=True)
    return sample_shares.sub(population_shares, fill_value=0)
    ### END SOLUTION
''',
        "representation_gap",
        guided='''
def representation_gap(sample, population, column):
    """Return, per value of `column`, its share in `sample` minus its share in `population`."""
    sample_shares = sample[column].value_counts(normalize=True)
    # The same shares, now in the table `population` (copy the line above and change it).
    population_shares = ...
    # Subtract the population shares from the sample shares; fill_value=0 keeps the values
    # that are missing from the sample (see the worked example).
    return sample_shares.sub(..., fill_value=0)
''',
    ),
    code(
        """
investigated = applications[applications["flagged"]]
gap = representation_gap(investigated, applications, "dual_nationality")
print(f"Dual nationals: {gap[True]:+.1%} points compared with all applicants")
""",
        locked=False,
    ),
    code(
        """
fig, ax = plt.subplots(figsize=(8, 3.5))
(100 * representation_gap(investigated, applications, "parent_country_of_birth")).plot.barh(
    ax=ax, color="#2c3e50"
)
ax.axvline(0, color="black", linewidth=0.8)
ax.set_ylabel("parent's country of birth")
ax.set_xlabel("share in investigated files minus share among all applicants (% points)")
ax.set_title("Who is over-represented in the vendor's training sample? (synthetic data)")
plt.show()
""",
        locked=False,
    ),
    test(
        '''
"""Check representation_gap on the applications (and on tables you cannot see)."""
gap = representation_gap(applications[applications["flagged"]], applications, "dual_nationality")
assert isinstance(gap, pd.Series), "return a Series"
assert abs(float(gap[True]) - 0.1118) < 1e-3
assert abs(float(gap[False]) + 0.1118) < 1e-3
### BEGIN HIDDEN TESTS
from ai4scale.datasets.synthetic import toeslagen

_sample = pd.DataFrame({"office": ["Zwolle", "Zwolle", "Breda"]})
_population = pd.DataFrame({"office": ["Zwolle", "Breda", "Breda", "Assen"]})
_g = representation_gap(_sample, _population, "office")
assert type(_g) is pd.Series
_expected = {"Zwolle": 2 / 3 - 1 / 4, "Breda": 1 / 3 - 1 / 2, "Assen": -1 / 4}
assert len(_g) == 3, "every value of the population must be in the result"
for _office, _value in _expected.items():
    assert abs(float(_g[_office]) - _value) < 1e-9

_other, _ = toeslagen.generate(seed=33, n_rows=5000)
_rural = _other[_other["region"] == "Rural"]
_g = representation_gap(_rural, _other, "dual_nationality")
_pop = float(_other["dual_nationality"].mean())
assert abs(float(_g[True]) - (float(_rural["dual_nationality"].mean()) - _pop)) < 1e-9
assert float(_g[True]) < 0
### END HIDDEN TESTS
''',
        "test_representation_gap",
        3,
    ),
    md(
        """
## 4. Proxies: deleting nationality is not enough (2 points)

**Why.** A tempting fix is to delete the `dual_nationality` column before training. But
other columns may carry much of the same information: a parent's country of birth, the
language used with the office, the city someone lives in. Such columns are **proxies**.
A model that cannot see nationality can still sort people by it through its proxies.

One simple measure of how strongly a column goes together with nationality is the
**correlation** between the two: 0 means no linear relation, 1 (or -1) a perfect one.
For two yes/no columns it is called the *phi coefficient*. Count True as 1 and False as 0.

**Your task.** Complete `proxy_correlation(x, y)`: the (Pearson) correlation between two
columns `x` and `y` of the same table, as a plain number (`float`). The columns may hold
True/False values or numbers.

*Hint:* `x.astype(float).corr(y.astype(float))` computes it; `float(...)` turns the result
into a plain number.
"""
    ),
    example(
        """
# A worked example: five families; does "single parent" go together with "uses a childminder"?
single = pd.Series([True, False, True, False, False])
childminder = pd.Series([True, False, True, True, False])
# astype(float) turns True into 1 and False into 0; corr() measures how strongly the two go
# together; float() gives the result as a plain number.
float(single.astype(float).corr(childminder.astype(float)))
"""
    ),
    solution(
        '''
def proxy_correlation(x, y):
    """Return the Pearson correlation of two columns (True counts as 1) as a float."""
    ### BEGIN SOLUTION
    return float(x.astype(float).corr(y.astype(float)))
    ### END SOLUTION
''',
        "proxy_correlation",
        guided='''
def proxy_correlation(x, y):
    """Return the Pearson correlation of two columns (True counts as 1) as a float."""
    # The first column, x, is already turned into numbers. Do the same to the second
    # column, y, in place of the ... (see how the worked example treats both columns).
    return float(x.astype(float).corr(...))
''',
    ),
    md(
        """
The cell below turns each candidate column into a yes/no question (an *indicator*) and
measures how strongly the answer goes together with dual nationality. Look at the chart:
which columns are proxies?
"""
    ),
    code(
        """
dual = applications["dual_nationality"]
a = applications
indicators = {
    "parent born outside the Netherlands": a["parent_country_of_birth"] != "Netherlands",
    "contacts the office in another language than Dutch": a["contact_language"] != "Dutch",
    "lives in one of the four largest cities": a["region"].isin(
        ["Amsterdam", "Rotterdam", "The Hague", "Utrecht"]
    ),
    "years at current address": a["years_at_address"],
    "single parent": a["single_parent"],
    "household income": a["household_income"],
    "uses a childminder": a["childcare_type"] == "childminder",
    "hours of childcare per month": a["childcare_hours_per_month"],
}
proxies = pd.Series({name: proxy_correlation(x, dual) for name, x in indicators.items()})
proxies = proxies.sort_values(key=abs)
ax = proxies.plot.barh(figsize=(8, 4), color=np.where(proxies.abs() > 0.2, "#c0392b", "#95a5a6"))
ax.axvline(0, color="black", linewidth=0.8)
ax.set_xlabel("correlation with dual nationality")
ax.set_title("Candidate proxies for nationality (synthetic data)")
plt.show()
proxies.round(3)
""",
        locked=False,
    ),
    test(
        '''
"""Check proxy_correlation on the applications (and on data you cannot see)."""
r = proxy_correlation(applications["parent_country_of_birth"] != "Netherlands",
                      applications["dual_nationality"])
assert isinstance(r, float), "return a plain number (float)"
assert abs(r - 0.523) < 0.005
### BEGIN HIDDEN TESTS
from ai4scale.datasets.synthetic import toeslagen

_x = pd.Series([1.0, 2.0, 3.0, 4.0, 10.0])
_y = pd.Series([True, False, True, True, False])
_r = proxy_correlation(_x, _y)
assert type(_r) in (float, np.float64)
assert abs(float(_r) - float(np.corrcoef(_x, _y.astype(float))[0, 1])) < 1e-9
assert abs(float(proxy_correlation(_y, _y)) - 1.0) < 1e-9

_other, _truth = toeslagen.generate(seed=34, n_rows=20000)
_d = _other["dual_nationality"]
_candidates = {
    "parent_country_of_birth": _other["parent_country_of_birth"] != "Netherlands",
    "contact_language": _other["contact_language"] != "Dutch",
    "region": _other["region"].isin(["Amsterdam", "Rotterdam", "The Hague", "Utrecht"]),
    "years_at_address": _other["years_at_address"],
}
_tol = _truth["tolerance"]["correlation"]
for _p in _truth["proxies"]:
    _got = float(proxy_correlation(_candidates[_p["feature"]], _d))
    assert abs(_got - _p["correlation_with_protected"]) < _tol, _p["feature"]
### END HIDDEN TESTS
''',
        "test_proxy_correlation",
        2,
    ),
    md(
        """
## 5. Write the datasheet (4 points, graded by your trainer)

**Why.** Article 10(2) asks the provider to document the data: design choices, collection
and origin, labelling, assumptions, suitability, biases and gaps. A *datasheet*
(Gebru et al., "Datasheets for Datasets", 2021) is a standard way to do this: short answers
to fixed questions, written for the people who will use the data.

**Your task.** Write a datasheet for the data the vendor wants to use: the past
applications with their `flagged` label. Use the four headings below and two to five
sentences under each. Use your own findings from sections 1-4 with their figures; the
dataset's description is a source, not an answer to copy.

- **Motivation**: for what purpose were the data collected, by whom, and is that purpose
  the same as training a fraud-risk model?
- **Composition**: what is one row, how many rows, which groups and in what shares; which
  columns are sensitive or proxies?
- **Collection and labelling**: how were the rows and the label produced; what does
  `flagged` actually measure, and what does it not?
- **Uses**: what the data may be used for, and what they must **not** be used for.
"""
    ),
    answer(
        """
### BEGIN SOLUTION
**Motivation.** The data were recorded to administer childcare allowance and to select
applications for checks; they were not collected to measure fraud. Training a fraud-risk
model is a new purpose, which needs its own legal basis, and it would reuse labels produced
by a selection that the Dutch DPA found discriminatory.

**Composition.** One row is one application for one year; 20,000 rows (synthetic).
2,172 applicants (10.9%) have dual nationality, 17,828 do not. The columns describe the
household, the childcare declared and the allowance. `dual_nationality` is sensitive; the
parent's country of birth (correlation 0.52), contact language (0.32) and living in a large
city (0.26) are proxies for it; income and years at address weakly (-0.15, -0.12).
No values are missing.

**Collection and labelling.** `flagged` is the old risk system's decision to investigate,
not a finding of fraud. It is 13.4% for dual nationals and 5.8% for others, while real
irregularities are 5% in both groups; among applicants without any irregularity dual
nationals were flagged three times as often (12% against 4%). Investigated files, the
vendor's proposed sample, contain 22% dual nationals instead of 11%. The label and the
sample therefore encode the old system's bias.

**Uses.** Suitable for examining and documenting that bias, and for testing whether a new
selection method repeats it. Not suitable for training or validating a risk model on
`flagged`, nor for any decision about a real person; any use needs a data-protection impact
assessment, and nationality or its proxies must not be used as risk indicators.
### END SOLUTION
""",
        "datasheet",
        4,
    ),
    md(
        """
## 6. The proxies you found (3 points, graded by your trainer)

Which columns act as proxies for nationality, and how strongly (give the figures from
section 4)? Explain in your own words why deleting the `dual_nationality` column would not
stop a model trained on `flagged` from treating dual nationals differently, and propose one
concrete measure (Art. 10(2)(g)) the agency should take about the proxies.
"""
    ),
    answer(
        """
### BEGIN SOLUTION
The parent's country of birth is the strongest proxy (phi 0.52 between "parent born abroad"
and dual nationality), followed by the contact language (0.32) and living in one of the four
largest cities (0.26). Household income (-0.15) and years at the current address (-0.12)
are weakly related, single parenthood hardly (0.07); the childcare features not at all.

Deleting `dual_nationality` removes the column but not the information: the label `flagged`
is higher for dual nationals, so a model that predicts it will put weight on whatever
columns best reveal nationality, and will reproduce much of the disparity through them.

Measure: before any training, drop or justify each proxy (country of birth and language
have no lawful link to the right to allowance), and test every candidate model for
disparity by nationality on a holdout (false-flag rates by group), with a threshold that
blocks deployment; the nationality column is kept, under the safeguards of Art. 10(5), only
for that test.
### END SOLUTION
""",
        "proxies_found",
        3,
    ),
    md(
        """
## 7. Your Article 10 finding (3 points, graded by your trainer)

Write the conclusion of your examination for the head of the agency, in at most eight
sentences: can these data be used to train the vendor's model? Refer to the relevant
points of Article 10 (for example (2)(f), (2)(h), (3) or (5)), to the label, to the
representativeness of the proposed sample, and say what would have to change.
"""
    ),
    answer(
        """
### BEGIN SOLUTION
No. The label `flagged` records the old system's suspicion, not fraud: real irregularities
are equally frequent (5%) in both groups, but innocent dual nationals were flagged three
times as often. A model trained on it would learn and automate that discrimination, and its
selections would feed the next training set, the feedback loop Art. 10(2)(f) names. The
proposed sample of investigated files is not representative (Art. 10(3)): dual nationals are
22% of it against 11% of applicants, because the old system chose it. Deleting nationality
does not help because strong proxies remain. The data gap (Art. 10(2)(h)) is a trustworthy
label: the agency would need outcomes of checks on a random sample of applications, so that
every group is checked at the same rate. Nationality may be processed only to detect and
correct bias, under the safeguards of Art. 10(5), never as a risk indicator.
### END SOLUTION
""",
        "art10_finding",
        3,
    ),
    md(
        """
## What you did

You counted the groups, compared base rates of a biased label and of the truth, measured
how unrepresentative a convenient training sample is, and found the proxies that would let
a model rediscover nationality. These are the core checks of an Article 10 examination; in
the next labs you will audit the errors of a risk score and ask which differences can be
explained by legitimate factors.

*Reminder: the data are synthetic. Quote no figure from this lab as a fact about the Dutch
childcare-allowance system.*
""",
        "outro",
    ),
]


if __name__ == "__main__":
    write(CELLS, OUT)
