"""What the model-registry page reads and changes in SageMaker and S3.

Everything goes through the clients it is given; in Airflow they come from the same AWS
connection the DAG uses (see ``clients_from_connection``), so the page reads the emulator offline
and SageMaker on AWS with no code of its own for either.

A version's facts come from where the DAG put them (include/adult_income/tasks.py,
``model_package_config``): ``CustomerMetadataProperties`` carries dag_id, run_id, training_job,
accuracy and the report's URI; ``ModelMetrics.ModelQuality.Statistics.S3Uri`` is the run's
evaluation.json. A run's summary.json and report are found from its (dag_id, run_id) by the
DAG's own layout (include/adult_income/names.py), never from a URI a caller supplies.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from include.adult_income import names, settings
from include.adult_income.report import REPORT_FILES

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
# What a person may set from the page; PendingManualApproval is where the DAG leaves a version.
SETTABLE_STATUSES = ("Approved", "Rejected")
# SageMaker's limit on ApprovalDescription (botocore's service model: max 1024).
MAX_NOTE = 1024
# The page lists the newest versions of a group; older ones stay in the registry.
MAX_VERSIONS = 50


@dataclass(frozen=True)
class Location:
    """Where the DAG's runs write, and the connection it uses: the DAG's own settings
    (include/adult_income/settings.py documents them: Airflow Variables)."""

    aws_conn_id: str
    region: str
    bucket: str | None
    prefix: str

    @property
    def root_uri(self) -> str | None:
        return f"s3://{self.bucket}/{self.prefix.strip('/')}" if self.bucket else None

    def run_uri(self, dag_id: str, run_id: str) -> str | None:
        root = self.root_uri
        return f"{root}/{names.run_path(dag_id, run_id)}" if root else None


def setting(name: str) -> str | None:
    """The DAG's setting ``name``: its Airflow Variable ``adult_pipeline_<name>`` (Airflow's
    secrets backends: ``AIRFLOW_VAR_ADULT_PIPELINE_<NAME>`` first, then the metadata DB), else
    the DAG's default (include/adult_income/settings.py)."""
    try:
        from airflow.models import Variable

        value = Variable.get(settings.variable_key(name), default_var=None)
    except Exception:  # no metadata DB (a unit test): the environment's Variables and defaults
        value = os.environ.get(settings.environment_variable(name))
    return value or settings.DEFAULTS.get(name)


def location_from_settings() -> Location:
    return Location(
        aws_conn_id=setting("aws_conn_id") or "aws_default",
        region=setting("region") or "us-east-1",
        bucket=setting("bucket"),
        prefix=setting("prefix") or "adult-income",
    )


def clients_from_connection(location: Location) -> tuple[Any, Any]:
    """(sagemaker, s3) clients from the DAG's Airflow AWS connection."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    sagemaker = SageMakerHook(aws_conn_id=location.aws_conn_id, region_name=location.region).conn
    s3 = S3Hook(aws_conn_id=location.aws_conn_id, region_name=location.region).conn
    return sagemaker, s3


class NotFound(LookupError):
    """The group, version or run is not in the registry (or has no such file)."""


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def finite(value: Any) -> float | None:
    """A metric as a float, or None when absent or not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def metric(evaluation: dict[str, Any], name: str) -> float | None:
    """``metrics.<name>.value`` of an evaluation.json (the layout evaluate.py writes)."""
    entry = (evaluation.get("metrics") or {}).get(name)
    return finite(entry.get("value")) if isinstance(entry, dict) else None


def champion_block(*sources: dict[str, Any] | None) -> dict[str, Any] | None:
    """The first well-formed ``champion`` block of the given documents (evaluation.json, then
    summary.json): the group's champion measured on this run's test set."""
    for source in sources:
        block = (source or {}).get("champion")
        if isinstance(block, dict) and isinstance(block.get("model_package_arn"), str):
            # evaluate.py says why a champion could not be scored (another feature schema)
            # as ``reason``; summary.json carries it as ``not_compared``.
            why = block.get("not_compared") or block.get("reason")
            return {
                "model_package_arn": block["model_package_arn"],
                "accuracy": finite(block.get("accuracy")),
                "roc_auc": finite(block.get("roc_auc")),
                "not_compared": str(why) if why else None,
            }
    return None


