"""S3, STS, IAM and Logs through moto, answered as AWS answers: extra IAM calls SDK clients make,
and an AWS-shaped error (never an HTML page) for what is not implemented."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import ROLE


def test_simulate_principal_policy_allows_what_the_emulator_allows(aws) -> None:
    answer = aws("iam").simulate_principal_policy(
        PolicySourceArn=ROLE,
        ActionNames=["s3:GetObject", "sagemaker:CreateTrainingJob"],
        ResourceArns=["arn:aws:s3:::bucket/key"],
    )
    results = answer["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in results] == [
        ("s3:GetObject", "allowed"),
        ("sagemaker:CreateTrainingJob", "allowed"),
    ]
    assert {r["EvalResourceName"] for r in results} == {"arn:aws:s3:::bucket/key"}
    assert answer["IsTruncated"] is False


def test_other_iam_calls_still_reach_moto(aws) -> None:
    name = "moto-services-role"
    aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    assert aws("iam").get_role(RoleName=name)["Role"]["RoleName"] == name


@pytest.mark.parametrize(
    ("service", "call", "operation"),
    [
        (
            "iam",
            lambda c: c.simulate_custom_policy(PolicyInputList=["{}"], ActionNames=["s3:*"]),
            "SimulateCustomPolicy",
        ),
        (
            "logs",
            lambda c: c.describe_account_policies(policyType="DATA_PROTECTION_POLICY"),
            "DescribeAccountPolicies",
        ),
    ],
)
def test_an_operation_moto_lacks_is_an_aws_error_naming_it(aws, service, call, operation) -> None:
    with pytest.raises(ClientError) as raised:
        call(aws(service))
    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert operation in error["Message"], error
    assert "<html" not in str(raised.value).lower()
