"""The ORM side of a fix: eager loaders along a relationship path, class names.

Shared by the rules that tell a SQLAlchemy user what to write instead: ADV001
(``selectinload(User.orders).selectinload(Order.items)``) and ADV002
(``load_only(Product.id, ...)``, ``defer(Product.description)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from advisor.model import CallSite, OrmLoad, Workload

__all__ = [
    "LazySites",
    "class_name",
    "lazy_sites",
    "loader_fix",
    "outer_loads",
    "relationship_hops",
]


def loader_fix(orm: OrmLoad, outer: Sequence[OrmLoad] = ()) -> str:
    """The ``.options(...)`` that loads ``orm``'s attribute eagerly, chained along its path.

    ``outer`` are the lazy loads that produced ``orm``'s parents, outermost first: their
    hops come first in the chain (``selectinload(User.orders).selectinload(Order.items)``).
    """
    if orm.kind == "column":
        # A deferred-column load names every column it loaded: "description,image".
        parent = orm.parent or "Model"
        names = [a for a in (orm.attribute or "column").split(",") if a]
        return f".options({', '.join(f'undefer({parent}.{a})' for a in names)})"
    hops = [hop for load in (*outer, orm) for hop in relationship_hops(load)]
    loaders = [
        f"{'joinedload' if direction == 'MANYTOONE' else 'selectinload'}({parent}.{attribute})"
        for parent, attribute, direction in hops
    ]
    return f".options({'.'.join(loaders)})"


def relationship_hops(orm: OrmLoad) -> list[tuple[str, str, str | None]]:
    """(parent, attribute, direction) per hop; only the last hop's direction is known."""
    path = orm.path
    if len(path) >= 2 and len(path) % 2 == 0:
        pairs = [(path[i], path[i + 1]) for i in range(0, len(path), 2)]
    else:
        pairs = [(orm.parent or "Parent", orm.attribute or "children")]
    return [
        (p, a, orm.direction if i == len(pairs) - 1 else None) for i, (p, a) in enumerate(pairs)
    ]


LazySites = Mapping[CallSite, tuple[OrmLoad, CallSite | None]]
"""A line that ran a lazy load -> that load and the line that loaded its parents."""


def lazy_sites(workload: Workload) -> dict[CallSite, tuple[OrmLoad, CallSite | None]]:
    """Lines that ran a lazy load (in any scope): their load and its origin line."""
    sites: dict[CallSite, tuple[OrmLoad, CallSite | None]] = {}
    for group in workload.groups:
        if group.orm is not None and group.orm.kind == "lazy" and group.call_site is not None:
            sites.setdefault(group.call_site, (group.orm, group.origin))
    return sites


def outer_loads(
    orm: OrmLoad, origin: CallSite | None, sites: LazySites
) -> tuple[list[OrmLoad], CallSite | None]:
    """Follow ``origin`` while it is itself a lazy load of ``orm``'s parent class.

    A nested loop (``for user ...: for order in user.orders: order.items``) records the
    inner load's origin at the outer lazy load; the fix belongs on the root query, as one
    chain. Returns the outer loads (outermost first) and the root query's line.
    """
    chain: list[OrmLoad] = []
    current, seen = orm, set()
    while origin is not None and origin in sites and origin not in seen and len(chain) < 4:
        seen.add(origin)
        outer, outer_origin = sites[origin]
        if None not in (outer.target, current.parent) and outer.target != current.parent:
            break
        chain.insert(0, outer)
        current, origin = outer, outer_origin
    return chain, origin


def class_name(table: str) -> str:
    """A mapped-class-ish name for a table: ``order_items`` -> ``OrderItem``."""
    words = table.split(".")[-1].strip('"').split("_")
    last = words[-1]
    if last.endswith("ies") and len(last) > 3:
        last = last[:-3] + "y"
    elif last.endswith(("sses", "xes", "ches", "shes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    words[-1] = last
    return "".join(w[:1].upper() + w[1:] for w in words if w)
