"""How fast does advisor fill a sandbox? Generation of 1M rows, then a copy of them.

Starts a local sandbox (this machine's PostgreSQL binaries), then:

    generate   prepare_data(mode="generate") of a shop schema: users (100k rows), orders
               (1M rows: FK to users, an enum, a timestamptz, numeric, a nullable text,
               an index on (user_id, created_at)), order_items (1M rows: composite PK,
               FKs to orders and products), products (10k), shaped by made-up pg_stats
    copy       prepare_data(mode="copy") of that database into another one (whole tables)
    sample     the same with the default 64 MB copy limit (orders is sampled, order_items
               follows it)

and prints the wall time of each step (schema, rows, keys = keys/indexes/FKs rebuilt,
analyze), the rows per second of the row step and the seconds of each table. Wall times
on a shared machine vary: run it twice, and look at the load average. Usage::

    python benchmarks/data_generation.py            # 1M rows per big table
    python benchmarks/data_generation.py --rows 200000
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from advisor.sandbox import drop_database, open_sandbox  # noqa: E402
from advisor.schema import schema_from_ddl  # noqa: E402
from advisor.verify.data import DataPlan, PreparedData, prepare_data  # noqa: E402

DDL = """
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled', 'refunded');
CREATE TABLE users (
    id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, name varchar(60),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE products (
    id serial PRIMARY KEY, sku uuid NOT NULL UNIQUE, title text NOT NULL,
    price numeric(10, 2) NOT NULL
);
CREATE TABLE orders (
    id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id),
    status order_status NOT NULL, created_at timestamptz NOT NULL,
    total numeric(12, 2) NOT NULL, note text
);
CREATE INDEX orders_user_created ON orders (user_id, created_at);
CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders (id), line_no int NOT NULL,
    product_id int NOT NULL REFERENCES products (id), qty smallint NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
"""

STATS = {
    "public.orders": {
        "user_id": {"n_distinct": -0.08},
        "status": {"n_distinct": 5.0},
        "note": {"null_frac": 0.9, "avg_width": 40},
        "total": {"n_distinct": 20_000.0},
    },
    "public.order_items": {"qty": {"n_distinct": 10.0}, "product_id": {"n_distinct": 8_000.0}},
}


class _Clock:
    """A progress callback that keeps when each table started (the end closes the last)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def __call__(self, what: str, done: int, total: int) -> None:
        self.marks.append((what, time.perf_counter()))

    def per_table(self) -> dict[str, float]:
        """Seconds per table, from one mark to the next."""
        pairs = zip(self.marks, self.marks[1:], strict=False)
        return {what.split()[-1]: end - start for (what, start), (_, end) in pairs}


def _report(label: str, data: PreparedData, rows: int, clock: _Clock) -> None:
    seconds = dict(data.seconds)
    total = sum(seconds.values())
    steps = "  ".join(f"{step} {value:5.2f} s" for step, value in seconds.items())
    per_s = rows / seconds["rows"] if seconds.get("rows") else 0
    print(f"{label:9} total {total:6.2f} s   {steps}   rows/s {per_s:,.0f}")
    seconds_of = clock.per_table()
    for table, phrase in sorted(data.origin.tables.items()):
        print(f"{'':9} {table}: {phrase} in {seconds_of.get(table, 0):.2f} s")


def main() -> None:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of orders and items")
    args = parser.parse_args()
    big = args.rows
    targets = {"users": big // 10, "products": 10_000, "orders": big, "order_items": big}
    total = sum(targets.values())
    with open_sandbox("local") as sandbox:
        print(sandbox.description)
        schema = schema_from_ddl(DDL, sandbox)
        tables = dict(schema.tables)
        for name, columns in STATS.items():
            table = tables[name]
            cols = tuple(
                dataclasses.replace(c, **columns.get(c.name, {}))  # type: ignore[arg-type]
                for c in table.columns
            )
            tables[name] = dataclasses.replace(table, columns=cols)
        schema = dataclasses.replace(schema, tables=tables)
        made: list[str] = []
        try:
            clock = _Clock()
            generated = prepare_data(
                sandbox.dsn,
                schema,
                DataPlan(mode="generate", rows=targets),
                ddl=DDL,
                progress=clock,
            )
            made.append(generated.database)
            _report("generate", generated, total, clock)
            plans = {"copy": DataPlan(copy_limit_bytes=1 << 40), "sample": DataPlan()}
            for label, plan in plans.items():
                clock = _Clock()
                data = prepare_data(
                    sandbox.dsn, schema, plan, source_dsn=generated.dsn, progress=clock
                )
                made.append(data.database)
                _report(label, data, total, clock)
        finally:
            for name in made:
                drop_database(sandbox, name)


if __name__ == "__main__":
    main()
