"""How a hyperparameter tuning job chooses its training jobs' hyperparameters, and when it stops
one early. Pure functions and small classes: no engine, no I/O (tuning_jobs.py runs them).

Ranges (``ParameterRanges``) and their scaling, as SageMaker documents them:

- ``Linear``: values drawn uniformly between MinValue and MaxValue;
- ``Logarithmic``: uniformly in log space (MinValue > 0);
- ``ReverseLogarithmic``: continuous ranges within [0, 1) only, dense near 1 (uniform in
  ``-log(1 - x)``);
- ``Auto``: SageMaker chooses; here Logarithmic when MinValue > 0 and the range spans at least
  two orders of magnitude (MaxValue / MinValue >= 100), else Linear.

Strategies (``Strategy``):

- ``Random``: independent draws, seeded by ``RandomSeed``.
- ``Grid``: every combination of categorical values and integers of integer ranges (integer
  ranges first, then categorical ones, each kind in the order given; the last varies fastest);
  as many training jobs as combinations.
- ``Bayesian``: Optuna's TPE sampler (ask-and-tell: a training job is a trial, its final
  objective the trial's value; failed jobs are failed trials; running jobs are "liars" so
  parallel jobs spread out). SageMaker's own Bayesian optimisation is a Gaussian-process model
  that is not published; TPE is a Bayesian optimisation method of the same family.
- ``Hyperband``: random configurations, stopped by asynchronous successive halving on the
  training rounds each job has logged (``HyperbandRungs``); jobs stop at MaxResource rounds.

Early stopping (``TrainingJobEarlyStoppingType: Auto``) follows SageMaker's documented median
rule (``median_rule_stops``).
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emulator.sagemaker.errors import ValidationError

# SageMaker's limits on a tuning job's search space.
MAX_TUNED_HYPERPARAMETERS = 30
MAX_CATEGORICAL_VALUES = 30
MAX_GRID_JOBS = 10_000
# Hyperband: the successive-halving rate (keep the best third at each rung), and SageMaker's cap.
HYPERBAND_ETA = 3
MAX_HYPERBAND_RESOURCE = 20_000
# The median rule needs earlier jobs to compare with: the median of one job is that job.
MEDIAN_RULE_MIN_EARLIER_JOBS = 2


@dataclass(frozen=True)
class NumericRange:
    name: str
    low: float
    high: float
    scaling: str  # Linear, Logarithmic or ReverseLogarithmic (Auto already resolved)
    integer: bool

    def from_unit(self, u: float) -> float:
        """The value at ``u`` in [0, 1] of the range's scaled space."""
        u = min(max(u, 0.0), 1.0)
        if self.scaling == "Logarithmic":
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        elif self.scaling == "ReverseLogarithmic":
            low, high = -math.log(1 - self.low), -math.log(1 - self.high)
            value = 1 - math.exp(-(low + u * (high - low)))
        else:
            value = self.low + u * (self.high - self.low)
        if self.integer:
            return float(min(max(round(value), math.ceil(self.low)), math.floor(self.high)))
        return min(max(value, self.low), self.high)

    def text(self, value: float) -> str:
        return str(int(value)) if self.integer else repr(float(value))


@dataclass(frozen=True)
class CategoricalRange:
    name: str
    values: tuple[str, ...]


Range = NumericRange | CategoricalRange


def number(range_name: str, member: str, text: str, integer: bool) -> float:
    try:
        value = float(text)
        if integer and not value.is_integer():
            raise ValueError
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ValidationError(
            f"The {member} '{text}' of hyperparameter '{range_name}' is not {kind}."
        ) from None
    if not math.isfinite(value):
        raise ValidationError(f"The {member} of hyperparameter '{range_name}' must be finite.")
    return value


def resolve_scaling(name: str, low: float, high: float, scaling: str, integer: bool) -> str:
    if scaling == "Auto":
        return "Logarithmic" if low > 0 and high / low >= 100 else "Linear"
    if scaling == "Logarithmic" and low <= 0:
        raise ValidationError(
            f"Hyperparameter '{name}': Logarithmic scaling needs a MinValue greater than 0."
        )
    if scaling == "ReverseLogarithmic":
        if integer:
            raise ValidationError(
                f"Hyperparameter '{name}': ReverseLogarithmic scaling applies only to "
                "continuous ranges."
            )
        if not (low >= 0 and high < 1):
            raise ValidationError(
                f"Hyperparameter '{name}': ReverseLogarithmic scaling needs a range entirely "
                "within 0 <= x < 1."
            )
    return scaling


