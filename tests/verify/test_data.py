"""Data for the sandbox: copy (whole, sampled), generation, seed scripts, on a real server."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from advisor.db import connect, run
from advisor.errors import ConfigError, InputError
from advisor.model import Schema
from advisor.sandbox import drop_database
from advisor.schema import read_schema
from advisor.verify.data import (
    DataPlan,
    PreparedData,
    matching_sandbox,
    prepare_data,
    version_text,
)

SHOP = """
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name varchar(40),
    created_at timestamptz NOT NULL DEFAULT now(),
    manager_id bigint REFERENCES users (id)
);
CREATE TABLE products (
    id serial PRIMARY KEY,
    sku uuid NOT NULL UNIQUE,
    price numeric(10, 2) NOT NULL CHECK (price >= 0),
    active boolean NOT NULL,
    attrs jsonb,
    tags text[]
);
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    status order_status NOT NULL,
    placed_on date,
    note text,
    total numeric(12, 2)
);
CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders (id),
    line_no int NOT NULL,
    product_id int NOT NULL REFERENCES products (id),
    qty smallint NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE TABLE follows (
    follower_id bigint NOT NULL REFERENCES users (id),
    followee_id bigint NOT NULL REFERENCES users (id),
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX orders_user_id_idx ON orders (user_id);
"""

FILL = """
INSERT INTO users (email, name, manager_id)
SELECT 'u' || i || '@example.com', 'user ' || i, CASE WHEN i > 10 THEN 1 + i % 10 END
FROM generate_series(1, 3000) i;
INSERT INTO products (sku, price, active, attrs)
SELECT md5(i::text)::uuid, i % 500, i % 3 > 0, jsonb_build_object('i', i)
FROM generate_series(1, 200) i;
INSERT INTO orders (user_id, status, placed_on, note, total)
SELECT 1 + i % 3000, (ARRAY['new', 'paid', 'shipped']::order_status[])[1 + i % 3],
       date '2024-01-01' + i % 365, CASE WHEN i % 4 = 0 THEN repeat('n', 50) END, i % 900
FROM generate_series(1, 12000) i;
INSERT INTO order_items (order_id, line_no, product_id, qty)
SELECT 1 + i / 2, i % 2, 1 + i % 200, 1 + i % 5 FROM generate_series(0, 23999) i;
INSERT INTO follows SELECT 1 + i % 3000, 1 + (i * 7) % 3000 FROM generate_series(1, 2000) i
ON CONFLICT DO NOTHING;
ANALYZE;
"""

SHOP_KEYS = 13  # 5 primary keys, 2 uniques, 6 foreign keys
TABLES = (
    "public.users",
    "public.products",
    "public.orders",
    "public.order_items",
    "public.follows",
)


def _fetch(dsn: str, sql: str, *, readonly: bool = True) -> list[tuple[object, ...]]:
    async def go() -> list[tuple[object, ...]]:
        conn = await connect(dsn, readonly=readonly)
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return run(go())


def _value(dsn: str, sql: str) -> object:
    return _fetch(dsn, sql)[0][0]


def _execute(dsn: str, sql: str) -> None:
    async def go() -> None:
        conn = await connect(dsn, readonly=False)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run(go())


def _counts(dsn: str) -> dict[str, int]:
    return {t: int(str(_value(dsn, f"SELECT count(*) FROM {t}"))) for t in TABLES}


def _fingerprint(dsn: str) -> dict[str, object]:
    """Rows, constraints and indexes of every table: what a read-only copy must not change."""
    out: dict[str, object] = {
        t: _value(dsn, f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {t} t")
        for t in TABLES
    }
    out["indexes"] = _fetch(dsn, "SELECT indexrelid::regclass::text FROM pg_index ORDER BY 1")
    out["constraints"] = _fetch(dsn, "SELECT conname FROM pg_constraint ORDER BY 1")
    return out


def _fk_violations(dsn: str) -> int:
    """Rows whose foreign key has no parent, over every FK (validated or not)."""
    checks = [
        "SELECT count(*) FROM orders o WHERE NOT EXISTS "
        "(SELECT 1 FROM users u WHERE u.id = o.user_id)",
        "SELECT count(*) FROM order_items i WHERE NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.id = i.order_id)",
        "SELECT count(*) FROM order_items i WHERE NOT EXISTS "
        "(SELECT 1 FROM products p WHERE p.id = i.product_id)",
        "SELECT count(*) FROM users c WHERE c.manager_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM users u WHERE u.id = c.manager_id)",
        "SELECT count(*) FROM follows f WHERE NOT EXISTS "
        "(SELECT 1 FROM users u WHERE u.id = f.follower_id) OR NOT EXISTS "
        "(SELECT 1 FROM users u WHERE u.id = f.followee_id)",
    ]
    return sum(int(str(_value(dsn, sql))) for sql in checks)


def _keys(dsn: str) -> tuple[int, int]:
    """(keys, of them not validated): primary, unique and foreign keys of the user's tables.

    CHECK constraints are left out: the schema model (and so a copy's DDL) has none."""
    row = _fetch(
        dsn,
        "SELECT count(*), count(*) FILTER (WHERE NOT convalidated) FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f')",
    )[0]
    return int(str(row[0])), int(str(row[1]))


@pytest.fixture()
def source(fresh_db: str) -> str:
    """A small shop database with rows and statistics."""
    _execute(fresh_db, SHOP + FILL)
    return fresh_db


@pytest.fixture()
def prepared(pg_dsn: str) -> Iterator[Callable[..., PreparedData]]:
    """``prepare(...)``: :func:`prepare_data` on the test server; databases dropped after."""
    made: list[str] = []

    def prepare(schema: Schema, plan: DataPlan, **kwargs: object) -> PreparedData:
        data = prepare_data(pg_dsn, schema, plan, **kwargs)  # type: ignore[arg-type]
        made.append(data.database)
        return data

    yield prepare
    for name in made:
        drop_database(pg_dsn, name)


def test_copy_of_a_small_database_is_whole_and_leaves_the_source_untouched(
    source: str, prepared: Callable[..., PreparedData]
) -> None:
    before = _fingerprint(source)
    schema = read_schema(source)
    status = schema.tables["public.orders"].column("status")
    assert status is not None and sorted(status.most_common) == ["new", "paid", "shipped"]
    assert abs(sum(status.most_common_freqs) - 1) < 0.01
    data = prepared(schema, DataPlan(), source_dsn=source)
    assert _counts(data.dsn) == _counts(source)
    assert _fingerprint(source) == before
    assert _fk_violations(data.dsn) == 0
    assert _keys(data.dsn) == _keys(source)
    # the user's index came back, and the sandbox has fresh statistics
    assert _value(data.dsn, "SELECT to_regclass('public.orders_user_id_idx') IS NOT NULL")
    assert (
        int(str(_value(data.dsn, "SELECT count(*) FROM pg_stats WHERE tablename = 'orders'"))) > 0
    )
    origin = data.origin
    assert origin.kind == "copied"
    assert origin.tables["public.orders"] == "copied 12,000 rows"
    assert origin.server is not None and origin.source_server == origin.server
    # identity and serial sequences continue after the copied keys
    _execute(data.dsn, "INSERT INTO users (email) VALUES ('new@example.com')")
    assert _value(data.dsn, "SELECT max(id) FROM users") == 3001


def test_sampled_copy_above_the_limit_keeps_every_foreign_key(
    source: str, prepared: Callable[..., PreparedData]
) -> None:
    before = _fingerprint(source)
    schema = read_schema(source)
    # users (~250 kB) and orders are over the limit; products (16 kB) is copied whole
    plan = DataPlan(copy_limit_bytes=100_000, min_sample_fraction=0.01)
    data = prepared(schema, plan, source_dsn=source)
    counts, full = _counts(data.dsn), _counts(source)
    assert _fingerprint(source) == before
    assert counts["public.products"] == full["public.products"]
    assert 0 < counts["public.users"] < full["public.users"]
    assert 0 < counts["public.orders"] < full["public.orders"]
    assert 0 < counts["public.order_items"] < full["public.order_items"]
    assert _fk_violations(data.dsn) == 0
    constraints, not_valid = _keys(data.dsn)
    assert (constraints, not_valid) == (_keys(source)[0], 0)
    # a small child of a sampled parent keeps exactly the rows whose parents were kept
    kept = ",".join(str(row[0]) for row in _fetch(data.dsn, "SELECT id FROM users"))
    expected = _value(
        source,
        f"SELECT count(*) FROM follows WHERE follower_id IN ({kept}) AND followee_id IN ({kept})",
    )
    assert counts["public.follows"] == expected
    assert data.origin.tables["public.follows"] == (
        f"copied {expected:,} of 2,000 rows whose parents are in the sample"
    )
    assert data.origin.kind == "sampled"
    assert data.origin.tables["public.users"].startswith("sampled ")
    assert (
        "(" in data.origin.tables["public.users"]
        and " of 3,000)" in data.origin.tables["public.users"]
    )
    assert data.origin.tables["public.products"] == "copied 200 rows"


def test_generation_fills_a_schema_with_keys_uniques_enums_and_cycles(
    schema_factory: Callable[[str], Schema], prepared: Callable[..., PreparedData]
) -> None:
    schema = schema_factory(SHOP)
    rows = {
        "users": 2_000,
        "products": 300,
        "orders": 8_000,
        "order_items": 20_000,
        "follows": 5_000,
    }
    data = prepared(schema, DataPlan(mode="generate", rows=rows), ddl=SHOP)
    counts = _counts(data.dsn)
    assert counts == {f"public.{name}": count for name, count in rows.items()}
    assert _fk_violations(data.dsn) == 0
    assert _keys(data.dsn) == (SHOP_KEYS, 0)
    # uniques hold (their constraints were rebuilt) and values are spread, not constant
    assert _value(data.dsn, "SELECT count(DISTINCT email) FROM users") == 2_000
    assert int(str(_value(data.dsn, "SELECT count(DISTINCT status) FROM orders"))) == 4
    assert int(str(_value(data.dsn, "SELECT count(DISTINCT user_id) FROM orders"))) > 1_000
    span = _value(
        data.dsn, "SELECT max(created_at) - min(created_at) > interval '300 days' FROM users"
    )
    assert span is True
    assert _value(data.dsn, "SELECT to_regclass('public.orders_user_id_idx') IS NOT NULL")
    assert data.origin.kind == "generated"
    assert data.origin.tables["public.orders"] == "generated 8,000 rows"


def test_generation_honours_null_frac_and_n_distinct_roughly(
    schema_factory: Callable[[str], Schema], prepared: Callable[..., PreparedData]
) -> None:
    schema = schema_factory(SHOP)
    orders = schema.tables["public.orders"]
    shaped = {
        "user_id": {"n_distinct": 500.0},
        "note": {"null_frac": 0.75, "n_distinct": 30.0},
        "total": {"n_distinct": -0.5, "correlation": -0.8},
        "placed_on": {"null_frac": 0.2, "correlation": 0.97},
        "status": {"most_common": ("paid", "new"), "most_common_freqs": (0.7, 0.2)},
    }
    columns = tuple(
        dataclasses.replace(col, **shaped.get(col.name, {}))  # type: ignore[arg-type]
        for col in orders.columns
    )
    tables = dict(schema.tables)
    tables["public.orders"] = dataclasses.replace(orders, columns=columns)
    schema = dataclasses.replace(schema, tables=tables)
    data = prepared(schema, DataPlan(mode="generate", rows={"orders": 20_000}), ddl=SHOP)
    stats = _fetch(
        data.dsn,
        "SELECT count(DISTINCT user_id), count(*) FILTER (WHERE note IS NULL), "
        "count(DISTINCT note), count(DISTINCT total), count(*) FILTER (WHERE placed_on IS NULL) "
        "FROM orders",
    )[0]
    users, null_notes, notes, totals, null_dates = (int(str(v)) for v in stats)
    assert 450 <= users <= 500
    assert 14_000 <= null_notes <= 16_000
    assert 25 <= notes <= 30
    assert 9_000 <= totals <= 10_000
    assert 3_400 <= null_dates <= 4_600
    # columns stored in their own order in the source are generated in row order
    correlation = dict(
        _fetch(
            data.dsn,
            "SELECT attname, correlation FROM pg_stats WHERE tablename = 'orders' "
            "AND attname IN ('placed_on', 'total', 'user_id')",
        )
    )
    assert float(str(correlation["placed_on"])) > 0.9
    assert float(str(correlation["total"])) < -0.9
    assert abs(float(str(correlation["user_id"]))) < 0.3
    statuses = dict(_fetch(data.dsn, "SELECT status::text, count(*) FROM orders GROUP BY 1"))
    assert 13_000 <= int(str(statuses["paid"])) <= 15_000
    assert 4_000 <= int(str(statuses["new"])) <= 6_500
    assert data.origin.tables["public.orders"] == "generated 20,000 rows shaped by pg_stats"
    # tables without a target take DEFAULT_ROWS (the DDL schema has no reltuples)
    assert _counts(data.dsn)["public.users"] == 10_000


def test_generation_from_a_rendered_schema_without_ddl(
    source: str, prepared: Callable[..., PreparedData]
) -> None:
    schema = read_schema(source)
    without_enum = {n: t for n, t in schema.tables.items() if n != "public.orders"}
    without_enum.pop("public.order_items")
    schema = dataclasses.replace(schema, tables=without_enum)
    data = prepared(schema, DataPlan(mode="generate", rows={"users": 500}))
    counts = {t: int(str(_value(data.dsn, f"SELECT count(*) FROM {t}"))) for t in without_enum}
    # reltuples of the source (200 products) when no target is given
    assert counts == {
        "public.users": 500,
        "public.products": 200,
        "public.follows": counts["public.follows"],
    }
    assert counts["public.follows"] > 0
    assert data.origin.tables["public.users"] == "generated 500 rows shaped by pg_stats"


def test_seed_script_runs_after_the_schema(
    schema_factory: Callable[[str], Schema], prepared: Callable[..., PreparedData], tmp_path: Path
) -> None:
    seed = tmp_path / "seed.sql"
    seed.write_text("INSERT INTO users (email) SELECT 'x' || i FROM generate_series(1, 42) i;\n")
    data = prepared(schema_factory(SHOP), DataPlan(mode="seed", seed_script=seed), ddl=SHOP)
    assert data.origin.kind == "seed"
    assert data.origin.tables["public.users"] == "seeded 42 rows"
    assert _value(data.dsn, "SELECT reltuples FROM pg_class WHERE relname = 'users'") == 42


def test_bad_plans_say_what_to_do(
    schema_factory: Callable[[str], Schema], pg_dsn: str, tmp_path: Path
) -> None:
    schema = schema_factory(SHOP)
    with pytest.raises(ConfigError, match="needs a source database"):
        prepare_data(pg_dsn, schema, DataPlan(mode="copy"), ddl=SHOP)
    with pytest.raises(ConfigError, match="'nope'"):
        prepare_data(pg_dsn, schema, DataPlan(mode="generate", rows={"nope": 5}), ddl=SHOP)
    bad = tmp_path / "bad.sql"
    bad.write_text("INSERT INTO nowhere VALUES (1);\n")
    with pytest.raises(InputError, match=r"bad.sql:1"):
        prepare_data(pg_dsn, schema, DataPlan(mode="seed", seed_script=bad), ddl=SHOP)
    leftover = _value(
        pg_dsn, "SELECT count(*) FROM pg_database WHERE datname LIKE 'advisor_data_%'"
    )
    assert leftover == 0


def test_sandbox_version_follows_the_source() -> None:
    assert matching_sandbox(150004, (15, 14)).spec == "local:15"
    assert matching_sandbox(160002, (15,), docker=True).spec == "docker:16"
    other = matching_sandbox(160002, (15, 13))
    assert other.spec == "local:15" and other.note and "PostgreSQL 16" in other.note
    assert matching_sandbox(None, (15,)).note
    assert version_text(150004) == "15.4" and version_text(90624) == "9.6.24"


LEAGUE = """
CREATE TABLE teams (id int PRIMARY KEY, name text NOT NULL, captain_id int);
CREATE TABLE players (
    id int PRIMARY KEY,
    team_id int NOT NULL REFERENCES teams (id),
    mentor_id int REFERENCES players (id),
    code char(6) NOT NULL UNIQUE,
    joined timestamp
);
ALTER TABLE teams ADD FOREIGN KEY (captain_id) REFERENCES players (id);
CREATE TABLE profiles (
    player_id int PRIMARY KEY REFERENCES players (id),
    bio text CHECK (bio IN ('short', 'long')),
    spot point
);
"""


def test_generation_resolves_cycles_self_references_and_one_to_one_keys(
    schema_factory: Callable[[str], Schema], prepared: Callable[..., PreparedData]
) -> None:
    schema = schema_factory(LEAGUE)
    rows = {"teams": 100, "players": 5_000, "profiles": 9_000}
    data = prepared(schema, DataPlan(mode="generate", rows=rows), ddl=LEAGUE)
    counts = {
        t: int(str(_value(data.dsn, f"SELECT count(*) FROM {t}")))
        for t in ("teams", "players", "profiles")
    }
    # a profile per player at most: the one-to-one key caps its rows at the players'
    assert counts == {"teams": 100, "players": 5_000, "profiles": 5_000}
    constraints = _fetch(
        data.dsn,
        "SELECT count(*), count(*) FILTER (WHERE NOT convalidated) FROM pg_constraint "
        "WHERE contype IN ('p', 'u', 'f') AND connamespace = 'public'::regnamespace",
    )
    assert constraints == [(8, 0)]
    linked = _fetch(
        data.dsn,
        "SELECT count(*) FILTER (WHERE mentor_id IS NOT NULL), count(DISTINCT code), "
        "count(DISTINCT team_id) FROM players",
    )
    assert linked == [(5_000, 5_000, 100)]
    assert _value(data.dsn, "SELECT count(*) FROM teams WHERE captain_id IS NOT NULL") == 100
    # a column of a type advisor cannot generate, nullable, is left NULL
    assert _value(data.dsn, "SELECT count(spot) FROM profiles") == 0
    # a CHECK the generated values break is kept NOT VALID, and the origin says so
    assert _fetch(
        data.dsn,
        "SELECT conname, convalidated FROM pg_constraint WHERE contype = 'c' "
        "AND connamespace = 'public'::regnamespace",
    ) == [("profiles_bio_check", False)]
    assert data.origin.tables["public.profiles"] == (
        "generated 5,000 rows (CHECK profiles_bio_check not validated: generated values break it)"
    )
