"""filled(): the service's defaults laid under a record, never inventing a required-less shell."""

from __future__ import annotations

from emulator.sagemaker.processing_jobs import DESCRIBED_DEFAULTS
from emulator.sagemaker.response_defaults import filled


def test_given_members_win_and_missing_ones_take_the_default() -> None:
    record = {"StoppingCondition": {"MaxRuntimeInSeconds": 60}}
    assert filled(record, DESCRIBED_DEFAULTS)["StoppingCondition"] == {"MaxRuntimeInSeconds": 60}
    assert filled({}, DESCRIBED_DEFAULTS)["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}


def test_every_item_of_a_list_is_filled_but_no_list_is_invented() -> None:
    record = {"ProcessingOutputConfig": {"Outputs": [{"OutputName": "a"}, {"OutputName": "b"}]}}
    outputs = filled(record, DESCRIBED_DEFAULTS)["ProcessingOutputConfig"]["Outputs"]
    assert outputs == [
        {"OutputName": "a", "AppManaged": False},
        {"OutputName": "b", "AppManaged": False},
    ]
    assert "ProcessingInputs" not in filled({}, DESCRIBED_DEFAULTS)


def test_an_absent_config_whose_defaults_are_all_lists_stays_absent() -> None:
    # A processing job without outputs: DescribeProcessingJob has no ProcessingOutputConfig,
    # not one without its required Outputs.
    assert "ProcessingOutputConfig" not in filled({}, DESCRIBED_DEFAULTS)


def test_the_record_itself_is_not_changed() -> None:
    record = {"ProcessingOutputConfig": {"Outputs": [{"OutputName": "a"}]}}
    filled(record, DESCRIBED_DEFAULTS)
    assert record == {"ProcessingOutputConfig": {"Outputs": [{"OutputName": "a"}]}}
