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
    return page(selected, params)


def page(
    items: list[Any],
    params: dict[str, Any],
    default_size: int = DEFAULT_MAX_RESULTS,
    start: int | None = None,
) -> tuple[list[Any], str | None]:
    """The page of ``items`` that NextToken (an offset this emulator handed out, unless
    ``start`` says where) and MaxResults select, and the NextToken after it (None: the last)."""
    first = int(params.get("NextToken") or 0) if start is None else start
    size = params.get("MaxResults") or default_size
    token = str(first + size) if first + size < len(items) else None
    return items[first : first + size], token


def paged(
    list_key: str,
    items: list[Any],
    params: dict[str, Any],
    default_size: int = DEFAULT_MAX_RESULTS,
    start: int | None = None,
) -> dict[str, Any]:
    """A List* answer: the page of ``items`` under ``list_key``, plus NextToken."""
    selected, token = page(items, params, default_size, start)
    return with_token({list_key: selected}, token)


def with_token(result: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        result["NextToken"] = token
    return result


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
    selected, token = list_records(records, params, name_key=name_key, status_key=status_key)
    summaries = [{key: r[key] for key in summary_keys if key in r} for r in selected]
    return with_token({list_key: summaries}, token)


def created_window(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with CreatedAfter / CreatedBefore (the lineage and pipeline-execution List*
    calls' names) as the CreationTimeAfter / CreationTimeBefore that list_records reads."""
    return {
        **params,
        "CreationTimeAfter": params.get("CreatedAfter"),
        "CreationTimeBefore": params.get("CreatedBefore"),
    }
