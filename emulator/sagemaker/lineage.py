"""The lineage graph SageMaker keeps: its entities by ARN, associations, and what jobs record.

Four kinds of entity take part (trial components, artifacts, actions, contexts; one module each
holds their actions) and associations link them by ARN. SageMaker creates entities itself for
its jobs and model packages (docs: "Amazon SageMaker-Created Tracking Entities"); this module
does so here, told by ``jobs.py`` when a job is created and when it has ended:

- a trial component ``<job name>-aws-processing-job`` / ``-aws-training-job`` /
  ``-aws-transform-job`` whose Source is the job's ARN (SourceType ``SageMakerTrainingJob``, ...),
  its status and times read from the job itself, so it never disagrees with the job;
- an artifact per S3 input and output and per image (ArtifactType ``DataSet``, ``Model``,
  ``Image``), one per SourceUri: a URI already known is the same artifact, whichever job
  named it first (so a training job's model.tar.gz is the evaluation job's input);
- ``ContributedTo`` associations from inputs to the trial component, ``Produced`` from it to the
  outputs, written when the job Completed (a failed job produced nothing).

A model package version gets an artifact (SourceUri: its ARN, as SDK code looks it up), its
group a ``ModelGroup`` context, the creation an ``Approval`` action, and its inference
containers' images and model data artifacts that contribute to it.

Records live in the Store (kinds below) and are shaped like the Describe* responses; keys that
start with ``_`` are the emulator's own and never answered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.sagemaker import jobs
from emulator.sagemaker.errors import ResourceNotFound, SageMakerError, ValidationError
from emulator.sagemaker.lifecycle import Resource, public

if TYPE_CHECKING:
    from emulator.sagemaker.engine import Engine

log = logging.getLogger("emulator.lineage")

TRIAL_COMPONENT = "TrialComponent"
ARTIFACT = "Artifact"
ACTION = "Action"
CONTEXT = "Context"
ASSOCIATION = "Association"

# ARN resource type -> (store kind, QueryLineage's LineageType)
ARN_KINDS = {
    "experiment-trial-component": (TRIAL_COMPONENT, "TrialComponent"),
    "artifact": (ARTIFACT, "Artifact"),
    "action": (ACTION, "Action"),
    "context": (CONTEXT, "Context"),
}
ARN_PATTERN = re.compile(r"^arn:aws[a-z\-]*:sagemaker:([a-z0-9\-]*):([0-9]{12}):([a-z\-]+)/(.+)$")
# The SageMaker entity name rule (ExperimentEntityName): at most 120 characters.
NAME_LIMIT = 120


# --- entities by ARN -------------------------------------------------------------------------
def key_of(name: str) -> str:
    """Store key of a named entity: names are matched without case, as their ARNs are."""
    return name.lower()


def with_source(records: list[dict[str, Any]], member: str) -> list[dict[str, Any]]:
    """List summaries answer the stored ``Source`` as ``member`` (ExperimentSource,
    TrialSource, TrialComponentSource); ``records`` are copies, changed in place."""
    for record in records:
        if "Source" in record:
            record[member] = record["Source"]
    return records


def name_from(name_or_arn: str) -> str:
    """``DescribeX`` takes a name or an ARN; the store key either way."""
    return key_of(name_or_arn.rsplit("/", 1)[-1])


def locate(engine: Engine, arn: str) -> tuple[str, str] | None:
    """(store kind, key) of the entity ``arn`` names in this account and region, else None."""
    match = ARN_PATTERN.match(arn)
    if not match or (match[1], match[2]) != (engine.region, engine.account_id):
        return None
    kind = ARN_KINDS.get(match[3])
    if kind is None:
        return None
    key = match[4] if kind[0] == ARTIFACT else key_of(match[4])
    return kind[0], key


def entity(engine: Engine, arn: str) -> dict[str, Any] | None:
    """The live record ``arn`` names (trial component, artifact, action or context), or None."""
    where = locate(engine, arn)
    return engine.store.find(*where) if where else None


def peek(engine: Engine, kind: str, key: str) -> dict[str, Any] | None:
    """A copy of a record, to read only: ``Store.find`` would mark it to be written back."""
    try:
        return engine.store.snapshot(kind, key)
    except ValidationError:
        return None


def entities_by_arn(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every lineage entity by ARN (live records: read, don't change), for reads that look up
    many ends at once (ListAssociations, QueryLineage)."""
    index: dict[str, dict[str, Any]] = {}
    for kind in (TRIAL_COMPONENT, ARTIFACT, ACTION, CONTEXT):
        for record in engine.store.all(kind):
            index[arn_of(record)] = record
    return index


