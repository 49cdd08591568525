"""ADV001 and ADV003 on a realistic app (fixtures/apps/recipes_app), captured for real.

The app has a generic repository layer, pydantic response models read with
``from_attributes``, a service layer with loops, and a test that commits and refreshes.
Each scenario runs under capture in its own scope; the findings asserted are the ones a
developer needs (exact lines, one finding per loop) and the ones that must not appear
(refresh after commit, reloads after commit inside tests, fixes that raise, a test body
calling the same search from several lines). ``recipes_app/test_usage.py`` holds tests as
the project writes them; they run here in test scopes under the same capture.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session, joinedload, raiseload, selectinload, undefer

import advisor.capture
from advisor.model import Execution, Finding, Note, Schema, Workload
from advisor.rules import RULES, run_rules
from advisor.schema.introspect import read_schema
from advisor.sources.capture_file import read_capture
from advisor.workload import build_workload

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "fixtures" / "apps"
if str(APPS) not in sys.path:
    sys.path.insert(0, str(APPS))

from recipes_app import models, services, test_usage  # noqa: E402
from recipes_app.models import Recipe, User  # noqa: E402
from recipes_app.repository import Repository  # noqa: E402
from recipes_app.schemas import RecipeOut  # noqa: E402
from recipes_app.seed import RECIPES_PER_USER, USERS, seed  # noqa: E402

APP = "fixtures/apps/recipes_app"


def line_of(module: str, marker: str) -> int:
    """The line of ``APP/module`` holding ``marker`` (exactly one)."""
    lines = (ROOT / APP / module).read_text().splitlines()
    found = [i for i, text in enumerate(lines, start=1) if marker in text]
    assert len(found) == 1, marker
    return found[0]


def _template_test(session: Session) -> None:
    """What a project template's test does: commit, then refresh what it created."""
    for name in ("ann", "bob"):
        user = User(name=name, email=f"{name}@example.com")
        session.add(user)
        session.commit()
        session.refresh(user)  # must not be an N+1
        assert user.id is not None and user.name == name  # nor this read after commit
    users = Repository(session, User).list()
    assert [u.name for u in users][-2:] == ["ann", "bob"]


def _scenarios(engine: Engine) -> None:
    scope = advisor.capture.scope
    with Session(engine) as session, scope("GET /recipes", "request"):
        assert len(services.list_recipes(session)) == USERS * RECIPES_PER_USER
    with Session(engine) as session, scope("GET /recipes/summary", "request"):
        assert len(services.recipe_summaries(session)) == USERS * RECIPES_PER_USER
    with Session(engine) as session, scope("GET /recipes/lengths", "request"):
        assert len(services.instructions_lengths(session)) == USERS * RECIPES_PER_USER
    with Session(engine) as session, scope("POST /recipes/tag", "request"):
        ids = list(session.scalars(select(Recipe.id).order_by(Recipe.id)))
        assert services.bulk_tag(session, ids, "quick") == len(ids)
    with Session(engine) as session, scope("POST /users/rename", "request"):
        assert len(services.rename_users(session, "!")) == USERS
    test_id = f"{Path(__file__).name}::test_creates_two_users_and_refreshes"
    with Session(engine) as session, scope(test_id, "test"):
        _template_test(session)
        # The same after-commit reads, from a test: not a finding either.
        services.rename_users(session, "?")
    for name in ("test_search_from_several_lines", "test_own_query"):
        with Session(engine) as session, scope(f"{APP}/test_usage.py::{name}", "test"):
            getattr(test_usage, name)(session)
    with scope(f"{APP}/test_usage.py::test_core_titles_once", "test"):
        test_usage.test_core_titles_once(engine)


