"""QueryLineage on a graph built by hand: directions, depth, filters, edges, pages.

data ─ContributedTo─► train (action) ─Produced─► model ─ContributedTo─► deploy ─► endpoint
image ─ContributedTo─┘                                                 (context)
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


@pytest.fixture()
def graph(aws) -> dict[str, str]:
    sagemaker = aws("sagemaker")
    tag = uuid.uuid4().hex[:8]

    def artifact(kind: str) -> str:
        return sagemaker.create_artifact(
            Source={"SourceUri": f"s3://graph/{tag}/{kind}"},
            ArtifactType=kind,
            Properties={"graph": tag},
        )["ArtifactArn"]

    def action(name: str, kind: str) -> str:
        return sagemaker.create_action(
            ActionName=f"{name}-{tag}", Source={"SourceUri": name}, ActionType=kind
        )["ActionArn"]

    arns = {
        "data": artifact("DataSet"),
        "image": artifact("Image"),
        "train": action("train", "Training"),
        "model": artifact("Model"),
        "deploy": action("deploy", "ModelDeployment"),
        "endpoint": sagemaker.create_context(
            ContextName=f"endpoint-{tag}", Source={"SourceUri": "ep"}, ContextType="Endpoint"
        )["ContextArn"],
    }
    for source, destination, kind in (
        ("data", "train", "ContributedTo"),
        ("image", "train", "ContributedTo"),
        ("train", "model", "Produced"),
        ("model", "deploy", "ContributedTo"),
        ("deploy", "endpoint", "AssociatedWith"),
    ):
        sagemaker.add_association(
            SourceArn=arns[source], DestinationArn=arns[destination], AssociationType=kind
        )
    return arns


def names(graph: dict[str, str], vertices: list[dict]) -> set[str]:
    by_arn = {arn: name for name, arn in graph.items()}
    return {by_arn[v["Arn"]] for v in vertices}


def test_directions_and_depth(aws, graph) -> None:
    sagemaker = aws("sagemaker")
    up = sagemaker.query_lineage(StartArns=[graph["model"]], Direction="Ascendants")
    assert names(graph, up["Vertices"]) == {"model", "train", "data", "image"}
    assert len(up["Edges"]) == 3
    down = sagemaker.query_lineage(StartArns=[graph["model"]], Direction="Descendants")
    assert names(graph, down["Vertices"]) == {"model", "deploy", "endpoint"}
    everything = sagemaker.query_lineage(StartArns=[graph["data"]], Direction="Both")
    assert names(graph, everything["Vertices"]) == set(graph)
    assert len(everything["Edges"]) == 5
    near = sagemaker.query_lineage(StartArns=[graph["data"]], Direction="Descendants", MaxDepth=2)
    assert names(graph, near["Vertices"]) == {"data", "train", "model"}


def test_filters_select_vertices_and_edges_show_the_path(aws, graph) -> None:
    sagemaker = aws("sagemaker")
    contexts = sagemaker.query_lineage(
        StartArns=[graph["data"]],
        Direction="Descendants",
        Filters={"LineageTypes": ["Context"]},
        IncludeEdges=False,
    )
    assert contexts["Vertices"] == [
        {"Arn": graph["endpoint"], "Type": "Endpoint", "LineageType": "Context"}
    ]
    assert contexts["Edges"] == []
    with_path = sagemaker.query_lineage(
        StartArns=[graph["endpoint"]],
        Direction="Ascendants",
        Filters={"Types": ["DataSet"]},
        IncludeEdges=True,
    )
    assert names(graph, with_path["Vertices"]) == {"endpoint", "deploy", "model", "train", "data"}
    assert {(e["SourceArn"], e["DestinationArn"]) for e in with_path["Edges"]} == {
        (graph["data"], graph["train"]),
        (graph["train"], graph["model"]),
        (graph["model"], graph["deploy"]),
        (graph["deploy"], graph["endpoint"]),
    }
    # the artifacts carry Properties {"graph": <this graph's tag>}; the actions none
    tag = sagemaker.describe_artifact(ArtifactArn=graph["data"])["Properties"]["graph"]
    by_property = sagemaker.query_lineage(
        StartArns=[graph["endpoint"]],
        Direction="Ascendants",
        Filters={"Properties": {"graph": tag}},
        IncludeEdges=False,
    )
    assert names(graph, by_property["Vertices"]) == {"data", "image", "model"}


def test_pages_and_unknown_start(aws, graph) -> None:
    sagemaker = aws("sagemaker")
    first = sagemaker.query_lineage(StartArns=[graph["data"]], MaxResults=4)
    assert len(first["Vertices"]) == 4 and first["NextToken"]
    rest = sagemaker.query_lineage(
        StartArns=[graph["data"]], MaxResults=4, NextToken=first["NextToken"]
    )
    assert names(graph, first["Vertices"] + rest["Vertices"]) == set(graph)
    assert "NextToken" not in rest
    with pytest.raises(ClientError) as error:
        sagemaker.query_lineage(
            StartArns=["arn:aws:sagemaker:us-east-1:123456789012:artifact/" + "f" * 32]
        )
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"
