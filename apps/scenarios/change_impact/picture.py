"""The blast radius as a picture: the service in the middle, what depends on it to the left
(one column per step), what it depends on to the right; every arrow points from the one that
needs to the one needed. Only positions and names are computed here; the template draws the
inline SVG (escaped by Django like any text, no script, no external file)."""

from __future__ import annotations

from typing import Any

from apps.scenarios.change_impact.catalog import Entity
from apps.scenarios.change_impact.graph import Graph, Node

COLUMN = 200
NODE_W = 164
NODE_H = 30
ROW = 42
MARGIN = 12
PER_COLUMN = 24
LABEL_CHARS = 22


def _label(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"


def _edge_class(node: Node) -> str:
    edge = node.edge
    if edge is None:
        return "edge"
    if edge.observed and not edge.declared:
        return "edge edge-undeclared"
    if edge.declared and edge.observed:
        return "edge edge-seen"
    return "edge"


def layout(graph: Graph, target: Entity, down: list[Node], up: list[Node]) -> dict[str, Any]:
    max_down = max((n.depth for n in down), default=0)
    max_up = max((n.depth for n in up), default=0)
    columns: dict[int, list[Node]] = {}
    for node in down:
        columns.setdefault(max_down - node.depth, []).append(node)
    for node in up:
        columns.setdefault(max_down + node.depth, []).append(node)
    center = max_down
    rows = max([1, *(min(len(c), PER_COLUMN + 1) for c in columns.values())])
    height = MARGIN * 2 + rows * ROW
    width = MARGIN * 2 + (max_down + max_up) * COLUMN + NODE_W
    where: dict[str, tuple[int, int]] = {}
    nodes: list[dict[str, Any]] = []

    def place(col: int, row: int, count: int) -> tuple[int, int]:
        top = MARGIN + (rows - count) * ROW // 2
        return MARGIN + col * COLUMN, top + row * ROW

    x, y = place(center, 0, 1)
    where[target.ref.key] = (x, y)
    for key in graph.group_of(target):
        where.setdefault(key, (x, y))
    nodes.append(
        {"x": x, "y": y, "label": _label(target.name), "title": target.ref.short(),
         "cls": "node node-target", "kind": target.kind}
    )  # fmt: skip
    more: list[dict[str, Any]] = []
    for col, members in sorted(columns.items()):
        shown = members[:PER_COLUMN]
        count = len(shown) + (1 if len(members) > PER_COLUMN else 0)
        for row, node in enumerate(shown):
            x, y = place(col, row, count)
            where[node.key] = (x, y)
            kind_cls = "node-external" if node.kind == "external" else f"node-{node.kind}"
            nodes.append(
                {"x": x, "y": y, "label": _label(node.name), "kind": node.kind,
                 "title": f"{node.name} ({node.kind}){' — ' + node.owner if node.owner else ''}",
                 "cls": f"node {kind_cls}"}
            )  # fmt: skip
        if len(members) > PER_COLUMN:
            x, y = place(col, len(shown), count)
            more.append({"x": x, "y": y, "n": len(members) - PER_COLUMN})
    edges: list[dict[str, Any]] = []
    for node in [*down, *up]:
        if node.key not in where or node.parent not in where:
            continue
        (nx, ny), (px, py) = where[node.key], where[node.parent]
        # Left to right: the one that needs → the one needed.
        (ax, ay), (bx, by) = ((nx, ny), (px, py)) if node.side == "down" else ((px, py), (nx, ny))
        edges.append(
            {"x1": ax + NODE_W, "y1": ay + NODE_H // 2, "x2": bx - 4, "y2": by + NODE_H // 2,
             "cls": _edge_class(node)}
        )  # fmt: skip
    return {
        "width": width,
        "height": height,
        "node_w": NODE_W,
        "node_h": NODE_H,
        "nodes": nodes,
        "edges": edges,
        "more": more,
    }
