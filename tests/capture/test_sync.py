"""Capture through a synchronous engine (psycopg): ORM loads, loops, bulk, cursors, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from shop_app.models import Order, OrderItem, User
from shop_app.seed import ORDERS_PER_USER, USERS
from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, joinedload, selectinload

import advisor.capture as capture
from advisor.capture.encode import ParamsSummary, params_hash
from advisor.model import Execution

from .conftest import line_of, url

Read = Callable[[Path], list[Execution]]
HERE = "tests/capture/test_sync.py"


def _line_of(marker: str) -> int:
    return line_of(__file__, marker)


def test_lazy_collection_and_many_to_one_loads(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    with capture.instrument(engine, output=str(capture_file)), Session(engine) as session:
        with capture.scope("lazy"):
            users = session.scalars(select(User).order_by(User.id)).all()  # mark:users
            for user in users:
                for order in user.orders:  # mark:orders
                    assert order.user is user  # many-to-one already in the identity map
            items = session.scalars(select(OrderItem).order_by(OrderItem.id)).all()
            names = {item.product.name for item in items}  # mark:product
        assert len(names) == 4
    found = [e for e in executions(capture_file) if e.scope == "lazy"]
    assert all(e.scope_kind == "manual" for e in found)
    lazy_orders = [e for e in found if e.orm and e.orm.attribute == "orders"]
    assert len(lazy_orders) == USERS
    first = lazy_orders[0]
    assert first.orm is not None
    assert (first.orm.kind, first.orm.parent, first.orm.direction, first.orm.target) == (
        "lazy",
        "User",
        "ONETOMANY",
        "Order",
    )
    assert first.orm.path == ("User", "orders")
    assert first.call_site is not None and first.call_site.path == HERE
    assert first.call_site.line == _line_of("# mark:orders")
    assert first.call_site.function == "test_lazy_collection_and_many_to_one_loads"
    assert first.origin is not None and first.origin.line == _line_of("# mark:users")
    many_to_one = [e for e in found if e.orm and e.orm.attribute == "product"]
    assert many_to_one, "product lazy loads (many-to-one) were not recorded"
    assert all(e.orm and e.orm.direction == "MANYTOONE" for e in many_to_one)
    assert {e.call_site.line for e in many_to_one if e.call_site} == {_line_of("# mark:product")}
    assert {e.origin.line for e in many_to_one if e.origin} == {
        _line_of("= session.scalars(select(OrderItem)")
    }
    assert len({e.params_hash for e in many_to_one}) == len(many_to_one)  # distinct products


def test_nested_lazy_load_origin_is_the_lazy_load_line(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    with capture.instrument(engine, output=str(capture_file)), Session(engine) as session:
        user = session.scalars(select(User).limit(1)).one()
        orders = user.orders  # mark:nested-origin
        counts = [len(order.items) for order in orders]  # mark:nested-trigger
    assert counts == [2] * ORDERS_PER_USER
    items = [e for e in executions(capture_file) if e.orm and e.orm.attribute == "items"]
    assert len(items) == ORDERS_PER_USER
    assert {e.call_site.line for e in items if e.call_site} == {_line_of("# mark:nested-trigger")}
    assert {e.origin.line for e in items if e.origin} == {_line_of("# mark:nested-origin")}


def test_deferred_column_load(engine: Engine, capture_file: Path, executions: Read) -> None:
    with capture.instrument(engine, output=str(capture_file)), Session(engine) as session:
        users = session.scalars(select(User).limit(2)).all()
        bios = [u.bio for u in users]  # mark:bio
    assert all(bios)
    loads = [e for e in executions(capture_file) if e.orm and e.orm.kind == "column"]
    assert len(loads) == 2
    assert all(e.orm and (e.orm.parent, e.orm.attribute) == ("User", "bio") for e in loads)
    assert all(e.call_site and e.call_site.line == _line_of("# mark:bio") for e in loads)


def test_eager_loads_are_batched_not_lazy(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    with capture.instrument(engine, output=str(capture_file)):
        with Session(engine) as session, capture.scope("selectin"):
            users = session.scalars(select(User).options(selectinload(User.orders))).all()
            assert sum(len(u.orders) for u in users) == USERS * ORDERS_PER_USER
        with Session(engine) as session, capture.scope("joined"):
            users = session.scalars(select(User).options(joinedload(User.orders))).unique().all()
            assert sum(len(u.orders) for u in users) == USERS * ORDERS_PER_USER
    found = executions(capture_file)
    selectin = [e for e in found if e.scope == "selectin"]
    joined = [e for e in found if e.scope == "joined"]
    assert len(selectin) == 2 and len(joined) == 1
    assert not any(e.orm and e.orm.kind == "lazy" for e in found)
    batched = [e for e in selectin if e.orm is not None]
    assert len(batched) == 1 and batched[0].orm is not None
    assert batched[0].orm.kind == "batched" and batched[0].orm.attribute == "orders"


def test_session_get_loop_and_raw_text_loop(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    with capture.instrument(engine, output=str(capture_file)):
        with Session(engine) as session, capture.scope("get-loop"):
            for order_id in range(1, 6):
                session.get(Order, order_id)  # mark:get
        with engine.connect() as conn, capture.scope("text-loop"):
            lookup = text("SELECT email FROM users WHERE id = :id")
            for user_id in range(1, 6):
                conn.execute(lookup, {"id": user_id})  # mark:text
    found = executions(capture_file)
    gets = [e for e in found if e.scope == "get-loop"]
    texts = [e for e in found if e.scope == "text-loop"]
    assert len(gets) == 5 and len(texts) == 5
    assert all(e.orm is None for e in gets + texts)  # no ORM signal for get() loops
    assert {e.call_site.line for e in gets if e.call_site} == {_line_of("# mark:get")}
    assert {e.call_site.line for e in texts if e.call_site} == {_line_of("# mark:text")}
    assert len({e.sql for e in texts}) == 1 and len({e.params_hash for e in texts}) == 5
    assert all(e.params_shape == "(id=int)" for e in texts)
    assert all(e.rows == 1 and e.total_ms is not None and e.total_ms >= 0 for e in texts)
    seqs = [e.seq for e in found if e.seq is not None]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(found)


def test_executemany_bulk_insert(engine: Engine, capture_file: Path, executions: Read) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE bulk (id int, label text)"))
        with capture.instrument(engine, output=str(capture_file)):
            conn.execute(
                text("INSERT INTO bulk (id, label) VALUES (:id, :label)"),
                [{"id": i, "label": f"row {i}"} for i in range(50)],
            )
            conn.execute(insert(Order.__table__).values(user_id=1, status="bulk"))
        conn.execute(text("DROP TABLE bulk"))
        conn.rollback()
    found = executions(capture_file)
    bulk = [e for e in found if "bulk" in e.sql and e.sql.lstrip().upper().startswith("INSERT")]
    assert bulk and all(e.executemany for e in bulk)
    assert bulk[0].params_shape == "50*(id=int, label=str)"
    single = [e for e in found if "orders" in e.sql]
    assert len(single) == 1 and not single[0].executemany


def test_large_executemany_is_summarized_on_the_app_thread(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    rows = [{"label": f"row {i}", "id": i} for i in range(500)]
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE bulk (id int, label text)"))
        handle = capture.instrument(engine, output=str(capture_file))
        writer = handle.recorder.writer
        drain, writer._drain = writer._drain, lambda: None  # type: ignore[method-assign]
        conn.execute(text("UPDATE bulk SET label = :label WHERE id = :id"), rows)
        queued = [e for e in writer.pending if type(e) is tuple and "UPDATE bulk" in e[1]]
        # The queue holds the rows' hash and shape, not the application's 500 dicts.
        assert len(queued) == 1 and type(queued[0][2]) is ParamsSummary
        writer._drain = drain  # type: ignore[method-assign]
        handle.uninstrument()
        conn.execute(text("DROP TABLE bulk"))
    (update,) = [e for e in executions(capture_file) if "UPDATE bulk" in e.sql]
    assert update.executemany and update.params_shape == "500*(label=str, id=int)"
    assert update.params_hash is not None and len(update.params_hash) == 8
    changed = [*rows[:200], {"label": "other", "id": 200}, *rows[201:]]
    assert params_hash(changed, many=True) == params_hash(rows, many=True)  # sampled rows only
    assert params_hash(rows[:100], many=True) == params_hash(rows[:100])  # small: every row


def test_server_side_cursor_and_savepoint(engine: Engine, capture_file: Path) -> None:
    with capture.instrument(engine, output=str(capture_file)):
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=2).execute(
                text("SELECT id FROM orders")
            )
            assert len(list(result)) >= USERS * ORDERS_PER_USER
        with Session(engine) as session, session.begin(), session.begin_nested():
            session.get(User, 1)
    lines = [line for line in capture_file.read_text().splitlines() if '"type": "query"' in line]
    streamed = [line for line in lines if "FROM orders" in line]
    assert len(streamed) == 1 and '"server_side": true' in streamed[0]
    assert any("SAVEPOINT" in line for line in lines)
    assert any("RELEASE SAVEPOINT" in line for line in lines)


def test_failing_statement_is_recorded_and_exception_unchanged(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    handle = capture.instrument(engine, output=str(capture_file))
    with handle, engine.connect() as conn:
        with pytest.raises(ProgrammingError) as raised:
            conn.execute(text("SELECT no_such_column FROM users"))
        conn.rollback()
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    assert "no_such_column" in str(raised.value.orig)
    failed = [e for e in executions(capture_file) if e.error is not None]
    assert len(failed) == 1
    assert failed[0].error is not None and failed[0].error.startswith("UndefinedColumn")
    assert failed[0].total_ms is not None and failed[0].total_ms >= 0
    assert "no_such_column" in failed[0].sql


def test_capture_leaves_connection_events_off_and_skips_the_dialects_own_statements(
    pg_dsn: str, capture_file: Path, executions: Read
) -> None:
    # A connection-event listener would switch SQLAlchemy's per-connection dispatch on for
    # every statement (it costs more than capture's own work); capture listens on the
    # dialect instead. The dialect's first-connect queries (version(), current_schema())
    # run inside SQLAlchemy, not the app: they are not the app's statements.
    engine = create_engine(pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with capture.instrument(engine, output=str(capture_file), introspect_schema=False):
            assert not engine._has_events
            with engine.connect() as conn:
                conn.execute(text("SELECT 41 + 1"))
                conn.exec_driver_sql("SELECT 2")
    finally:
        engine.dispose()
    assert [e.sql for e in executions(capture_file)] == ["SELECT 41 + 1", "SELECT 2"]


def test_origins_are_learnt_once_per_query_not_per_row(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    # No mapper load/refresh listener (SQLAlchemy would call it for every row loaded); the
    # one wrapper of the ORM's row-to-object step is shared by two recorders and gone with
    # the last one.
    from sqlalchemy.orm import loading

    own = loading.instances
    first = capture.instrument(engine, output=str(capture_file))
    second = capture.instrument(engine, output=str(capture_file.with_suffix(".2.jsonl")))
    try:
        assert not User.__mapper__.class_manager.dispatch.load
        assert not User.__mapper__.class_manager.dispatch.refresh
        wrapped = loading.instances
        assert wrapped is not own
        first.uninstrument()
        assert loading.instances is wrapped  # the second recorder still watches
        with Session(engine) as session:
            for user in session.scalars(select(User).order_by(User.id).limit(2)):  # mark:2
                assert user.orders  # mark:lazy2
    finally:
        first.uninstrument()
        second.uninstrument()
    assert loading.instances is own
    lazy = [e for e in executions(capture_file.with_suffix(".2.jsonl")) if e.orm]
    assert [e.call_site.line for e in lazy if e.call_site] == [_line_of("# mark:lazy2")] * 2
    assert [e.origin.line for e in lazy if e.origin] == [_line_of("# mark:2")] * 2


def test_instrument_one_engine_only_and_uninstrument(
    engine: Engine, shop_dsn: str, capture_file: Path, executions: Read
) -> None:
    other = create_engine(url(shop_dsn, "psycopg"))
    try:
        handle = capture.instrument(engine, output=str(capture_file))
        with engine.connect() as conn, other.connect() as conn2:
            conn.execute(text("SELECT 'captured'"))
            conn2.execute(text("SELECT 'not captured'"))
        handle.uninstrument()
        with engine.connect() as conn:
            conn.execute(text("SELECT 'after uninstrument'"))
    finally:
        other.dispose()
    sqls = [e.sql for e in executions(capture_file)]
    assert any("'captured'" in s for s in sqls)
    assert not any("not captured" in s or "after uninstrument" in s for s in sqls)


def test_instrument_all_engines(shop_dsn: str, capture_file: Path, executions: Read) -> None:
    capture.instrument(output=str(capture_file), introspect_schema=False)
    engines = [create_engine(url(shop_dsn, "psycopg")) for _ in range(2)]
    try:
        for i, eng in enumerate(engines):
            with eng.connect() as conn:
                conn.execute(text(f"SELECT {i} AS engine_number"))
    finally:
        capture.uninstrument()
        for eng in engines:
            eng.dispose()
    assert sum("engine_number" in e.sql for e in executions(capture_file)) == 2


def test_orm_update_and_delete_are_captured_without_internal_errors(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    from sqlalchemy import delete, update

    handle = capture.instrument(engine, output=str(capture_file))
    with handle, Session(engine) as session:
        session.execute(update(User).where(User.id == 1).values(bio="renamed"))
        session.execute(delete(OrderItem).where(OrderItem.id == -1))
        session.query(User).filter(User.id == 2).update({"bio": "again"})
        session.rollback()
        assert handle.internal_errors == 0
    found = [e.sql.split()[0] for e in executions(capture_file)]
    assert found.count("UPDATE") == 2 and found.count("DELETE") == 1


@pytest.mark.parametrize("synchronize", ["auto", "evaluate", "fetch"])
def test_orm_update_of_loaded_objects_has_no_internal_errors(
    engine: Engine, capture_file: Path, executions: Read, synchronize: str
) -> None:
    from sqlalchemy import update

    # The objects are in the identity map: SQLAlchemy refreshes them in memory to
    # synchronize the session (a mapper ``refresh`` event with no query context, which
    # failed once per test when capture listened to it).
    handle = capture.instrument(engine, output=str(capture_file))
    with handle, Session(engine) as session:
        users = session.scalars(select(User).where(User.id <= 2)).all()
        session.execute(
            update(User).where(User.id <= 2).values(bio="synced"),
            execution_options={"synchronize_session": synchronize},
        )
        assert {user.bio for user in users} == {"synced"}
        session.rollback()
        assert handle.internal_errors == 0
    assert [e.sql.split()[0] for e in executions(capture_file)].count("UPDATE") == 1


def test_column_loads_are_told_apart_from_the_mapper(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    with capture.instrument(engine, output=str(capture_file)), Session(engine) as session:
        user = session.scalars(select(User).order_by(User.id).limit(1)).one()
        with capture.scope("deferred"):
            assert user.bio is not None
        session.commit()
        with capture.scope("expired"):
            assert user.email
        session.commit()
        with capture.scope("refresh"):
            session.refresh(user)
    found = {e.scope: e.orm for e in executions(capture_file) if e.orm is not None}
    assert found["deferred"] is not None and found["expired"] is not None
    assert (found["deferred"].kind, found["deferred"].attribute) == ("column", "bio")
    # After commit every attribute is expired: the reload names columns, never relationships.
    assert found["expired"].kind == "expired"
    assert "orders" not in (found["expired"].attribute or "").split(",")
    assert found["refresh"] is not None and found["refresh"].kind == "refresh"


def test_lazy_load_after_a_reload_keeps_the_first_query_as_origin(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    # commit() expires the users; the loop's first access reloads each one (a new runid on
    # the object), and the lazy load after it still comes from the query that loaded them.
    with capture.instrument(engine, output=str(capture_file)), Session(engine) as session:
        users = session.scalars(select(User).order_by(User.id)).all()  # mark:reload-origin
        session.commit()
        session.refresh(users[0])
        counts = [len(user.orders) for user in users]  # mark:reload-trigger
    assert counts == [ORDERS_PER_USER] * USERS
    lazy = [e for e in executions(capture_file) if e.orm and e.orm.attribute == "orders"]
    assert len(lazy) == USERS
    assert {e.call_site.line for e in lazy if e.call_site} == {_line_of("# mark:reload-trigger")}
    assert [e.origin.line if e.origin else None for e in lazy] == [
        _line_of("# mark:reload-origin")
    ] * USERS


def test_nested_lazy_load_records_the_root_query_and_the_chain(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    from pydantic import BaseModel, ConfigDict

    class ItemOut(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        quantity: int

    class OrderOut(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        items: list[ItemOut]

    with capture.instrument(engine, output=str(capture_file)), Session(engine) as session:
        user = session.scalars(select(User).limit(1)).one()  # mark:chain-root
        outs = [OrderOut.model_validate(order) for order in user.orders]  # mark:chain-read
    assert len(outs) == ORDERS_PER_USER
    items = [e for e in executions(capture_file) if e.orm and e.orm.attribute == "items"]
    assert len(items) == ORDERS_PER_USER
    for e in items:
        assert e.orm is not None and e.orm.root is not None
        assert e.orm.root.line == _line_of("# mark:chain-root")
        assert [(h.parent, h.attribute, h.direction) for h in e.orm.chain] == [
            ("User", "orders", "ONETOMANY")
        ]
        assert e.orm.serializer == "pydantic"
        assert e.call_site is not None and e.call_site.line == _line_of("# mark:chain-read")


def test_origin_in_an_earlier_scope_is_said(
    engine: Engine, capture_file: Path, executions: Read
) -> None:
    with capture.instrument(engine, output=str(capture_file)), Session(engine) as session:
        with capture.scope("first"):
            users = session.scalars(select(User).order_by(User.id)).all()  # mark:earlier
        with capture.scope("second"):
            counts = [len(user.orders) for user in users]
        with capture.scope("third"):
            stmt = select(OrderItem).limit(2)
            fresh = session.scalars(stmt).all()
            names = [item.product.name for item in fresh]
    assert len(counts) == USERS and len(names) == 2
    found = executions(capture_file)
    later = [e for e in found if e.scope == "second" and e.orm and e.orm.attribute == "orders"]
    assert len(later) == USERS
    assert all(e.orm is not None and e.orm.origin_earlier for e in later)
    assert all(e.origin is not None and e.origin.line == _line_of("# mark:earlier") for e in later)
    same = [e for e in found if e.scope == "third" and e.orm and e.orm.attribute == "product"]
    assert same and not any(e.orm is not None and e.orm.origin_earlier for e in same)
