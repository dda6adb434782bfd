"""QueryLineage: the entities connected to a start ARN, walking associations.

``Ascendants`` walks edges backwards (what went into the start), ``Descendants`` forwards (what
came out of it), ``Both`` either way from every entity reached (the documented "not only from
the starting node, but from each node that is visited"), at most ``MaxDepth`` (default and
limit 10) hops. ``Filters`` select the vertices answered: ``LineageTypes`` (TrialComponent,
Artifact, Context, Action), ``Types`` (DataSet, Model, Image, TrainingJob, ModelGroup, ...),
created / modified bounds and ``Properties``. With ``IncludeEdges`` the answer also holds the
associations walked and the entities on the paths to the selected ones, as the API documents;
without it, only the selected entities. The start entity is a vertex like any other.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from emulator.sagemaker import lineage
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound
from emulator.sagemaker.listing import page, with_token
from emulator.sagemaker.registry import action

DEFAULT_DEPTH = 10
# SDK code (LineageQuery.query) reads one page and never passes NextToken: the limit, 50.
DEFAULT_MAX_RESULTS = 50


def edges_by_end(engine: Engine) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """Associations by source ARN and by destination ARN."""
    outgoing: dict[str, list[dict]] = {}
    incoming: dict[str, list[dict]] = {}
    for record in engine.store.all(lineage.ASSOCIATION):
        outgoing.setdefault(record["SourceArn"], []).append(record)
        incoming.setdefault(record["DestinationArn"], []).append(record)
    return outgoing, incoming


def walk(
    engine: Engine, entities: dict[str, dict], start: str, direction: str, depth: int
) -> tuple[list[str], dict[str, tuple[str, dict] | None], list[dict]]:
    """Breadth first from ``start``: (ARNs in the order reached, how each was first reached,
    every association walked)."""
    outgoing, incoming = edges_by_end(engine)
    reached: dict[str, tuple[str, dict] | None] = {start: None}
    order = [start]
    walked: dict[tuple[str, str], dict] = {}
    queue = deque([(start, 0)])
    while queue:
        arn, hops = queue.popleft()
        if hops >= depth:
            continue
        steps: list[tuple[str, dict]] = []
        if direction in ("Descendants", "Both"):
            steps += [(edge["DestinationArn"], edge) for edge in outgoing.get(arn, [])]
        if direction in ("Ascendants", "Both"):
            steps += [(edge["SourceArn"], edge) for edge in incoming.get(arn, [])]
        for neighbour, edge in steps:
            if neighbour not in entities:
                continue  # an edge to something deleted or in another account
            walked[(edge["SourceArn"], edge["DestinationArn"])] = edge
            if neighbour not in reached:
                reached[neighbour] = (arn, edge)
                order.append(neighbour)
                queue.append((neighbour, hops + 1))
    return order, reached, list(walked.values())


def selected(record: dict[str, Any], arn: str, filters: dict[str, Any]) -> bool:
    if filters.get("LineageTypes") and lineage.lineage_type(arn) not in filters["LineageTypes"]:
        return False
    if filters.get("Types") and lineage.vertex_type_of(record) not in filters["Types"]:
        return False
    for key, field, after in (
        ("CreatedAfter", "CreationTime", True),
        ("CreatedBefore", "CreationTime", False),
        ("ModifiedAfter", "LastModifiedTime", True),
        ("ModifiedBefore", "LastModifiedTime", False),
    ):
        bound = filters.get(key)
        if bound is not None and (field not in record or (record[field] > bound) != after):
            return False
    properties = record.get("Properties", {})
    return all(properties.get(k) == v for k, v in filters.get("Properties", {}).items())


def vertex(record: dict[str, Any], arn: str) -> dict[str, Any]:
    answer = {"Arn": arn, "LineageType": lineage.lineage_type(arn)}
    kind = lineage.vertex_type_of(record)
    if kind:
        answer["Type"] = kind[:40]
    return answer


def edge(record: dict[str, Any]) -> dict[str, Any]:
    answer = {"SourceArn": record["SourceArn"], "DestinationArn": record["DestinationArn"]}
    if record.get("AssociationType"):
        answer["AssociationType"] = record["AssociationType"]
    return answer


@action("QueryLineage")
def query_lineage(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    direction = params.get("Direction", "Both")
    depth = params.get("MaxDepth", DEFAULT_DEPTH)
    filters = params.get("Filters", {})
    include_edges = params.get("IncludeEdges", True)
    vertices: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.store.lock:
        entities = lineage.entities_by_arn(engine)
        for start in params.get("StartArns", []):
            start = lineage.canonical_arn(engine, start)
            if start not in entities:
                raise ResourceNotFound(f"Lineage entity {start} does not exist.")
            order, reached, walked = walk(engine, entities, start, direction, depth)
            chosen = [a for a in order if selected(entities[a], a, filters)]
            shown = set(chosen)
            if include_edges and filters:
                # the entities and associations on each chosen vertex's path from the start
                for arn in chosen:
                    step = reached[arn]
                    while step is not None:
                        previous, association = step
                        edges[(association["SourceArn"], association["DestinationArn"])] = edge(
                            association
                        )
                        shown.add(previous)
                        step = reached[previous]
            elif include_edges:
                for association in walked:
                    edges[(association["SourceArn"], association["DestinationArn"])] = edge(
                        association
                    )
            for arn in order:
                if arn in shown and arn not in vertices:
                    vertices[arn] = vertex(entities[arn], arn)
    answered = list(vertices.values())
    start = lineage.page_start(params.get("NextToken"))
    shown_vertices, token = page(answered, params, DEFAULT_MAX_RESULTS, start)
    edges_shown = list(edges.values()) if start == 0 else []
    return with_token({"Vertices": shown_vertices, "Edges": edges_shown}, token)
