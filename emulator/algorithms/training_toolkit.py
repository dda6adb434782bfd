"""The SageMaker training toolkit's side of a script-mode (framework) training job.

A framework container's ``train`` command is a toolkit that reads /opt/ml/input/config, sets the
SM_* variables, installs the source directory's ``requirements.txt`` and runs the user's entry
point. This module plays it, run by the image environment's own Python (3.7 and up: no newer
syntax or library here). Two toolkits, one per container family (``--toolkit``):

- ``sagemaker-training`` (the scikit-learn containers, ``entry_point.run``): ``*.sh`` (or any
  name that is not ``*.py``) is a command run as ``/bin/sh -c "./<name> <args>"``; a source dir
  with ``setup.py`` is a package run as ``python -m <name>``; else ``python <name>.py <args>``.
  ``requirements.txt`` is installed with ``python -m pip install -r requirements.txt`` first for
  a script or package, never for a command (``entry_point.install``: SDK 2's RepackModel step
  runs a ``.sh`` launcher for that reason, so a model's inference requirements are repacked,
  not installed). A
  failing entry point is ``ExecuteUserScriptError:\\nExitCode N\\nErrorMessage ""\\nCommand
  "..."`` in /opt/ml/output/failure, written only when the script left no failure file of its own.
- ``sagemaker-containers`` (the XGBoost containers, ``modules.run_module``): always ``python -m
  <name without .py>``, after ``pip install . -r requirements.txt``; a failure overwrites the
  failure file with ``ExecuteUserScriptError:\\nCommand "..."``, as that toolkit does.

Either way the toolkit exits 1 when the entry point fails (its ClientError exit), and 0 after
writing /opt/ml/output/success. Hyperparameters arrive as the toolkits pass them: each value
JSON-decoded (kept as text when it is not JSON), as ``--name value`` arguments sorted by name
(``-x`` for a one-letter name; null is an empty argument; a mapping is ``k=v,k2=v2``; anything
else ``str()``), and as SM_HP_<NAME> (strings as they are, null empty, the rest compact JSON).

Where the emulator differs, on purpose: SageMaker gives each job a fresh container, so pip there
changes the image's own site-packages. Here the image environment is shared by every job, so the
job runs in an overlay (``--overlay``): a venv of the image's interpreter that sees the image's
packages through a ``.pth`` file and takes whatever pip installs, and is thrown away with the
job. The source dir itself is not pip-installed as a package (that would build a wheel, with
setuptools fetched from an index): /opt/ml/code is on PYTHONPATH instead, which imports the same.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import sysconfig
from typing import Any

TOOLKITS = ("sagemaker-training", "sagemaker-containers")
# The hyperparameters the toolkits take for themselves (params.SAGEMAKER_HYPERPARAMETERS); other
# ``sagemaker_*`` names are "framework parameters", and the rest are the user's.
SAGEMAKER_HYPERPARAMETERS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "default_user_module_name",
    "_tuning_objective_metric",
    "sagemaker_s3_output",
)
SAGEMAKER_PREFIX = "sagemaker_"
# The toolkits' exit code when the user's entry point (or its requirements) failed.
CLIENT_ERROR_EXIT = 1


def decode_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """hyperparameters.json's strings JSON-decoded, each kept as it is when it is not JSON."""
    decoded = {}
    for name, value in raw.items():
        try:
            decoded[name] = json.loads(value)
        except (TypeError, ValueError):
            decoded[name] = value
    return decoded