@dataclass
class Version:
    """One model package version as the page shows it."""

    arn: str
    group: str
    version: int
    created: dt.datetime | None
    status: str
    note: str | None
    accuracy: float | None
    roc_auc: float | None
    training_job: str | None
    dag_id: str | None
    run_id: str | None
    model_data_url: str | None
    has_report: bool
    endpoints: list[str] = field(default_factory=list)
    champion: dict[str, Any] | None = None  # the champion on this run's test set, when known
    is_champion: bool = False
    # A version the native SageMaker Pipeline registered names its pipeline execution instead.
    pipeline: str | None = None
    execution_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "model_package_arn": self.arn,
            "group": self.group,
            "version": self.version,
            "created": self.created.isoformat() if self.created else None,
            "approval_status": self.status,
            "approval_description": self.note,
            "accuracy": self.accuracy,
            "roc_auc": self.roc_auc,
            "training_job": self.training_job,
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "has_report": self.has_report,
            "endpoints": self.endpoints,
            "champion": self.champion,
            "is_champion": self.is_champion,
            "pipeline": self.pipeline,
            "execution_id": self.execution_id,
        }


class Registry:
    """The page's view of one account's model registry."""

    def __init__(self, sagemaker: Any, s3: Any, location: Location) -> None:
        self.sagemaker = sagemaker
        self.s3 = s3
        self.location = location

    # -- reading -----------------------------------------------------------------------------

    def groups(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.sagemaker.list_model_package_groups(
                SortBy="Name",
                SortOrder="Ascending",
                MaxResults=100,
                **({"NextToken": token} if token else {}),
            )
            found.extend(
                {
                    "name": item["ModelPackageGroupName"],
                    "description": item.get("ModelPackageGroupDescription"),
                    "created": item.get("CreationTime"),
                }
                for item in page.get("ModelPackageGroupSummaryList", [])
            )
            token = page.get("NextToken")
            if not token:
                return found

    def describe(self, arn: str) -> dict[str, Any]:
        try:
            return self.sagemaker.describe_model_package(ModelPackageName=arn)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationException":
                raise NotFound(f"no model package {arn}") from error
            raise

    def version_arn(self, group: str, version: int) -> str:
        """The ARN of ``group``'s version ``version``, as the registry lists it."""
        for summary in self.summaries(group, limit=None):
            if summary.get("ModelPackageVersion") == version:
                return summary["ModelPackageArn"]
        raise NotFound(f"group {group} has no version {version}")

    def summaries(self, group: str, limit: int | None = MAX_VERSIONS) -> list[dict[str, Any]]:
        """The group's version summaries, newest first."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        try:
            # ListModelPackages answers an empty list for a group that does not exist.
            self.sagemaker.describe_model_package_group(ModelPackageGroupName=group)
            while limit is None or len(found) < limit:
                page = self.sagemaker.list_model_packages(
                    ModelPackageGroupName=group,
                    ModelPackageType="Versioned",
                    SortBy="CreationTime",
                    SortOrder="Descending",
                    MaxResults=100,
                    **({"NextToken": token} if token else {}),
                )
                found.extend(page.get("ModelPackageSummaryList", []))
                token = page.get("NextToken")
                if not token:
                    break
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationException":
                raise NotFound(f"no model package group {group}") from error
            raise
        found.sort(key=lambda s: s.get("ModelPackageVersion") or 0, reverse=True)
        return found if limit is None else found[:limit]

    def versions(self, group: str) -> list[Version]:
        """The group's newest versions with their metrics, newest first; the champion (the
        newest Approved version) is marked."""
        arns = [summary["ModelPackageArn"] for summary in self.summaries(group)]
        serving = self.serving_endpoints()
        # Each version is two or three small reads; a few threads keep a page of 50 quick.
        with ThreadPoolExecutor(max_workers=8) as pool:
            versions = list(pool.map(lambda arn: self.version_from(self.describe(arn)), arns))
        for version in versions:
            version.endpoints = sorted(serving.get(version.model_data_url or "", []))
        champion = next((v for v in versions if v.status == "Approved"), None)
        if champion is not None:
            champion.is_champion = True
        return versions

    def version_from(self, package: dict[str, Any]) -> Version:
        properties = package.get("CustomerMetadataProperties") or {}
        evaluation = self.evaluation_of(package)
        dag_id, run_id = properties.get("dag_id"), properties.get("run_id")
        summary = self.summary(dag_id, run_id) if dag_id and run_id else None
        containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
        accuracy = metric(evaluation, "accuracy") if evaluation else None
        return Version(
            arn=package["ModelPackageArn"],
            group=package["ModelPackageGroupName"],
            version=int(package.get("ModelPackageVersion") or 0),
            created=package.get("CreationTime"),
            status=package.get("ModelApprovalStatus", "PendingManualApproval"),
            note=package.get("ApprovalDescription"),
            accuracy=accuracy if accuracy is not None else finite(properties.get("accuracy")),
            roc_auc=metric(evaluation, "roc_auc") if evaluation else None,
            training_job=properties.get("training_job"),
            dag_id=dag_id,
            run_id=run_id,
            model_data_url=containers[0].get("ModelDataUrl"),
            has_report=bool(properties.get("report")) and bool(dag_id and run_id),
            champion=champion_block(evaluation, summary),
            pipeline=properties.get("pipeline"),
            execution_id=properties.get("execution_id"),
        )

    def evaluation_of(self, package: dict[str, Any]) -> dict[str, Any] | None:
        """The version's evaluation.json (its ModelMetrics statistics), None if unreadable."""
        quality = (package.get("ModelMetrics") or {}).get("ModelQuality") or {}
        uri = (quality.get("Statistics") or {}).get("S3Uri")
        return self.read_json(uri) if uri else None

    def read_json(self, uri: str) -> dict[str, Any] | None:
        try:
            bucket, key = split_uri(uri)
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            document = json.loads(body)
        except (ClientError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def summary(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        """The run's summary.json, where the DAG's summary task writes it."""
        run_uri = self.location.run_uri(dag_id, run_id)
        return self.read_json(f"{run_uri}/summary.json") if run_uri else None

    def report_file(self, dag_id: str, run_id: str, name: str) -> bytes:
        """One file of the run's report (report.html or a chart), from the run's own prefix."""
        if name not in REPORT_FILES:
            raise NotFound(f"{name} is not a report file")
        run_uri = self.location.run_uri(dag_id, run_id)
        if not run_uri:
            raise NotFound(
                f"the pipeline's bucket is not configured ({settings.describe('bucket')})"
            )
        bucket, key = split_uri(f"{run_uri}/report/{name}")
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise NotFound(f"run {run_id} has no {name}") from error
            raise

    def serving_endpoints(self) -> dict[str, list[str]]:
        """Model artifact URI -> the endpoints whose variants serve a model made from it.

        The DAG creates each endpoint's model from the training job's artifact, the same
        ModelDataUrl the version's inference container names, so that is the link.
        """
        serving: dict[str, list[str]] = {}
        for endpoint in self.endpoint_names():
            try:
                described = self.sagemaker.describe_endpoint(EndpointName=endpoint)
                config = self.sagemaker.describe_endpoint_config(
                    EndpointConfigName=described["EndpointConfigName"]
                )
            except ClientError:
                continue  # deleted meanwhile
            for variant in config.get("ProductionVariants", []):
                for url in self.model_data_urls(variant.get("ModelName")):
                    serving.setdefault(url, []).append(endpoint)
        return serving

    def endpoint_names(self) -> Iterable[str]:
        token: str | None = None
        while True:
            page = self.sagemaker.list_endpoints(
                MaxResults=100, **({"NextToken": token} if token else {})
            )
            for item in page.get("Endpoints", []):
                if item.get("EndpointStatus") in {"InService", "Updating"}:
                    yield item["EndpointName"]
            token = page.get("NextToken")
            if not token:
                return

    def model_data_urls(self, model_name: str | None) -> list[str]:
        if not model_name:
            return []
        try:
            model = self.sagemaker.describe_model(ModelName=model_name)
        except ClientError:
            return []
        containers = [model.get("PrimaryContainer") or {}, *model.get("Containers", [])]
        return [c["ModelDataUrl"] for c in containers if c.get("ModelDataUrl")]

    # -- changing ----------------------------------------------------------------------------

    def set_status(self, arn: str, status: str, note: str) -> dict[str, Any]:
        """UpdateModelPackage: the version's approval status, with the person's note."""
        if status not in SETTABLE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(SETTABLE_STATUSES)}")
        if len(note) > MAX_NOTE:
            raise ValueError(f"the note is longer than {MAX_NOTE} characters")
        request: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
        if note:
            request["ApprovalDescription"] = note
        self.sagemaker.update_model_package(**request)
        return self.describe(arn)