@pytest.fixture(scope="module")
def recipes(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """A seeded recipes database: its DSN and a psycopg engine."""
    from advisor.sandbox import create_database, drop_database

    name = "advrec_" + tmp_path_factory.mktemp("n").name.replace("-", "_")[-20:]
    dsn = create_database(pg_dsn, name)
    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        seed(engine)
        yield dsn, engine
    finally:
        engine.dispose()
        drop_database(pg_dsn, name)


@pytest.fixture(scope="module")
def captured(
    recipes: tuple[str, Engine], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Workload, Schema]:
    """The workload and schema of one capture of all the scenarios."""
    dsn, engine = recipes
    output = tmp_path_factory.mktemp("capture") / "recipes.jsonl"
    handle = advisor.capture.instrument(
        engine, output=str(output), root=str(ROOT), introspect_schema=False
    )
    try:
        _scenarios(engine)
    finally:
        handle.uninstrument()
    schema = read_schema(dsn)
    return build_workload(read_capture(str(output)), schema), schema


def outcomes(
    captured: tuple[Workload, Schema], code: str, **options: object
) -> list[Finding | Note]:
    """Every outcome of rule ``code`` on the capture, with ``options`` over its defaults."""
    workload, schema = captured
    [rule] = [rule for rule in RULES if rule.code == code]
    return list(run_rules([rule], workload, schema, options={code: options}))


@pytest.fixture(scope="module")
def findings(captured: tuple[Workload, Schema]) -> list[Finding]:
    """Every ADV001 finding of one capture of all the scenarios."""
    return [o for o in outcomes(captured, "ADV001") if isinstance(o, Finding)]


def at(findings: list[Finding], module: str, marker: str) -> list[Finding]:
    line = line_of(module, marker)
    return [
        f
        for f in findings
        if f.location is not None
        and f.location.path == f"{APP}/{module}"
        and f.location.line == line
    ]


def test_serialization_loop_is_one_finding_with_one_combined_fix(
    findings: list[Finding],
) -> None:
    [finding] = at(findings, "services.py", "# loop: serialization")
    loads = {load["attribute"] for load in finding.evidence["loads"]}  # type: ignore[attr-defined]
    assert loads == {"Recipe.tags", "Recipe.ingredients", "Recipe.author", "User.group"}
    # The origin is the statement that returned the recipes: the repository's query.
    assert finding.origin is not None
    assert (finding.origin.path, finding.origin.line) == (
        f"{APP}/repository.py",
        line_of("repository.py", "# origin: repository.list"),
    )
    assert finding.evidence["serializer"] == "pydantic"
    assert "pydantic serialized" in finding.message
    fix = finding.fix or ""
    assert "joinedload(Recipe.author).joinedload(User.group)" in fix
    assert "selectinload(Recipe.tags)" in fix and "selectinload(Recipe.ingredients)" in fix
    assert "trim the model" in fix and 'raiseload("*")' in fix
    assert "undefer" not in fix


def _options(fix: str) -> list[str]:
    return re.findall(r"`(\.options\(.*?\))` to", fix)


def test_suggested_fixes_run_and_remove_the_loads(
    findings: list[Finding], recipes: tuple[str, Engine], tmp_path: Path
) -> None:
    """Apply every suggested ``.options(...)`` to the recipes query, run it for real, read
    what the loop read: no suggested option raises, and the loads it names are gone."""
    _, engine = recipes
    namespace = {
        "selectinload": selectinload,
        "joinedload": joinedload,
        "undefer": undefer,
        "raiseload": raiseload,
        **{name: getattr(models, name) for name in ("Recipe", "User", "Tag", "Ingredient")},
    }
    applied = 0
    for finding in findings:
        for options in _options(finding.fix or ""):
            args = eval(f"(lambda *a: a){options[len('.options') :]}", namespace)
            output = tmp_path / f"fixed{applied}.jsonl"
            handle = advisor.capture.instrument(engine, output=str(output), introspect_schema=False)
            try:
                with Session(engine) as session:
                    for recipe in Repository(session, Recipe).list(*args):
                        RecipeOut.model_validate(recipe)
                        assert recipe.instructions
            finally:
                handle.uninstrument()
            named = {load["attribute"] for load in finding.evidence["loads"]}  # type: ignore[attr-defined]
            loaded = {
                f"{e.orm.parent}.{e.orm.attribute}"
                for e in read_capture(str(output))
                if isinstance(e, Execution) and e.orm is not None and e.orm.kind != "batched"
            }
            assert not named & loaded, options
            applied += 1
    assert applied == 3  # serialization, deferred column, tags after get()


def test_deferred_column_loop_gets_undefer(findings: list[Finding]) -> None:
    [finding] = at(findings, "services.py", "# loop: deferred column")
    assert "`.options(undefer(Recipe.instructions))`" in (finding.fix or "")


def test_get_loop_and_its_lazy_collection(findings: list[Finding]) -> None:
    [get_loop] = at(findings, "repository.py", "# origin: repository.get")
    assert "Recipe.id.in_(ids)" in (get_loop.fix or "")
    # The generic helper ran the query; the finding names the loop that called it.
    loop = f"{APP}/services.py:{line_of('services.py', '# loop: bulk tagging')} in bulk_tag()"
    assert get_loop.evidence["called_from"][0] == loop  # type: ignore[index]
    assert f"(called from {loop}" in get_loop.message
    [tags] = at(findings, "services.py", "# loop: tags of each recipe")
    assert tags.origin is not None
    assert tags.origin.line == line_of("repository.py", "# origin: repository.get")


def test_reloads_after_commit_are_low_and_never_deferred(findings: list[Finding]) -> None:
    [reload] = at(findings, "services.py", "# loop: reads after commit")
    assert reload.severity.name == "LOW" and reload.message.startswith("reload after commit")
    assert "expire_on_commit=False" in (reload.fix or "")
    assert "undefer" not in (reload.fix or "")
    assert [
        f.evidence["worst_scope"] for f in at(findings, "services.py", "# loop: reads after commit")
    ] == ["POST /users/rename"]


def test_no_finding_from_refresh_trimmed_models_or_tests(findings: list[Finding]) -> None:
    assert not [f for f in findings if str(f.evidence.get("worst_scope")).endswith("refreshes")]
    assert at(findings, "services.py", "def recipe_summaries") == []
    # Exactly the loops of the app, one finding each (the test body's searches are none).
    assert len(findings) == 6, [str(f.location) for f in findings]


def test_core_loop_is_named_at_the_loop_not_the_helper(findings: list[Finding]) -> None:
    """A Core N+1 (``conn.execute(text(...))``) in a helper carries its callers too."""
    [core] = at(findings, "repository.py", "# core: recipe_title")
    assert core.severity.name == "HIGH"
    loop = f"{APP}/services.py:{line_of('services.py', '# loop: core titles')}"
    assert str(core.evidence["called_from"][0]).startswith(loop)  # type: ignore[index]
    assert f"(called from {loop}" in core.message


def test_test_body_searches_are_apart_and_low_with_test_code(
    captured: tuple[Workload, Schema],
) -> None:
    """Three searches from three lines of one test: off by default (above), and with
    ``test_code`` one low finding naming the test's lines, apart from the app's loops."""
    found = [f for f in outcomes(captured, "ADV001", test_code=True) if isinstance(f, Finding)]
    repeats = [f for f in found if "test_body_lines" in f.evidence]
    [search] = repeats
    lines = [line_of("test_usage.py", f"# body: search {n}") for n in (1, 2, 3)]
    assert search.evidence["test_body_lines"] == [
        f"{APP}/test_usage.py:{n} in test_search_from_several_lines()" for n in lines
    ]
    assert search.severity.name == "LOW"
    assert search.location is not None and search.location.path == f"{APP}/repository.py"
    # The app's own loops are the same findings as without test_code.
    assert not [f for f in found if f.severity.name == "HIGH" and "test_body_lines" in f.evidence]


def test_missing_index_counts_a_test_function_but_not_set_up(
    captured: tuple[Workload, Schema],
) -> None:
    """ADV003 (the tables are tiny: min_rows 0): a test function's own query and the app's
    search called from a test are workload; the fixture-like helper's lookup is set-up."""
    found = outcomes(captured, "ADV003", min_rows=0)
    own = line_of("test_usage.py", "# body: own query")
    tables = {
        (f.evidence["table"], f.location.line if f.location else None)
        for f in found
        if isinstance(f, Finding)
    }
    assert ("public.recipes", own) in tables
    assert ("public.recipes", line_of("repository.py", "# origin: repository.list")) in tables
    # recent_recipe() is the only place that selects whole recipes by title without order.
    [setup] = [
        o
        for o in found
        if "recipes.title = " in o.sql
        and "ORDER BY" not in o.sql[-40:]
        and "recipes.author_id" in o.sql
    ]
    assert isinstance(setup, Note) and "fixture code" in setup.reason
