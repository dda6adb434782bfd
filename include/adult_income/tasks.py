"""The Python callables behind the DAG's tasks, the run's plan, and the request builders its
operators call.

**The run's plan.** ``prepare_run`` runs once per run, before anything else touches AWS: it
takes the settings (its ``op_kwargs`` are templates over Airflow Variables, see settings.py),
resolves the images for the region, fixes the run's S3 layout and builds every SageMaker
request the run will send, and returns all of it as its XCom. Each SageMaker task's ``config``
is a template over that XCom (``planned(...)``), so the UI's Rendered Template tab shows the
request, and nothing a task does later (a retry, a clear, a Variable changed meanwhile) can move
the run's paths. What the plan cannot know is bound by the task itself, in the builders below:
the attempt's name (``-a2`` after a changed request), and what an upstream task produced (the
model artifact of the training attempt that completed, the gate's accuracy, the model's name).

Everything heavy (the SageMaker SDK's image lookup, S3 reads) happens here, at task run time,
never while the DAG file is parsed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from include.adult_income import (
    champion,
    gate,
    names,
    params,
    sagemaker_requests,
    settings,
    tuning_requests,
)

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "scripts"
PLAN_TASK = "prepare_run"
PREPROCESS_TASK = "preprocess"
ROUTE_TASK = "train_or_tune"
TRAIN_TASK = "train"
TUNE_TASK = "tune"
EVALUATE_TASK = "evaluate"
GATE_TASK = "accuracy_gate"
REGISTER_TASK = "register_model_version"
APPROVAL_TASK = "approve_model_version"
MODEL_TASK = "create_model"
REJECT_TASK = "model_rejected"
DEPLOY_GATE_TASK = "should_deploy"
DEPLOY_TASK = "deploy"
SMOKE_TASK = "smoke_check"
SMOKE_ROWS = 5
# States of a task that should have done its work and did not.
FAILED_STATES = {"failed", "upstream_failed"}


def planned(*path: str) -> str:
    """A Jinja template for one value of the run's plan (prepare_run's XCom), e.g.
    ``planned("requests", "train")``. Operators that render it as a native object get the
    dict or number itself."""
    keys = "".join(f"[{key!r}]" for key in path)
    return f"{{{{ ti.xcom_pull(task_ids={PLAN_TASK!r}){keys} }}}}"


def plan_of(context: Any) -> dict[str, Any]:
    """The run's plan; refuses to go on without one (prepare_run failed or was skipped)."""
    plan = context["ti"].xcom_pull(task_ids=PLAN_TASK)
    if not plan:
        raise AirflowFailException(f"this run has no plan: {PLAN_TASK} did not succeed")
    return plan


def layout_of(plan: Mapping[str, Any]) -> sagemaker_requests.RunLayout:
    return sagemaker_requests.RunLayout(**plan["layout"])


def check_conf(**context: Any) -> None:
    """The first task: refuse what Airflow's param validation lets through (unknown keys,
    non-finite numbers), before any job starts; a conf error is not retried."""
    problems = params.conf_problems(context["dag_run"].conf or {}, set(context["dag"].params))
    if problems:
        raise AirflowFailException("conf refused: " + "; ".join(problems))


