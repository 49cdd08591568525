"""The TPC-H schema (primary keys only) and the workload of ``index_quality.py``.

Two parts:

- an app-like, ``$n``-parametrized workload of our own (a shop's order pages, a parts
  catalogue, supplier screens, two UPDATEs), with calls in the thousands for the hot
  lookups and in the tens for the back-office ones;
- the TPC-H queries an index can matter to (Q3, Q4, Q5, Q6, Q10, Q12, Q14, Q17, Q19,
  Q20) and one it cannot (Q1, a scan of all of lineitem), with literal values and a few
  calls each (reports that run now and then).

Each :class:`BenchQuery` names a ``pool`` query that draws parameter tuples from the
data (after ``setseed``, so two runs bind the same values); the first tuple is the one
measured, the others give the capture its realistic spread of values.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DDL", "QUERIES", "TABLES", "BenchQuery"]

TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")

DDL = """
CREATE TABLE region (
    r_regionkey integer PRIMARY KEY, r_name char(25) NOT NULL, r_comment varchar(152)
);
CREATE TABLE nation (
    n_nationkey integer PRIMARY KEY, n_name char(25) NOT NULL,
    n_regionkey integer NOT NULL, n_comment varchar(152)
);
CREATE TABLE supplier (
    s_suppkey integer PRIMARY KEY, s_name char(25) NOT NULL, s_address varchar(40) NOT NULL,
    s_nationkey integer NOT NULL, s_phone char(15) NOT NULL, s_acctbal numeric(15,2) NOT NULL,
    s_comment varchar(101) NOT NULL
);
CREATE TABLE customer (
    c_custkey integer PRIMARY KEY, c_name varchar(25) NOT NULL, c_address varchar(40) NOT NULL,
    c_nationkey integer NOT NULL, c_phone char(15) NOT NULL, c_acctbal numeric(15,2) NOT NULL,
    c_mktsegment char(10) NOT NULL, c_comment varchar(117) NOT NULL
);
CREATE TABLE part (
    p_partkey integer PRIMARY KEY, p_name varchar(55) NOT NULL, p_mfgr char(25) NOT NULL,
    p_brand char(10) NOT NULL, p_type varchar(25) NOT NULL, p_size integer NOT NULL,
    p_container char(10) NOT NULL, p_retailprice numeric(15,2) NOT NULL,
    p_comment varchar(23) NOT NULL
);
CREATE TABLE partsupp (
    ps_partkey integer NOT NULL, ps_suppkey integer NOT NULL, ps_availqty integer NOT NULL,
    ps_supplycost numeric(15,2) NOT NULL, ps_comment varchar(199) NOT NULL,
    PRIMARY KEY (ps_partkey, ps_suppkey)
);
CREATE TABLE orders (
    o_orderkey integer PRIMARY KEY, o_custkey integer NOT NULL, o_orderstatus char(1) NOT NULL,
    o_totalprice numeric(15,2) NOT NULL, o_orderdate date NOT NULL,
    o_orderpriority char(15) NOT NULL, o_clerk char(15) NOT NULL,
    o_shippriority integer NOT NULL, o_comment varchar(79) NOT NULL
);
CREATE TABLE lineitem (
    l_orderkey integer NOT NULL, l_partkey integer NOT NULL, l_suppkey integer NOT NULL,
    l_linenumber integer NOT NULL, l_quantity numeric(15,2) NOT NULL,
    l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
    l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
    l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
    l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL,
    l_comment varchar(44) NOT NULL, PRIMARY KEY (l_orderkey, l_linenumber)
);
"""


@dataclass(frozen=True, slots=True)
class BenchQuery:
    """One query of the workload: its name, SQL, calls, and where its values come from.

    ``pool`` returns parameter tuples in ``$n`` order (None for a literal query);
    ``scope`` is the request (or job) the application runs it in.
    """

    name: str
    sql: str
    calls: int
    pool: str | None
    scope: str


def _random(select: str, limit: int = 40) -> str:
    return f"{select} ORDER BY random() LIMIT {limit}"


_APP = (
    BenchQuery(
        "customer_orders",
        "SELECT o_orderkey, o_orderdate, o_totalprice, o_orderstatus FROM orders "
        "WHERE o_custkey = $1 ORDER BY o_orderdate DESC LIMIT 20",
        3000,
        _random("SELECT o_custkey FROM orders"),
        "GET /customers/{id}/orders",
    ),
    BenchQuery(
        "customer_open_orders",
        "SELECT count(*) FROM orders WHERE o_custkey = $1 AND o_orderstatus = 'O'",
        1500,
        _random("SELECT o_custkey FROM orders"),
        "GET /customers/{id}",
    ),
    BenchQuery(
        "order_lines",
        "SELECT l_linenumber, l_partkey, l_quantity, l_extendedprice FROM lineitem "
        "WHERE l_orderkey = $1 ORDER BY l_linenumber",
        3000,
        _random("SELECT o_orderkey FROM orders"),
        "GET /orders/{id}",
    ),
    BenchQuery(
        "orders_by_status_date",
        "SELECT o_orderkey, o_custkey, o_totalprice FROM orders WHERE o_orderstatus = $1 "
        "AND o_orderdate >= $2 AND o_orderdate < $3 ORDER BY o_orderdate LIMIT 50",
        400,
        _random("SELECT o_orderstatus, o_orderdate, o_orderdate + 7 FROM orders"),
        "GET /admin/orders",
    ),
    BenchQuery(
        "clerk_orders",
        "SELECT o_orderkey, o_orderdate, o_totalprice FROM orders WHERE o_clerk = $1 "
        "ORDER BY o_orderdate DESC LIMIT 20",
        150,
        _random("SELECT o_clerk FROM orders"),
        "GET /admin/clerks/{id}/orders",
    ),
    BenchQuery(
        "parts_by_brand_type",
        "SELECT p_partkey, p_name, p_retailprice FROM part WHERE p_brand = $1 AND p_type = $2 "
        "ORDER BY p_retailprice",
        800,
        _random("SELECT p_brand, p_type FROM part"),
        "GET /parts",
    ),
    BenchQuery(
        "part_suppliers",
        "SELECT ps_suppkey, ps_availqty, ps_supplycost FROM partsupp WHERE ps_partkey = $1",
        1000,
        _random("SELECT p_partkey FROM part"),
        "GET /parts/{id}",
    ),
    BenchQuery(
        "supplier_parts",
        "SELECT ps_partkey, ps_availqty FROM partsupp WHERE ps_suppkey = $1 "
        "ORDER BY ps_availqty DESC LIMIT 20",
        300,
        _random("SELECT s_suppkey FROM supplier"),
        "GET /suppliers/{id}/parts",
    ),
    BenchQuery(
        "suppliers_by_nation",
        "SELECT s_suppkey, s_name, s_acctbal FROM supplier WHERE s_nationkey = $1 "
        "ORDER BY s_acctbal DESC LIMIT 10",
        300,
        _random("SELECT n_nationkey FROM nation", 10),
        "GET /nations/{id}/suppliers",
    ),
    BenchQuery(
        "customer_by_phone",
        "SELECT c_custkey, c_name, c_acctbal FROM customer WHERE c_phone = $1",
        400,
        _random("SELECT c_phone FROM customer"),
        "GET /customers/search",
    ),
    BenchQuery(
        "customers_by_segment_nation",
        "SELECT c_custkey, c_name, c_acctbal FROM customer WHERE c_mktsegment = $1 "
        "AND c_nationkey = $2 ORDER BY c_acctbal DESC LIMIT 25",
        200,
        _random("SELECT c_mktsegment, c_nationkey FROM customer"),
        "GET /admin/customers",
    ),
    BenchQuery(
        "part_lines",
        "SELECT l_orderkey, l_quantity, l_shipdate FROM lineitem WHERE l_partkey = $1",
        300,
        _random("SELECT p_partkey FROM part"),
        "GET /parts/{id}/sales",
    ),
    BenchQuery(
        "supplier_shipments",
        "SELECT l_orderkey, l_linenumber, l_shipdate FROM lineitem WHERE l_suppkey = $1 "
        "AND l_shipdate >= $2 ORDER BY l_shipdate LIMIT 50",
        200,
        _random("SELECT l_suppkey, l_shipdate FROM lineitem TABLESAMPLE SYSTEM (1)"),
        "GET /suppliers/{id}/shipments",
    ),
    BenchQuery(
        "returns_received",
        "SELECT l_orderkey, l_linenumber, l_extendedprice FROM lineitem "
        "WHERE l_returnflag = 'R' AND l_receiptdate BETWEEN $1 AND $2",
        50,
        _random("SELECT l_receiptdate, l_receiptdate + 1 FROM lineitem TABLESAMPLE SYSTEM (1)"),
        "job returns_report",
    ),
    BenchQuery(
        "order_set_priority",
        "UPDATE orders SET o_orderpriority = $2 WHERE o_orderkey = $1",
        300,
        _random("SELECT o_orderkey, o_orderpriority FROM orders"),
        "PATCH /orders/{id}",
    ),
    BenchQuery(
        "line_set_shipmode",
        "UPDATE lineitem SET l_shipmode = $3 WHERE l_orderkey = $1 AND l_linenumber = $2",
        200,
        _random("SELECT l_orderkey, l_linenumber, l_shipmode FROM lineitem TABLESAMPLE SYSTEM (1)"),
        "PATCH /orders/{id}/lines/{n}",
    ),
)

# TPC-H queries with the specification's default substitution values.
_TPCH = (
    BenchQuery(
        "tpch_q1",
        "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, "
        "sum(l_extendedprice) AS sum_base_price, "
        "sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price, "
        "avg(l_quantity) AS avg_qty, count(*) AS count_order FROM lineitem "
        "WHERE l_shipdate <= date '1998-12-01' - interval '90 day' "
        "GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus",
        2,
        None,
        "job tpch_q1",
    ),
    BenchQuery(
        "tpch_q3",
        "SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, "
        "o_shippriority FROM customer, orders, lineitem WHERE c_mktsegment = 'BUILDING' "
        "AND c_custkey = o_custkey AND l_orderkey = o_orderkey "
        "AND o_orderdate < date '1995-03-15' AND l_shipdate > date '1995-03-15' "
        "GROUP BY l_orderkey, o_orderdate, o_shippriority "
        "ORDER BY revenue DESC, o_orderdate LIMIT 10",
        5,
        None,
        "job tpch_q3",
    ),
    BenchQuery(
        "tpch_q4",
        "SELECT o_orderpriority, count(*) AS order_count FROM orders "
        "WHERE o_orderdate >= date '1993-07-01' AND o_orderdate < date '1993-10-01' "
        "AND EXISTS (SELECT 1 FROM lineitem WHERE l_orderkey = o_orderkey "
        "AND l_commitdate < l_receiptdate) GROUP BY o_orderpriority ORDER BY o_orderpriority",
        5,
        None,
        "job tpch_q4",
    ),
    BenchQuery(
        "tpch_q5",
        "SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue "
        "FROM customer, orders, lineitem, supplier, nation, region "
        "WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey "
        "AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey "
        "AND n_regionkey = r_regionkey AND r_name = 'ASIA' "
        "AND o_orderdate >= date '1994-01-01' AND o_orderdate < date '1995-01-01' "
        "GROUP BY n_name ORDER BY revenue DESC",
        5,
        None,
        "job tpch_q5",
    ),
    BenchQuery(
        "tpch_q6",
        "SELECT sum(l_extendedprice * l_discount) AS revenue FROM lineitem "
        "WHERE l_shipdate >= date '1994-01-01' AND l_shipdate < date '1995-01-01' "
        "AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24",
        5,
        None,
        "job tpch_q6",
    ),
    BenchQuery(
        "tpch_q10",
        "SELECT c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) AS revenue, "
        "c_acctbal, n_name FROM customer, orders, lineitem, nation "
        "WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey "
        "AND o_orderdate >= date '1993-10-01' AND o_orderdate < date '1994-01-01' "
        "AND l_returnflag = 'R' AND c_nationkey = n_nationkey "
        "GROUP BY c_custkey, c_name, c_acctbal, n_name ORDER BY revenue DESC LIMIT 20",
        5,
        None,
        "job tpch_q10",
    ),
    BenchQuery(
        "tpch_q12",
        "SELECT l_shipmode, count(*) AS line_count FROM orders, lineitem "
        "WHERE o_orderkey = l_orderkey AND l_shipmode IN ('MAIL', 'SHIP') "
        "AND l_commitdate < l_receiptdate AND l_shipdate < l_commitdate "
        "AND l_receiptdate >= date '1994-01-01' AND l_receiptdate < date '1995-01-01' "
        "GROUP BY l_shipmode ORDER BY l_shipmode",
        5,
        None,
        "job tpch_q12",
    ),
    BenchQuery(
        "tpch_q14",
        "SELECT 100.00 * sum(CASE WHEN p_type LIKE 'PROMO%' "
        "THEN l_extendedprice * (1 - l_discount) ELSE 0 END) "
        "/ sum(l_extendedprice * (1 - l_discount)) AS promo_revenue FROM lineitem, part "
        "WHERE l_partkey = p_partkey AND l_shipdate >= date '1995-09-01' "
        "AND l_shipdate < date '1995-10-01'",
        5,
        None,
        "job tpch_q14",
    ),
    BenchQuery(
        "tpch_q17",
        "SELECT sum(l_extendedprice) / 7.0 AS avg_yearly FROM lineitem, part "
        "WHERE p_partkey = l_partkey AND p_brand = 'Brand#23' AND p_container = 'MED BOX' "
        "AND l_quantity < (SELECT 0.2 * avg(l_quantity) FROM lineitem "
        "WHERE l_partkey = p_partkey)",
        2,
        None,
        "job tpch_q17",
    ),
    BenchQuery(
        "tpch_q19",
        "SELECT sum(l_extendedprice * (1 - l_discount)) AS revenue FROM lineitem, part "
        "WHERE p_partkey = l_partkey AND l_shipmode IN ('AIR', 'AIR REG') "
        "AND l_shipinstruct = 'DELIVER IN PERSON' AND ((p_brand = 'Brand#12' "
        "AND p_container IN ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG') "
        "AND l_quantity >= 1 AND l_quantity <= 11 AND p_size BETWEEN 1 AND 5) "
        "OR (p_brand = 'Brand#23' AND p_container IN ('MED BAG', 'MED BOX', 'MED PKG', "
        "'MED PACK') AND l_quantity >= 10 AND l_quantity <= 20 AND p_size BETWEEN 1 AND 10) "
        "OR (p_brand = 'Brand#34' AND p_container IN ('LG CASE', 'LG BOX', 'LG PACK', "
        "'LG PKG') AND l_quantity >= 20 AND l_quantity <= 30 AND p_size BETWEEN 1 AND 15))",
        5,
        None,
        "job tpch_q19",
    ),
    BenchQuery(
        "tpch_q20",
        "SELECT s_name, s_address FROM supplier, nation WHERE s_suppkey IN ("
        "SELECT ps_suppkey FROM partsupp WHERE ps_partkey IN ("
        "SELECT p_partkey FROM part WHERE p_name LIKE 'forest%') "
        "AND ps_availqty > (SELECT 0.5 * sum(l_quantity) FROM lineitem "
        "WHERE l_partkey = ps_partkey AND l_suppkey = ps_suppkey "
        "AND l_shipdate >= date '1994-01-01' AND l_shipdate < date '1995-01-01')) "
        "AND s_nationkey = n_nationkey AND n_name = 'CANADA' ORDER BY s_name",
        2,
        None,
        "job tpch_q20",
    ),
)

QUERIES: tuple[BenchQuery, ...] = _APP + _TPCH