def canonical_arn(engine: Engine, arn: str) -> str:
    """The entity's own ARN for ``arn`` (whose name part may differ in case); else ``arn``."""
    where = locate(engine, arn)
    record = peek(engine, *where) if where else None
    return arn_of(record) if record else arn


def require(engine: Engine, arn: str) -> dict[str, Any]:
    record = entity(engine, arn)
    if record is None:
        raise ResourceNotFound(f"Lineage entity {arn} does not exist.")
    return record


def lineage_type(arn: str) -> str:
    match = ARN_PATTERN.match(arn)
    return ARN_KINDS[match[3]][1] if match and match[3] in ARN_KINDS else ""


# What ListAssociations calls an entity's type (SourceType / DestinationType): an artifact's
# ArtifactType, an action's ActionType, a context's ContextType, a trial component's
# Source.SourceType ("SageMakerTrainingJob": SDK 2's lineage tests list by it).
def association_type_of(record: dict[str, Any]) -> str | None:
    for key in ("ArtifactType", "ActionType", "ContextType"):
        if key in record:
            return record[key]
    return record.get("Source", {}).get("SourceType")


# What QueryLineage calls a vertex's Type, which Filters.Types matches: the same, except that a
# job's trial component is "TrainingJob" / "ProcessingJob" / "TransformJob" (the SDK's
# LineageSourceEnum filters trial components by those).
def vertex_type_of(record: dict[str, Any]) -> str | None:
    kind = association_type_of(record)
    if "TrialComponentArn" in record and kind and kind.startswith("SageMaker"):
        return kind.removeprefix("SageMaker")
    return kind


def name_of(record: dict[str, Any]) -> str | None:
    for key in ("TrialComponentName", "ArtifactName", "ActionName", "ContextName"):
        if record.get(key):
            return record[key]
    return None


def arn_of(record: dict[str, Any]) -> str:
    for key in ("TrialComponentArn", "ArtifactArn", "ActionArn", "ContextArn"):
        if key in record:
            return record[key]
    raise KeyError("not a lineage entity")


