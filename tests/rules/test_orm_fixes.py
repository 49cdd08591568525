"""The ORM side of fixes (advisor/rules/orm_fixes.py)."""

from __future__ import annotations

from advisor.rules.orm_fixes import class_name


def test_class_name() -> None:
    assert class_name("order_items") == "OrderItem"
    assert class_name("public.categories") == "Category"
    assert class_name("addresses") == "Address"
    assert class_name("status") == "Status"
