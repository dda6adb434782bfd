"""The service's defaults laid under a record for a Describe* response."""

from __future__ import annotations

from emulator.sagemaker.response_defaults import filled

TEMPLATE = {
    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    "OutputConfig": {"Outputs": [{"AppManaged": False}]},
    "Inputs": [{"S3Input": {"S3CompressionType": "None"}}],
    "Flag": False,
}


def test_given_members_win_and_missing_ones_get_the_default() -> None:
    record = {"StoppingCondition": {"MaxRuntimeInSeconds": 600}, "Flag": True}
    assert filled(record, TEMPLATE) == {
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "Flag": True,
    }


def test_absent_structures_appear_only_with_members_and_lists_are_never_invented() -> None:
    assert filled({}, TEMPLATE) == {
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "Flag": False,
    }


def test_list_items_each_get_the_item_template() -> None:
    record = {
        "Inputs": [{"S3Input": {"S3Uri": "s3://a"}}, {"S3Input": {"S3CompressionType": "Gzip"}}],
        "OutputConfig": {"Outputs": [{"OutputName": "o"}]},
    }
    result = filled(record, TEMPLATE)
    assert result["Inputs"] == [
        {"S3Input": {"S3Uri": "s3://a", "S3CompressionType": "None"}},
        {"S3Input": {"S3CompressionType": "Gzip"}},
    ]
    assert result["OutputConfig"] == {"Outputs": [{"OutputName": "o", "AppManaged": False}]}


def test_the_record_itself_is_left_as_it_was() -> None:
    record = {"Inputs": [{"S3Input": {}}]}
    filled(record, TEMPLATE)
    assert record == {"Inputs": [{"S3Input": {}}]}


def test_an_empty_template_is_the_default_value_itself() -> None:
    # DescribeModel answers each container's Environment, {} when none was given.
    assert filled({"Image": "i"}, {"Environment": {}, "Mode": "SingleModel"}) == {
        "Image": "i",
        "Environment": {},
        "Mode": "SingleModel",
    }
