"""The ORM side of a fix: eager loaders along a relationship path, class names.

Shared by the rules that tell a SQLAlchemy user what to write instead: ADV001
(``selectinload(User.orders).selectinload(Order.items)``) and ADV002
(``load_only(Product.id, ...)``, ``defer(Product.description)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from advisor.model import CallSite, Hop, OrmLoad, Workload

__all__ = [
    "LazySites",
    "class_name",
    "combined_loaders",
    "eager_fix",
    "expired_fix",
    "full_path",
    "lazy_sites",
    "loader_fix",
    "outer_loads",
    "relationship_hops",
    "serialized_at",
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


def full_path(orm: OrmLoad, outer: Sequence[OrmLoad] = ()) -> tuple[Hop, ...]:
    """Every hop from the root query's rows to ``orm``'s attribute.

    The capture's recorded chain (``orm.chain``, each hop with its direction) when there
    is one; else the loader path and the ``outer`` loads found by :func:`outer_loads`.
    """
    if orm.chain and orm.parent and orm.attribute:
        return (*orm.chain, Hop(orm.parent, orm.attribute, orm.direction))
    return tuple(
        Hop(parent, attribute, direction)  # type: ignore[arg-type]
        for load in (*outer, orm)
        for parent, attribute, direction in relationship_hops(load)
    )


def _loader(hop: Hop) -> str:
    name = "joinedload" if hop.direction == "MANYTOONE" else "selectinload"
    return f"{name}({hop.parent}.{hop.attribute})"


def combined_loaders(paths: Sequence[Sequence[Hop]], extra: Sequence[str] = ()) -> str:
    """One ``.options(...)`` loading every path, shared prefixes written once.

    ``[[User.orders, Order.items], [User.orders, Order.user], [User.group]]`` gives
    ``.options(selectinload(User.orders).options(selectinload(Order.items),
    joinedload(Order.user)), joinedload(User.group))``. ``extra`` options (``undefer``)
    follow the loaders.
    """
    tree: dict[Hop, dict] = {}  # type: ignore[type-arg]
    for path in paths:
        node = tree
        for hop in path:
            # Directions of outer hops may be unknown in one path and known in another.
            same = next(
                (h for h in node if (h.parent, h.attribute) == (hop.parent, hop.attribute)), None
            )
            if same is not None and same.direction is None and hop.direction is not None:
                node[hop] = node.pop(same)
                same = hop
            node = node.setdefault(same or hop, {})
    options = [_render(hop, tree[hop]) for hop in tree]
    return f".options({', '.join([*options, *extra])})"


def _render(hop: Hop, children: dict) -> str:  # type: ignore[type-arg]
    text = _loader(hop)
    if len(children) == 1:
        [(child, grand)] = children.items()
        return f"{text}.{_render(child, grand)}"
    if children:
        inner = ", ".join(_render(child, grand) for child, grand in children.items())
        return f"{text}.options({inner})"
    return text


def eager_fix(
    roots: dict[CallSite | None, list[OrmLoad]],
    paths: dict[OrmLoad, tuple[Hop, ...]],
    serializer: str | None,
) -> str:
    """The eager-loading fix per root query; with a serializer, the alternatives too."""
    parts = []
    for root, orms in roots.items():
        relationships = [paths[o] for o in orms if o.kind == "lazy" and paths[o]]
        columns = [
            f"undefer({o.parent}.{a})" for o in orms if o.kind == "column" for a in _names(o)
        ]
        options = combined_loaders(relationships, columns)
        at = f"the query at {root}" if root is not None else "the query that loads them"
        parts.append(f"add `{options}` to {at}")
    fix = "; ".join(parts)
    if serializer:
        fix += (
            f" - or, since {serializer} reads every attribute of the response model, trim the "
            "model to the fields the client needs, or mark the relationships "
            '`lazy="raise"` (`.options(raiseload("*"))`) so an unplanned read fails in tests'
        )
    return fix


def expired_fix(orms: Sequence[OrmLoad]) -> str:
    """Reloads after ``commit()``: keep the objects loaded, never ``undefer``."""
    names = ", ".join(f"{o.parent}.{a}" for o in orms for a in _names(o))
    return (
        f"commit() expired {names or 'the objects'} and each object reloaded them on the "
        "next read: create the session with `expire_on_commit=False`, or read what you "
        "need before the commit (`session.refresh(obj, [...])` only for what changed)"
    )


def _names(orm: OrmLoad) -> list[str]:
    return [a for a in (orm.attribute or "").split(",") if a]


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


def serialized_at(workload: Workload) -> dict[CallSite, str]:
    """Lines of queries whose rows a serializer read (root and origin of its loads), and which.

    Pydantic's ``from_attributes`` or a response model reads every field of every object:
    the rows of the query at such a line are read whole, whatever the query loads.
    """
    found: dict[CallSite, str] = {}
    for group in workload.groups:
        orm = group.orm
        if orm is None or orm.serializer is None:
            continue
        for site in (orm.root, group.origin):
            if site is not None:
                found.setdefault(site, orm.serializer)
    return found


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
