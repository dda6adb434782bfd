"""Associations between lineage entities: AddAssociation / DeleteAssociation / ListAssociations.

An association is a directed edge, source -> destination, with a type (ContributedTo,
AssociatedWith, DerivedFrom, Produced, SameAs); both ends must exist. ListAssociations answers,
for each, the ends' names and types as they are now (an artifact's ArtifactType, a job's trial
component's SourceType, ...): SDK 2's LineageTableVisualizer builds its table from exactly
these, calling ListAssociations with DestinationArn (inputs) and SourceArn (outputs).
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker import lineage
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound
from emulator.sagemaker.listing import paged
from emulator.sagemaker.registry import action

KIND = lineage.ASSOCIATION


@action("AddAssociation")
def add_association(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    source, destination = params["SourceArn"], params["DestinationArn"]
    with engine.store.lock:
        # the entities' own ARNs: an ARN's name part is matched without case
        source = lineage.arn_of(lineage.require(engine, source))
        destination = lineage.arn_of(lineage.require(engine, destination))
        lineage.associate(engine, source, destination, params.get("AssociationType"))
    return {"SourceArn": source, "DestinationArn": destination}


@action("DeleteAssociation")
def delete_association(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    source = lineage.canonical_arn(engine, params["SourceArn"])
    destination = lineage.canonical_arn(engine, params["DestinationArn"])
    with engine.store.lock:
        if engine.store.delete(KIND, lineage.association_key(source, destination)) is None:
            raise ResourceNotFound(f"No association from {source} to {destination} exists.")
    return {"SourceArn": source, "DestinationArn": destination}


def summary(record: dict[str, Any], entities: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The association with its two ends' types and names as ListAssociations answers them."""
    answer = lineage.public(record)
    for end, arn in (("Source", record["SourceArn"]), ("Destination", record["DestinationArn"])):
        entity = entities.get(arn)
        if entity is None:
            continue
        kind = lineage.association_type_of(entity)
        if kind:
            answer[f"{end}Type"] = kind
        name = lineage.name_of(entity)
        if name:
            answer[f"{end}Name"] = name
    return answer


@action("ListAssociations")
def list_associations(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        entities = lineage.entities_by_arn(engine)
        selected = [summary(r, entities) for r in engine.store.all(KIND)]
    for key in ("SourceArn", "DestinationArn", "SourceType", "DestinationType", "AssociationType"):
        if params.get(key):
            wanted = (
                lineage.canonical_arn(engine, params[key]) if key.endswith("Arn") else params[key]
            )
            selected = [a for a in selected if a.get(key) == wanted]
    if params.get("CreatedAfter") is not None:
        selected = [a for a in selected if a["CreationTime"] > params["CreatedAfter"]]
    if params.get("CreatedBefore") is not None:
        selected = [a for a in selected if a["CreationTime"] < params["CreatedBefore"]]
    sort_key = params.get("SortBy", "CreationTime")
    selected.sort(
        key=lambda a: (
            (a.get(sort_key) or "", a["CreationTime"])
            if sort_key != "CreationTime"
            else (a["CreationTime"],)
        ),
        reverse=params.get("SortOrder", "Descending") == "Descending",
    )
    start = lineage.page_start(params.get("NextToken"))
    return paged("AssociationSummaries", selected, params, start=start)
