"""What the ORM says about a statement (``do_orm_execute``), and where objects came from.

A real lazy load has ``lazy_loaded_from`` set; a deferred-column load has
``is_column_load``; selectinload/subqueryload (and immediate loads) run with a non-root
``loader_strategy_path`` but no ``lazy_loaded_from``: they are the fix, marked batched.
The *origin* of a lazy load is the call site of the query that loaded its parent
object, found through the ``runid`` SQLAlchemy stamps on the parent (:class:`Origins`), with
the *root*: the query the chain of lazy loads started from, and the hops since (``chain``).
A column load is told apart from the mapper and the stack: a reload of attributes that
``commit()`` expired (``expired``), an explicit ``Session.refresh()`` (``refresh``), or a
deferred column (``column``); only the last is fixed by ``undefer``.

Which query a ``runid`` belongs to is learnt once per ORM query (:func:`watch_queries`),
where SQLAlchemy turns a cursor result into objects (``sqlalchemy.orm.loading.instances``,
which stamps the query context's ``runid`` on every object it loads). The mapper's ``load``
and ``refresh`` events would tell it too, but once per *row*: on the example service's
endpoints, measured under callgrind, those two listeners cost 0.24 M instructions per
request (3.7 % of a 6.4 M request) for what one call per query learns.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import Any

from advisor.capture.context import CURRENT_SCOPE, FALLBACK_SCOPE
from advisor.capture.frames import Site

__all__ = [
    "Loaded",
    "Origins",
    "current_scope_id",
    "describe",
    "loaded",
    "path_names",
    "unwatch_queries",
    "watch_queries",
]

Loaded = tuple[Site, int | None, Site | None, list[Any]]
"""What is remembered of an ORM query whose rows were loaded: (origin: its call site, the id
of the scope it ran in, root: the query its chain of lazy loads started from, the hops
since). The scope matters because an object kept in the identity map (or a cache) and
lazy-loaded in a later request has its origin in an earlier scope."""

# Queries remembered by Origins; past this the oldest quarter is forgotten (their objects'
# later lazy loads then have no origin).
_MAX_RUNS = 65_536
# How far up the stack a column load or a lazy load looks for Session.refresh or a
# serializer: SQLAlchemy's attribute machinery is ~10 frames, pydantic's a few more.
_STACK_LIMIT = 40
# A frame of one of these modules (or functions) above a load means serialization read it.
_SERIALIZERS = (
    ("/fastapi/", "fastapi"),
    ("/pydantic/", "pydantic"),
    ("/dataclasses.py", "dataclasses"),
)


class Origins:
    """The :data:`Loaded` entry of each ORM query that loaded rows, by its ``runid``.

    SQLAlchemy stamps every instance a query creates (or fully refreshes) with that query's
    ``runid`` (``InstanceState.runid``), so the query an object came from is found from the
    object without storing anything on it: an ``info`` dict per loaded instance (the way
    this was done before) cost more than the rest of capture on an endpoint listing rows,
    most of it in the garbage collector.
    """

    __slots__ = ("_by_run",)

    def __init__(self) -> None:
        self._by_run: dict[int, Loaded] = {}

    def remember(self, runid: int, entry: Loaded) -> None:
        """Record the query ``runid``'s entry (forgetting the oldest ones past a bound)."""
        by_run = self._by_run
        if len(by_run) >= _MAX_RUNS:
            for old in list(itertools.islice(by_run, _MAX_RUNS // 4)):
                by_run.pop(old, None)  # another thread may be forgetting it too
        by_run[runid] = entry

    def of(self, state: Any) -> Loaded | None:
        """The entry of the query that loaded ``state`` (an InstanceState), or None."""
        runid = getattr(state, "runid", None)
        return None if runid is None else self._by_run.get(runid)


QueryWatcher = Callable[[Any], None]
"""Called with each ORM query's ``QueryContext`` once its ``runid`` is set."""

# The watchers of every recorder; while wrapped, SQLAlchemy's own ``instances`` and ours.
_WATCHERS: list[QueryWatcher] = []
_WRAP: dict[str, Any] = {}


def watch_queries(watcher: QueryWatcher) -> None:
    """Call ``watcher(query_context)`` for every ORM query from now on, once its rows are
    about to become objects (its ``runid`` is set). One wrapper of
    ``sqlalchemy.orm.loading.instances`` serves every recorder of the process."""
    from sqlalchemy.orm import loading

    _WATCHERS.append(watcher)
    if _WRAP:
        return
    original = loading.instances

    def instances(cursor: Any, context: Any) -> Any:
        result = original(cursor, context)
        for each in tuple(_WATCHERS):
            each(context)
        return result

    _WRAP.update(original=original, wrapper=instances)
    loading.instances = instances


def unwatch_queries(watcher: QueryWatcher) -> None:
    """Stop calling ``watcher``; the last one gone gives SQLAlchemy its ``instances`` back
    (unless another library wrapped it since: ours then stays, calling nobody)."""
    from sqlalchemy.orm import loading

    if watcher in _WATCHERS:
        _WATCHERS.remove(watcher)
    if _WATCHERS or not _WRAP or loading.instances is not _WRAP["wrapper"]:
        return
    loading.instances = _WRAP["original"]
    _WRAP.clear()


def path_names(path: Any) -> list[str]:
    """``(Mapper[User], orders, Mapper[Order], items)`` as ``["User", "orders", ...]``."""
    names: list[str] = []
    for element in getattr(path, "path", ()):
        class_ = getattr(element, "class_", None)
        if class_ is not None and hasattr(element, "class_manager"):
            names.append(class_.__name__)
        else:
            names.append(str(getattr(element, "key", element)))
    return names


def _relationship_load(kind: str, path: Any) -> dict[str, Any]:
    prop = path[-1] if len(path.path) else None
    direction = getattr(prop, "direction", None)
    parent = getattr(getattr(prop, "parent", None), "class_", None)
    target = getattr(getattr(prop, "mapper", None), "class_", None)
    return {
        "kind": kind,
        "parent": parent.__name__ if parent is not None else None,
        "attribute": getattr(prop, "key", None),
        "path": path_names(path),
        "direction": direction.name if direction is not None else None,
        "target": target.__name__ if target is not None else None,
    }


def loaded(site: Site, orm: dict[str, Any] | None) -> Loaded:
    """The :data:`Loaded` entry of a statement at ``site`` that loaded rows.

    A root query's rows start a chain at its own line; a lazy load's rows continue its
    parent's chain by one hop.
    """
    scope_id = current_scope_id()
    if orm is None or orm.get("kind") != "lazy" or not orm.get("attribute"):
        return site, scope_id, site, []
    hop = [orm.get("parent"), orm["attribute"], orm.get("direction")]
    root = orm.get("root")
    start = site if root is None else (root["path"], root["line"], root["function"], None, None)
    return site, scope_id, start, [*orm.get("chain", ()), hop]


def current_scope_id() -> int | None:
    """The id of the scope statements are recorded under now, None outside any."""
    scope = CURRENT_SCOPE.get() or FALLBACK_SCOPE[0]
    return None if scope is None else scope.id


def _earlier(found: Loaded) -> bool:
    return found[1] is not None and found[1] != current_scope_id()


def _stack(start: Any) -> tuple[bool, str | None]:
    """(inside Session.refresh, the serializer on the stack) above a load."""
    frame, depth = start, _STACK_LIMIT
    serializer = None
    while frame is not None and depth > 0:
        code = frame.f_code
        name = code.co_filename
        if code.co_name == "refresh" and "sqlalchemy" in name and serializer is None:
            return True, None
        if serializer is None:
            for marker, label in _SERIALIZERS:
                if marker in name:
                    serializer = label
                    break
        frame = frame.f_back
        depth -= 1
    return False, serializer


def _column_kind(refresh: Any, props: list[str]) -> tuple[str, list[str]]:
    """``column`` (deferred columns) or ``expired``, and the column names to name."""
    mapper = getattr(refresh, "mapper", None)
    attrs = getattr(mapper, "attrs", None)
    columns: list[str] = []
    deferred = True
    for key in props:
        prop = attrs.get(key) if attrs is not None else None
        if prop is None or not hasattr(prop, "columns"):
            deferred = False  # a relationship: expired, never deferred
            continue
        columns.append(key)
        if not getattr(prop, "deferred", False):
            deferred = False
    if getattr(refresh, "expired", False) or not deferred or not columns:
        return "expired", columns
    return "column", columns


def describe(orm_state: Any, origins: Origins) -> tuple[dict[str, Any] | None, Loaded | None]:
    """The ``orm`` object of a query line, from an ORMExecuteState, and the :data:`Loaded`
    entry of the object it loads for (a lazy load's parent, a column load's object), whose
    call site is the line's origin."""
    # First: on an ORM UPDATE/DELETE, lazy_loaded_from and the loader attributes raise
    # InvalidRequestError ("not against a SELECT statement").
    if not orm_state.is_select:
        return None, None
    lazy_from = orm_state.lazy_loaded_from
    if lazy_from is not None:
        path = orm_state.loader_strategy_path
        load: dict[str, Any] = (
            {"kind": "lazy", "path": []} if path is None else _relationship_load("lazy", path)
        )
        found = origins.of(lazy_from)
        if found is not None:
            root, chain = found[2], found[3]
            if root is not None:
                load["root"] = {"path": root[0], "line": root[1], "function": root[2]}
            if chain:
                load["chain"] = list(chain)
        serializer = _stack(sys._getframe(1))[1]
        if serializer is not None:
            load["serializer"] = serializer
        if found is not None and _earlier(found):
            load["origin_scope"] = "earlier"
        return load, found
    if orm_state.is_column_load:
        refresh = orm_state.load_options._refresh_state
        options = orm_state._orm_compile_options()
        props = sorted(getattr(options, "_only_load_props", None) or ())
        class_ = getattr(refresh, "class_", None)
        parent = class_.__name__ if class_ is not None else None
        refreshing, serializer = _stack(sys._getframe(1))
        kind, columns = ("refresh", props) if refreshing else _column_kind(refresh, props)
        load = {
            "kind": kind,
            "parent": parent,
            "attribute": ",".join(columns) or None,
            "path": [parent] if parent else [],
            "direction": None,
            "target": None,
        }
        if serializer is not None:
            load["serializer"] = serializer
        return load, origins.of(refresh) if refresh is not None else None
    path = orm_state.loader_strategy_path
    if path is not None and not path.is_root:
        return _relationship_load("batched", path), None
    return None, None
