"""Lineage contexts: Create/Describe/List/Update/Delete.

SageMaker creates a ``ModelGroup`` context for each model package group a version is
registered in (lineage.py); users create their own (an ``Endpoint`` context, ...). ListContexts
filters by SourceUri (how SDK code finds an endpoint's or a group's context), ContextType and
creation time, and sorts by Name or CreationTime.
"""

from __future__ import annotations

from emulator.sagemaker import lineage

KIND = lineage.CONTEXT
CONTEXTS = lineage.CONTEXTS
CONTEXTS.register(
    "CreateContext", "DescribeContext", "ListContexts", "UpdateContext", "DeleteContext"
)
