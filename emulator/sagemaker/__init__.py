"""The emulator's SageMaker engine: one module per resource, registered by action name."""

import importlib
import pkgutil

# Modules that hold no actions of their own.
_SUPPORT_MODULES = {"engine", "errors", "protocol", "recovery", "registry", "store"}


def load_resources() -> None:
    """Import every resource module once so that their ``@action`` handlers register."""
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _SUPPORT_MODULES and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