# --- the four entities' shared Create/Describe/Update/Delete/List ------------------------------
@dataclass(frozen=True)
class LineageEntity(Resource):
    """A kind of lineage entity (the four are declared below; actions.py, contexts.py,
    artifacts.py and trial_components.py serve them, with their own rules around): found by
    name or ARN without case, a missing one ResourceNotFound, listed by CreatedAfter /
    CreatedBefore, every record with CreatedBy and LastModifiedBy."""

    missing: str = ""  # default: "<noun> '<name>' does not exist."
    missing_error: type[SageMakerError] = ResourceNotFound
    duplicate_error: type[SageMakerError] = ValidationError
    key: Callable[[str], str] = name_from
    created_window: bool = True
    noun: str = ""  # how messages name the kind: "Trial component"; default: the kind
    by_arn: bool = False  # requests name it by ARN only (artifacts: their names are not unique)
    required: tuple[str, ...] = ()  # what CreateX copies as given (Source, ActionType, ...)
    optional: tuple[str, ...] = ()  # what CreateX copies when given
    updated: tuple[str, ...] = ()  # what UpdateX replaces when given
    # The maps UpdateX merges into and removes from (``<map>ToRemove``); CreateX defaults {}.
    mappings: tuple[str, ...] = ("Properties",)
    type_key: str = ""  # what ListX filters by besides SourceUri ("ActionType")

    def __post_init__(self) -> None:
        noun = self.noun or self.kind
        defaults = {
            "missing": f"{noun} '{{name}}' does not exist.",
            "duplicate": f"{noun} with name {{name}} already exists.",
        }
        for member, default in defaults.items():
            if not getattr(self, member):
                object.__setattr__(self, member, default)  # frozen: set once, here
        super().__post_init__()

    @property
    def request_key(self) -> str:
        """The request member naming the entity: its name, or its ARN (artifacts)."""
        return self.arn_key if self.by_arn else self.name_key

    def create_request(self, engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
        return self.create_from(engine, params)

    def key_for(self, engine: Engine, name_or_arn: str) -> str | None:
        if not self.by_arn:
            return super().key_for(engine, name_or_arn)
        where = locate(engine, name_or_arn)
        return where[1] if where and where[0] == self.kind else None

    def new(
        self, arn: str, members: dict[str, Any], created: dt.datetime | None = None
    ) -> dict[str, Any]:
        record = super().new(arn, members, created)
        record.update(CreatedBy={}, LastModifiedBy={})
        return record

    def create_from(
        self, engine: Engine, params: dict[str, Any], arn: str | None = None, **members: Any
    ) -> dict[str, str]:
        """CreateX: the request's members this kind takes, ``members`` over them."""
        given = {
            **{key: params[key] for key in (self.name_key, *self.optional) if key in params},
            **{key: params[key] for key in self.required},
            **{key: params.get(key, {}) for key in self.mappings},
            **members,
        }
        arn = arn or self.arn(engine, params[self.name_key])
        key = self.key_for(engine, arn) if self.by_arn else None
        self.create(engine, self.new(arn, given), params.get("Tags", []), key=key)
        return {self.arn_key: arn}

    def update_request(self, engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateX: replace the ``updated`` members given, merge and remove in the maps."""
        with engine.store.lock:
            record = self.get(engine, params[self.request_key])
            for key in self.updated:
                if key in params:
                    record[key] = params[key]
            for key in self.mappings:
                values = record.setdefault(key, {})
                values.update(params.get(key, {}))
                for removed in params.get(f"{key}ToRemove", []):
                    values.pop(removed, None)
            record["LastModifiedTime"] = jobs.now()
            return {self.arn_key: record[self.arn_key]}

    def forget(self, engine: Engine, record: dict[str, Any]) -> dict[str, str]:
        """DeleteX: the entity goes, and its associations with it."""
        arn = record[self.arn_key]
        with engine.store.lock:
            engine.store.delete(self.kind, self.key_for(engine, record[self.request_key]))  # type: ignore[arg-type]
            drop_associations(engine, arn)
        return {self.arn_key: arn}

    def delete_request(self, engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
        with engine.store.lock:
            return self.forget(engine, self.get(engine, params[self.request_key]))

    def list_request(self, engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
        """ListX: by SourceUri and the kind's type, then the filters every List* shares."""
        with engine.store.lock:
            records = [public(r) for r in engine.store.all(self.kind)]
        if params.get("SourceUri"):
            records = [r for r in records if r["Source"]["SourceUri"] == params["SourceUri"]]
        if self.type_key and params.get(self.type_key):
            records = [r for r in records if r[self.type_key] == params[self.type_key]]
        return self.list(engine, params, records)


ACTIONS = LineageEntity(
    ACTION,
    summary_keys=(
        "ActionArn",
        "ActionName",
        "Source",
        "ActionType",
        "Status",
        "CreationTime",
        "LastModifiedTime",
    ),
    required=("Source", "ActionType"),
    optional=("Description", "Status", "MetadataProperties"),
    updated=("Description", "Status"),
    type_key="ActionType",
)
CONTEXTS = LineageEntity(
    CONTEXT,
    summary_keys=(
        "ContextArn",
        "ContextName",
        "Source",
        "ContextType",
        "CreationTime",
        "LastModifiedTime",
    ),
    required=("Source", "ContextType"),
    optional=("Description",),
    updated=("Description",),
    type_key="ContextType",
)
# An artifact's ARN ends in a 32-hex id, as SageMaker's do; its name is optional.
ARTIFACTS = LineageEntity(
    ARTIFACT,
    summary_keys=(
        "ArtifactArn",
        "ArtifactName",
        "Source",
        "ArtifactType",
        "CreationTime",
        "LastModifiedTime",
    ),
    name_key="ArtifactArn",  # ListArtifacts sorts "by Name" by what every artifact has
    arn_key="ArtifactArn",
    by_arn=True,
    required=("Source", "ArtifactType"),
    optional=("ArtifactName", "MetadataProperties"),
    updated=("ArtifactName",),
    type_key="ArtifactType",
)
TRIAL_COMPONENTS = LineageEntity(
    TRIAL_COMPONENT,
    noun="Trial component",
    arn_type="experiment-trial-component",
    summary_keys=(
        "TrialComponentName",
        "TrialComponentArn",
        "DisplayName",
        "TrialComponentSource",
        "Status",
        "StartTime",
        "EndTime",
        "CreationTime",
        "CreatedBy",
        "LastModifiedTime",
        "LastModifiedBy",
    ),
    optional=("Status", "StartTime", "EndTime", "MetadataProperties"),
    updated=("DisplayName", "Status", "StartTime", "EndTime"),
    mappings=("Parameters", "InputArtifacts", "OutputArtifacts"),
)


# --- associations ----------------------------------------------------------------------------
def association_key(source_arn: str, destination_arn: str) -> str:
    return f"{source_arn}|{destination_arn}"


def associate(engine: Engine, source_arn: str, destination_arn: str, kind: str | None) -> None:
    """Record an association once; a second one between the same two entities is the same."""
    key = association_key(source_arn, destination_arn)
    with engine.store.lock:
        if engine.store.find(ASSOCIATION, key) is None:
            record: dict[str, Any] = {
                "SourceArn": source_arn,
                "DestinationArn": destination_arn,
                "CreationTime": jobs.now(),
                "CreatedBy": {},
            }
            if kind:
                record["AssociationType"] = kind
            engine.store.create(ASSOCIATION, key, record)


def drop_associations(engine: Engine, arn: str) -> None:
    """A deleted entity takes its associations with it: no edge may name a missing entity."""
    with engine.store.lock:
        for record in list(engine.store.all(ASSOCIATION)):
            if arn in (record["SourceArn"], record["DestinationArn"]):
                engine.store.delete(
                    ASSOCIATION, association_key(record["SourceArn"], record["DestinationArn"])
                )


# --- artifacts -------------------------------------------------------------------------------
def new_artifact_id() -> str:
    return uuid.uuid4().hex


def artifact_for(engine: Engine, uri: str, artifact_type: str) -> str:
    """The ARN of the artifact whose SourceUri is ``uri``, created (typed) if there is none.

    SageMaker keeps one artifact per SourceUri and reuses it, so the id is derived from the URI
    and an artifact a user created for that URI is found too.
    """
    artifact_id = hashlib.md5(uri.encode(), usedforsecurity=False).hexdigest()
    with engine.store.lock:
        existing = engine.store.find(ARTIFACT, artifact_id)
        if existing is None:
            existing = next(
                (a for a in engine.store.all(ARTIFACT) if a["Source"]["SourceUri"] == uri), None
            )
        if existing is not None:
            return existing["ArtifactArn"]
        arn = f"arn:aws:sagemaker:{engine.region}:{engine.account_id}:artifact/{artifact_id}"
        members = {"Source": {"SourceUri": uri}, "ArtifactType": artifact_type, "Properties": {}}
        engine.store.create(ARTIFACT, artifact_id, ARTIFACTS.new(arn, members))
        return arn


# --- what each kind of job records -----------------------------------------------------------
@dataclass(frozen=True)
class JobLineage:
    """How one kind of job maps to its trial component."""

    suffix: str
    source_type: str
    arn_key: str
    status_key: str


JOB_KINDS = {
    "ProcessingJob": JobLineage(
        "aws-processing-job", "SageMakerProcessingJob", "ProcessingJobArn", "ProcessingJobStatus"
    ),
    "TrainingJob": JobLineage(
        "aws-training-job", "SageMakerTrainingJob", "TrainingJobArn", "TrainingJobStatus"
    ),
    "TransformJob": JobLineage(
        "aws-transform-job", "SageMakerTransformJob", "TransformJobArn", "TransformJobStatus"
    ),
}
# The job's own start and end, which the trial component shows.
JOB_TIMES = {
    "ProcessingJob": ("ProcessingStartTime", "ProcessingEndTime"),
    "TrainingJob": ("TrainingStartTime", "TrainingEndTime"),
    "TransformJob": ("TransformStartTime", "TransformEndTime"),
}


def trial_component_name(kind: str, job_name: str) -> str:
    return f"{job_name}-{JOB_KINDS[kind].suffix}"


def resource_parameters(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A job's instance settings as trial component parameters (``SageMaker.InstanceType``...)."""
    parameters: dict[str, dict[str, Any]] = {}
    if "InstanceType" in resources:
        parameters["SageMaker.InstanceType"] = {"StringValue": resources["InstanceType"]}
    for key in ("InstanceCount", "VolumeSizeInGB"):
        if key in resources:
            parameters[f"SageMaker.{key}"] = {"NumberValue": float(resources[key])}
    return parameters


def job_inputs(kind: str, job: dict[str, Any]) -> tuple[dict, dict, list[tuple[str, str]]]:
    """(Parameters, InputArtifacts, [(SourceUri, ArtifactType)]) known when the job is created."""
    parameters: dict[str, dict[str, Any]] = {}
    inputs: dict[str, dict[str, str]] = {}
    artifacts: list[tuple[str, str]] = []
    image = None
    if kind == "TrainingJob":
        image = job.get("AlgorithmSpecification", {}).get("TrainingImage")
        parameters.update(resource_parameters(job.get("ResourceConfig", {})))
        for key, value in job.get("HyperParameters", {}).items():
            parameters[key] = {"StringValue": value}
        for channel in job.get("InputDataConfig", []):
            uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
            if uri:
                inputs[channel["ChannelName"]] = {"Value": uri}
                if channel.get("ContentType"):
                    inputs[channel["ChannelName"]]["MediaType"] = channel["ContentType"]
                artifacts.append((uri, "DataSet"))
    elif kind == "ProcessingJob":
        image = job.get("AppSpecification", {}).get("ImageUri")
        parameters.update(
            resource_parameters(job.get("ProcessingResources", {}).get("ClusterConfig", {}))
        )
        for item in job.get("ProcessingInputs", []):
            uri = item.get("S3Input", {}).get("S3Uri")
            if uri:
                inputs[item["InputName"]] = {"Value": uri}
                artifacts.append((uri, "DataSet"))
    elif kind == "TransformJob":
        parameters.update(resource_parameters(job.get("TransformResources", {})))
        parameters["SageMaker.ModelName"] = {"StringValue": job["ModelName"]}
        uri = job.get("TransformInput", {}).get("DataSource", {}).get("S3DataSource", {})
        uri = uri.get("S3Uri")
        if uri:
            inputs["SageMaker.TransformInput"] = {"Value": uri}
            content_type = job.get("TransformInput", {}).get("ContentType")
            if content_type:
                inputs["SageMaker.TransformInput"]["MediaType"] = content_type
            artifacts.append((uri, "DataSet"))
    if image:
        parameters["SageMaker.ImageUri"] = {"StringValue": image}
        inputs["SageMaker.ImageUri"] = {"Value": image}
        artifacts.insert(0, (image, "Image"))
    return parameters, inputs, artifacts


def job_outputs(kind: str, job: dict[str, Any]) -> tuple[dict, list[tuple[str, str]]]:
    """(OutputArtifacts, [(SourceUri, ArtifactType)]) of a job that Completed."""
    outputs: dict[str, dict[str, str]] = {}
    artifacts: list[tuple[str, str]] = []
    if kind == "TrainingJob":
        uri = job.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if uri:
            outputs["SageMaker.ModelArtifact"] = {"Value": uri}
            artifacts.append((uri, "Model"))
    elif kind == "ProcessingJob":
        for item in job.get("ProcessingOutputConfig", {}).get("Outputs", []):
            uri = item.get("S3Output", {}).get("S3Uri")
            if uri:
                outputs[item["OutputName"]] = {"Value": uri}
                artifacts.append((uri, "DataSet"))
    elif kind == "TransformJob":
        uri = job.get("TransformOutput", {}).get("S3OutputPath")
        if uri:
            outputs["SageMaker.TransformOutput"] = {"Value": uri}
            artifacts.append((uri, "DataSet"))
    return outputs, artifacts


def job_metrics(job: dict[str, Any], arn: str) -> list[dict[str, Any]]:
    """A training job's final metrics as trial component metric summaries (the last value)."""
    return [
        {
            "MetricName": metric["MetricName"],
            "SourceArn": arn,
            "TimeStamp": metric["Timestamp"],
            "Last": float(metric["Value"]),
        }
        for metric in job.get("FinalMetricDataList", [])
        if "MetricName" in metric and "Value" in metric and "Timestamp" in metric
    ]


def record_job(engine: Engine, kind: str, job_name: str, event: str) -> None:
    """jobs.py's observer: the job ``job_name`` of ``kind`` was ``created`` or has ``ended``."""
    if kind not in JOB_KINDS:
        return
    if event == "created":
        job_created(engine, kind, job_name)
    elif event == "ended":
        job_ended(engine, kind, job_name)


def job_created(engine: Engine, kind: str, job_name: str) -> None:
    spec = JOB_KINDS[kind]
    job = engine.store.snapshot(kind, job_name)
    name = trial_component_name(kind, job_name)
    arn = TRIAL_COMPONENTS.arn(engine, name)
    parameters, inputs, artifacts = job_inputs(kind, job)
    members = {
        "TrialComponentName": name,
        # ExperimentConfig's TrialComponentDisplayName, "if not specified, the component's name"
        "DisplayName": job.get("ExperimentConfig", {}).get("TrialComponentDisplayName", name),
        "Source": {"SourceArn": job[spec.arn_key], "SourceType": spec.source_type},
        "Status": {"PrimaryStatus": "InProgress"},
        "Parameters": parameters,
        "InputArtifacts": inputs,
        "OutputArtifacts": {},
        # The job this component follows; its status and times are read from the job.
        "_Job": {"Kind": kind, "Name": job_name},
    }
    record = TRIAL_COMPONENTS.new(arn, members, job["CreationTime"])
    with engine.store.lock:
        if engine.store.find(TRIAL_COMPONENT, key_of(name)) is not None:
            return  # a user's trial component took the name first
        engine.store.create(TRIAL_COMPONENT, key_of(name), record)
        trial_name = job.get("ExperimentConfig", {}).get("TrialName")
        if trial_name:  # the job's component joins the trial its ExperimentConfig names
            from emulator.sagemaker import trials

            trials.join_by_name(engine, trial_name, record)
        else:  # or the trial SageMaker makes for it (a tuning job's, an experiment's)
            from emulator.sagemaker import service_experiments

            service_experiments.for_job_component(engine, job, job_name, members["Source"], record)
        for uri, artifact_type in artifacts:
            associate(engine, artifact_for(engine, uri, artifact_type), arn, "ContributedTo")


def job_ended(engine: Engine, kind: str, job_name: str) -> None:
    spec = JOB_KINDS[kind]
    job = engine.store.snapshot(kind, job_name)
    name = key_of(trial_component_name(kind, job_name))
    with engine.store.lock:
        component = engine.store.find(TRIAL_COMPONENT, name)
        if component is None or component.get("_Job", {}).get("Name") != job_name:
            return
        if job[spec.status_key] != "Completed":
            return
        outputs, artifacts = job_outputs(kind, job)
        component["OutputArtifacts"] = outputs
        if kind == "TrainingJob":
            component["Metrics"] = job_metrics(job, job[spec.arn_key])
        for uri, artifact_type in artifacts:
            associate(
                engine,
                component["TrialComponentArn"],
                artifact_for(engine, uri, artifact_type),
                "Produced",
            )


def job_status(engine: Engine, component: dict[str, Any]) -> dict[str, Any]:
    """A trial component as answered: a job's component shows the job's status and times now."""
    answer = public(component)
    followed = component.get("_Job")
    if not followed:
        return answer
    job = peek(engine, followed["Kind"], followed["Name"])
    if job is None:
        return answer
    status = job[JOB_KINDS[followed["Kind"]].status_key]
    answer["Status"] = {"PrimaryStatus": status}
    if job.get("FailureReason"):
        answer["Status"]["Message"] = job["FailureReason"][:1024]
    start_key, end_key = JOB_TIMES[followed["Kind"]]
    for key, field in ((start_key, "StartTime"), (end_key, "EndTime")):
        if job.get(key) is not None:
            answer[field] = job[key]
    if isinstance(job.get("LastModifiedTime"), dt.datetime):
        answer["LastModifiedTime"] = max(job["LastModifiedTime"], answer["LastModifiedTime"])
    return answer


# --- model packages --------------------------------------------------------------------------
def bounded(text: str, suffix: str) -> str:
    """``text-suffix`` within the entity name limit, cut at the text's end."""
    room = NAME_LIMIT - len(suffix) - 1
    return f"{text[:room].rstrip('-_')}-{suffix}"


def record_guarded(
    engine: Engine,
    recorder: Callable[[Engine, dict[str, Any]], None],
    resource: dict[str, Any],
    arn: str | None,
) -> None:
    """Run ``recorder`` for ``resource`` under the store's lock; a failure is logged, never
    raised: lineage is a record of what happened, and never fails the request."""
    try:
        with engine.store.lock:
            recorder(engine, resource)
    except Exception:
        log.exception("recording the lineage of %s failed", arn)


def record_model_package(engine: Engine, package: dict[str, Any]) -> None:
    """What SageMaker creates for a new model package version (model_packages.py calls this).

    The package's artifact has SourceUri = its ARN (SDK code finds it with
    ``ListArtifacts(SourceUri=model_package_arn)``) and ArtifactType ``Model`` (the SDK loads it
    as a ModelArtifact); its containers' images and model data contribute to it; it is
    associated with its group's context and contributes to the approval action of its creation.
    """
    record_guarded(engine, _record_model_package, package, package.get("ModelPackageArn"))


def _record_model_package(engine: Engine, package: dict[str, Any]) -> None:
    arn = package["ModelPackageArn"]
    group = package["ModelPackageGroupName"]
    stamp = str(int(package["CreationTime"].timestamp()))
    version = package["ModelPackageVersion"]
    artifact_arn = artifact_for(engine, arn, "Model")
    artifact = engine.store.find(*locate(engine, artifact_arn))  # type: ignore[misc]
    if artifact is not None and not artifact.get("ArtifactName"):
        artifact["ArtifactName"] = bounded(f"{group}-{version}-{stamp}", "aws-model-package")
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    for container in containers:
        if container.get("Image"):
            image = artifact_for(engine, container["Image"], "Image")
            associate(engine, image, artifact_arn, "ContributedTo")
        if container.get("ModelDataUrl"):
            model = artifact_for(engine, container["ModelDataUrl"], "Model")
            associate(engine, model, artifact_arn, "ContributedTo")
    context_name = bounded(f"{group}-{stamp}", "aws-model-package-group")
    group_arn = engine.arn("model-package-group", group)
    context_arn = context_for(engine, context_name, group_arn, "ModelGroup")
    associate(engine, artifact_arn, context_arn, "AssociatedWith")
    status = package.get("ModelApprovalStatus", "PendingManualApproval")
    action_name = bounded(f"{group}-{version}-{status}-{stamp}", "aws-model-package")
    action_arn = action_for(engine, action_name, arn, "Approval")
    associate(engine, artifact_arn, action_arn, "ContributedTo")


def new_entity(engine: Engine, entity: LineageEntity, name: str, source_uri: str, kind: str) -> str:
    """Create the context or action ``name`` of type ``kind`` as SageMaker does for the
    resources it tracks; returns its ARN."""
    arn = entity.arn(engine, name)
    members = {
        entity.name_key: name,
        "Source": {"SourceUri": source_uri, "SourceType": "ARN"},
        entity.type_key: kind,
        "Properties": {},
    }
    engine.store.create(entity.kind, key_of(name), entity.new(arn, members))
    return arn


def context_for(engine: Engine, name: str, source_uri: str, context_type: str) -> str:
    """The context whose SourceUri is ``source_uri``, created as ``name`` if there is none."""
    existing = next(
        (c for c in engine.store.all(CONTEXT) if c["Source"]["SourceUri"] == source_uri), None
    )
    if existing is not None:
        return existing["ContextArn"]
    return new_entity(engine, CONTEXTS, name, source_uri, context_type)


def action_for(engine: Engine, name: str, source_uri: str, action_type: str) -> str:
    """The action ``name`` (created with ``source_uri`` if it does not exist yet)."""
    existing = engine.store.find(ACTION, key_of(name))
    if existing is not None:
        return existing["ActionArn"]
    return new_entity(engine, ACTIONS, name, source_uri, action_type)


jobs.JOB_OBSERVERS.append(record_job)


def page_start(token: str | None) -> int:
    """Where a page starts: NextToken is the offset this emulator handed out."""
    if not token:
        return 0
    if not token.isdigit():
        raise ValidationError(f"Invalid pagination token {token[:64]!r}.")
    return int(token)


# --- endpoints -------------------------------------------------------------------------------
def model_containers(engine: Engine, model_name: str) -> list[dict[str, Any]]:
    model = peek(engine, "Model", model_name)
    if model is None:
        return []
    return ([model["PrimaryContainer"]] if "PrimaryContainer" in model else []) + model.get(
        "Containers", []
    )


def record_endpoint(engine: Engine, endpoint: dict[str, Any]) -> None:
    """What SageMaker creates for a new endpoint (endpoints.py calls this): a context for the
    endpoint (SourceUri: its ARN, as SDK code finds it), a ``ModelDeployment`` action associated
    with it, and artifacts for each deployed model's data, image and model package contributing
    to the deployment, so the endpoint descends from the jobs that made its model."""
    record_guarded(engine, _record_endpoint, endpoint, endpoint.get("EndpointArn"))


def _record_endpoint(engine: Engine, endpoint: dict[str, Any]) -> None:
    name, arn = endpoint["EndpointName"], endpoint["EndpointArn"]
    stamp = str(int(endpoint["CreationTime"].timestamp()))
    context_arn = context_for(engine, bounded(f"{name}-{stamp}", "aws-endpoint"), arn, "Endpoint")
    config = peek(engine, "EndpointConfig", endpoint["EndpointConfigName"]) or {}
    action_arn = action_for(
        engine,
        bounded(f"{name}-{stamp}", "aws-model-deployment"),
        config.get("EndpointConfigArn", arn),
        "ModelDeployment",
    )
    associate(engine, action_arn, context_arn, "AssociatedWith")
    for variant in config.get("ProductionVariants", []):
        for container in model_containers(engine, variant.get("ModelName", "")):
            contributing: list[tuple[str, str]] = []
            if container.get("Image"):
                contributing.append((container["Image"], "Image"))
            if container.get("ModelDataUrl"):
                contributing.append((container["ModelDataUrl"], "Model"))
            package = container.get("ModelPackageName", "")
            if ":model-package/" in package:
                contributing.append((package, "Model"))
            for uri, artifact_type in contributing:
                associate(
                    engine, artifact_for(engine, uri, artifact_type), action_arn, "ContributedTo"
                )


# --- pipelines -------------------------------------------------------------------------------
def pipeline_execution_tag(execution_arn: str) -> dict[str, str]:
    """The tag SageMaker Pipelines puts on each job a step starts: SDK lineage code
    (``LineageTrialComponent.pipeline_execution_arn``) finds a job's execution by it."""
    return {"Key": "sagemaker:pipeline-execution-arn", "Value": execution_arn}
