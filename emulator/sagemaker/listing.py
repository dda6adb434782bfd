"""The List* conventions shared by every resource: filters, sorting and pagination."""

from __future__ import annotations

from typing import Any

DEFAULT_MAX_RESULTS = 10


def list_records(
    records: list[dict[str, Any]],
    params: dict[str, Any],
    *,
    name_key: str,
    status_key: str | None = None,
    status_param: str = "StatusEquals",
) -> tuple[list[dict[str, Any]], str | None]:
    """Filter by NameContains / status / CreationTime*/LastModifiedTime*, sort, paginate."""
    selected = list(records)
    if params.get("NameContains"):
        needle = params["NameContains"].lower()
        selected = [r for r in selected if needle in r[name_key].lower()]
    if status_key and params.get(status_param):
        selected = [r for r in selected if r.get(status_key) == params[status_param]]
    for key, field, after in (
        ("CreationTimeAfter", "CreationTime", True),
        ("CreationTimeBefore", "CreationTime", False),
        ("LastModifiedTimeAfter", "LastModifiedTime", True),
        ("LastModifiedTimeBefore", "LastModifiedTime", False),
    ):
        if params.get(key) is not None and selected and field in selected[0]:
            bound = params[key]
            selected = [r for r in selected if (r[field] > bound) == after]
    sort_by = params.get("SortBy", "CreationTime")
    sort_key = {"Name": name_key, "Status": status_key}.get(sort_by, "CreationTime")
    descending = params.get("SortOrder", "Descending") == "Descending"
    selected.sort(key=lambda r: r.get(sort_key) or "", reverse=descending)
    start = int(params.get("NextToken") or 0)
    size = params.get("MaxResults") or DEFAULT_MAX_RESULTS
    page = selected[start : start + size]
    token = str(start + size) if start + size < len(selected) else None
    return page, token


def list_response(
    records: list[dict[str, Any]],
    params: dict[str, Any],
    *,
    list_key: str,
    summary_keys: tuple[str, ...],
    name_key: str,
    status_key: str | None = None,
) -> dict[str, Any]:
    """A List* response: the selected page as summaries under ``list_key``, plus NextToken."""
    page, token = list_records(records, params, name_key=name_key, status_key=status_key)
    result: dict[str, Any] = {
        list_key: [{key: record[key] for key in summary_keys if key in record} for record in page]
    }
    if token:
        result["NextToken"] = token
    return result


def created_window(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with CreatedAfter / CreatedBefore (the lineage and pipeline-execution List*
    calls' names) as the CreationTimeAfter / CreationTimeBefore that list_records reads."""
    return {
        **params,
        "CreationTimeAfter": params.get("CreatedAfter"),
        "CreationTimeBefore": params.get("CreatedBefore"),
    }