def failed_tasks(context: Any) -> list[str]:
    """The run's tasks that failed or could not run because an upstream one failed."""
    ti = context["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[context["run_id"]])
    own = states.get(context["run_id"], {})
    return sorted(task for task, state in own.items() if state in FAILED_STATES)


def s3_client(config: settings.Settings) -> Any:
    """S3 through the Airflow connection (its endpoint_url points offline runs at the emulator)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=config.aws_conn_id, region_name=config.region).conn


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def layout_for(context: Any, config: settings.Settings) -> sagemaker_requests.RunLayout:
    """The run's S3 layout: input partition of its logical date, outputs under its own run."""
    run_uri = f"{config.root_uri}/{names.run_path(context['dag'].dag_id, context['run_id'])}"
    input_uri = (
        context["params"].get("input_data_uri") or f"{config.root_uri}/raw/ds={context['ds']}/"
    )
    return sagemaker_requests.RunLayout(input_uri=input_uri, run_uri=run_uri)


def input_ready(*, input_uri: str, aws_conn_id: str, region: str, **context: Any) -> bool:
    """Sensor callable: the run's input partition (from its plan) holds at least one CSV."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, prefix = split_uri(input_uri)
    s3 = S3Hook(aws_conn_id=aws_conn_id, region_name=region).conn
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    csvs = [item["Key"] for item in listing.get("Contents", []) if item["Key"].endswith(".csv")]
    print(f"input {bucket}/{prefix}: {len(csvs)} CSV file(s)")
    return bool(csvs)


def resolve_images(region: str) -> dict[str, str]:
    """Image URIs for the region from the SageMaker SDK's lookup (imported only here)."""
    from sagemaker.core import image_uris

    framework, version = sagemaker_requests.SKLEARN_FRAMEWORK
    sklearn = image_uris.retrieve(framework, region=region, version=version)
    framework, version = sagemaker_requests.XGBOOST_FRAMEWORK
    xgboost = image_uris.retrieve(framework, region=region, version=version)
    return {"sklearn": sklearn, "xgboost": xgboost}


def current_champion(context: Any, config: settings.Settings) -> champion.Champion | None:
    """The group's newest Approved version that this run did not register itself: what the
    run's challenger is measured against (fixed in the plan, like the rest of the run)."""
    found = champion.newest_approved(
        sagemaker_client(config),
        context["params"]["model_package_group"],
        dag_id=context["dag"].dag_id,
        run_id=context["run_id"],
    )
    print(f"champion: {found.model_package_arn if found else 'none (no approved version)'}")
    return found


def plan_requests(
    context: Any,
    config: settings.Settings,
    layout: sagemaker_requests.RunLayout,
    images: dict[str, str],
    current: champion.Champion | None = None,
) -> dict[str, dict[str, Any]]:
    """Every request the run sends, as far as it is known before the first job: named after
    each task's first attempt, and reading the model of the training job's first attempt (the
    builders below bind the attempt that really completed). ``current`` is the champion the
    evaluate job scores beside the run's model (None: the no-champion marker)."""
    params = context["params"]
    dag_id, run_id = context["dag"].dag_id, context["run_id"]

    def name(task_id: str) -> str:
        return names.resource_name(dag_id, run_id, task_id)

    def uploads(*scripts: str) -> dict[str, Any]:
        return sagemaker_requests.script_uploads(SCRIPTS_DIR, layout.code_uri, scripts)

    training = training_requests(params, name, config, layout, images)
    model_artifact = layout.training_artifact_uri(name(TRAIN_TASK))
    processing = {
        "role_arn": config.role_arn,
        "layout": layout,
        "instance_type": params["processing_instance_type"],
        "instance_count": params["processing_instance_count"],
    }
    evaluation_json = f"{layout.evaluation_uri}/evaluation.json"
    against = champion.evaluate_inputs(current, f"{layout.code_uri}/{champion.NO_CHAMPION_MARKER}")
    return {
        PREPROCESS_TASK: {
            **sagemaker_requests.preprocess_request(
                job_name=name(PREPROCESS_TASK),
                image_uri=images["sklearn"],
                seed=params["seed"],
                **processing,
            ),
            "S3Operations": uploads("preprocess.py", sagemaker_requests.INFERENCE_SCRIPT),
        },
        **training,
        EVALUATE_TASK: {
            **sagemaker_requests.evaluate_request(
                job_name=name(EVALUATE_TASK),
                image_uri=images["xgboost"],
                model_artifact_uri=model_artifact,
                champion_model_uri=against["model"],
                champion_code_uri=against["code"],
                champion_arn=against["arn"],
                max_regression=params["max_regression"],
                **processing,
            ),
            # The marker is what the champion inputs read when there is no champion.
            "S3Operations": uploads("evaluate.py", champion.NO_CHAMPION_MARKER),
        },
        MODEL_TASK: sagemaker_requests.model_request(
            model_name=name(MODEL_TASK),
            image_uri=images["xgboost"],
            model_data_url=model_artifact,
            code_uri=layout.inference_code_uri,
            role_arn=config.role_arn,
        ),
        REGISTER_TASK: sagemaker_requests.model_package_request(
            group_name=params["model_package_group"],
            image_uri=images["xgboost"],
            model_data_url=model_artifact,
            code_uri=layout.inference_code_uri,
            evaluation_json_uri=evaluation_json,
            # A person decides (approval.py): registered pending, whatever the status param says.
            approval_status=(
                "PendingManualApproval"
                if params["human_approval"]
                else params["model_approval_status"]
            ),
            metadata={
                "dag_id": dag_id,
                "run_id": run_id,
                "training_job": name(TRAIN_TASK),
                # the summary task renders it there once the run's branches are done
                "report": f"{layout.report_uri}/report.html",
            },
            description=f"XGBoost on UCI Adult, {run_id}",
        ),
        DEPLOY_TASK: {
            "EndpointConfig": sagemaker_requests.endpoint_config_request(
                config_name=name(DEPLOY_TASK),
                model_name=name(MODEL_TASK),
                instance_type=params["endpoint_instance_type"],
                instance_count=params["endpoint_instance_count"],
            ),
            "Endpoint": sagemaker_requests.endpoint_request(
                endpoint_name=params["endpoint_name"], config_name=name(DEPLOY_TASK)
            ),
        },
    }


def training_requests(
    params: Mapping[str, Any],
    name: Callable[[str], str],
    config: settings.Settings,
    layout: sagemaker_requests.RunLayout,
    images: dict[str, str],
) -> dict[str, Any]:
    """The train task's CreateTrainingJob and the tune task's CreateHyperParameterTuningJob
    (None unless ``tuning_max_jobs`` > 0), in the run's ``training_mode``: the built-in
    algorithm, or train.py in script mode (uploaded by the task as its code archive, and read
    by SageMaker with the metric definitions). The tuning job trains what the train task
    would, over the ranges of tuning_requests.py."""
    hyperparameters = sagemaker_requests.hyperparameters_for(dict(params))
    script = params.get("training_mode", "builtin") == "script"
    if script:
        hyperparameters = sagemaker_requests.script_mode_hyperparameters(
            hyperparameters, layout.code_uri
        )
    training = sagemaker_requests.training_request(
        job_name=name(TRAIN_TASK),
        image_uri=images["xgboost"],
        role_arn=config.role_arn,
        layout=layout,
        hyperparameters=hyperparameters,
        instance_type=params["training_instance_type"],
        instance_count=params["training_instance_count"],
        metric_definitions=tuning_requests.METRIC_DEFINITIONS if script else None,
    )
    # The task uploads train.py before fingerprinting, as processing tasks upload theirs.
    upload = (
        {
            "S3Operations": sagemaker_requests.source_upload(
                SCRIPTS_DIR, layout.code_uri, sagemaker_requests.TRAINING_SCRIPT
            )
        }
        if script
        else {}
    )
    max_jobs = int(params.get("tuning_max_jobs") or 0)
    tuning = None
    if max_jobs > 0:
        strategy = params.get("tuning_strategy", tuning_requests.DEFAULT_STRATEGY)
        parallel = int(params.get("tuning_max_parallel_jobs") or 1)
        tuning = {
            **tuning_requests.tuning_job_request(
                tuning_job_name=name(TUNE_TASK),
                training_request=training,
                max_jobs=max_jobs,
                # no more at once than in all (Grid runs its whole grid, whatever max_jobs says)
                max_parallel_jobs=parallel if strategy == "Grid" else min(parallel, max_jobs),
                strategy=strategy,
                objective=params.get("tuning_objective", tuning_requests.DEFAULT_OBJECTIVE),
                seed=params.get("seed"),
            ),
            **upload,
        }
    return {TRAIN_TASK: {**training, **upload}, TUNE_TASK: tuning}


def prepare_run(variables: Mapping[str, str], **context: Any) -> dict[str, Any]:
    """The run's plan: its settings (``variables``: settings.templated(), rendered by Airflow),
    images, S3 layout and every request it sends. Computed once; later tasks read it from XCom."""
    config = settings.from_variables(variables)
    layout = layout_for(context, config)
    images = resolve_images(config.region)
    plan = {
        "settings": config.as_dict(),
        "layout": {"input_uri": layout.input_uri, "run_uri": layout.run_uri},
        "images": images,
        "requests": plan_requests(
            context, config, layout, images, current_champion(context, config)
        ),
    }
    print(f"run plan: {json.dumps({k: plan[k] for k in ('settings', 'layout', 'images')})}")
    return plan


# --- builders: the planned request, bound to this attempt and to what upstream tasks made ---


def named(request: Mapping[str, Any], name_key: str, name: str) -> dict[str, Any]:
    return {**copy.deepcopy(dict(request)), name_key: name}


def tuned_run(plan: Mapping[str, Any]) -> bool:
    """Whether the run's plan trains through a tuning job (the tune task) or the train task."""
    return bool(plan["requests"].get(TUNE_TASK))


def train_or_tune(**context: Any) -> list[str]:
    """BranchPythonOperator callable: the tune task when the plan has a tuning job, else train."""
    if tuned_run(plan_of(context)):
        print(f"tuning_max_jobs is {context['params']['tuning_max_jobs']}: tuning")
        return [TUNE_TASK]
    print("tuning_max_jobs is 0: training once")
    return [TRAIN_TASK]


def training_result(context: Any) -> dict[str, Any]:
    """The route's result (the train task's, or the tune task's with its best training job),
    {} before it has one."""
    ti = context["ti"]
    plan = ti.xcom_pull(task_ids=PLAN_TASK) or {"requests": {}}
    return ti.xcom_pull(task_ids=TUNE_TASK if tuned_run(plan) else TRAIN_TASK) or {}


def trained(context: Any) -> dict[str, Any]:
    """The training job that completed: the train task's (its newest attempt), or the tune
    task's best training job."""
    return training_result(context)["Training"]


def trained_model(context: Any) -> str:
    return trained(context)["ModelArtifacts"]["S3ModelArtifacts"]


def evaluate_config(planned_request: dict[str, Any], context: Any, job_name: str) -> dict[str, Any]:
    """evaluate's request: the planned one, reading the model the training job really made."""
    bound = sagemaker_requests.with_model_artifact(planned_request, trained_model(context))
    return named(bound, "ProcessingJobName", job_name)


def model_config(planned_request: dict[str, Any], context: Any, model_name: str) -> dict[str, Any]:
    bound = sagemaker_requests.with_model_artifact(planned_request, trained_model(context))
    return named(bound, "ModelName", model_name)


def champion_summary(evaluation: dict[str, Any]) -> dict[str, Any] | None:
    """summary.json's ``champion``: the champion as scored on this run's test set, or None."""
    block = evaluation.get("champion")
    if not isinstance(block, dict):
        return None
    summary = {key: block.get(key) for key in ("model_package_arn", "accuracy", "roc_auc")}
    if block.get("reason"):
        summary["not_compared"] = block["reason"]
    return summary


def gate_result(context: Any) -> dict[str, Any]:
    return context["ti"].xcom_pull(task_ids=GATE_TASK, key="gate")


def model_package_config(planned_request: dict[str, Any], context: Any) -> dict[str, Any]:
    """The version to register: the training job that completed, and the gate's accuracy."""
    training = trained(context)
    bound = sagemaker_requests.with_model_artifact(
        planned_request, training["ModelArtifacts"]["S3ModelArtifacts"]
    )
    bound["CustomerMetadataProperties"] = {
        **bound["CustomerMetadataProperties"],
        "training_job": training["TrainingJobName"],
        "accuracy": f"{gate_result(context)['accuracy']:.6f}",
    }
    tuning = training_result(context).get("Tuning")
    if tuning:
        bound["CustomerMetadataProperties"]["tuning_job"] = tuning["HyperParameterTuningJobName"]
    return bound


def readable_hyperparameters(hyperparameters: Mapping[str, str]) -> dict[str, str]:
    """A training job's hyperparameters as a person reads them: script mode's JSON-encoded
    values decoded, SageMaker's own (``sagemaker_*``, ``_tuning_objective_metric``) left out."""
    readable = {}
    for key, value in hyperparameters.items():
        if key.startswith(("sagemaker_", "_")):
            continue
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = value
        readable[key] = decoded if isinstance(decoded, str) else value
    return readable


def tuning_summary(
    tuning: Mapping[str, Any] | None, training: Mapping[str, Any]
) -> dict[str, Any] | None:
    """summary.json's ``best_training_job``: the tuning job's pick, the hyperparameters it
    trained with (the tuned ones apart) and its objective value; None without tuning."""
    if not tuning:
        return None
    best = tuning.get("BestTrainingJob") or {}
    objective = tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    return {
        "name": best.get("TrainingJobName"),
        "hyperparameters": readable_hyperparameters(training.get("HyperParameters", {})),
        "tuned_hyperparameters": best.get("TunedHyperParameters"),
        "objective": {
            "metric": objective["MetricName"],
            "type": objective["Type"],
            "value": best.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value"),
        },
        "training_jobs": tuning.get("TrainingJobStatusCounters"),
    }


def endpoint_config(
    planned_request: dict[str, Any], context: Any, config_name: str
) -> dict[str, Any]:
    """The provider's SageMakerEndpointOperator config: this run's endpoint config (serving the
    model create_model made or reused) and the endpoint, created or updated to point at it."""
    model_name = context["ti"].xcom_pull(task_ids=MODEL_TASK)["Model"]["ModelName"]
    bound = copy.deepcopy(planned_request)
    bound["EndpointConfig"]["EndpointConfigName"] = config_name
    for variant in bound["EndpointConfig"]["ProductionVariants"]:
        variant["ModelName"] = model_name
    bound["Endpoint"]["EndpointConfigName"] = config_name
    return bound


def read_evaluation(plan: Mapping[str, Any]) -> dict[str, Any]:
    uri = f"{layout_of(plan).evaluation_uri}/evaluation.json"
    bucket, key = split_uri(uri)
    body = s3_client(settings.from_plan(plan)).get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def accuracy_gate(**context: Any) -> list[str]:
    """BranchPythonOperator callable: register on pass, reject otherwise."""
    evaluation = read_evaluation(plan_of(context))
    params = context["params"]
    decision = gate.decide(
        evaluation, float(params["accuracy_threshold"]), float(params["max_regression"])
    )
    context["ti"].xcom_push(
        key="gate",
        value={
            "passed": decision.passed,
            "accuracy": decision.accuracy,
            "roc_auc": evaluation.get("metrics", {}).get("roc_auc", {}).get("value"),
            "reason": decision.reason,
            "champion": champion_summary(evaluation),
        },
    )
    print(f"accuracy gate: {decision.reason}")
    return [MODEL_TASK, REGISTER_TASK] if decision.passed else [REJECT_TASK]


def model_rejected(**context: Any) -> dict[str, Any]:
    """Records why nothing is registered; creates nothing."""
    result = gate_result(context)
    print(f"model rejected: {result['reason']}; nothing created or registered")
    return result


def sagemaker_client(config: settings.Settings, service: str = "sagemaker") -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(
        aws_conn_id=config.aws_conn_id, client_type=service, region_name=config.region
    ).conn


def should_deploy(**context: Any) -> bool:
    """ShortCircuitOperator callable: deploy only when asked to and the version is Approved."""
    if not context["params"]["deploy"]:
        print("deploy is false: the endpoint is left as it is")
        return False
    package_arn = context["ti"].xcom_pull(task_ids=REGISTER_TASK)
    sagemaker = sagemaker_client(settings.from_plan(plan_of(context)))
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    status = package["ModelApprovalStatus"]
    if status != "Approved":
        print(
            f"{package_arn} is {status}, not Approved: not deploying. Approve the version and "
            f"clear the {DEPLOY_GATE_TASK} task to deploy it."
        )
        return False
    print(f"{package_arn} is Approved: deploying it")
    return True


def sample_records(plan: Mapping[str, Any], rows: int) -> str:
    """The header and first ``rows`` records of the run's first input CSV."""
    s3 = s3_client(settings.from_plan(plan))
    bucket, prefix = split_uri(layout_of(plan).input_uri)
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    key = sorted(i["Key"] for i in listing.get("Contents", []) if i["Key"].endswith(".csv"))[0]
    body = s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-65535")["Body"].read()
    lines = body.decode("utf-8", errors="replace").splitlines()
    complete = [line for line in lines[1:-1] if "?" not in line]  # the last may be cut short
    return "\n".join([lines[0], *complete[:rows]]) + "\n"


def smoke_check(**context: Any) -> dict[str, Any]:
    """Score a few raw input records on the endpoint; it must serve this run's config."""
    plan = plan_of(context)
    config = settings.from_plan(plan)
    deployed = context["ti"].xcom_pull(task_ids=DEPLOY_TASK)
    expected = deployed["EndpointConfig"]["EndpointConfigName"]
    name = deployed["Endpoint"]["EndpointName"]
    endpoint = sagemaker_client(config).describe_endpoint(EndpointName=name)
    if endpoint["EndpointStatus"] != "InService" or endpoint["EndpointConfigName"] != expected:
        raise RuntimeError(
            f"endpoint {name} is {endpoint['EndpointStatus']} on "
            f"{endpoint['EndpointConfigName']}, not on {expected}: "
            f"{endpoint.get('FailureReason', 'no reason given')}"
        )
    records = sample_records(plan, SMOKE_ROWS)
    response = sagemaker_client(config, "sagemaker-runtime").invoke_endpoint(
        EndpointName=name, Body=records, ContentType="text/csv", Accept="text/csv"
    )
    scores = [float(line) for line in response["Body"].read().decode().split()]
    if len(scores) != records.count("\n") - 1 or not all(0.0 <= p <= 1.0 for p in scores):
        raise RuntimeError(f"endpoint {name} answered {scores} for {SMOKE_ROWS} records")
    print(f"endpoint {name} ({expected}) scored {len(scores)} records: {scores}")
    return {"endpoint_name": name, "endpoint_config_name": expected, "scores": scores}


def render_report(
    config: settings.Settings,
    *,
    evaluation_uri: str,
    report_uri: str,
    title: str,
    facts: dict[str, str],
) -> str:
    """Render report.html and its charts from the run's evaluation.json and upload them under
    ``report_uri``; returns the report's URI."""
    import tempfile

    from include.adult_income import report

    s3 = s3_client(config)
    bucket, key = split_uri(evaluation_uri)
    evaluation = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    with tempfile.TemporaryDirectory() as work:
        files = report.render_report(
            evaluation,
            report.feature_importance(evaluation),
            Path(work) / "report",
            title=title,
            facts=facts,
        )
        for path in files:
            bucket, key = split_uri(f"{report_uri}/{path.name}")
            s3.upload_file(str(path), bucket, key)
    return f"{report_uri}/report.html"


def report_or_error(config: settings.Settings, summary: dict[str, Any], **kwargs: Any) -> None:
    """Add report_uri to the summary; a report that cannot be drawn is recorded, and the run's
    decision stands."""
    try:
        summary["report_uri"] = render_report(config, **kwargs)
    except Exception as exc:
        print(f"WARNING: the model report could not be rendered: {exc!r}")
        summary["report_uri"], summary["report_error"] = None, repr(exc)


def summarize(**context: Any) -> dict[str, Any]:
    """Always runs: the run's outcome as summary.json under its prefix (and in XCom)."""
    ti = context["ti"]
    plan = ti.xcom_pull(task_ids=PLAN_TASK)
    if not plan:  # check_conf or prepare_run failed: there is no prefix to write under
        failed = failed_tasks(context)
        raise AirflowFailException(
            f"the run failed before it was planned: {', '.join(failed) or PLAN_TASK} "
            "(see their logs); no summary.json written"
        )
    config = settings.from_plan(plan)
    layout = layout_of(plan)
    gate_value = ti.xcom_pull(task_ids=GATE_TASK, key="gate") or {}
    route = training_result(context)
    training = route.get("Training", {})
    tuning = route.get("Tuning")
    model = (ti.xcom_pull(task_ids=MODEL_TASK) or {}).get("Model", {})
    package_arn = ti.xcom_pull(task_ids=REGISTER_TASK)
    deploy_requested = bool(ti.xcom_pull(task_ids=DEPLOY_GATE_TASK))
    smoke = ti.xcom_pull(task_ids=SMOKE_TASK) or {}
    approval = ti.xcom_pull(task_ids=APPROVAL_TASK)
    if package_arn:
        decision = "registered"
    elif gate_value and not gate_value.get("passed"):
        decision = "rejected"
    else:
        decision = "failed"
    summary = {
        "dag_id": context["dag"].dag_id,
        "run_id": context["run_id"],
        "logical_date": context["ds"],
        "accuracy": gate_value.get("accuracy"),
        "threshold": float(context["params"]["accuracy_threshold"]),
        "decision": decision,
        "reason": gate_value.get("reason"),
        "champion": gate_value.get("champion"),
        "model_package_arn": package_arn,
        # A person's answer with human_approval (approval.py), else None.
        "approval": approval,
        "model_name": model.get("ModelName"),
        "endpoint": smoke.get("endpoint_name"),
        "endpoint_config": smoke.get("endpoint_config_name"),
        "training_mode": context["params"].get("training_mode", "builtin"),
        "training_job": training.get("TrainingJobName"),
        "tuning_job": tuning.get("HyperParameterTuningJobName") if tuning else None,
        "best_training_job": tuning_summary(tuning, training),
        "input_uri": layout.input_uri,
        "data_uri": f"{layout.run_uri}/data",
        "model_uri": training.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
        "evaluation_uri": f"{layout.evaluation_uri}/evaluation.json" if gate_value else None,
        "summary_uri": layout.summary_uri,
        "report_uri": None,
    }
    if gate_value and summary["model_uri"]:
        report_or_error(
            config,
            summary,
            evaluation_uri=summary["evaluation_uri"],
            report_uri=layout.report_uri,
            title=f"Adult income XGBoost — {context['dag'].dag_id}, {context['ds']}",
            facts={
                "run": context["run_id"],
                "training job": str(summary["training_job"]),
                **({"tuning job": str(summary["tuning_job"])} if tuning else {}),
                "accuracy": f"{summary['accuracy']:.4f}",
                "threshold": f"{summary['threshold']:.4f}",
                "decision": decision,
                "model version": str(package_arn or "none"),
            },
        )
    summary["failed_tasks"] = failed = failed_tasks(context)
    bucket, key = split_uri(layout.summary_uri)
    s3_client(config).put_object(
        Bucket=bucket, Key=key, Body=json.dumps(summary, indent=2).encode()
    )
    print(json.dumps(summary, indent=2))
    # The summary is the run's only leaf: failing it is what makes the run failed when any
    # task that should have run did not, whatever was registered meanwhile.
    if failed:
        raise AirflowFailException(f"the run failed: {', '.join(failed)} (see their logs)")
    if decision == "failed":
        raise AirflowFailException("the pipeline failed before a decision; see the task logs")
    if deploy_requested and not smoke:
        raise AirflowFailException("deploying the approved version failed; see the deploy log")
    return summary
