"""Write labs/05-mitigation-price/mitigation-price.ipynb (run from any directory)."""

from pathlib import Path

from _l2cells import answer, code, example, md, notebook, solution, test

LAB = Path(__file__).resolve().parents[1] / "05-mitigation-price"

cells = [
    md(
        """
        # Mitigation and its price: equal errors in a job-seeker support scheme

        **The case.** A public employment service wants to sort newly registered job
        seekers with a model. Those predicted to have **good prospects** of finding work on
        their own within 7 months get the standard service; those predicted to have **low
        prospects** are referred to a cheaper, low-intensity track. The design follows the
        Austrian AMS algorithm (2018-2020), which scored job seekers with a logistic
        regression on gender, age, citizenship, education, health, care duties and
        employment history; Austria's data-protection authority stopped it in 2020.

        After public criticism, our (fictional) service has **removed citizenship from the
        inputs**. Is that enough? A model can still treat groups differently through
        inputs that go with citizenship (education, region, employment history). A person
        who *would* have found work but is predicted to have low prospects is written off:
        denied the service they would otherwise get. If that mistake hits non-EU citizens
        more often, the scheme discriminates in effect, whatever its inputs.

        **The law.** Allocating public employment support is close to Annex III, point 5(a)
        of the AI Act (AI systems used by public authorities to evaluate eligibility for, or
        to grant or reduce, public assistance benefits and services). Art. 10(2)(f)-(g)
        asks the provider to examine the data for possible biases and to take measures to
        detect, prevent and mitigate them; Art. 10(5) allows, exceptionally and under strict
        conditions, the processing of special categories of personal data for that
        purpose. The public body that uses the system is a deployer (Art. 26) and must
        assess the impact on fundamental rights before use (Art. 27).

        **What you will do**

        1. Measure the error rates of the current model by citizenship group.
        2. Reduce the gaps in two ways: by training the model again under a fairness
           constraint, and by setting a different decision threshold for each group.
        3. See the **price**: how much accuracy each step towards equal error rates costs.
        4. Write about whether using citizenship at decision time is lawful, and what
           Art. 10(5) allows.

        The data are synthetic (job seekers made up by a program following the published
        AMS model), so no real person is exposed; do not quote the figures as findings
        about the AMS.

        **How to work.** Run the cells in order (Shift+Enter). Complete the exercises:
        each one says what to fill in. Write your answers to the written questions where
        it says `YOUR ANSWER HERE`. A cell with `assert` checks your work: if it shows no
        red error, the check passed. When your trainer grades the lab, your models are also
        tested on 20,000 job seekers you have not seen.
        """,
        "intro",
    ),
    code(
        """
        import warnings

        import matplotlib.pyplot as plt
        import numpy as np
        import pandas as pd
        from ai4scale import datasets
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import accuracy_score

        warnings.filterwarnings("ignore", category=FutureWarning)

        jobseekers = datasets.load("jobseeker-profiling").frame
        # A small training set keeps the lab fast; a separate validation set to measure on.
        train = jobseekers.sample(3000, random_state=1)
        valid = jobseekers.drop(train.index).sample(6000, random_state=2)
        print(len(train), "job seekers to train on,", len(valid), "to measure on")
        jobseekers.groupby("citizenship", observed=True)["reintegrated"].agg(["size", "mean"])
        """,
        "load_data",
    ),
    md(
        """
        The outcome `reintegrated` is whether the person worked at least 90 days within 7
        months. About half did; fewer among non-EU citizens, partly because of differences in
        education, region and employment history.

        The model's inputs are everything the service records **except citizenship** (and
        except the outputs of the old model). `features(frame)` turns them into numbers.
        """
    ),
    code(
        """
        INPUTS = ["gender", "age_group", "education", "care_duties", "health_impairment",
                  "occupation_group", "regional_labour_market", "prior_employment_days"]


        def features(frame):
            \"\"\"The model's inputs as numbers (one column per category); no citizenship.\"\"\"
            X = pd.get_dummies(frame[INPUTS], drop_first=True).astype(float)
            X["prior_employment_days"] = frame["prior_employment_days"] / 1461  # share of 4 years
            return X


        baseline = LogisticRegression(max_iter=1000)
        baseline.fit(features(train), train["reintegrated"])
        pred_baseline = baseline.predict(features(valid))
        print(f"Accuracy of the current model: {accuracy_score(valid['reintegrated'], pred_baseline):.3f}")
        """,
        "baseline",
    ),
    md(
        """
        ## 1. Error rates by group (2 points)

        Accuracy is one number for everyone. For the people concerned what matters is
        *which* mistakes the model makes, and to whom:

        * **True positive rate (TPR)**: of the people who did find work, the share predicted
          to have good prospects. `1 - TPR` is the share **wrongly written off**.
        * **False positive rate (FPR)**: of the people who did not find work, the share
          wrongly predicted to have good prospects (they miss support they needed).

        **Equalized odds** asks that both rates be the same in every group. The
        **equalized-odds difference** is the largest gap between groups in either rate
        (0 = equal).

        Complete `error_rates(y_true, y_pred, groups)`: it returns a table with one row per
        group and two columns, `"TPR"` and `"FPR"`. Use `MetricFrame` from the fairlearn
        library, which computes each measure for each group, with the rate functions
        imported in the cell below:

        ```python
        MetricFrame(metrics={"TPR": ..., "FPR": ...}, y_true=..., y_pred=...,
                    sensitive_features=...).by_group
        ```
        """
    ),
    code(
        """
        from fairlearn.metrics import (MetricFrame, equalized_odds_difference,
                                       false_positive_rate, true_positive_rate)
        """,
        "import_metrics",
    ),
    example(
        """
        # Worked example, on a made-up table of 5 job seekers: the accuracy and the share
        # predicted to have good prospects, in each region. MetricFrame computes each
        # measure named in metrics={...} separately for each group in sensitive_features.
        from fairlearn.metrics import selection_rate

        demo = pd.DataFrame({
            "found_work": [1, 0, 1, 1, 0],
            "predicted_good": [1, 0, 0, 1, 1],
            "region": ["north", "north", "south", "south", "south"],
        })
        by_region = MetricFrame(
            metrics={"accuracy": accuracy_score, "share predicted good": selection_rate},
            y_true=demo["found_work"],
            y_pred=demo["predicted_good"],
            sensitive_features=demo["region"],
        )
        by_region.by_group
        """
    ),
    solution(
        """
        def error_rates(y_true, y_pred, groups):
            \"\"\"True and false positive rates per group: a DataFrame with columns TPR, FPR.\"\"\"
            ### BEGIN SOLUTION
            frame = MetricFrame(
                metrics={"TPR": true_positive_rate, "FPR": false_positive_rate},
                y_true=y_true,
                y_pred=y_pred,
                sensitive_features=groups,
            )
            return frame.by_group
            ### END SOLUTION


        rates_baseline = error_rates(valid["reintegrated"], pred_baseline, valid["citizenship"])
        rates_baseline
        """,
        "error_rates",
        guided="""
        def error_rates(y_true, y_pred, groups):
            \"\"\"True and false positive rates per group: a DataFrame with columns TPR, FPR.\"\"\"
            frame = MetricFrame(
                # Replace ... with the function for the false positive rate (imported in
                # the cell above, next to true_positive_rate).
                metrics={"TPR": true_positive_rate, "FPR": ...},
                y_true=y_true,
                y_pred=y_pred,
                # Replace ... with the groups to compare: one of the three inputs of
                # error_rates, named in its first line.
                sensitive_features=...,
            )
            return frame.by_group


        rates_baseline = error_rates(valid["reintegrated"], pred_baseline, valid["citizenship"])
        rates_baseline
        """,
    ),
    test(
        """
        \"\"\"Check error_rates on a tiny example (the grader uses others).\"\"\"
        _y = [1, 1, 0, 0, 1, 1, 0, 0]
        _p = [1, 0, 1, 0, 1, 1, 0, 0]
        _g = ["a", "a", "a", "a", "b", "b", "b", "b"]
        _r = error_rates(_y, _p, _g)
        assert abs(float(_r.loc["a", "TPR"]) - 0.5) < 1e-9 and abs(float(_r.loc["a", "FPR"]) - 0.5) < 1e-9
        assert abs(float(_r.loc["b", "TPR"]) - 1.0) < 1e-9 and abs(float(_r.loc["b", "FPR"])) < 1e-9
        ### BEGIN HIDDEN TESTS
        _rng = np.random.default_rng(5)
        _y = _rng.random(3000) < 0.5
        _p = np.where(_rng.random(3000) < 0.7, _y, ~_y).astype(int)
        _g = _rng.choice(["x", "y", "z"], size=3000)
        _r = error_rates(pd.Series(_y.astype(int)), _p, pd.Series(_g))
        for _k in ("x", "y", "z"):
            _m = _g == _k
            _tpr = _p[_m & _y].mean()
            _fpr = _p[_m & ~_y].mean()
            assert abs(float(_r.loc[_k, "TPR"]) - _tpr) < 1e-9, (_k, "TPR")
            assert abs(float(_r.loc[_k, "FPR"]) - _fpr) < 1e-9, (_k, "FPR")
        ### END HIDDEN TESTS
        """,
        "test_error_rates",
        2,
    ),
    code(
        """
        eod_baseline = equalized_odds_difference(valid["reintegrated"], pred_baseline,
                                                 sensitive_features=valid["citizenship"])
        ax = rates_baseline.plot.bar(rot=0, figsize=(6, 3.2))
        ax.set_ylabel("rate")
        ax.set_title(f"Current model: equalized-odds difference {eod_baseline:.2f}")
        plt.show()
        """,
        "plot_baseline",
    ),
    md(
        """
        Among the people who *did* find work, non-EU citizens were predicted to have good
        prospects far less often than Austrians: they are much more often **wrongly written
        off**, although citizenship is not an input. Removing a protected attribute from the
        inputs ("fairness through unawareness") did not remove the disparity.

        ## 2. Mitigation during training (3 points)

        `ExponentiatedGradient`, from the fairlearn library, trains the model again, many times, each time giving more
        weight to the people on whom the error-rate gaps arise, and combines the results
        into one model that keeps the gaps below a bound you choose. It needs citizenship
        **only while training**; the finished model decides from the ordinary inputs.

        Its predictions are *randomised*: for people near the threshold it draws the
        decision by lot, with set probabilities. Pass `random_state=0` to `predict` so that
        the same person always gets the same decision (and your results can be reproduced:
        a requirement of any audit).

        Complete:

        * `eg_model`: an `ExponentiatedGradient` around
          `LogisticRegression(solver="liblinear", random_state=0)` (a fast fitting method,
          with a fixed random state so that the result can be reproduced) with
          `constraints=EqualizedOdds(difference_bound=0.01)`, fitted with
          `eg_model.fit(features(train), train["reintegrated"], sensitive_features=train["citizenship"])`;
        * `decide_eg(frame)`: the model's decisions (1 = good prospects) for the job seekers
          in `frame`. It must work on frames **without** a citizenship column.

        The grader checks on 20,000 unseen job seekers that the equalized-odds difference by
        citizenship is at most **0.10** and the accuracy at least **0.58**. (Training takes a
        few seconds.)
        """
    ),
    example(
        """
        # Worked example: the same method with another fairness rule and another group.
        # DemographicParity asks that women and men be predicted to have good prospects
        # equally often (gaps of at most 0.05). Gender is given only while training.
        from fairlearn.reductions import DemographicParity, ExponentiatedGradient

        parity_model = ExponentiatedGradient(
            LogisticRegression(solver="liblinear", random_state=0),
            constraints=DemographicParity(difference_bound=0.05),
        )
        parity_model.fit(features(train), train["reintegrated"], sensitive_features=train["gender"])
        parity_pred = parity_model.predict(features(valid), random_state=0)
        # the share predicted to have good prospects, for women and for men, before and after
        pd.DataFrame({
            "current model": pred_baseline,
            "retrained": parity_pred,
        }, index=valid.index).groupby(valid["gender"], observed=True).mean()
        """
    ),
    solution(
        """
        from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

        ### BEGIN SOLUTION
        eg_model = ExponentiatedGradient(
            LogisticRegression(solver="liblinear", random_state=0),
            constraints=EqualizedOdds(difference_bound=0.01),
        )
        eg_model.fit(features(train), train["reintegrated"], sensitive_features=train["citizenship"])
        ### END SOLUTION


        def decide_eg(frame):
            \"\"\"Decisions of the mitigated model (1 = good prospects); needs no citizenship.\"\"\"
            ### BEGIN SOLUTION
            return eg_model.predict(features(frame), random_state=0)
            ### END SOLUTION
        """,
        "expgrad",
        guided="""
        from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

        eg_model = ExponentiatedGradient(
            LogisticRegression(solver="liblinear", random_state=0),
            # Replace ... with the bound on the gaps between groups given in the text above.
            constraints=EqualizedOdds(difference_bound=...),
        )
        # Replace ... with the column of the training table that holds each person's
        # citizenship (the worked example gives gender in the same place).
        eg_model.fit(features(train), train["reintegrated"], sensitive_features=...)


        def decide_eg(frame):
            \"\"\"Decisions of the mitigated model (1 = good prospects); needs no citizenship.\"\"\"
            # Replace ... with the fixed number that makes the draw by lot repeatable
            # (see the text above).
            return eg_model.predict(features(frame), random_state=...)
        """,
    ),
    code(
        """
        pred_eg = decide_eg(valid.drop(columns="citizenship"))
        print(f"accuracy {accuracy_score(valid['reintegrated'], pred_eg):.3f}, equalized-odds difference "
              f"{equalized_odds_difference(valid['reintegrated'], pred_eg, sensitive_features=valid['citizenship']):.3f}")
        """,
        "show_expgrad",
    ),
    test(
        """
        \"\"\"The mitigated model on the validation set (the grader uses unseen job seekers).\"\"\"
        def _check_model(decide, frame, *, drop_citizenship):
            X = frame.drop(columns=["reintegrated", "p_short", "p_long", "group"])
            if drop_citizenship:
                X = X.drop(columns="citizenship")
            np.random.seed(20200101)  # randomised predictions without a random_state: fixed
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred = np.asarray(decide(X), dtype=float).ravel()
            assert pred.shape == (len(frame),), pred.shape
            assert set(np.unique(pred)) <= {0.0, 1.0}, "decisions must be 0 or 1"
            y = frame["reintegrated"].to_numpy().astype(float)
            accuracy = float((pred == y).mean())
            eod = float(equalized_odds_difference(y, pred, sensitive_features=frame["citizenship"].to_numpy()))
            assert accuracy >= 0.58, f"accuracy {accuracy:.3f} is below the floor of 0.58"
            assert eod <= 0.10, f"equalized-odds difference {eod:.3f} is above the bound of 0.10"
            print(f"accuracy {accuracy:.3f}, equalized-odds difference {eod:.3f}: within the limits")


        _check_model(decide_eg, valid, drop_citizenship=True)
        ### BEGIN HIDDEN TESTS
        from ai4scale.datasets.synthetic import ams as _ams

        _holdout, _ = _ams.generate(seed=77031, n_rows=20000)
        _check_model(decide_eg, _holdout, drop_citizenship=True)
        ### END HIDDEN TESTS
        """,
        "test_expgrad",
        3,
    ),
    md(
        """
        ## 3. Mitigation after training: a threshold for each group (2 points)

        `ThresholdOptimizer`, from the fairlearn library, keeps the current model's scores and chooses a **different
        threshold for each citizenship group** (again drawing by lot near the threshold)
        so that the error rates match. It therefore needs each person's citizenship
        **when deciding**: keep that in mind for question 5b.

        Complete:

        * `to_model`: `ThresholdOptimizer(estimator=baseline, constraints="equalized_odds",
          prefit=True, predict_method="predict_proba")`, fitted with
          `to_model.fit(features(train), train["reintegrated"], sensitive_features=train["citizenship"])`;
        * `decide_to(frame)`: its decisions for the job seekers in `frame`, using
          `to_model.predict(features(frame), sensitive_features=frame["citizenship"], random_state=0)`.

        The grader applies the same bound (0.10) and floor (0.58) on unseen job seekers.
        """
    ),
    example(
        """
        # Worked example: the same method with another fairness rule and another group.
        # "true_positive_rate_parity" asks only for equal true positive rates, here for the
        # three age groups. The age group is needed again for every decision.
        from fairlearn.postprocessing import ThresholdOptimizer

        age_thresholds = ThresholdOptimizer(
            estimator=baseline,
            constraints="true_positive_rate_parity",
            prefit=True,
            predict_method="predict_proba",
        )
        age_thresholds.fit(features(train), train["reintegrated"], sensitive_features=train["age_group"])
        age_pred = age_thresholds.predict(
            features(valid), sensitive_features=valid["age_group"], random_state=0
        )
        # the true positive rate of each age group, before and after
        before_after = {}
        for name, pred in [("current model", pred_baseline), ("threshold per age group", age_pred)]:
            before_after[name] = MetricFrame(metrics=true_positive_rate, y_true=valid["reintegrated"],
                                             y_pred=pred, sensitive_features=valid["age_group"]).by_group
        pd.DataFrame(before_after)
        """
    ),
    solution(
        """
        from fairlearn.postprocessing import ThresholdOptimizer

        ### BEGIN SOLUTION
        to_model = ThresholdOptimizer(
            estimator=baseline,
            constraints="equalized_odds",
            prefit=True,
            predict_method="predict_proba",
        )
        to_model.fit(features(train), train["reintegrated"], sensitive_features=train["citizenship"])
        ### END SOLUTION


        def decide_to(frame):
            \"\"\"Decisions with a threshold per citizenship group (1 = good prospects).\"\"\"
            ### BEGIN SOLUTION
            return to_model.predict(
                features(frame), sensitive_features=frame["citizenship"], random_state=0
            )
            ### END SOLUTION
        """,
        "threshold_optimizer",
        guided="""
        from fairlearn.postprocessing import ThresholdOptimizer

        to_model = ThresholdOptimizer(
            estimator=baseline,
            # Replace ... with the fairness rule, in quotes: equal true AND false positive
            # rates (its name is in the text above; the worked example uses another rule).
            constraints=...,
            prefit=True,
            predict_method="predict_proba",
        )
        to_model.fit(features(train), train["reintegrated"], sensitive_features=train["citizenship"])


        def decide_to(frame):
            \"\"\"Decisions with a threshold per citizenship group (1 = good prospects).\"\"\"
            return to_model.predict(
                # Replace ... with each person's citizenship: the column of frame that holds it.
                features(frame), sensitive_features=..., random_state=0
            )
        """,
    ),
    test(
        """
        \"\"\"The post-processed model on the validation set (the grader uses unseen job seekers).\"\"\"
        _check_model(decide_to, valid, drop_citizenship=False)
        ### BEGIN HIDDEN TESTS
        from ai4scale.datasets.synthetic import ams as _ams

        _holdout, _ = _ams.generate(seed=77032, n_rows=20000)
        _check_model(decide_to, _holdout, drop_citizenship=False)
        ### END HIDDEN TESTS
        """,
        "test_threshold_optimizer",
        2,
    ),
    md(
        """
        ## 4. The price

        The plot compares every model on the validation set: accuracy (higher is better)
        against the equalized-odds difference (lower is fairer). The line retrains
        `ExponentiatedGradient` with looser bounds, to show the whole trade-off; the cell
        takes a few seconds.
        """
    ),
    code(
        """
        def measure(pred):
            y, groups = valid["reintegrated"], valid["citizenship"]
            return (equalized_odds_difference(y, pred, sensitive_features=groups),
                    accuracy_score(y, pred))


        curve = [measure(pred_eg)]
        for bound in (0.03, 0.08):
            model = ExponentiatedGradient(LogisticRegression(solver="liblinear", random_state=0),
                                          constraints=EqualizedOdds(difference_bound=bound))
            model.fit(features(train), train["reintegrated"], sensitive_features=train["citizenship"])
            curve.append(measure(model.predict(features(valid), random_state=0)))
        curve.append(measure(pred_baseline))

        points = {
            "current model": measure(pred_baseline),
            "ExponentiatedGradient (yours)": measure(pred_eg),
            "ThresholdOptimizer (yours)": measure(decide_to(valid)),
            "everyone 'low prospects'": measure(np.zeros(len(valid))),
        }
        fig, ax = plt.subplots(figsize=(7.5, 4))
        ax.plot(*zip(*curve), color="grey", marker=".", label="ExponentiatedGradient, bounds 0.01, 0.03, 0.08")
        for (name, (eod, acc)), marker in zip(points.items(), "osD^"):
            ax.scatter(eod, acc, s=70, marker=marker, label=f"{name}: {acc:.3f}, {eod:.2f}", zorder=3)
        ax.set_xlabel("equalized-odds difference by citizenship (lower = fairer)")
        ax.set_ylabel("accuracy")
        ax.set_title("The price of equal error rates")
        ax.legend(fontsize=8, loc="lower right")
        plt.show()
        pd.DataFrame(points, index=["equalized-odds difference", "accuracy"]).T.round(3)
        """,
        "tradeoff",
    ),
    md(
        """
        ## 5. Written questions (graded by your trainer)

        ### 5a. The price, in people (2 points)

        Read the plot. How much accuracy does equalizing the error rates cost with each
        tool, and what does that mean for job seekers? Translate the accuracy differences
        into numbers of people per 10,000 registrations, and say who gains and who loses
        from a mitigated model compared with the current one (look at the rates by group:
        `error_rates(valid["reintegrated"], pred_eg, valid["citizenship"])`). Which tool is
        cheaper, and what does it need that the other does not?
        """
    ),
    answer(
        """
        With ExponentiatedGradient equal error rates cost about 3 points of accuracy (0.644
        down to about 0.61): roughly 300 more wrong predictions per 10,000 registrations.
        ThresholdOptimizer costs almost nothing (0.640, about 40 per 10,000) but needs each
        person's citizenship at decision time: the cheapest fix is the legally most doubtful
        one. Either way the errors are moved, not removed. With ExponentiatedGradient,
        non-EU citizens who would find work are wrongly written off less often (about 45%
        down to 35%) while Austrians who would find work are written off more often (about
        27% up to 35%); and more non-EU citizens who will not find work are now predicted
        to have good prospects (FPR about 27% up to 41%), so they miss support they needed.
        The gaps of about 17 (TPR) and 20 (FPR) points shrink to a few points. Whether the
        price is worth paying is a policy choice, but "accuracy" here is not neutral: the
        current model's extra accuracy is bought by writing off non-EU citizens more often.
        """,
        "price",
        2,
    ),
    md(
        """
        ### 5b. Citizenship at decision time (3 points)

        `ThresholdOptimizer` applies a different threshold to a person depending on their
        citizenship, to equalize error rates. `ExponentiatedGradient` uses citizenship only
        while training. May a public employment service lawfully decide with citizenship in
        this way? Consider direct and indirect discrimination (EU Charter Art. 21; the
        Race Equality Directive 2000/43, which covers ethnic origin but not nationality as
        such), the need for a legal basis when a public body processes personal data (GDPR
        Art. 6(1)(e) and (3)), and whether "positive action" can justify it.
        """
    ),
    answer(
        """
        Deciding with a threshold that depends on citizenship is a difference in treatment
        directly based on nationality: the same scores give different decisions. Art. 21(2)
        of the Charter prohibits discrimination on grounds of nationality within the scope of
        the Treaties (for EU citizens); for third-country nationals national equality law and
        Art. 14 ECHR apply; nationality is often a proxy for ethnic origin, so the measure may
        also touch Directive 2000/43 (which allows positive action, Art. 5, for ethnic origin,
        but only as specific measures to prevent or compensate disadvantages, set out by law
        or by a proper policy). A public body needs a legal basis in law for processing
        citizenship for this purpose (GDPR Art. 6(1)(e), (3)); an internal decision of the
        agency is not enough, and the purpose must be stated. Doing nothing is not neutral
        either: the current model discriminates indirectly (non-EU citizens wrongly written
        off far more often), which must be justified or removed. ExponentiatedGradient
        avoids direct differential treatment at decision time (the finished model does not
        see citizenship), though it still processes citizenship in training and its effect
        differs by group, so it needs a legal basis and documentation too. Conclusion: TO
        only with an explicit legal basis and a justification as positive action;
        otherwise prefer in-training mitigation, monitoring and human review.
        """,
        "lawful_at_decision",
        3,
    ),
    md(
        """
        ### 5c. What Art. 10(5) does and does not allow (3 points)

        Read Art. 10(5) of the AI Act. Explain in your own words (1) what it allows, to
        whom and for what purpose, (2) the conditions it sets (name at least three), and
        (3) what it does **not** allow, with reference to this lab: does it cover the
        service's use of citizenship in `ExponentiatedGradient`, in `ThresholdOptimizer`,
        or neither? (Hint: is citizenship a "special category of personal data" under GDPR
        Art. 9? Is ethnic origin?)
        """
    ),
    answer(
        """
        (1) It allows providers of high-risk AI systems, exceptionally and to the extent
        strictly necessary, to process special categories of personal data (GDPR Art. 9,
        e.g. ethnic origin, health) for bias detection and correction under Art. 10(2)(f)-(g).
        (2) Conditions: bias detection cannot be done effectively with other data, including
        synthetic or anonymised data; technical limits on re-use and state-of-the-art
        security and privacy measures such as pseudonymisation; strict access controls and
        documentation, only authorised persons with confidentiality duties; no transmission
        to or access by other parties; deletion once the bias is corrected or at the end of
        retention; records explaining why the processing was strictly necessary. (3) It does
        not allow using such data as inputs to decisions about people, processing for other
        purposes, or keeping them; it does not remove other legal requirements (GDPR
        principles, non-discrimination law). In this lab: citizenship is not itself a special
        category (ethnic origin is, and citizenship may reveal it), so its processing needs an
        ordinary legal basis; if the service measured bias by ethnic origin, Art. 10(5) could
        cover using it to train ExponentiatedGradient (correction in training) under its
        safeguards, but not ThresholdOptimizer's use of the attribute in every individual
        decision at run time.
        """,
        "art_10_5",
        3,
    ),
]

notebook(cells, LAB / "mitigation-price.ipynb")