def split_hyperparameters(
    hyperparameters: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(the toolkit's own, the framework parameters, the user's) as the toolkits split them."""
    included = {
        name: value
        for name, value in hyperparameters.items()
        if name in SAGEMAKER_HYPERPARAMETERS or name.startswith(SAGEMAKER_PREFIX)
    }
    framework = {k: v for k, v in included.items() if k not in SAGEMAKER_HYPERPARAMETERS}
    user = {k: v for k, v in hyperparameters.items() if k not in included}
    return included, framework, user


def text_of(value: Any) -> str:
    """A value as an argument: null is empty, anything but a string ``str()`` (so True is
    ``True`` and a list ``[1, 2]``), as the toolkits' ``mapping._decode`` writes it."""
    if value is None:
        return ""
    return str(value)


def to_cmd_args(user: dict[str, Any]) -> list[str]:
    """``--name value`` for each hyperparameter, sorted by name (``-x`` for a one-letter name)."""
    args = []
    for name in sorted(user):
        value = user[name]
        args.append(("--%s" if len(name) > 1 else "-%s") % name)
        if isinstance(value, dict):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append(text_of(value))
    return args


def env_value(value: Any) -> str:
    """An SM_* value: a string as it is, null empty, anything else compact sorted JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def read_json(path: str) -> Any:
    with open(path) as handle:
        return json.load(handle)


def training_environment(base: str, job_name: str) -> dict[str, Any]:
    """The toolkit's Environment as its ``to_env_vars`` names it (keys without ``SM_``)."""
    config_dir = os.path.join(base, "input", "config")
    hyperparameters = decode_hyperparameters(
        read_json(os.path.join(config_dir, "hyperparameters.json"))
    )
    input_data_config = read_json(os.path.join(config_dir, "inputdataconfig.json"))
    resource_config = read_json(os.path.join(config_dir, "resourceconfig.json"))
    own, framework, user = split_hyperparameters(hyperparameters)
    program = own.get("sagemaker_program")
    channels = {name: os.path.join(base, "input", "data", name) for name in input_data_config}
    module_name = program[:-3] if program and program.endswith(".py") else program
    group = resource_config.get("current_group_name", "homogeneousCluster")
    environment = {
        "hosts": resource_config["hosts"],
        "network_interface_name": resource_config.get("network_interface_name", "eth0"),
        "hps": user,
        "user_entry_point": program,
        "framework_params": framework,
        "resource_config": resource_config,
        "input_data_config": input_data_config,
        "output_data_dir": os.path.join(base, "output", "data"),
        "channels": sorted(channels),
        "current_host": resource_config["current_host"],
        "current_instance_type": resource_config.get("current_instance_type", "local"),
        "current_instance_group": group,
        "current_instance_group_hosts": resource_config["hosts"],
        "instance_groups": [group],
        "distribution_instance_groups": [],
        "is_hetero": False,
        "module_name": module_name,
        "log_level": own.get("sagemaker_container_log_level", 20),
        "framework_module": os.environ.get("SAGEMAKER_TRAINING_MODULE"),
        "input_dir": os.path.join(base, "input"),
        "input_config_dir": config_dir,
        "output_dir": os.path.join(base, "output"),
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "num_neurons": 0,
        "model_dir": os.path.join(base, "model"),
        # The submit directory as the request names it (an s3:// URI), as on SageMaker.
        "module_dir": own.get("sagemaker_submit_directory") or os.path.join(base, "code"),
        "user_args": to_cmd_args(user),
        "output_intermediate_dir": os.path.join(base, "output", "intermediate"),
        "job_name": job_name,
    }
    environment["training_env"] = dict(environment, hyperparameters=user)
    for name, path in channels.items():
        environment[f"channel_{name}"] = path
    for name, value in user.items():
        environment[f"hp_{name}"] = value
    return environment


def to_env_vars(environment: dict[str, Any]) -> dict[str, str]:
    return {f"SM_{key.upper()}": env_value(value) for key, value in environment.items()}


# --- the overlay: the job's own site-packages over the image's ---------------------------------
def make_overlay(overlay: str) -> str:
    """A venv at ``overlay`` of this interpreter that sees this environment's packages; its
    python. pip run by it installs into the overlay and never uninstalls from the image (pip
    leaves packages outside its environment alone)."""
    major, minor, micro = sys.version_info[:3]
    version = f"python{major}.{minor}"
    site_packages = os.path.join(overlay, "lib", version, "site-packages")
    bin_dir = os.path.join(overlay, "bin")
    os.makedirs(site_packages, exist_ok=True)
    os.makedirs(bin_dir, exist_ok=True)
    base_python = os.path.realpath(sys.executable)
    with open(os.path.join(overlay, "pyvenv.cfg"), "w") as handle:
        handle.write(f"home = {os.path.dirname(base_python)}\n")
        handle.write("include-system-site-packages = false\n")
        handle.write(f"version = {major}.{minor}.{micro}\n")
    # A .pth line appends the image's site-packages after the overlay's own: what pip installs
    # here comes first.
    with open(os.path.join(site_packages, "_image_environment.pth"), "w") as handle:
        handle.write(sysconfig.get_paths()["purelib"] + "\n")
        platlib = sysconfig.get_paths()["platlib"]
        if platlib != sysconfig.get_paths()["purelib"]:
            handle.write(platlib + "\n")
    python = os.path.join(bin_dir, "python")
    for name in ("python", "python3", version):
        link = os.path.join(bin_dir, name)
        if not os.path.lexists(link):
            os.symlink(base_python, link)
    return python


# --- running the entry point ---------------------------------------------------------------
def entry_point_kind(code_dir: str, program: str, toolkit: str) -> str:
    """``module``, ``script`` or ``command``, as each toolkit decides it."""
    if toolkit == "sagemaker-containers":
        return "module"  # modules.run_module: python -m, whatever the name
    if program.endswith(".sh"):
        return "command"
    if os.path.exists(os.path.join(code_dir, "setup.py")):
        return "module"
    if program.endswith(".py"):
        return "script"
    return "command"


def entry_point_command(python: str, program: str, kind: str, args: list[str]) -> list[str]:
    if kind == "module":
        module = program[:-3] if program.endswith(".py") else program
        return [python, "-m", module, *args]
    if kind == "script":
        return [python, program, *args]
    return ["/bin/sh", "-c", "./{} {}".format(program, " ".join(shlex.quote(a) for a in args))]


def write_failure(output_dir: str, message: str, overwrite: bool) -> None:
    path = os.path.join(output_dir, "failure")
    if overwrite or not os.path.exists(path):
        with open(path, "w") as handle:
            handle.write(message)


def failure_message(toolkit: str, command: list[str], code: int, error_class: str) -> str:
    shown = " ".join(command)
    if toolkit == "sagemaker-containers":
        return f'{error_class}:\nCommand "{shown}"'
    return f'{error_class}:\nExitCode {code}\nErrorMessage ""\nCommand "{shown}"'


def run(command: list[str], cwd: str, env: dict[str, str]) -> int:
    """The command's exit code (a signal's death is negative, as Popen reports it)."""
    # SIGTERM (StopTrainingJob) reaches the whole process group: the entry point saves its model
    # and exits, and the toolkit waits for it instead of dying first.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        process = subprocess.Popen(command, cwd=cwd, env=env)
        while True:
            try:
                return process.wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries wait() already
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toolkit", choices=TOOLKITS, required=True)
    parser.add_argument("--base", default="/opt/ml", help="the container's /opt/ml")
    parser.add_argument("--overlay", required=True, help="the job's own site-packages venv")
    parser.add_argument("--job-name", default="")
    args = parser.parse_args(argv)
    code_dir = os.path.join(args.base, "code")
    output_dir = os.path.join(args.base, "output")
    environment = training_environment(args.base, args.job_name)
    program = environment["user_entry_point"]
    overwrite = args.toolkit == "sagemaker-containers"
    if not program or not os.path.exists(os.path.join(code_dir, program)):
        message = "ImportModuleError: entry point {!r} is not in the source directory {}".format(
            program,
            environment["module_dir"],
        )
        print(message, file=sys.stderr, flush=True)
        write_failure(output_dir, message, overwrite)
        return CLIENT_ERROR_EXIT
    python = make_overlay(args.overlay)
    env = dict(os.environ)
    env.update(to_env_vars(environment))
    # The image's Python first on PATH (an entry point's own ``python`` is it), and the code
    # directory importable, as the toolkit's sys.path is written into PYTHONPATH.
    env["PATH"] = os.path.dirname(python) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (code_dir, env.get("PYTHONPATH", "")) if part
    )
    kind = entry_point_kind(code_dir, program, args.toolkit)
    # sagemaker-training installs requirements for a script or package only; a command installs
    # its own (sagemaker-containers always runs a module, and installs them).
    if kind != "command" and os.path.exists(os.path.join(code_dir, "requirements.txt")):
        install = [python, "-m", "pip", "install", "-r", "requirements.txt"]
        print(
            "Installing dependencies from requirements.txt:\n{}".format(" ".join(install)),
            flush=True,
        )
        code = run(install, code_dir, env)
        if code != 0:
            error = "InstallRequirementsError" if kind != "module" else "InstallModuleError"
            message = failure_message(args.toolkit, install, code, error)
            print(message, file=sys.stderr, flush=True)
            write_failure(output_dir, message, overwrite)
            return CLIENT_ERROR_EXIT
    if kind == "command":
        path = os.path.join(code_dir, program)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    command = entry_point_command(python, program, kind, environment["user_args"])
    print(
        "Invoking user script with the following command:\n{}".format(" ".join(command)), flush=True
    )
    code = run(command, code_dir, env)
    if code != 0:
        message = failure_message(args.toolkit, command, code, "ExecuteUserScriptError")
        print(message, file=sys.stderr, flush=True)
        write_failure(output_dir, message, overwrite)
        return CLIENT_ERROR_EXIT
    with open(os.path.join(output_dir, "success"), "w"):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
