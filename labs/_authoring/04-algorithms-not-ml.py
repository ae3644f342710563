"""Write labs/04-algorithms-not-ml/exam-standardisation.ipynb (run from the repository root)."""

from pathlib import Path

from _l2cells import answer, code, example, md, notebook, solution, test

LAB = Path(__file__).resolve().parents[1] / "04-algorithms-not-ml"

cells = [
    md(
        """
        # Algorithms that are not machine learning: the 2020 exam grades

        **The case.** In spring 2020 England cancelled its A-level exams because of
        COVID-19. Schools and colleges ("centres") sent two things for every candidate in
        every subject: a **centre-assessed grade (CAG)**, the grade the teachers believed
        the candidate would most likely have achieved, and a **rank order** of all their
        candidates in that subject. The government asked the exams regulator, Ofqual, to
        keep results broadly in line with previous years. Teachers' grades were more
        generous than exam results usually are, so Ofqual **standardised** them: for each
        centre and subject it took the centre's results of 2017-2019 and handed out this
        year's grades down the rank order so that they matched that history. Small classes
        were the exception: with too few past results to rely on, the teachers' grades
        counted fully or partly.

        On results day, 13 August 2020, about 39% of teacher grades were lowered.
        Candidates at independent (fee-paying) schools, where classes are small, were
        lowered least. After protests ("Ditch the algorithm!") the calculated grades were
        withdrawn on 17 August and the teachers' grades were awarded instead.

        **Why this lab.** There was no machine learning in this model, only a few rules
        written by people. Yet it decided the grades, and with them the university places,
        of a whole year group, with every problem of an automated decision system: a choice
        of what "fair" means, groups of people treated differently, individuals who could
        not see why, and no real way to challenge the result. Evaluating learning outcomes
        is a **high-risk area** under the EU AI Act (Annex III, point 3(b)), and data
        protection law gives people rights against decisions taken solely by automated
        means (GDPR Art. 22). Whether a fixed rule like this is an "AI system" at all is
        your first written question.

        **What you will do**

        1. Re-implement the rule, with its small-class exception, and check that you get
           the published grades. A public body that relies on an algorithm, or audits one,
           must be able to recompute its outputs.
        2. Measure who was downgraded: by type of school and by eligibility for free school
           meals (a marker of poverty).
        3. Look at individuals whom the rule treated badly although the national figures
           looked right.
        4. Write about individual versus group fairness, and design an appeal route.

        The data are **synthetic**: a program imitating the 2020 situation made them up,
        so no real pupil is exposed. They also hold something nobody knew in 2020: the
        grade each candidate *would* have got in an exam.

        **How to work.** Run the cells in order (Shift+Enter). Complete the exercises:
        each one says what to fill in. Write your answers to the written questions where
        it says `YOUR ANSWER HERE`. A cell with `assert` checks your work: if it shows no
        red error, the check passed. When your trainer grades the lab, further checks run
        your code on schools and candidates you have not seen, so make it work for any
        cohort, not only for the examples.
        """,
        "intro",
    ),
    code(
        """
        import matplotlib.pyplot as plt
        import numpy as np
        import pandas as pd
        from ai4scale import datasets

        bunch = datasets.load("exam-standardisation")
        entries = bunch.frame
        print(f"{len(entries):,} entries (one candidate in one subject)"
              f" from {entries['centre_id'].nunique()} centres")
        entries.head()
        """,
        "load_data",
    ),
    md(
        """
        The columns you will use (`print(bunch.DESCR)` shows the full datasheet):

        | column | meaning |
        |---|---|
        | `centre_id`, `subject` | a **cohort** is one centre and one subject: the unit the rule works on |
        | `centre_type` | independent, state comprehensive, selective, sixth-form college, FE college |
        | `fsm_eligible` | the candidate is eligible for free school meals |
        | `cohort_size` | the number of candidates in the cohort this year (*n*) |
        | `hist_share_astar` ... `hist_share_u` | the centre's share of past results (2017-2019) in this subject at each grade |
        | `cag`, `rank` | the teachers' grade and rank (1 = best in the cohort) |
        | `standardised_grade` | the grade the rule gave: the published result |
        | `counterfactual_exam_grade` | the grade an exam would have given (known only because the data are synthetic) |

        Here is one real-looking cohort: 15 candidates in Economics at a state
        comprehensive school. Look at the top of the rank order, and at the school's
        history below it.
        """
    ),
    code(
        """
        GRADES = ["A*", "A", "B", "C", "D", "E", "U"]  # best to worst
        HISTORY_COLUMNS = ["hist_share_astar", "hist_share_a", "hist_share_b", "hist_share_c",
                           "hist_share_d", "hist_share_e", "hist_share_u"]

        example = entries[(entries["centre_id"] == 17) & (entries["subject"] == "Economics")]
        history = example[HISTORY_COLUMNS].iloc[0].to_numpy()
        print("Past results of this centre in Economics:",
              ", ".join(f"{g} {s:.0%}" for g, s in zip(GRADES, history)))
        example[["rank", "cag", "standardised_grade", "counterfactual_exam_grade", "fsm_eligible"]]
        """,
        "example_cohort",
    ),
    md(
        """
        No candidate of this school had an A or A* in Economics in 2017-2019, so the rule
        could not give one in 2020: the best-ranked candidate, whom the teachers graded
        A* (and who would indeed have earned an A* in an exam), received a **B**. The grade
        followed the school's past, not the candidate's work.

        ## Who has small classes?

        The small-class exception matters only if small classes are spread unevenly.
        The plot shows the size of each cohort, by type of centre (log scale).
        """
    ),
    code(
        """
        cohorts = entries.drop_duplicates(["centre_id", "subject"])
        types = list(entries["centre_type"].cat.categories)
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.boxplot([cohorts.loc[cohorts["centre_type"] == t, "cohort_size"] for t in types],
                   orientation="horizontal")
        ax.set_yticks(range(1, len(types) + 1), types)
        ax.set_xscale("log")
        for size in (5, 15):
            ax.axvline(size, color="grey", linestyle="--")
        ax.set_xlabel("candidates in the cohort (centre x subject); dashed lines at 5 and 15")
        ax.set_title("Cohort sizes by type of centre")
        plt.show()
        """,
        "plot_sizes",
    ),
    md(
        """
        Half of the cohorts at independent schools have 6 candidates or fewer; at
        sixth-form colleges half have more than 25.

        ## 1. The small-cohort rule (2 points)

        How much the centre's history counts depends on the number of candidates *n* in
        the cohort. This **weight of history** `w` is:

        * `0` when *n* is 5 or fewer: the teachers' grades stand;
        * `1` when *n* is 15 or more: the history is imposed in full;
        * in between it rises in equal steps: `w = (n - 5) / 10`.

        | *n* | 3 | 5 | 8 | 12 | 15 | 40 |
        |---|---|---|---|---|---|---|
        | `w` | 0 | 0 | 0.3 | 0.7 | 1 | 1 |

        Complete `history_weight(n)`, which gives `w` for a cohort of *n* candidates.
        Hint: `min(...)` and `max(...)` keep a number between two limits.
        """
    ),
    example(
        """
        # Worked example (another rule, made up): a discount that rises in equal steps
        # from 0 at age 60 to 1 at age 70. The rising part is (age - 60) / 10;
        # max(..., 0.0) keeps it from going below 0 and min(..., 1.0) from going above 1.
        for age in [55, 60, 63, 70, 80]:
            discount = min(max((age - 60) / 10, 0.0), 1.0)
            print(f"age {age}: discount {discount:.1f}")
        """
    ),
    solution(
        """
        def history_weight(n):
            \"\"\"Weight of the centre's history (0 to 1) for a cohort of n candidates.\"\"\"
            ### BEGIN SOLUTION
            return min(max((n - 5) / 10, 0.0), 1.0)
            ### END SOLUTION
        """,
        "history_weight",
        guided="""
        def history_weight(n):
            \"\"\"Weight of the centre's history (0 to 1) for a cohort of n candidates.\"\"\"
            # Replace ... with the rising part of the rule, written with n: the formula
            # for w between 5 and 15 candidates in the list above (the worked example
            # shows the same pattern for ages).
            return min(max(..., 0.0), 1.0)
        """,
    ),
    test(
        """
        \"\"\"Check history_weight on the table above (the grader tries other cohort sizes).\"\"\"
        assert abs(history_weight(3) - 0.0) < 1e-9, "a cohort of 3 keeps its teachers' grades"
        assert abs(history_weight(8) - 0.3) < 1e-9
        assert abs(history_weight(40) - 1.0) < 1e-9, "large cohorts get the full history"
        ### BEGIN HIDDEN TESTS
        for _n, _w in [(1, 0.0), (5, 0.0), (6, 0.1), (10, 0.5), (14, 0.9), (15, 1.0),
                       (16, 1.0), (300, 1.0)]:
            _got = float(history_weight(_n))
            assert abs(_got - _w) < 1e-9, f"history_weight({_n}) = {_got}, expected {_w}"
        ### END HIDDEN TESTS
        """,
        "test_history_weight",
        2,
    ),
    md(
        """
        ## 2. The standardisation rule (4 points)

        For one cohort of *n* candidates the rule takes four steps.

        **(a) History.** For each grade, the share of the centre's past results at that
        grade *or better*: the cumulative share `H`. Past results of 10% A*, 30% A, 40% B
        and 20% C give `H` = 10%, 40%, 80%, 100%, 100%, 100%, 100% (for A* ... U).

        **(b) This year's teacher grades**, counted the same way: `T`.

        **(c) Mix them** with the weight from part 1: `C = w * H + (1 - w) * T`.
        Then set the last value (grade U) to exactly 1, so that everyone gets a grade.

        **(d) Hand out the grades down the rank order.** The candidate ranked `r` stands
        at position `p = (r - 0.5) / n`: the middle of their slice of the cohort (with 4
        candidates, the positions are 0.125, 0.375, 0.625 and 0.875). They get the **best
        grade whose `C` is above `p`**. Write the test as `p < C[g] - 1e-9`: the tiny
        `1e-9` guards against rounding in the computer's arithmetic.

        *Example.* A cohort of 20 (so `w = 1`) with the history above: ranks 1 and 2 sit
        at positions 0.025 and 0.075, below `H` for A* (0.10), so they get A*; rank 3 at
        0.125 gets A (0.40 is the first value above it); ranks 9 to 16 get B; ranks 17 to
        20 get C, whatever their teachers said.

        The functions `cumulative` and `grade_shares` below do steps (a) and (b) for you.
        Complete `standardise_cohort`: steps (c) and (d). Important: the candidates may
        come in **any order**. Use each candidate's rank from `ranks`, not their place in
        the list, and return the grades in the order the candidates came in.
        """
    ),
    code(
        """
        def cumulative(shares):
            \"\"\"Share at each grade or better (A* ... U) from shares per grade.\"\"\"
            shares = np.asarray(shares, dtype=float)
            return np.cumsum(shares / shares.sum())


        def grade_shares(grades):
            \"\"\"Share of the given grade labels at each grade, in the order A* ... U.\"\"\"
            labels = [str(g) for g in grades]
            return np.array([labels.count(g) for g in GRADES]) / len(labels)


        print("H for the example history:", cumulative([0.1, 0.3, 0.4, 0.2, 0, 0, 0]))
        """,
        "helpers",
    ),
    example(
        """
        # Worked example, on made-up numbers: mixing two lists of shares with a weight.
        # A weight of 0.3 for the old shares leaves 1 - 0.3 = 0.7 for the new ones.
        weight = 0.3
        old_shares = np.array([0.2, 0.5, 1.0])
        new_shares = np.array([0.4, 0.8, 1.0])
        mixed = weight * old_shares + (1 - weight) * new_shares
        print("mixed shares:", mixed)

        # The position of a candidate in a cohort of 8: the middle of their slice.
        cohort_of = 8
        for rank_example in [1, 2, 8]:
            print(f"rank {rank_example} stands at {(rank_example - 0.5) / cohort_of:.4f}")
        """
    ),
    solution(
        """
        def standardise_cohort(history, cags, ranks):
            \"\"\"Standardised grades for one cohort, in the order of `cags`.

            history: the centre's 7 shares of past results, A* ... U
            cags:    this year's teacher grades, e.g. ["A", "B", "A*"]
            ranks:   each candidate's rank (1 = best), in the same order as cags
            \"\"\"
            n = len(cags)
            w = history_weight(n)
            H = cumulative(history)  # (a) past results: share at each grade or better
            T = cumulative(grade_shares(cags))  # (b) this year's teacher grades, the same
            ### BEGIN SOLUTION
            C = w * H + (1 - w) * T  # (c)
            C[-1] = 1.0
            grades = []
            for r in ranks:  # (d)
                position = (r - 0.5) / n
                for grade, share in zip(GRADES, C):
                    if position < share - 1e-9:
                        grades.append(grade)
                        break
            return grades
            ### END SOLUTION
        """,
        "standardise_cohort",
        guided="""
        def standardise_cohort(history, cags, ranks):
            \"\"\"Standardised grades for one cohort, in the order of `cags`.

            history: the centre's 7 shares of past results, A* ... U
            cags:    this year's teacher grades, e.g. ["A", "B", "A*"]
            ranks:   each candidate's rank (1 = best), in the same order as cags
            \"\"\"
            n = len(cags)
            w = history_weight(n)
            H = cumulative(history)  # (a) past results: share at each grade or better
            T = cumulative(grade_shares(cags))  # (b) this year's teacher grades, the same
            # Replace ... with step (c): H and T mixed with the weight w (the worked
            # example mixes two lists in the same way).
            C = ...  # (c)
            C[-1] = 1.0
            grades = []
            for r in ranks:  # (d)
                # Replace ... with the position of the candidate ranked r in a cohort
                # of n candidates (step (d) above).
                position = ...
                for grade, share in zip(GRADES, C):
                    if position < share - 1e-9:
                        grades.append(grade)
                        break
            return grades
        """,
    ),
    md(
        """
        The next two cells check your rule: first on large cohorts (15 or more, where only
        the history counts), then on small ones (where the teachers' grades count too).
        """
    ),
    test(
        """
        \"\"\"Large cohorts: the worked example and the Economics cohort above.\"\"\"
        _hist = [0.1, 0.3, 0.4, 0.2, 0, 0, 0]
        _got = [str(g) for g in standardise_cohort(_hist, ["A*"] * 20, list(range(1, 21)))]
        assert _got == ["A*"] * 2 + ["A"] * 6 + ["B"] * 8 + ["C"] * 4, _got
        _got = [str(g) for g in standardise_cohort(example[HISTORY_COLUMNS].iloc[0].to_numpy(),
                                                   example["cag"].astype(str).tolist(),
                                                   example["rank"].tolist())]
        assert _got == example["standardised_grade"].astype(str).tolist(), _got
        ### BEGIN HIDDEN TESTS
        from ai4scale.datasets.synthetic import alevels as _ref
        import types as _types


        def _reaches_reference(func, _seen=None):
            # Does the function call ai4scale's own implementation of the rule?
            seen = set() if _seen is None else _seen
            if id(func) in seen or not isinstance(func, _types.FunctionType):
                return False
            seen.add(id(func))
            stack = [func.__code__]
            while stack:
                code = stack.pop()
                stack += [k for k in code.co_consts if isinstance(k, _types.CodeType)]
                if {"synthetic", "alevels"} & set(code.co_names) or any(
                    isinstance(k, str) and "datasets.synthetic" in k for k in code.co_consts
                ):
                    return True
                for name in code.co_names:
                    obj = func.__globals__.get(name)
                    if isinstance(obj, _types.ModuleType):
                        where = obj.__name__
                    else:
                        where = getattr(type(obj), "__module__", "") if not isinstance(
                            obj, _types.FunctionType) else obj.__module__
                    if str(where).startswith("ai4scale.datasets.synthetic"):
                        return True
                    if _reaches_reference(obj, seen):
                        return True
            return False


        assert not _reaches_reference(standardise_cohort), (
            "standardise_cohort calls ai4scale's own implementation of the rule: "
            "write the rule yourself"
        )


        def _check_cohorts(frame, keep, rng, minimum):
            checked = 0
            for key, cohort in frame.groupby(["centre_id", "subject"], observed=True):
                if not keep(len(cohort)):
                    continue
                cohort = cohort.iloc[rng.permutation(len(cohort))]  # any order: ranks decide
                got = standardise_cohort(
                    tuple(cohort[HISTORY_COLUMNS].iloc[0].tolist()),
                    cohort["cag"].astype(str).tolist(),
                    cohort["rank"].tolist(),
                )
                got = np.asarray([str(g) for g in list(got)], dtype="U2")
                want = cohort["standardised_grade"].astype(str).to_numpy(dtype="U2")
                assert got.shape == want.shape and bool((got == want).all()), (
                    f"cohort {key} of {len(cohort)}: {got.tolist()} instead of {want.tolist()}"
                )
                checked += 1
            assert checked >= minimum, checked


        _hidden, _ = _ref.generate(seed=20200817, n_rows=2500)
        _check_cohorts(_hidden, lambda n: n >= 15, np.random.default_rng(17), 30)
        ### END HIDDEN TESTS
        """,
        "test_standardise_large",
        2,
    ),
    test(
        """
        \"\"\"Small cohorts: 5 or fewer keep their teachers' grades; 6 to 14 are mixed.\"\"\"
        _got = [str(g) for g in standardise_cohort([0, 0, 0, 0, 0, 0, 1], ["A", "B", "A*"], [2, 3, 1])]
        assert _got == ["A", "B", "A*"], "a cohort of 3 keeps its teachers' grades"
        _got = [str(g) for g in standardise_cohort([0, 0, 1, 0, 0, 0, 0], ["A"] * 10, list(range(1, 11)))]
        assert _got == ["A"] * 5 + ["B"] * 5, _got
        ### BEGIN HIDDEN TESTS
        from ai4scale.datasets.synthetic import alevels as _ref
        import types as _types


        def _reaches_reference(func, _seen=None):
            # Does the function call ai4scale's own implementation of the rule?
            seen = set() if _seen is None else _seen
            if id(func) in seen or not isinstance(func, _types.FunctionType):
                return False
            seen.add(id(func))
            stack = [func.__code__]
            while stack:
                code = stack.pop()
                stack += [k for k in code.co_consts if isinstance(k, _types.CodeType)]
                if {"synthetic", "alevels"} & set(code.co_names) or any(
                    isinstance(k, str) and "datasets.synthetic" in k for k in code.co_consts
                ):
                    return True
                for name in code.co_names:
                    obj = func.__globals__.get(name)
                    if isinstance(obj, _types.ModuleType):
                        where = obj.__name__
                    else:
                        where = getattr(type(obj), "__module__", "") if not isinstance(
                            obj, _types.FunctionType) else obj.__module__
                    if str(where).startswith("ai4scale.datasets.synthetic"):
                        return True
                    if _reaches_reference(obj, seen):
                        return True
            return False


        assert not _reaches_reference(standardise_cohort), (
            "standardise_cohort calls ai4scale's own implementation of the rule: "
            "write the rule yourself"
        )


        def _check_cohorts(frame, keep, rng, minimum):
            checked = 0
            for key, cohort in frame.groupby(["centre_id", "subject"], observed=True):
                if not keep(len(cohort)):
                    continue
                cohort = cohort.iloc[rng.permutation(len(cohort))]  # any order: ranks decide
                got = standardise_cohort(
                    tuple(cohort[HISTORY_COLUMNS].iloc[0].tolist()),
                    cohort["cag"].astype(str).tolist(),
                    cohort["rank"].tolist(),
                )
                got = np.asarray([str(g) for g in list(got)], dtype="U2")
                want = cohort["standardised_grade"].astype(str).to_numpy(dtype="U2")
                assert got.shape == want.shape and bool((got == want).all()), (
                    f"cohort {key} of {len(cohort)}: {got.tolist()} instead of {want.tolist()}"
                )
                checked += 1
            assert checked >= minimum, checked


        _hidden, _ = _ref.generate(seed=20200818, n_rows=2500)
        _check_cohorts(_hidden, lambda n: n < 15, np.random.default_rng(18), 40)
        _rng = np.random.default_rng(19)
        for _n in (4, 5, 6, 7, 9, 13, 14):
            _best_first = sorted(_rng.choice(GRADES[:4], size=_n).tolist(), key=GRADES.index)
            _hist = _rng.dirichlet(np.ones(7))
            _ranks = [int(r) for r in _rng.permutation(_n) + 1]
            _cags = [_best_first[r - 1] for r in _ranks]  # teachers' grades agree with ranks
            _want = _ref.standardise(_hist, _cags, _ranks).astype("U2")
            _got = np.asarray([str(g) for g in list(standardise_cohort(_hist, _cags, _ranks))],
                              dtype="U2")
            assert _got.shape == _want.shape and bool((_got == _want).all()), (_n, _got, _want)
        ### END HIDDEN TESTS
        """,
        "test_standardise_small",
        2,
    ),
    md(
        """
        Now your rule is applied to every cohort, and compared with the published grades.
        An auditor who gets the same answer knows they understood the rule.
        """
    ),
    code(
        """
        def standardise_all(frame):
            \"\"\"Apply standardise_cohort to every cohort of the frame.\"\"\"
            result = pd.Series(index=frame.index, dtype=object)
            for _, cohort in frame.groupby(["centre_id", "subject"], observed=True):
                result[cohort.index] = standardise_cohort(
                    cohort[HISTORY_COLUMNS].iloc[0].to_numpy(),
                    cohort["cag"].astype(str).tolist(),
                    cohort["rank"].tolist(),
                )
            return result


        entries["my_grade"] = standardise_all(entries)
        agree = (entries["my_grade"] == entries["standardised_grade"].astype(str)).mean()
        print(f"Your rule gives the published grade for {agree:.1%} of the entries.")
        """,
        "apply_rule",
    ),
    md(
        """
        ## 3. Who was downgraded? (3 points)

        A candidate is **downgraded** when the standardised grade is lower than the
        teachers' grade (CAG). Grades are labels, so to compare them turn them into points
        with `GRADE_POINTS` below (A* = 6 ... U = 0). Do **not** compare the labels as
        text: as text, "B" comes after "A" although B is the worse grade.

        Complete `downgrade_rates(frame, by)`: for each value of the column named `by`
        (for example `"centre_type"`), the share of rows whose `standardised_grade` is
        lower than their `cag`, one share per value of `by` (a pandas Series). Compute it
        from the two grade columns: they may hold plain text labels, and the tables the
        grader uses have no `downgraded` column.

        Hints: `frame["cag"].astype(str).map(GRADE_POINTS)` gives the points of each CAG;
        comparing two such columns with `<` gives True or False per row; and
        `true_or_false.groupby(frame[by]).mean()` gives the share of True in each group.
        """
    ),
    code(
        """
        GRADE_POINTS = {"A*": 6, "A": 5, "B": 4, "C": 3, "D": 2, "E": 1, "U": 0}
        """,
        "grade_points",
    ),
    example(
        """
        # Worked example, on a made-up table of 5 pupils: how often did the final grade
        # come out ABOVE the mock-exam grade, in each school?
        mock = pd.DataFrame({
            "mock_grade": ["B", "C", "A", "B", "A*"],
            "final_grade": ["A", "C", "A*", "C", "A*"],
            "school": ["north", "north", "south", "south", "south"],
        })
        mock_points = mock["mock_grade"].astype(str).map(GRADE_POINTS)
        final_points = mock["final_grade"].astype(str).map(GRADE_POINTS)
        improved = final_points > mock_points  # True or False for each pupil
        improved.groupby(mock["school"], observed=True).mean()  # share of True per school
        """
    ),
    solution(
        """
        def downgrade_rates(frame, by):
            \"\"\"Share of rows whose standardised grade is below the CAG, per value of `by`.\"\"\"
            ### BEGIN SOLUTION
            cag = frame["cag"].astype(str).map(GRADE_POINTS)
            new = frame["standardised_grade"].astype(str).map(GRADE_POINTS)
            lowered = new < cag
            return lowered.groupby(frame[by], observed=True).mean()
            ### END SOLUTION


        by_type = downgrade_rates(entries, "centre_type")
        by_fsm = downgrade_rates(entries, "fsm_eligible")
        print(by_type.round(3), by_fsm.round(3), sep="\\n\\n")
        """,
        "downgrade_rates",
        guided="""
        def downgrade_rates(frame, by):
            \"\"\"Share of rows whose standardised grade is below the CAG, per value of `by`.\"\"\"
            cag = frame["cag"].astype(str).map(GRADE_POINTS)
            # Replace ... with the name of the column that holds the grade the rule gave,
            # in quotes (see the list of columns at the top).
            new = frame[...].astype(str).map(GRADE_POINTS)
            # Replace ... with a comparison that is True when the new grade is lower than
            # the CAG (the worked example compares two columns of points).
            lowered = ...
            return lowered.groupby(frame[by], observed=True).mean()


        by_type = downgrade_rates(entries, "centre_type")
        by_fsm = downgrade_rates(entries, "fsm_eligible")
        print(by_type.round(3), by_fsm.round(3), sep="\\n\\n")
        """,
    ),
    test(
        """
        \"\"\"Check downgrade_rates on these entries (the grader also uses other frames).\"\"\"
        assert abs(float(by_type["independent"]) - 0.289) < 0.001, by_type
        assert abs(float(by_type["sixth-form college"]) - 0.455) < 0.001, by_type
        assert set(by_fsm.index) == {False, True}, by_fsm
        _tiny = pd.DataFrame({"cag": ["A", "A*", "B"], "standardised_grade": ["B", "A*", "A"],
                              "area": ["north", "north", "south"]})
        _rates = downgrade_rates(_tiny, "area")
        assert abs(float(_rates["north"]) - 0.5) < 1e-9 and abs(float(_rates["south"])) < 1e-9
        ### BEGIN HIDDEN TESTS
        from ai4scale.datasets.synthetic import alevels as _ref

        _hidden, _ = _ref.generate(seed=20200819, n_rows=3000)
        _frame = _hidden.drop(columns=["downgraded", "grade_change"])
        for _by in ("centre_type", "fsm_eligible"):
            _want = _hidden.groupby(_by, observed=True)["downgraded"].mean()
            _got = downgrade_rates(_frame, _by)
            for _key, _value in _want.items():
                assert abs(float(_got[_key]) - float(_value)) < 1e-9, (_by, _key, _got)
        # plain text labels, where comparing labels as text gives the wrong answer
        _text = pd.DataFrame({
            "cag": ["B", "C", "A", "A*", "U", "E", "D", "A"],
            "standardised_grade": ["A", "D", "A*", "A", "U", "U", "D", "B"],
            "group": ["x", "x", "x", "x", "y", "y", "y", "y"],
        })
        _got = downgrade_rates(_text, "group")
        assert abs(float(_got["x"]) - 0.5) < 1e-9 and abs(float(_got["y"]) - 0.5) < 1e-9, _got
        ### END HIDDEN TESTS
        """,
        "test_downgrade_rates",
        3,
    ),
    md(
        """
        The plots show the rates you computed, and where the difference between schools
        comes from: the share of downgraded entries by cohort size.
        """
    ),
    code(
        """
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
        by_type.sort_values().plot.barh(ax=left, color="tab:red")
        left.set_xlabel("share of entries downgraded")
        left.set_ylabel("")
        left.set_title("Downgraded, by type of centre")
        lowered = entries["standardised_grade"] < entries["cag"]
        by_size = lowered.groupby(entries["cohort_size"].clip(upper=30)).mean()
        right.plot(by_size.index, by_size.values, marker="o")
        right.axvspan(0, 5, color="grey", alpha=0.2)
        right.axvspan(5, 15, color="grey", alpha=0.1)
        right.set_xlabel("candidates in the cohort (30 = 30 or more)")
        right.set_ylabel("share downgraded")
        right.set_title("Downgraded, by cohort size")
        plt.tight_layout()
        plt.show()
        """,
        "plot_rates",
    ),
    md(
        """
        ## 4. Right for the group, wrong for the person?

        Ofqual's aim was a *group* property: each centre's grades, and the national grade
        distribution, should look like previous years'. The synthetic data let us check
        that aim against the grade each candidate would have got in an exam.
        """
    ),
    code(
        """
        points = {c: entries[c].astype(str).map(GRADE_POINTS)
                  for c in ["cag", "standardised_grade", "counterfactual_exam_grade"]}
        exam = points["counterfactual_exam_grade"]
        national = pd.DataFrame({
            "teacher grade (CAG)": entries["cag"].value_counts(normalize=True),
            "standardised": entries["standardised_grade"].value_counts(normalize=True),
            "exam (counterfactual)": entries["counterfactual_exam_grade"].value_counts(normalize=True),
        }).loc[GRADES]
        individual = pd.DataFrame({
            name: {"below the exam grade": (points[col] < exam).mean(),
                   "2+ grades below the exam grade": (points[col] <= exam - 2).mean(),
                   "equal to the exam grade": (points[col] == exam).mean(),
                   "above the exam grade": (points[col] > exam).mean()}
            for name, col in [("teacher grade (CAG)", "cag"),
                              ("standardised", "standardised_grade")]
        })
        fig, ax = plt.subplots(figsize=(7, 3.2))
        national.plot.bar(ax=ax, rot=0)
        ax.set_ylabel("share of entries")
        ax.set_title("National grade distribution")
        plt.show()
        individual.style.format("{:.1%}")
        """,
        "compare_exam",
    ),
    md(
        """
        Nationally, the standardised grades look like exam results, much closer than the
        teachers' grades. Person by person they are no more often right than the teachers'
        grades, and far more often too low: about one entry in four received a grade below
        the one an exam would have given, and about one in seventeen two grades or more
        below it. In 2020 nobody could know which candidates these were.

        ## 5. Written questions (graded by your trainer)

        ### 5a. Is this an "AI system"? (2 points)

        The AI Act applies to "AI systems" (Art. 3(1)); recital 12 says the definition does
        not cover "systems that are based on the rules defined solely by natural persons to
        automatically execute operations". Is the standardisation model an AI system? Whatever
        your answer, name one legal duty that still applies to a public body using it to
        decide grades, and what it requires.
        """
    ),
    answer(
        """
        Probably not. The model does not learn or infer its rule from data: people wrote
        the rule (weights, thresholds, allocation down the rank order), and the computer
        executes it, which is what recital 12 excludes. Had it been an AI system, it would
        be high-risk: evaluating learning outcomes is Annex III, point 3(b). Duties remain:
        under GDPR Art. 22 a decision based solely on automated processing with legal or
        similarly significant effects needs a legal basis and safeguards (human intervention,
        the right to express one's view and to contest the decision), and Art. 13-15 give the
        right to meaningful information about the logic involved; equality law forbids
        indirect discrimination by a neutral-looking rule; administrative law requires
        reasons and a remedy.
        """,
        "ai_system_scope",
        2,
    ),
    md(
        """
        ### 5b. Individual versus group fairness (3 points)

        Using your figures (downgrade rates by type of centre and by free-school-meal
        eligibility, the plots above), explain in 5-8 sentences in what sense the model was
        fair to *groups*, in what sense it was unfair to *groups*, and in what sense it was
        unfair to *individuals*. Refer to at least one number.
        """
    ),
    answer(
        """
        Group-level aim met: each centre's grades followed its own history and the national
        distribution matched previous years, so grades were not inflated and, across all
        candidates, the results were as accurate as teacher grades. Group-level unfairness:
        a rule that looks neutral treated centres differently through cohort size: small
        cohorts kept their generous CAGs, so 28.9% of entries at independent schools were
        downgraded against 45.5% at sixth-form colleges and 47.3% at FE colleges;
        candidates eligible for free school meals were downgraded slightly more often than
        others. Individual unfairness: a candidate's grade depended on past students of the
        same school and on their rank, not on their own attainment; the top candidate in
        Economics at centre 17 got a B although they would have earned an A*. Similar
        candidates got different grades depending on the school's history and class size,
        and about a quarter of entries got a grade below their counterfactual exam grade.
        Accuracy on average hides who carries the errors.
        """,
        "individual_vs_group",
        3,
    ),
    md(
        """
        ### 5c. Design an appeal route (4 points)

        You advise the ministry before results day. Design an appeal route for candidates
        who believe their standardised grade is wrong. Cover: (1) what each candidate is
        told about how their grade was made (think of the "clear and meaningful
        explanations of the role of the AI system ... and the main elements of the decision"
        of AI Act Art. 86 and the information rights of GDPR Art. 13-15), (2) who may appeal
        and on what grounds, and what evidence counts, (3) who decides and with what power
        (compare the human oversight of Art. 14), (4) time limits and cost, and (5) how the
        appeals are monitored so that the rule itself can be corrected.
        """
    ),
    answer(
        """
        (1) Every candidate gets, with the result: the CAG, the rank and cohort size, the
        weight given to the centre's history, the centre's past grade distribution in the
        subject, and the grade their rank position fell on; in plain language, with the
        statement that the grade was calculated and how to appeal. (2) Candidates
        themselves, not only centres, may appeal, free of charge; grounds: the rank or CAG
        was wrong, the centre's history does not represent this cohort (e.g. a stronger
        year group, a changed school), or the candidate is an outlier the history cannot
        contain (e.g. no past A*); evidence: mock exams, coursework, teacher statements;
        and an exam in the autumn remains open. (3) A trained examiner who is not bound by
        the rule decides and can award any grade, including the CAG; the decision is
        reasoned in writing; a second level exists. Raising one candidate's grade does not
        lower another's. (4) Appeals open on results day and are decided before university
        places are confirmed; no fee. (5) Appeals and outcomes are recorded by centre type,
        cohort size, FSM and other groups and published; a pattern of successful appeals
        (e.g. strong candidates in historically weak schools) triggers a review of the
        rule itself, not only of single grades.
        """,
        "appeal_design",
        4,
    ),
]

notebook(cells, LAB / "exam-standardisation.ipynb")
