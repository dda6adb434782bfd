"""tuning_strategies.py: scaling, the four strategies, the median rule and Hyperband's rungs."""

from __future__ import annotations

import pytest

from emulator.sagemaker import tuning_strategies as strategies
from emulator.sagemaker.errors import ValidationError


def ranges(**parameter_ranges) -> list:
    return strategies.parse_ranges(parameter_ranges, {})


def continuous(name: str, low: str, high: str, scaling: str = "Linear") -> dict:
    return {"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": scaling}


def test_scaling_types_place_values_as_sagemaker_describes() -> None:
    linear, log, reverse = ranges(
        ContinuousParameterRanges=[
            continuous("a", "0", "10"),
            continuous("b", "0.001", "10", "Logarithmic"),
            continuous("c", "0.9", "0.999", "ReverseLogarithmic"),
        ]
    )
    assert linear.from_unit(0.5) == pytest.approx(5)
    assert log.from_unit(0.5) == pytest.approx(0.1)  # the geometric middle
    # Reverse-logarithmic: uniform in -log(1 - x), so half the draws fall above 0.99.
    assert reverse.from_unit(0.5) == pytest.approx(0.99)
    assert reverse.from_unit(0) == pytest.approx(0.9) and reverse.from_unit(1) == pytest.approx(
        0.999
    )


def test_auto_scaling_is_logarithmic_over_two_orders_of_magnitude() -> None:
    wide, narrow, from_zero = ranges(
        ContinuousParameterRanges=[
            continuous("a", "0.001", "1", "Auto"),
            continuous("b", "0.1", "1", "Auto"),
            continuous("c", "0", "100", "Auto"),
        ]
    )
    assert (wide.scaling, narrow.scaling, from_zero.scaling) == ("Logarithmic", "Linear", "Linear")


def test_integer_ranges_give_integers_within_bounds() -> None:
    [depth] = ranges(IntegerParameterRanges=[continuous("max_depth", "2", "9", "Logarithmic")])
    values = {depth.text(depth.from_unit(u / 100)) for u in range(101)}
    assert values == {str(v) for v in range(2, 10)}


@pytest.mark.parametrize(
    ("parameter_ranges", "message"),
    [
        ({"IntegerParameterRanges": [continuous("d", "1", "2", "ReverseLogarithmic")]},
         "only to continuous ranges"),
        ({"ContinuousParameterRanges": [continuous("s", "0.5", "1", "ReverseLogarithmic")]},
         "within 0 <= x < 1"),
        ({"IntegerParameterRanges": [continuous("d", "1.5", "2")]}, "is not an integer"),
        ({"ContinuousParameterRanges": [continuous("e", "x", "2")]}, "is not a number"),
        ({"CategoricalParameterRanges": [{"Name": "b", "Values": ["gbtree", "gbtree"]}]},
         "repeats a value"),
        ({"ContinuousParameterRanges": [continuous("e", "0", "1")],
          "IntegerParameterRanges": [continuous("e", "0", "1")]}, "more than one range"),
    ],
)  # fmt: skip
def test_ranges_are_checked(parameter_ranges: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        strategies.parse_ranges(parameter_ranges, {})


def test_random_search_is_seeded() -> None:
    search_ranges = ranges(
        ContinuousParameterRanges=[continuous("eta", "0.01", "0.5", "Logarithmic")],
        CategoricalParameterRanges=[{"Name": "booster", "Values": ["gbtree", "dart"]}],
    )
    first = strategies.RandomStrategy(search_ranges, 4).propose()
    again = strategies.RandomStrategy(search_ranges, 4)
    assert again.propose() == first
    draws = [again.propose()[1] for _ in range(50)]
    assert all(0.01 <= float(d["eta"]) <= 0.5 for d in draws)
    assert {d["booster"] for d in draws} == {"gbtree", "dart"}


def test_grid_search_is_every_combination_in_order() -> None:
    grid = strategies.GridStrategy(
        ranges(
            CategoricalParameterRanges=[{"Name": "eta", "Values": ["0.1", "0.3"]}],
            IntegerParameterRanges=[continuous("max_depth", "4", "6")],
        )
    )
    assert grid.size == 6
    proposals = []
    while (proposal := grid.propose()) is not None:
        proposals.append(proposal[1])
    assert proposals[0] == {"max_depth": "4", "eta": "0.1"}
    assert len(proposals) == len({tuple(sorted(p.items())) for p in proposals}) == 6


def test_bayesian_search_learns_from_what_it_is_told() -> None:
    search = strategies.BayesianStrategy(
        ranges(ContinuousParameterRanges=[continuous("x", "0", "1")]), maximize=False, seed=1
    )
    distances = []
    for index in range(30):
        trial, chosen = search.propose()
        x = float(chosen["x"])
        assert 0 <= x <= 1
        distances.append(abs(x - 0.3))
        # A failed job (None) is a failed trial; the search goes on.
        search.observe(trial, None if index == 3 else (x - 0.3) ** 2)
    # TPE samples the first 10 at random, then near the best: the last ten are closer to the
    # minimum than the random ones.
    assert sum(distances[-10:]) / 10 < sum(distances[:10]) / 10
    assert min(distances[-10:]) < 0.05


def test_the_median_rule_stops_a_job_worse_than_the_earlier_running_averages() -> None:
    earlier = [[(0, 1.0), (1, 0.5), (2, 0.4)], [(0, 1.2), (1, 0.7), (2, 0.5)]]
    # Running averages at round 1: 0.75 and 0.95, median 0.85.
    assert strategies.median_rule_stops([(0, 1.1), (1, 0.9)], earlier, maximize=False) == 1
    assert strategies.median_rule_stops([(0, 1.1), (1, 0.8)], earlier, maximize=False) is None
    assert strategies.median_rule_stops([(0, 0.2)], earlier, maximize=True) == 0
    # One earlier job decides nothing.
    assert strategies.median_rule_stops([(0, 9.0)], earlier[:1], maximize=False) is None


def test_hyperband_rungs_keep_the_best_third() -> None:
    rungs = strategies.HyperbandRungs(min_resource=1, max_resource=27)
    assert rungs.rungs == [1, 3, 9]
    peers = [[(0, 0.1)], [(0, 0.2)], [(0, 0.3)]]
    judged: set[int] = set()
    # 0.4 against three better: not in the best ceil(4 / 3) = 2.
    assert rungs.stops([(0, 0.4)], peers, maximize=False, judged=judged)
    judged = set()
    assert rungs.stops([(0, 0.15)], peers, maximize=False, judged=judged) is None
    # A rung judges once: a job that went on is not judged there again.
    assert rungs.stops([(0, 0.15), (1, 0.1)], [*peers, [(0, 0.01)]], False, judged) is None
    assert "MaxResource" in rungs.stops([(r, 0.1) for r in range(27)], peers, False, set())
    assert strategies.HyperbandRungs(10, 400).rungs == [10, 30, 90, 270]
