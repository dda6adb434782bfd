"""Processing jobs really run: /opt/ml sandbox, S3 in and out, failure, stop, max runtime."""

from __future__ import annotations

import re
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    CODE_DIR,
    SKLEARN_IMAGE,
    processing_input,
    processing_output,
    script_entrypoint,
    script_request,
    wait_for,
)

COPY_SCRIPT = b"""
import os, shutil
# Hard-coded container paths, as unmodified SageMaker scripts have them.
os.makedirs("/opt/ml/processing/output", exist_ok=True)
for name in os.listdir("/opt/ml/processing/input/data"):
    shutil.copy(os.path.join("/opt/ml/processing/input/data", name), "/opt/ml/processing/output")
print("copied", sorted(os.listdir("/opt/ml/processing/output")))
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def job_request(name: str, bucket: str, script: str, **extra) -> dict:
    """``script`` from s3://bucket/name/code/ copying s3://bucket/name/in to s3://bucket/name/out
    through /opt/ml/processing/input/data and /opt/ml/processing/output."""
    request = script_request(
        name,
        script,
        inputs=[
            processing_input("data", f"s3://{bucket}/{name}/in", "/opt/ml/processing/input/data"),
            processing_input("code", f"s3://{bucket}/{name}/code/{script}", CODE_DIR),
        ],
        outputs=[
            processing_output("out", f"s3://{bucket}/{name}/out", "/opt/ml/processing/output")
        ],
    )
    request.update(extra)
    return request


def job_py_with(*arguments: str) -> dict:
    """The AppSpecification that runs job.py with ``arguments``, to pass to ``start``."""
    app = {"ImageUri": SKLEARN_IMAGE, "ContainerEntrypoint": script_entrypoint("job.py")}
    return {**app, "ContainerArguments": list(arguments)}


def start(aws, bucket: str, script_body: bytes, **extra) -> str:
    name = unique("proc")
    s3 = aws("s3")
    s3.put_object(Bucket=bucket, Key=f"{name}/in/a.txt", Body=b"alpha")
    s3.put_object(Bucket=bucket, Key=f"{name}/code/job.py", Body=script_body)
    aws("sagemaker").create_processing_job(**job_request(name, bucket, "job.py", **extra))
    return name


def describe(aws, name: str) -> dict:
    return wait_for(
        lambda: aws("sagemaker").describe_processing_job(ProcessingJobName=name),
        "ProcessingJobStatus",
    )


def test_script_with_hard_coded_paths_copies_input_to_output(aws, bucket) -> None:
    name = start(aws, bucket, COPY_SCRIPT)
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    body = aws("s3").get_object(Bucket=bucket, Key=f"{name}/out/a.txt")["Body"].read()
    assert body == b"alpha"
    # What the service fills in for members the request left out:
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    for item in job["ProcessingInputs"]:
        assert item["AppManaged"] is False
        assert item["S3Input"]["S3DataDistributionType"] == "FullyReplicated"
        assert item["S3Input"]["S3CompressionType"] == "None"
    assert job["ProcessingOutputConfig"]["Outputs"][0]["AppManaged"] is False
    assert job["ProcessingStartTime"] <= job["ProcessingEndTime"]
    assert job["ProcessingEndTime"] >= job["ProcessingStartTime"] >= job["CreationTime"]
    streams = aws("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    events = aws("logs").get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=streams[0]["logStreamName"]
    )["events"]
    assert any("copied ['a.txt']" in event["message"] for event in events)


def test_failing_script_ends_failed_with_its_stderr_tail(aws, bucket) -> None:
    script = b"import sys\nprint('working')\nsys.exit('bad column: income')\n"
    job = describe(aws, start(aws, bucket, script))
    assert job["ProcessingJobStatus"] == "Failed"
    assert "exit code 1" in job["FailureReason"]
    assert "bad column: income" in job["FailureReason"]


PREPROCESS_ERROR = "preprocess: error: a.txt: line 3: income 'rich' is not <=50K or >50K"


def test_message_file_is_the_exit_message_and_leads_the_failure_reason(aws, bucket) -> None:
    # preprocess.py's contract: exit 2, the error line in /opt/ml/output/message. A later log
    # line that also reads as an error must not displace what the script said it failed on.
    script = f"""
import sys
print("reading input")
with open("/opt/ml/output/message", "w") as handle:
    handle.write({PREPROCESS_ERROR!r})
print({PREPROCESS_ERROR!r}, file=sys.stderr)
print("cleanup error: scratch directory already gone", file=sys.stderr)
sys.exit(2)
""".encode()
    job = describe(aws, start(aws, bucket, script))
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["ExitMessage"] == PREPROCESS_ERROR
    reason = job["FailureReason"]
    assert reason.startswith(f"AlgorithmError: {PREPROCESS_ERROR}; exit code 2. "), reason
    assert "Last lines of output:" in reason and "cleanup error" in reason
    assert len(reason) <= 1024


@pytest.mark.parametrize(
    ("raising", "lead"),
    [
        ('raise ValueError("boom")', "ValueError: boom"),
        # No "error:" in it: found as the traceback's last line, not by the word. The
        # container's Python 3.9 names the class __main__.Interrupted, Python 3.11 does not.
        (
            'class Interrupted(Exception):\n    pass\nraise Interrupted("stopped at row 3")',
            "(__main__\\.)?Interrupted: stopped at row 3",
        ),
    ],
)
def test_a_traceback_leads_the_failure_reason_with_its_exception(
    aws, bucket, raising: str, lead: str
) -> None:
    # An earlier line with "error:" must lose to the traceback that ended the script.
    script = f"print('config error: ignoring unknown key colour')\n{raising}\n".encode()
    job = describe(aws, start(aws, bucket, script))
    assert job["ProcessingJobStatus"] == "Failed"
    assert re.match(f"AlgorithmError: {lead}; exit code 1. ", job["FailureReason"]), job[
        "FailureReason"
    ]
    assert "Traceback (most recent call last):" in job["FailureReason"]
    assert "ExitMessage" not in job


def test_a_long_message_and_noisy_log_keep_the_message_whole_within_1024(aws, bucket) -> None:
    message = "preprocess: error: " + "x" * 900
    script = f"""
