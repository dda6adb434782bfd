"""Names derive from (dag_id, run_id, task_id): stable, unique, within SageMaker's limits."""

from __future__ import annotations

import itertools

from include.adult_income import names

RUN_IDS = [
    "scheduled__2026-11-20T00:00:00+00:00",
    "scheduled__2026-11-21T00:00:00+00:00",
    "manual__2026-11-24T21:17:48.035951+00:00",
    "backfill__2026-01-01T00:00:00+00:00",
    "a-run-id-that-is-very-long-" * 5,
]
TASKS = ["preprocess", "train", "evaluate", "create_model", "x" * 80]


def test_names_fit_sagemaker_rules() -> None:
    for run_id, task, attempt in itertools.product(RUN_IDS, TASKS, [1, 2, 17]):
        name = names.resource_name("adult_income_pipeline", run_id, task, attempt)
        assert len(name) <= 63
        assert names.NAME_PATTERN.match(name), name
        # A later attempt is its own name (-aN); the first attempt carries no suffix.
        assert name.endswith(f"-a{attempt}") == (attempt > 1)


def test_names_are_stable_and_unique() -> None:
    seen = set()
    for run_id, task in itertools.product(RUN_IDS, TASKS):
        first = names.resource_name("adult_income_pipeline", run_id, task)
        assert first == names.resource_name("adult_income_pipeline", run_id, task)
        seen.add(first)
    assert len(seen) == len(RUN_IDS) * len(TASKS)
    assert names.resource_name("other_dag", RUN_IDS[0], "train") != names.resource_name(
        "adult_income_pipeline", RUN_IDS[0], "train"
    )


def test_run_paths_differ_per_run_and_read_well() -> None:
    paths = {names.run_path("adult_income_pipeline", run_id) for run_id in RUN_IDS}
    assert len(paths) == len(RUN_IDS)
    path = names.run_path("adult_income_pipeline", RUN_IDS[0])
    assert path.startswith("runs/adult-income-pipeline/scheduled-2026-11-20")
