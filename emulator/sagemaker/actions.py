"""Lineage actions: Create/Describe/List/Update/Delete.

SageMaker creates an ``Approval`` action for each model package version (lineage.py); users
create their own (e.g. a ``ModelDeployment``). ListActions filters by SourceUri, ActionType and
creation time, and sorts by Name or CreationTime.
"""

from __future__ import annotations

from emulator.sagemaker import lineage

KIND = lineage.ACTION
ACTIONS = lineage.ACTIONS
ACTIONS.register("CreateAction", "DescribeAction", "ListActions", "UpdateAction", "DeleteAction")