import sys
with open("/opt/ml/output/message", "w") as handle:
    handle.write({message!r})
for i in range(50):
    print("noise line", i, "-" * 60)
sys.exit(2)
""".encode()
    job = describe(aws, start(aws, bucket, script))
    reason = job["FailureReason"]
    assert reason.startswith(f"AlgorithmError: {message}; exit code 2"), reason[:200]
    assert len(reason) <= 1024
    # What room is left holds the newest lines, never the oldest.
    assert "noise line 0 " not in reason


def test_stop_ends_a_sleeping_job_as_stopped(aws, bucket) -> None:
    import time

    name = start(aws, bucket, b"import time\ntime.sleep(60)\n")
    time.sleep(0.5)
    aws("sagemaker").stop_processing_job(ProcessingJobName=name)
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Stopped"


def test_max_runtime_ends_a_hung_job(aws, bucket) -> None:
    name = start(
        aws,
        bucket,
        b"import time\ntime.sleep(60)\n",
        StoppingCondition={"MaxRuntimeInSeconds": 1},
    )
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Stopped"
    assert "MaxRuntimeInSeconds" in job["FailureReason"]


def test_duplicate_name_refused_and_unknown_job_is_a_validation_error(aws, bucket) -> None:
    name = start(aws, bucket, COPY_SCRIPT)
    with pytest.raises(ClientError) as duplicate:
        aws("sagemaker").create_processing_job(**job_request(name, bucket, "job.py"))
    assert duplicate.value.response["Error"]["Code"] == "ValidationException"
    assert "already exists" in duplicate.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as unknown:
        aws("sagemaker").describe_processing_job(ProcessingJobName="no-such-job")
    assert unknown.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find" in unknown.value.response["Error"]["Message"]
    describe(aws, name)


def test_local_path_outside_opt_ml_fails_the_job(aws, bucket) -> None:
    name = unique("proc")
    request = job_request(name, bucket, "job.py")
    request["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/etc/evil"
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/in/a.txt", Body=b"x")
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/code/job.py", Body=COPY_SCRIPT)
    aws("sagemaker").create_processing_job(**request)
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert "must be under /opt/ml" in job["FailureReason"]


def test_s3_key_escaping_the_sandbox_fails_the_job(aws, bucket) -> None:
    name = unique("proc")
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/in/../../escape.txt", Body=b"x")
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/code/job.py", Body=COPY_SCRIPT)
    aws("sagemaker").create_processing_job(**job_request(name, bucket, "job.py"))
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert "escape the job sandbox" in job["FailureReason"]


def test_rewrite_mode_when_namespaces_are_refused(aws, bucket, monkeypatch) -> None:
    monkeypatch.setenv("EMULATOR_SANDBOX_MODE", "rewrite")
    # In rewrite mode /opt/ml is replaced in arguments, so paths come as arguments.
    script = b"import shutil, sys\nshutil.copy(sys.argv[1] + '/a.txt', sys.argv[2])\n"
    name = start(
        aws,
        bucket,
        script,
        AppSpecification=job_py_with("/opt/ml/processing/input/data", "/opt/ml/processing/output"),
    )
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert aws("s3").get_object(Bucket=bucket, Key=f"{name}/out/a.txt")["Body"].read() == b"alpha"


def test_list_filters_by_name(aws, bucket) -> None:
    name = start(aws, bucket, COPY_SCRIPT)
    describe(aws, name)
    listed = aws("sagemaker").list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert [job["ProcessingJobName"] for job in listed] == [name]


def test_a_job_flooding_its_output_completes_and_logs_its_tail(aws, bucket) -> None:
    flood = b"for i in range(300000):\n    print('line', i)\n"
    name = start(aws, bucket, flood)
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    stream = aws("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"][0]["logStreamName"]
    events = aws("logs").get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream, startFromHead=False
    )["events"]
    messages = [event["message"] for event in events]
    assert "line 299999" in messages and "line 1000" not in messages
    # The server is still answering.
    assert aws("sagemaker").describe_processing_job(ProcessingJobName=name)["ProcessingJobName"]


OMP_POLICY_SCRIPT = b"""
import os
os.makedirs("/opt/ml/processing/output", exist_ok=True)
with open("/opt/ml/processing/output/policy.txt", "w") as handle:
    handle.write(os.environ.get("OMP_WAIT_POLICY", "unset"))
"""


@pytest.mark.parametrize(
    ("environment", "policy"), [(None, b"PASSIVE"), ({"OMP_WAIT_POLICY": "ACTIVE"}, b"ACTIVE")]
)
def test_jobs_on_shared_cores_wait_passively_unless_their_environment_says(
    aws, bucket, environment, policy
) -> None:
    extra = {"Environment": environment} if environment else {}
    name = start(aws, bucket, OMP_POLICY_SCRIPT, **extra)
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    body = aws("s3").get_object(Bucket=bucket, Key=f"{name}/out/policy.txt")["Body"].read()
    assert body == policy
