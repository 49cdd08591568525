"""What the ORM says about a statement (``do_orm_execute``), and where objects came from.

A real lazy load has ``lazy_loaded_from`` set; a deferred-column load has
``is_column_load``; selectinload/subqueryload (and immediate loads) run with a non-root
``loader_strategy_path`` but no ``lazy_loaded_from``: they are the fix, marked batched.
The *origin* of a lazy load is the call site of the query that loaded its parent
object, kept in the parent's ``InstanceState.info`` by the ``load`` event.
"""

from __future__ import annotations

from typing import Any

from advisor.capture.frames import Site

__all__ = ["ORIGIN_KEY", "describe", "path_names"]

ORIGIN_KEY = "advisor.capture.origin"


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


def _origin(state: Any) -> Site | None:
    info = getattr(state, "info", None)
    found = info.get(ORIGIN_KEY) if info is not None else None
    return found  # type: ignore[no-any-return]


def describe(orm_state: Any) -> tuple[dict[str, Any] | None, Site | None]:
    """The ``orm`` object of a query line and the origin site, from an ORMExecuteState."""
    # First: on an ORM UPDATE/DELETE, lazy_loaded_from and the loader attributes raise
    # InvalidRequestError ("not against a SELECT statement").
    if not orm_state.is_select:
        return None, None
    lazy_from = orm_state.lazy_loaded_from
    if lazy_from is not None:
        path = orm_state.loader_strategy_path
        if path is None:
            return {"kind": "lazy", "path": []}, _origin(lazy_from)
        return _relationship_load("lazy", path), _origin(lazy_from)
    if orm_state.is_column_load:
        refresh = orm_state.load_options._refresh_state
        options = orm_state._orm_compile_options()
        props = sorted(getattr(options, "_only_load_props", None) or ())
        class_ = getattr(refresh, "class_", None)
        parent = class_.__name__ if class_ is not None else None
        load = {
            "kind": "column",
            "parent": parent,
            "attribute": ",".join(props) or None,
            "path": [parent] if parent else [],
            "direction": None,
            "target": None,
        }
        return load, _origin(refresh) if refresh is not None else None
    path = orm_state.loader_strategy_path
    if path is not None and not path.is_root:
        return _relationship_load("batched", path), None
    return None, None
