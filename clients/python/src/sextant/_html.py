"""HTML tables for Jupyter: how projects, models, datasets and jobs show in a notebook."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any


def table_html(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Listing(list):
    """Models or datasets of a project: a list of dicts that shows as a table in Jupyter."""

    def __init__(self, kind: str, items: Iterable[dict[str, Any]]) -> None:
        super().__init__(items)
        self.kind = kind

    def _repr_html_(self) -> str:
        if self.kind == "model":
            rows = [
                [
                    m["name"],
                    m["summary"]["format"],
                    m["summary"]["objective"],
                    len(m["summary"]["features"]),
                    m["sha256"][:12],
                ]
                for m in self
            ]
            return table_html(["model", "format", "objective", "features", "sha256"], rows)
        rows = [
            [
                d["name"],
                d["summary"]["role"],
                d["summary"]["rows"],
                d["summary"]["format"],
                d["sha256"][:12],
            ]
            for d in self
        ]
        return table_html(["dataset", "role", "rows", "format", "sha256"], rows)