def parse_ranges(parameter_ranges: dict[str, Any], static: dict[str, str]) -> list[Range]:
    """The request's ParameterRanges as ranges, checked as SageMaker checks them."""
    if parameter_ranges.get("AutoParameters"):
        raise ValidationError("AutoParameters (Autotune) is not emulated; give explicit ranges.")
    ranges: list[Range] = []
    for key, integer in (("IntegerParameterRanges", True), ("ContinuousParameterRanges", False)):
        for item in parameter_ranges.get(key, []):
            name = item["Name"]
            low = number(name, "MinValue", item["MinValue"], integer)
            high = number(name, "MaxValue", item["MaxValue"], integer)
            if low > high:
                raise ValidationError(
                    f"Hyperparameter '{name}': MinValue {item['MinValue']} is greater than "
                    f"MaxValue {item['MaxValue']}."
                )
            scaling = resolve_scaling(name, low, high, item.get("ScalingType", "Auto"), integer)
            ranges.append(NumericRange(name, low, high, scaling, integer))
    for item in parameter_ranges.get("CategoricalParameterRanges", []):
        values = tuple(item["Values"])
        if not values or len(values) > MAX_CATEGORICAL_VALUES:
            raise ValidationError(
                f"Hyperparameter '{item['Name']}': give 1 to {MAX_CATEGORICAL_VALUES} values."
            )
        if len(set(values)) != len(values):
            raise ValidationError(f"Hyperparameter '{item['Name']}' repeats a value.")
        ranges.append(CategoricalRange(item["Name"], values))
    names = [r.name for r in ranges]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValidationError(f"Hyperparameters appear in more than one range: {repeated}.")
    both = sorted(set(names) & set(static))
    if both:
        raise ValidationError(
            f"Hyperparameters cannot be both static and tunable: {', '.join(both)}."
        )
    if len(ranges) > MAX_TUNED_HYPERPARAMETERS:
        raise ValidationError(
            f"A tuning job searches at most {MAX_TUNED_HYPERPARAMETERS} hyperparameters; "
            f"{len(ranges)} were given."
        )
    return ranges


# --- strategies ---------------------------------------------------------------------------------
class Strategy:
    """Proposes one configuration at a time; learns from each finished job."""

    #: How many configurations there are at all (Grid), else None: as many as the limits allow.
    size: int | None = None

    def propose(self) -> tuple[int, dict[str, str]] | None:
        """The next configuration as (trial id, hyperparameters), or None when exhausted."""
        raise NotImplementedError

    def observe(self, trial: int, value: float | None) -> None:
        """A job's final objective (None: the job failed or has no objective)."""


class RandomStrategy(Strategy):
    def __init__(self, ranges: Sequence[Range], seed: int | None) -> None:
        self.ranges = list(ranges)
        self.random = random.Random(seed)
        self.count = 0

    def draw(self) -> dict[str, str]:
        chosen = {}
        for item in self.ranges:
            if isinstance(item, CategoricalRange):
                chosen[item.name] = self.random.choice(item.values)
            else:
                chosen[item.name] = item.text(item.from_unit(self.random.random()))
        return chosen

    def propose(self) -> tuple[int, dict[str, str]] | None:
        self.count += 1
        return self.count - 1, self.draw()


class GridStrategy(Strategy):
    def __init__(self, ranges: Sequence[Range]) -> None:
        axes = []
        for item in ranges:
            if isinstance(item, CategoricalRange):
                axes.append([(item.name, value) for value in item.values])
            elif item.integer:
                axes.append([(item.name, str(v)) for v in range(int(item.low), int(item.high) + 1)])
            else:
                raise ValidationError(
                    "The Grid strategy searches only categorical and integer ranges; "
                    f"'{item.name}' is continuous."
                )
        if not axes:
            raise ValidationError("The Grid strategy needs at least one parameter range.")
        self.size = math.prod(len(axis) for axis in axes)
        if self.size > MAX_GRID_JOBS:
            raise ValidationError(
                f"The grid has {self.size} combinations; at most {MAX_GRID_JOBS} are allowed."
            )
        self.combinations = itertools.product(*axes)
        self.count = 0

    def propose(self) -> tuple[int, dict[str, str]] | None:
        combination = next(self.combinations, None)
        if combination is None:
            return None
        self.count += 1
        return self.count - 1, dict(combination)


