"""The dependency graph of a catalog, observed edges merged in, and the blast radius of one
service: what depends on it (downstream: what the change can break) and what it depends on
(upstream), each to a depth.

An edge A → B means A needs B: A lists B in dependsOn, or A consumes an API that B provides,
or A was seen calling B in the traces' service graph (client A, server B).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from apps.scenarios.change_impact.catalog import Catalog, Entity

MAX_DEPTH = 6
EXTERNAL = "external"


@dataclass
class Edge:
    src: str  # node key (Ref.key, or "external:<name>" for a name only the traces know)
    dst: str
    via: list[str] = field(default_factory=list)  # "dependsOn", "api:<name>"
    line: int | None = None  # where the catalog declares it
    observed: bool = False
    rate: float | None = None  # requests per second, from the traces

    @property
    def declared(self) -> bool:
        return bool(self.via)


@dataclass(frozen=True)
class Observed:
    client: str
    server: str
    rate: float


@dataclass
class Node:
    key: str
    name: str
    kind: str  # component, resource, system, api, external
    owner: str = ""
    depth: int = 0
    side: str = ""  # "down", "up", "" for the changed service
    parent: str = ""  # the node one step nearer the changed service
    edge: Edge | None = None  # the edge between parent and this node


class Graph:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.edges: dict[tuple[str, str], Edge] = {}
        self.names: dict[str, str] = {}  # lower-case bare name → key (component first)
        for kind in ("component", "resource", "system", "api"):
            for entity in catalog.entities.values():
                if entity.kind == kind:
                    self.names.setdefault(entity.ref.name, entity.ref.key)
        providers: dict[str, list[str]] = {}
        for entity in catalog.entities.values():
            for api, _line in entity.provides_apis:
                providers.setdefault(api.key, []).append(entity.ref.key)
        self.providers = providers
        for entity in catalog.entities.values():
            if entity.kind == "api":
                continue
            for ref, line in entity.depends_on:
                self._declare(entity.ref.key, ref.key, "dependsOn", line)
            for api, line in entity.consumes_apis:
                for provider in providers.get(api.key, []) or [api.key]:
                    if provider != entity.ref.key:
                        self._declare(entity.ref.key, provider, f"api:{api.name}", line)

    def _declare(self, src: str, dst: str, via: str, line: int) -> None:
        edge = self.edges.setdefault((src, dst), Edge(src, dst, line=line))
        if via not in edge.via:
            edge.via.append(via)

    def key_of(self, name: str) -> str:
        """The node of a service name as the traces write it."""
        return self.names.get(name.lower()) or f"{EXTERNAL}:{name}"

    def observe(self, observed: list[Observed]) -> None:
        for o in observed:
            src, dst = self.key_of(o.client), self.key_of(o.server)
            if src == dst:
                continue
            edge = self.edges.setdefault((src, dst), Edge(src, dst))
            edge.observed = True
            edge.rate = (edge.rate or 0.0) + o.rate

    def entity(self, key: str) -> Entity | None:
        return self.catalog.entities.get(key)

    def node(self, key: str) -> Node:
        entity = self.entity(key)
        if entity is None:
            kind, _sep, name = key.partition(":")
            if kind != EXTERNAL:
                name = name.split("/", 1)[-1]
            return Node(key, name, kind)
        owner = entity.owner.short().removeprefix("group:") if entity.owner else ""
        return Node(key, entity.name, entity.kind, owner=owner)

    # --- blast radius ------------------------------------------------------------------

    def group_of(self, target: Entity) -> set[str]:
        """The nodes that are "the service": a System is its parts, an API its providers."""
        if target.kind == "system":
            return {r.key for r in target.has_part} | {target.ref.key}
        if target.kind == "api":
            return set(self.providers.get(target.ref.key, [])) | {target.ref.key}
        return {target.ref.key}

    def radius(self, target: Entity, depth: int) -> tuple[list[Node], list[Node]]:
        """(downstream, upstream) to `depth` steps, nearest first, each node once."""
        group = self.group_of(target)
        out_adj: dict[str, list[Edge]] = {}
        in_adj: dict[str, list[Edge]] = {}
        for edge in self.edges.values():
            out_adj.setdefault(edge.src, []).append(edge)
            in_adj.setdefault(edge.dst, []).append(edge)

        def walk(side: str) -> list[Node]:
            found: dict[str, Node] = {}
            queue: deque[tuple[str, int]] = deque((g, 0) for g in sorted(group))
            while queue:
                key, d = queue.popleft()
                if d >= depth:
                    continue
                edges = in_adj.get(key, []) if side == "down" else out_adj.get(key, [])
                for edge in sorted(edges, key=lambda e: (e.src, e.dst)):
                    other = edge.src if side == "down" else edge.dst
                    if other in group or other in found:
                        continue
                    node = self.node(other)
                    node.depth, node.side, node.parent, node.edge = d + 1, side, key, edge
                    found[other] = node
                    queue.append((other, d + 1))
            return sorted(found.values(), key=lambda n: (n.depth, n.name))

        return walk("down"), walk("up")
