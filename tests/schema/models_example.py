"""A small SQLAlchemy model module for ``schema_from_metadata`` tests."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """The declarative base whose metadata the tests load."""


class Status(enum.Enum):
    """An order's state (becomes a PostgreSQL enum type)."""

    open = "open"
    paid = "paid"


class Customer(Base):
    """A customer, in its own schema."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("email", name="customers_email_key"), {"schema": "crm"})

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(100))


class Order(Base):
    """An order of a customer."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_created", "customer_id", "created"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("crm.customers.id"))
    status: Mapped[Status] = mapped_column(default=Status.open)
    created: Mapped[str] = mapped_column(String(30), index=True)
