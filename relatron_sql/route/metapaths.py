"""Two-hop meta-paths that link entities of a task's table to each other.

- ``E.fk -> P <- E.fk``: entities sharing a parent row (users of one group). The link is the
  entity's own column, known from the entity's time on, however long ago that was.
- ``E <- C.ce, C.cp -> P``: entities sharing a parent row through a child table (drivers whose
  results share a race). The child's time column, when it has one, says when the link appears;
  such links are events, and only recent ones count (``signals.LOOKBACK``).
- Direct links, where the shared table's row names two entities itself: ``E.fk -> E`` (a user
  and the user who referred them) and ``E <- C.ce & C.cp -> E`` (the origin and destination
  airports of one flight, a follower and the one they follow).
"""
from __future__ import annotations

import dataclasses

from ..schema import Schema


@dataclasses.dataclass(frozen=True)
class MetaPath:
    name: str
    table: str            # the table whose rows carry the link
    entity_column: str    # column of ``table`` holding the entity id
    shared_column: str    # column of ``table`` whose equal values link two entities
    time_column: str | None
    event: bool = True    # a child row's link (recent ones count) or the entity's own column
    direct: bool = False  # the two columns of one row name the two entities (no shared parent)


def metapaths(schema: Schema, entity: str) -> list[MetaPath]:
    ent = schema.table(entity, "entity")
    out = []
    for col, parent in ent.foreign_keys.items():
        out.append(MetaPath(f"{entity}.{col}->{parent}<-{entity}", entity, ent.primary_key, col,
                            ent.time_column, event=False))
        if parent == entity:
            out.append(MetaPath(f"{entity}.{col}->{entity}", entity, ent.primary_key, col,
                                ent.time_column, event=False, direct=True))
    for child, ce, parent in schema.edges():
        if parent != entity:
            continue
        c = schema.tables[child]
        for cp, other in c.foreign_keys.items():
            if cp == ce:
                continue
            out.append(MetaPath(f"{entity}<-{child}.{ce}|{child}.{cp}->{other}", child, ce, cp,
                                c.time_column))
            if other == entity and ce < cp and child != entity:   # each pair of columns once
                out.append(MetaPath(f"{entity}<-{child}.{ce}&{child}.{cp}->{entity}", child, ce,
                                    cp, c.time_column, direct=True))
    return out
