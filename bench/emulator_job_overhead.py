"""Emulator overhead per processing job: create -> Completed seen by Describe, minus the
script's own run time (measured inside the script), over 10 jobs.

Run: `.venv/bin/python -m bench.emulator_job_overhead`. Goal: median under 0.3 s.
"""

from __future__ import annotations

import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import boto3

from emulator.server import EmulatorServer

RESULTS = Path(__file__).resolve().parent / "results" / "emulator_job_overhead.json"
JOBS = 10
# The script times itself from its first statement; what remains is the emulator's cost
# (S3 copies, sandbox, process start, log upload, status polling at 20 ms).
SCRIPT = b"""import time
started = time.perf_counter()
time.sleep(0.2)
open("/opt/ml/processing/output/runtime.txt", "w").write(str(time.perf_counter() - started))
"""


def main(argv: list[str] | None = None) -> dict:
    with tempfile.TemporaryDirectory() as data_dir, EmulatorServer(data_dir, port=0) as server:
        kwargs = {
            "endpoint_url": server.url,
            "region_name": "us-east-1",
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
        }
        s3 = boto3.client("s3", **kwargs)
        sagemaker = boto3.client("sagemaker", **kwargs)
        s3.create_bucket(Bucket="bench-bucket")
        s3.put_object(Bucket="bench-bucket", Key="code/job.py", Body=SCRIPT)
        overheads, totals = [], []
        for index in range(JOBS):
            name = f"bench-job-{index}"
            started = time.perf_counter()
            sagemaker.create_processing_job(
                ProcessingJobName=name,
                RoleArn="arn:aws:iam::123456789012:role/bench",
                ProcessingResources={
                    "ClusterConfig": {
                        "InstanceCount": 1,
                        "InstanceType": "ml.m5.large",
                        "VolumeSizeInGB": 1,
                    }
                },
                AppSpecification={
                    "ImageUri": "sagemaker-scikit-learn:1.2-1-cpu-py3",
                    "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"],
                },
                ProcessingInputs=[
                    {
                        "InputName": "code",
                        "S3Input": {
                            "S3Uri": "s3://bench-bucket/code/job.py",
                            "LocalPath": "/opt/ml/processing/input/code",
                            "S3DataType": "S3Prefix",
                            "S3InputMode": "File",
                        },
                    }
                ],
                ProcessingOutputConfig={
                    "Outputs": [
                        {
                            "OutputName": "out",
                            "S3Output": {
                                "S3Uri": f"s3://bench-bucket/out/{name}",
                                "LocalPath": "/opt/ml/processing/output",
                                "S3UploadMode": "EndOfJob",
                            },
                        }
                    ]
                },
            )
            while True:
                status = sagemaker.describe_processing_job(ProcessingJobName=name)
                if status["ProcessingJobStatus"] != "InProgress":
                    break
                time.sleep(0.02)
            total = time.perf_counter() - started
            assert status["ProcessingJobStatus"] == "Completed", status.get("FailureReason")
            body = s3.get_object(Bucket="bench-bucket", Key=f"out/{name}/runtime.txt")["Body"]
            overheads.append(total - float(body.read()))
            totals.append(total)
    result = {
        "jobs": JOBS,
        "overhead_median_s": round(statistics.median(overheads), 4),
        "overhead_p90_s": round(sorted(overheads)[int(0.9 * (JOBS - 1))], 4),
        "overhead_min_s": round(min(overheads), 4),
        "total_median_s": round(statistics.median(totals), 4),
        "machine": f"{platform.machine()}, {platform.python_version()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
