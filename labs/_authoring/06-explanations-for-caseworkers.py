"""Write labs/06-explanations-for-caseworkers/explanations.ipynb (run from any directory)."""

from pathlib import Path

from _l2cells import answer, code, example, md, notebook, solution, test

LAB = Path(__file__).resolve().parents[1] / "06-explanations-for-caseworkers"

cells = [
    md(
        """
        # Explanations for caseworkers: the Austrian job-seeker score

        **The case.** From 2018 the Austrian public employment service (AMS) tested a
        statistical model, the *Arbeitsmarktchancen-Modell*, to sort job seekers into three
        groups:

        * **A**, high prospects: a short-term probability of finding work above 66%; little
          support, as they are expected to manage alone;
        * **C**, low prospects: a long-term probability below 25%; referred to a cheaper
          support centre instead of the costly training programmes;
        * **B**, everyone else: most of the training budget.

        The inputs included gender, age, citizenship, education, health, occupation, the
        regional labour market, employment history, and care duties, counted **for women
        only**. Caseworkers were to see the score and discuss it with the job seeker, and
        could overrule it. Researchers asked whether caseworkers could understand and
        challenge a score, and whether the people concerned could; Austria's
        data-protection authority stopped the system in 2020.

        **Why explanations.** A caseworker who is supposed to exercise **human oversight**
        (AI Act Art. 14: understand the system's capacities and limitations, interpret its
        output, decide not to follow it) needs to know *why* a score is low. The job seeker
        has a right to a **clear and meaningful explanation** of the role of the system and
        the main elements of the decision (Art. 86), and under the GDPR to meaningful
        information about the logic involved (Art. 13-15, 22). Deployers must give
        instructions for use that allow this (Art. 13, Art. 26).

        **What you will do**

        1. Train a model like the AMS short-term model and explain it with a method that
           splits each person's score into the contributions of their characteristics.
        2. Check that the contributions add up to the score (otherwise the explanation is
           not an explanation of *this* score), find the characteristics that matter most,
           and assign the A/B/C groups.
        3. Explain one person's score with a waterfall plot, and write it up for her in
           plain language.
        4. Decide whether gender should be an input at all.

        The data are synthetic (job seekers made up by a program following the published
        AMS model), so no real person is exposed; do not quote figures as findings about
        the AMS.

        **How to work.** Run the cells in order (Shift+Enter). Complete the exercises: each
        one says what to fill in. Sections 1, 2 and 4 ask for a few lines of code, section 5
        for written answers in the cells marked `YOUR ANSWER HERE`. The cell after each code
        exercise checks your work: if it shows no red error, the check passed. When your
        trainer grades the lab, your code is also tried on job seekers you have not seen.
        """,
        "intro",
    ),
    code(
        """
        import warnings

        import matplotlib.pyplot as plt
        import numpy as np
        import pandas as pd
        import shap
        from ai4scale import datasets
        from sklearn.ensemble import RandomForestClassifier

        warnings.filterwarnings("ignore", category=FutureWarning)

        jobseekers = datasets.load("jobseeker-profiling").frame
        jobseekers.head()
        """,
        "load_data",
    ),
    md(
        """
        Each row is one registered job seeker. `reintegrated` is the short-term outcome (at
        least 90 days of work within 7 months). `p_short` and `p_long` are the probabilities
        the official model gave, and `group` the group it assigned.

        ## The model

        The AMS used logistic regression. We use a **random forest** (many decision trees
        voting), a kind of model whose reasoning cannot be read from a table of
        coefficients: exactly the situation in which a public body needs an explanation
        method. `features(frame)` puts each characteristic in one column of numbers (for
        example `age_group`: 0 = 15-29, 1 = 30-49, 2 = 50+; `female`: 1 for women).
        """
    ),
    code(
        """
        def features(frame):
            \"\"\"The model's inputs, one numeric column per characteristic.\"\"\"
            return pd.DataFrame({
                "female": (frame["gender"] == "female").astype(int),
                "age_group": frame["age_group"].cat.codes,  # 0 = 15-29, 1 = 30-49, 2 = 50+
                "citizenship": frame["citizenship"].cat.codes,  # 0 = Austria, 1 = EU, 2 = non-EU
                "education": frame["education"].cat.codes,  # 0 = compulsory ... 3 = tertiary
                "care_duties": frame["care_duties"].astype(int),
                "health_impairment": frame["health_impairment"].astype(int),
                "production_job": (frame["occupation_group"] == "production").astype(int),
                "region_type": frame["regional_labour_market"].cat.codes + 1,  # 1 best ... 5 worst
                "prior_employment_days": frame["prior_employment_days"],  # in the last 4 years
            }, index=frame.index)


        train = jobseekers.sample(5000, random_state=1)
        model = RandomForestClassifier(n_estimators=100, max_depth=6, min_samples_leaf=20,
                                       random_state=0)
        model.fit(features(train), train["reintegrated"])

        # 500 other job seekers to explain
        sample = jobseekers.drop(train.index).sample(500, random_state=2)
        X = features(sample)
        print("Predicted probability of finding work, first five:",
              model.predict_proba(X)[:5, 1].round(2))
        """,
        "model",
    ),
    md(
        """
        ## 1. Explain each person's score (2 points)

        We use **SHAP**, a common explanation method (and the Python library `shap` that
        computes it). It starts from the **base value**, the model's average prediction,
        and gives each characteristic of a person a **contribution**: how much it moves that
        person's predicted probability up or down. The contributions **add up**: base value plus all
        contributions equals the person's predicted probability. That is what makes it an
        explanation of *this* score, which a caseworker can check.

        `shap.TreeExplainer(model)` builds an explainer for tree models; calling it on a
        table, `explainer(X)`, gives an `Explanation` with `.values` (one contribution per
        person and characteristic), `.base_values` and `.data`. For a classifier it explains
        **both** classes (not found work, found work), in a last extra dimension: take the
        second with `explanation[..., 1]` (the probability of finding work).

        Complete `explain(model, X)` so that it returns the `Explanation` for class 1
        (finding work).
        """
    ),
    example(
        """
        # A worked example (not the exercise): a small forest on a made-up table of
        # 6 people, explained for the FIRST class (0 = did not find work).
        tiny = pd.DataFrame({"age_group": [0, 2, 1, 2, 0, 1], "education": [3, 0, 1, 0, 2, 3]})
        tiny_outcome = [1, 0, 1, 0, 1, 1]
        tiny_model = RandomForestClassifier(n_estimators=10, random_state=0).fit(tiny, tiny_outcome)

        tiny_explainer = shap.TreeExplainer(tiny_model)  # an explainer for this tree model
        tiny_explanation = tiny_explainer(tiny)[..., 0]  # explain every row of tiny, keep class 0
        # one contribution per person (row) and characteristic (column)
        tiny_explanation.values.round(3)
        """
    ),
    solution(
        """
        def explain(model, X):
            \"\"\"SHAP explanation of the probability of class 1 for the rows of X.\"\"\"
            ### BEGIN SOLUTION
            explainer = shap.TreeExplainer(model)
            return explainer(X)[..., 1]
            ### END SOLUTION


        explanation = explain(model, X)
        explanation.shape
        """,
        "explain",
        guided="""
        def explain(model, X):
            \"\"\"SHAP explanation of the probability of class 1 for the rows of X.\"\"\"
            # build an explainer for tree models from `model` (as in the example above)
            explainer = ...
            # explain the rows of X with it, and keep the class "found work" (the second class)
            return ...


        explanation = explain(model, X)
        explanation.shape
        """,
    ),
    test(
        """
        \"\"\"Additivity: base value + contributions = predicted probability (also on unseen rows).\"\"\"
        def _check_additivity(explanation, model, X):
            values = np.asarray(explanation.values, dtype=float)
            base = np.asarray(explanation.base_values, dtype=float).reshape(-1)
            assert values.shape == X.shape, f"one contribution per person and characteristic: {values.shape}"
            total = base + values.sum(axis=1)
            prob = model.predict_proba(X)[:, 1]
            gap = float(np.abs(total - prob).max())
            assert gap < 1e-6, f"contributions do not add up to the probability of finding work ({gap:.3f})"


        _check_additivity(explanation, model, X)
        ### BEGIN HIDDEN TESTS
        from ai4scale.datasets.synthetic import ams as _ams

        _hidden, _ = _ams.generate(seed=60606, n_rows=4000)
        _Xh = features(_hidden)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _check_additivity(explain(model, _Xh.iloc[:200]), model, _Xh.iloc[:200])
            _other = RandomForestClassifier(n_estimators=30, max_depth=4, random_state=3)
            _other.fit(_Xh.iloc[200:], _hidden["reintegrated"].iloc[200:])
            _check_additivity(explain(_other, _Xh.iloc[:150]), _other, _Xh.iloc[:150])
        ### END HIDDEN TESTS
        """,
        "test_explain",
        2,
    ),
    md(
        """
        ## 2. Which characteristics matter most? (2 points)

        The **beeswarm** plot below shows every person as a dot on each row: to the right,
        the characteristic raised their score; to the left, it lowered it; the colour is the
        value of the characteristic (red high, blue low; for `female`, red = woman).
        """
    ),
    code(
        """
        shap.plots.beeswarm(explanation, max_display=9)
        """,
        "beeswarm",
    ),
    md(
        """
        A common summary of importance is the **mean absolute contribution**: for each
        characteristic, the average size of its contribution, whether it pushed up or down.
        (Averaging the signed contributions would let ups and downs cancel out.)

        Complete `top_features(explanation, k)` so that it returns a list of the names of
        the `k` characteristics with the largest mean absolute contribution, most important
        first. The names are in `explanation.feature_names`, the contributions in
        `explanation.values` (one row per person, one column per characteristic).
        """
    ),
    example(
        """
        # A worked example (not the exercise): the contributions of 3 characteristics
        # for 4 made-up people (one row per person, one column per characteristic).
        contributions = np.array([[ 0.10, -0.02,  0.30],
                                  [-0.12,  0.01,  0.20],
                                  [ 0.08, -0.03, -0.25],
                                  [-0.10,  0.02,  0.28]])
        names = ["region_type", "care_duties", "education"]

        # np.abs drops the sign (up or down); .mean(axis=0) averages each column
        size = pd.Series(np.abs(contributions).mean(axis=0), index=names)
        print(size.round(3))
        # ascending=True puts the smallest first: these are the 2 LEAST important
        print(list(size.sort_values(ascending=True).index[:2]))
        """
    ),
    solution(
        """
        def top_features(explanation, k):
            \"\"\"Names of the k characteristics with the largest mean |contribution|.\"\"\"
            ### BEGIN SOLUTION
            importance = pd.Series(np.abs(explanation.values).mean(axis=0),
                                   index=explanation.feature_names)
            return list(importance.sort_values(ascending=False).index[:k])
            ### END SOLUTION


        top_features(explanation, 4)
        """,
        "top_features",
        guided="""
        def top_features(explanation, k):
            \"\"\"Names of the k characteristics with the largest mean |contribution|.\"\"\"
            # the blank: the mean absolute contribution of each characteristic, written as in
            # the example, with the contributions of `explanation` (explanation.values)
            importance = pd.Series(...,
                                   index=explanation.feature_names)
            # the blank: True or False? The MOST important must come first; then keep k names
            return list(importance.sort_values(ascending=...).index[:k])


        top_features(explanation, 4)
        """,
    ),
    test(
        """
        \"\"\"Check top_features on a small made-up explanation (the grader uses others).\"\"\"
        _made_up = shap.Explanation(
            values=np.array([[0.05, -0.20, 0.01], [0.05, -0.10, -0.01]]),
            base_values=np.full(2, 0.5),
            data=np.zeros((2, 3)),
            feature_names=["x", "y", "z"],
        )
        _top = [str(f) for f in top_features(_made_up, 2)]
        assert _top == ["y", "x"], _top
        ### BEGIN HIDDEN TESTS
        from ai4scale.datasets.synthetic import ams as _ams

        # b pushes strongly in both directions (mean near 0, large on average), c only down
        _made_up = shap.Explanation(
            values=np.array([[0.10, 0.30, -0.20, 0.01],
                             [0.10, -0.30, -0.20, 0.02],
                             [0.10, 0.28, -0.20, 0.00]]),
            base_values=np.full(3, 0.5),
            data=np.zeros((3, 4)),
            feature_names=["a", "b", "c", "d"],
        )
        assert [str(f) for f in top_features(_made_up, 3)] == ["b", "c", "a"]
        assert [str(f) for f in top_features(_made_up, 1)] == ["b"]
        _hidden, _ = _ams.generate(seed=60608, n_rows=300)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _e = shap.TreeExplainer(model)(features(_hidden))[..., 1]
        _want = list(pd.Series(np.abs(np.asarray(_e.values)).mean(axis=0), index=_e.feature_names)
                     .sort_values(ascending=False).index[:5])
        assert [str(f) for f in top_features(_e, 5)] == _want
        ### END HIDDEN TESTS
        """,
        "test_top_features",
        2,
    ),
    md(
        """
        A **dependence plot** (`shap.plots.scatter`) shows one characteristic in detail: each
        dot is a person, with the value of the characteristic across and its contribution up
        or down; the colour shows a second characteristic. Here: days in employment during
        the last four years, coloured by age group.
        """
    ),
    code(
        """
        shap.plots.scatter(explanation[:, "prior_employment_days"],
                           color=explanation[:, "age_group"])
        """,
        "dependence",
    ),
    md(
        """
        The contribution does not rise smoothly: it **jumps** at about 365 and at about
        1,100 days. The records the model learned from (like the AMS model) sort employment
        history into bands (under one year, one to three years, three years or more), and
        the model has learned those steps: someone a few weeks below a step is treated like
        someone far below it. The colour (age group) shows no pattern here, because age has
        its own contribution (its own row in the beeswarm).

        ## 3. One person: Ms K. (no points, read carefully)

        Ms K. (job seeker 259 in the data) is 50 or older, Austrian, with compulsory
        schooling, care duties, no health impairment, looking for a job in services in a
        region of type 4. She worked 1,056 of the last 1,461 days. The official model put her
        in **group C**. The **waterfall** plot explains our model's score for her: it starts
        at the base value (bottom) and adds her characteristics one by one, up (red) or down
        (blue), to her predicted probability at the top.
        """
    ),
    code(
        """
        ms_k = jobseekers[jobseekers["jobseeker_id"] == 259]
        print(ms_k[["p_short", "p_long", "group"]].to_string(index=False))
        explanation_k = explain(model, features(ms_k))
        shap.plots.waterfall(explanation_k[0])
        """,
        "waterfall",
    ),
    md(
        """
        ## 4. Assign the groups A, B and C (2 points)

        The AMS rule turns the two probabilities into a group:

        * **A** if the short-term probability `p_short` is **above** 0.66;
        * otherwise **C** if the long-term probability `p_long` is **below** 0.25;
        * otherwise **B**.

        A takes precedence: someone with `p_short` above 0.66 is in A even if `p_long` is
        below 0.25. "Above" and "below" are strict: exactly 0.66 is not A, exactly 0.25 is
        not C.

        Complete `assign_group(p_short, p_long)`: given two sequences of probabilities of
        the same length, it returns a list (or array) of the groups `"A"`, `"B"` or `"C"`.
        Hint: `np.where(condition, value_if_true, value_if_false)` works on whole columns
        and can be nested.
        """
    ),
    example(
        """
        # A worked example (not the exercise): a made-up rule for 5 applications:
        # "urgent" if the waiting time is above 30 days; otherwise "check" if the amount
        # is below 100; otherwise "normal". "Above" is strict: 30 days is not urgent.
        waiting_days = np.asarray([45, 10, 30, 12, 31], dtype=float)
        amount = np.asarray([50, 80, 20, 500, 90], dtype=float)
        np.where(waiting_days > 30, "urgent", np.where(amount < 100, "check", "normal"))
        """
    ),
    solution(
        """
        def assign_group(p_short, p_long):
            \"\"\"AMS groups from the short- and long-term probabilities.\"\"\"
            ### BEGIN SOLUTION
            p_short = np.asarray(p_short, dtype=float)
            p_long = np.asarray(p_long, dtype=float)
            return np.where(p_short > 0.66, "A", np.where(p_long < 0.25, "C", "B"))
            ### END SOLUTION


        groups = pd.Series(assign_group(jobseekers["p_short"], jobseekers["p_long"]),
                           index=jobseekers.index, name="group")
        pd.crosstab(jobseekers["gender"], groups, normalize="index").round(3)
        """,
        "assign_group",
        guided="""
        def assign_group(p_short, p_long):
            \"\"\"AMS groups from the short- and long-term probabilities.\"\"\"
            p_short = np.asarray(p_short, dtype=float)
            p_long = np.asarray(p_long, dtype=float)
            # first blank: the condition for A (the short-term probability above 0.66);
            # second blank: the condition for C (the long-term probability below 0.25)
            return np.where(..., "A", np.where(..., "C", "B"))


        groups = pd.Series(assign_group(jobseekers["p_short"], jobseekers["p_long"]),
                           index=jobseekers.index, name="group")
        pd.crosstab(jobseekers["gender"], groups, normalize="index").round(3)
        """,
    ),
    test(
        """
        \"\"\"Check assign_group against the official groups (the grader uses unseen job seekers).\"\"\"
        _got = np.asarray([str(g) for g in assign_group(jobseekers["p_short"], jobseekers["p_long"])])
        assert (_got == jobseekers["group"].astype(str).to_numpy()).all()
        assert [str(g) for g in assign_group([0.9, 0.5, 0.1], [0.9, 0.5, 0.1])] == ["A", "B", "C"]
        ### BEGIN HIDDEN TESTS
        from ai4scale.datasets.synthetic import ams as _ams

        _h, _ = _ams.generate(seed=60607, n_rows=5000)
        _got = np.asarray([str(g) for g in assign_group(_h["p_short"].tolist(), _h["p_long"].tolist())])
        assert (_got == _h["group"].astype(str).to_numpy()).all()
        # the edges: strict thresholds, and A before C
        _got = [str(g) for g in assign_group([0.66, 0.6601, 0.5, 0.5, 0.7], [0.1, 0.9, 0.25, 0.2499, 0.1])]
        assert _got == ["C", "A", "B", "C", "A"], _got
        ### END HIDDEN TESTS
        """,
        "test_assign_group",
        2,
    ),
    md(
        """
        Women are placed in group C more often than men, and in A less often.

        ## 5. Written questions (graded by your trainer)

        ### 5a. A letter to Ms K. (4 points)

        Ms K. asks why she was placed in group C. Write the paragraph a caseworker could
        give her (about 120-200 words), in plain language, without technical terms such as
        "SHAP", "probability" or "model output". Use her waterfall plot: name the two or
        three characteristics that lowered her assessment most and any that raised it (look
        at the dependence plot too: where do her 1,056 days fall?), say
        what group C means for her in practice, that the assessment is an estimate based on
        other people's past outcomes and can be wrong, that the caseworker makes the
        decision and can change it, and how she can object. Be truthful: do not suggest the
        assessment considered things it did not.
        """
    ),
    answer(
        """
        Dear Ms K., when you registered with us, a computer program estimated how likely it
        is that someone with your characteristics finds a job of at least three months within
        seven months. It does this by comparing you with people who registered in the past.
        For you, the estimate was low, mainly because of your age group (50 and over),
        because you worked just under three of the last four years (the program counts three
        years or more as a strong record; you were about 40 days short, so your record
        counted against you), and because of your schooling (compulsory school). Being a
        woman also lowered it a little, and so did the difficult labour market in your
        region. That you have no health impairment raised it. The estimate says nothing about
        your own abilities or efforts; it can be wrong for you. On this basis
        you were placed in group C, which means you would be offered support from our
        partner centre rather than a long training course. Your caseworker makes the final
        decision and can change the group. If you think the group does not fit you, tell your
        caseworker: for example about training, language skills or job offers. You can also
        object in writing within four weeks; we will then review the decision with a
        different caseworker, and you can ask us for the data we hold about you.
        """,
        "letter_to_citizen",
        4,
    ),
    md(
        """
        ### 5b. Should gender be an input at all? (3 points)

        The AMS argued that the model only *reflects* the labour market: women do find
        work less often, so leaving gender out would make the model less accurate and hide a
        real disadvantage that support should address. Critics answered that using gender
        (and care duties for women only) turns a social disadvantage into a lower score for
        each woman. Take a position, with reasons. Consider: what the beeswarm shows about
        `female` and `care_duties`; direct discrimination (the Gender Equality Directives
        and Art. 21 and 23 of the EU Charter) and whether a public body can justify it; what
        happens if gender is removed but correlated inputs stay (recall lab 5); and what the
        groups are *used for* (less support for C).
        """
    ),
    answer(
        """
        No, not as an input to a score that rations support. Using gender, and care duties
        only for women, means that two people identical in every other respect get different
        scores and possibly different groups because one is a woman: direct discrimination,
        prohibited in access to services and vocational training under the gender equality
        directives and Art. 21 and 23 of the Charter, with very narrow justifications; that
        the labour market disadvantages women is not a justification for passing the
        disadvantage on, and for a public body it fixes a statistical average on each woman.
        The beeswarm shows a small but consistent negative contribution for every woman
        (care duties barely register in our model, but in the AMS formula they count
        against women only). Accuracy is the
        wrong test: the groups decide who gets the costly training, so a lower score for women
        directs less support to a group that already faces barriers, the opposite of the
        service's mandate. Removing gender is not enough on its own: correlated inputs
        (care duties, part-time history, occupation) can carry the same effect, so the
        service must measure outcomes and error rates by gender (Art. 10(2)(f), Art. 27
        impact assessment) and mitigate. Gender can legitimately be used to monitor the
        system and to target extra support to women (positive action), not to lower anyone's
        score.
        """,
        "gender_as_input",
        3,
    ),
]

notebook(cells, LAB / "explanations.ipynb")
