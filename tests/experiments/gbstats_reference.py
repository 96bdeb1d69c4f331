"""Run by the gbstats venv's python (never imported by the suite): reference figures from gbstats 0.8.0.

stdin: a JSON list of cases; stdout: a JSON object {case id: {analysis name: gbstats dimension result}}.
Each case goes through gbstats' own entry point (process_experiment_results), as GrowthBook runs it.
"""

import json
import sys
import warnings

from gbstats.gbstats import process_experiment_results

warnings.simplefilter("ignore")  # pandas/numpy deprecation noise of the pinned old versions


def rows_for(case):
    rows = []
    for i, v in enumerate(case["variants"]):
        row = {
            "dimension": "All",
            "variation": str(i),
            "users": v["n"],
            "count": v["n"],
            "main_sum": v["sum"],
            "main_sum_squares": v["sum_squares"],
        }
        if case["cuped"]:
            row.update(
                covariate_sum=v["cov_sum"],
                covariate_sum_squares=v["cov_sum_squares"],
                main_covariate_sum_product=v["cross"],
            )
        rows.append(row)
    return rows


def analyses_for(case):
    k = len(case["variants"])
    base = {
        "var_names": [f"v{i}" for i in range(k)],
        "var_ids": [str(i) for i in range(k)],
        "weights": case["weights"],
        "alpha": case["alpha"],
    }
    out = {}
    for diff in ("relative", "absolute"):
        out[f"frequentist_{diff}"] = dict(base, stats_engine="frequentist", difference_type=diff)
        out[f"bayesian_{diff}"] = dict(base, stats_engine="bayesian", difference_type=diff)
        if case["sequential"]:
            out[f"sequential_{diff}"] = dict(
                base,
                stats_engine="frequentist",
                difference_type=diff,
                sequential_testing_enabled=True,
                sequential_tuning_parameter=case["tuning"],
            )
    return out


def run(case):
    metric_type = "binomial" if case["kind"] == "proportion" else "count"
    metric = {
        "id": "m",
        "name": "m",
        "statistic_type": "mean_ra" if case["cuped"] else "mean",
        "main_metric_type": metric_type,
        "covariate_metric_type": metric_type if case["cuped"] else None,
        "inverse": case["inverse"],
        "prior_proper": case["prior"] is not None,
        "prior_mean": case["prior"][0] if case["prior"] else 0,
        "prior_stddev": case["prior"][1] if case["prior"] else 0.1,
    }
    names = list(analyses_for(case))
    data = {
        "metrics": {"m": metric},
        "analyses": list(analyses_for(case).values()),
        "query_results": [{"rows": rows_for(case), "metrics": ["m"]}],
    }
    result = process_experiment_results(data)[0]
    return {name: a["dimensions"][0] for name, a in zip(names, result["analyses"], strict=True)}


def main():
    cases = json.load(sys.stdin)
    out = {}
    for case in cases:
        try:
            out[case["id"]] = run(case)
        except Exception as e:  # report, so the test names the case
            out[case["id"]] = {"exception": repr(e)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
