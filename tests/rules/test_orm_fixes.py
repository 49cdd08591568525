"""The ORM side of fixes (advisor/rules/orm_fixes.py)."""

from __future__ import annotations

from advisor.rules.orm_fixes import class_name


def test_class_name() -> None:
    assert class_name("order_items") == "OrderItem"
    assert class_name("public.categories") == "Category"
    assert class_name("addresses") == "Address"
    assert class_name("status") == "Status"


def test_combined_loaders_write_shared_prefixes_once() -> None:
    from advisor.model import Hop
    from advisor.rules.orm_fixes import combined_loaders

    orders = Hop("User", "orders", "ONETOMANY")
    paths = [
        [orders, Hop("Order", "items", "ONETOMANY")],
        [Hop("User", "orders"), Hop("Order", "user", "MANYTOONE")],  # direction unknown here
        [Hop("User", "group", "MANYTOONE")],
    ]
    assert combined_loaders(paths, ["undefer(User.bio)"]) == (
        ".options(selectinload(User.orders).options(selectinload(Order.items), "
        "joinedload(Order.user)), joinedload(User.group), undefer(User.bio))"
    )
