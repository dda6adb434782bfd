"""The members SageMaker fills in on Describe* responses when the request left them out.

The service model marks few of them required, but the service answers them (a training job's
``OutputDataConfig.KmsKeyId`` is ``""``, its ``StoppingCondition.MaxRuntimeInSeconds`` 86400,
...) and clients read them: SDK 2's ``Estimator.attach`` does
``job_details['OutputDataConfig']['KmsKeyId']``. Each resource module declares its template;
``filled`` lays a record over it for the response, so the record itself (what the job runs
from) keeps exactly what the request said.
"""

from __future__ import annotations

import copy
from typing import Any


def filled(value: Any, template: Any) -> Any:
    """``value`` with every member of ``template`` it lacks; given members win.

    A dict template fills a dict (creating an absent one when it then has members: a
    ``StoppingCondition`` with its default, never an empty ``ProcessingOutputConfig``; an empty
    template is itself the default, as a container's ``Environment: {}``); a
    one-item list template is the template of every item of an existing list (a list is never
    invented).
    """
    if isinstance(template, dict):
        result = dict(value) if isinstance(value, dict) else {}
        for key, default in template.items():
            if key in result:
                result[key] = filled(result[key], default)
            elif isinstance(default, dict):
                created = filled({}, default)
                # A structure appears only with members of its own; an empty template is the
                # default value itself (a container's ``Environment: {}``).
                if created or not default:
                    result[key] = created
            elif not isinstance(default, list):
                result[key] = default
        return result
    if isinstance(template, list):
        if not isinstance(value, list):
            return value
        return [filled(item, template[0]) for item in value]
    return copy.deepcopy(value)
