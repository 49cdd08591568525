"""Connection failures are one-line DatabaseErrors naming the (redacted) DSN."""

from __future__ import annotations

import socket

import pytest

from advisor.db import connect, run
from advisor.errors import DatabaseError
from advisor.sandbox import open_sandbox
from advisor.schema import read_schema


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_port() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    with pytest.raises(DatabaseError) as info:
        read_schema(dsn)
    message = str(info.value)
    assert message.startswith(dsn) and "cannot connect" in message and "\n" not in message


def test_unknown_database(pg_dsn: str) -> None:
    dsn = pg_dsn.rsplit("/", 1)[0] + "/advt_does_not_exist"
    with pytest.raises(DatabaseError, match=r"advt_does_not_exist.*check the database name"):
        read_schema(dsn)


def test_malformed_dsn() -> None:
    with pytest.raises(DatabaseError, match="cannot connect"):
        read_schema("postgresql://127.0.0.1:notaport/db")


def test_wrong_password_is_reported_and_redacted() -> None:
    # A sandbox of its own: it asks every role but the superuser for a password over TCP.
    with open_sandbox("local") as sandbox:

        async def make_role() -> None:
            conn = await connect(sandbox.dsn, readonly=False)
            try:
                await conn.execute("CREATE ROLE advisor_pw LOGIN PASSWORD 'right-one'")
            finally:
                await conn.close()

        run(make_role())
        port = sandbox.dsn.split(":")[-1].split("/")[0]
        good = f"postgresql://advisor_pw:right-one@127.0.0.1:{port}/postgres"
        assert read_schema(good).server_version == sandbox.server_version
        bad = f"postgresql://advisor_pw:wrong-one@127.0.0.1:{port}/postgres"
        with pytest.raises(DatabaseError) as info:
            read_schema(bad)
        message = str(info.value)
        assert "password authentication failed" in message and "\n" not in message
        assert "wrong-one" not in message and "advisor_pw:***@" in message