class BayesianStrategy(Strategy):
    """Optuna's TPE sampler through its ask-and-tell interface."""

    def __init__(self, ranges: Sequence[Range], maximize: bool, seed: int | None) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.ranges = list(ranges)
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        self.study = optuna.create_study(
            direction="maximize" if maximize else "minimize", sampler=sampler
        )
        self.trials: dict[int, Any] = {}

    def distribution(self, item: Range) -> Any:
        distributions = self.optuna.distributions
        if isinstance(item, CategoricalRange):
            return distributions.CategoricalDistribution(list(item.values))
        if item.scaling == "ReverseLogarithmic":
            # TPE works in y = -log(1 - x), where the range is searched uniformly.
            return distributions.FloatDistribution(
                -math.log(1 - item.low), -math.log(1 - item.high)
            )
        log = item.scaling == "Logarithmic"
        if item.integer:
            return distributions.IntDistribution(int(item.low), int(item.high), log=log)
        return distributions.FloatDistribution(item.low, item.high, log=log)

    def propose(self) -> tuple[int, dict[str, str]] | None:
        trial = self.study.ask({item.name: self.distribution(item) for item in self.ranges})
        self.trials[trial.number] = trial
        chosen = {}
        for item in self.ranges:
            value = trial.params[item.name]
            if isinstance(item, CategoricalRange):
                chosen[item.name] = str(value)
            elif item.scaling == "ReverseLogarithmic":
                chosen[item.name] = item.text(min(max(1 - math.exp(-value), item.low), item.high))
            else:
                chosen[item.name] = item.text(value)
        return trial.number, chosen

    def observe(self, trial: int, value: float | None) -> None:
        pending = self.trials.pop(trial, None)
        if pending is None:
            return
        if value is None:
            self.study.tell(pending, state=self.optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(pending, value)


def strategy_for(
    name: str, ranges: Sequence[Range], *, maximize: bool, seed: int | None
) -> Strategy:
    if name == "Grid":
        return GridStrategy(ranges)
    if name == "Bayesian":
        return BayesianStrategy(ranges, maximize, seed)
    return RandomStrategy(ranges, seed)  # Random, and Hyperband's configurations


# --- stopping jobs early --------------------------------------------------------------------------
Series = Sequence[tuple[int, float]]  # (round, objective value) in log order


def worse(value: float, than: float, maximize: bool) -> bool:
    return value < than if maximize else value > than


def median_rule_stops(current: Series, earlier: Sequence[Series], maximize: bool) -> int | None:
    """The first round at which SageMaker's median rule stops the current job, or None.

    As SageMaker documents ``TrainingJobEarlyStoppingType: Auto``: after each round, the
    running average of the objective of every earlier training job up to the same round is
    taken, and the current job is stopped when its objective is worse than the median of those
    averages. Rounds that fewer than ``MEDIAN_RULE_MIN_EARLIER_JOBS`` earlier jobs reached
    decide nothing.
    """
    for round_number, value in current:
        averages = []
        for series in earlier:
            upto = [v for r, v in series if r <= round_number]
            if upto and any(r >= round_number for r, _ in series):
                averages.append(sum(upto) / len(upto))
        if len(averages) >= MEDIAN_RULE_MIN_EARLIER_JOBS and worse(
            value, statistics.median(averages), maximize
        ):
            return round_number
    return None


@dataclass(frozen=True)
class HyperbandRungs:
    """Asynchronous successive halving on training rounds (Hyperband's building block).

    A job's resource is the number of rounds it has logged. At each rung (MinResource,
    MinResource * 3, MinResource * 9, ... below MaxResource) a job goes on only if its
    objective there is within the best third of all jobs that reached the rung (judged once at
    least 3 others have); before MinResource rounds no job is stopped, and a job that reaches
    MaxResource rounds is stopped there, as SageMaker documents for HyperbandStrategyConfig.
    """

    min_resource: int
    max_resource: int

    @property
    def rungs(self) -> list[int]:
        rungs, level = [], self.min_resource
        while level < self.max_resource:
            rungs.append(level)
            level *= HYPERBAND_ETA
        return rungs

    def stops(
        self, current: Series, others: Sequence[Series], maximize: bool, judged: set[int]
    ) -> str | None:
        """Why the current job stops now, or None to let it go on. Each rung judges a job once
        (``judged`` remembers which did), when the job first reaches it."""
        resource = len(current)
        if resource >= self.max_resource:
            return f"reached MaxResource ({self.max_resource} rounds)"
        for rung in self.rungs:
            if resource < rung:
                break
            if rung in judged:
                continue
            judged.add(rung)
            mine = current[rung - 1][1]
            peers = [series[rung - 1][1] for series in others if len(series) >= rung]
            if len(peers) < HYPERBAND_ETA:
                continue
            ranked = sorted([mine, *peers], reverse=maximize)
            kept = ranked[: math.ceil(len(ranked) / HYPERBAND_ETA)]
            if worse(mine, kept[-1], maximize):
                return f"not in the best 1/{HYPERBAND_ETA} at {rung} rounds"
        return None
