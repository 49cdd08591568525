"""Migration files on disk: one migration per index, numbered, in a directory.

Plain SQL: ``0001_ix_events_user_id_created_at.up.sql`` and ``.down.sql`` per chosen
index, then ``0002_fk_ix_orders_user_id.up.sql`` ... for each foreign-key index (ADV004)
outside the chosen set. Alembic: ``0001_ix_events_user_id_created_at.py``, one revision
per index, chained from the project's current head.

Numbers continue after the highest one already in the directory, and a file advisor
wrote for the same index keeps its number and is rewritten in place, so a second run
over the same suggestions leaves the directory as it was.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from advisor.errors import ConfigError
from advisor.model import DataOrigin, IndexSuggestion, ScanResult, Schema, Workload
from advisor.suggest.alembic import alembic_migration
from advisor.suggest.evidence import EvidenceContext
from advisor.suggest.migration import sql_migration

__all__ = ["MigrationFormat", "alembic_head", "migration_sets", "write_migrations"]

MigrationFormat = Literal["sql", "alembic"]

# Four digits, then a name that does not start with one: Alembic's dated file template
# (2024_01_05_1530-<rev>_<slug>.py) is not a number to continue from.
_NUMBERED = re.compile(r"(?P<number>\d{4})_(?P<stem>\D.*?)(?P<ext>\.up\.sql|\.down\.sql|\.py)")
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
_FK_CODE = "ADV004"
_NAMES = ("revision", "down_revision")


@dataclass(frozen=True, slots=True)
class _Entry:
    suggestion: IndexSuggestion
    foreign_key: bool
    number: int

    @property
    def stem(self) -> str:
        """The file name without its extension: ``0001_ix_events_user_id``."""
        return f"{self.number:04d}_{_name(self.suggestion, self.foreign_key)}"


def _name(suggestion: IndexSuggestion, foreign_key: bool) -> str:
    return ("fk_" if foreign_key else "") + _UNSAFE.sub("_", suggestion.name)


def migration_sets(
    result: ScanResult,
) -> tuple[tuple[IndexSuggestion, ...], tuple[IndexSuggestion, ...]]:
    """``(chosen, foreign_keys)`` of a scan: the indexes to create, and the ADV004
    foreign-key indexes that no other finding asked for and no chosen index serves, which
    get migrations of their own outside the chosen set."""
    fk = {
        f.suggestion.name: f.suggestion
        for f in result.findings
        if f.rule == _FK_CODE and f.suggestion
    }
    other = {f.suggestion.name for f in result.findings if f.rule != _FK_CODE and f.suggestion}
    chosen = tuple(s for s in result.suggestions if s.name not in fk or s.name in other)
    taken = {s.name for s in chosen}
    # An FK index missing from the suggestions was absorbed by a longer chosen index that
    # leads with the same columns: that index serves the foreign key too.
    kept = {s.name for s in result.suggestions}
    return chosen, tuple(s for name, s in fk.items() if name not in taken and name in kept)


def _existing(directory: Path, ext: Iterable[str]) -> dict[str, int]:
    """Stem -> number of the numbered migration files already in ``directory``."""
    wanted = set(ext)
    found: dict[str, int] = {}
    for path in sorted(directory.iterdir()):
        match = _NUMBERED.fullmatch(path.name)
        if match is not None and match["ext"] in wanted:
            found.setdefault(match["stem"], int(match["number"]))
    return found


def _numbered(
    directory: Path, items: list[tuple[IndexSuggestion, bool]], exts: tuple[str, ...]
) -> list[_Entry]:
    existing = _existing(directory, exts)
    following = max(existing.values(), default=0) + 1
    entries: list[_Entry] = []
    for suggestion, foreign_key in items:
        number = existing.get(_name(suggestion, foreign_key))
        if number is None:
            number, following = following, following + 1
        entries.append(_Entry(suggestion, foreign_key, number))
    return entries


def _prepare(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--migrations-dir {directory}: not a directory; give a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"--migrations-dir {directory}: cannot create it ({exc.strerror}); check the path"
        ) from exc


def _versions(alembic_dir: Path) -> Path:
    inner = alembic_dir / "versions"
    return inner if inner.is_dir() else alembic_dir


def _literal(node: ast.expr, path: Path, name: str) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError as exc:
        raise ConfigError(
            f"{path}: {name} is not a plain literal; advisor reads revisions as text, "
            "so write it as a string"
        ) from exc


def _revision_of(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """``(revision, down_revisions)`` assigned at the top of one Alembic file, or None."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise ConfigError(
            f"{path}: not valid Python ({exc.msg}, line {exc.lineno}); fix it or move it "
            "out of the Alembic versions directory"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc}); check its permissions") from exc
    values: dict[str, object] = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and value is not None and target.id in _NAMES:
            values[target.id] = _literal(value, path, target.id)
    revision = values.get("revision")
    if not isinstance(revision, str):
        return None
    down = values.get("down_revision")
    # A merge revision names several parents in a tuple (or list).
    parents = down if isinstance(down, tuple | list) else (down,)
    return revision, tuple(d for d in parents if isinstance(d, str))


def alembic_head(alembic_dir: Path, *, ignore: Iterable[Path] = ()) -> str:
    """The one head revision of the Alembic project at ``alembic_dir`` (the directory that
    holds ``versions/``, or ``versions/`` itself), read from the files as text.

    ``ignore`` lists files left out (the ones about to be rewritten). Several heads, or
    no revision at all, raise :class:`ConfigError`: a new revision needs one parent.
    """
    versions = _versions(alembic_dir)
    if not versions.is_dir():
        raise ConfigError(f"Alembic directory {alembic_dir}: no such directory; check the path")
    skip = {p.resolve() for p in ignore}
    revisions: dict[str, Path] = {}
    referenced: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.resolve() in skip:
            continue
        found = _revision_of(path)
        if found is not None:
            revisions[found[0]] = path
            referenced.update(found[1])
    heads = sorted(set(revisions) - referenced)
    if not heads:
        raise ConfigError(
            f"Alembic directory {alembic_dir}: no Alembic revision found in {versions}; point it "
            "at the project's alembic directory (the one holding versions/), or write plain "
            "SQL with --migration-format sql"
        )
    if len(heads) > 1:
        listed = ", ".join(f"{h} ({revisions[h].name})" for h in heads)
        raise ConfigError(
            f"Alembic directory {alembic_dir}: {len(heads)} heads ({listed}); merge them first "
            "(alembic merge heads) so the new revisions have one parent"
        )
    return heads[0]


def _write(path: Path, text: str) -> Path:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write it ({exc.strerror}); check the directory") from exc
    return path


def _context(entry: _Entry, base: EvidenceContext) -> EvidenceContext:
    return EvidenceContext(base.workload, base.schema, base.data, foreign_key=entry.foreign_key)


def _write_sql(
    directory: Path, entries: list[_Entry], base: EvidenceContext, lock: str
) -> list[Path]:
    written: list[Path] = []
    for entry in entries:
        up_name, down_name = f"{entry.stem}.up.sql", f"{entry.stem}.down.sql"
        up, down = sql_migration(
            [entry.suggestion],
            lock_timeout=lock,
            context=_context(entry, base),
            files=(up_name, down_name),
        )
        written.append(_write(directory / up_name, up))
        written.append(_write(directory / down_name, down))
    return written


def _write_alembic(
    directory: Path,
    entries: list[_Entry],
    base: EvidenceContext,
    lock: str,
    alembic_dir: Path | None,
) -> list[Path]:
    paths = [directory / f"{entry.stem}.py" for entry in entries]
    down: str | None = alembic_head(alembic_dir or directory, ignore=paths)
    written: list[Path] = []
    for entry, path in zip(entries, paths, strict=True):
        what = "foreign-key index" if entry.foreign_key else "index"
        down, text = alembic_migration(
            [entry.suggestion],
            down_revision=down,
            message=f"advisor: {what} {entry.suggestion.name} on {entry.suggestion.table}",
            lock_timeout=lock,
            context=_context(entry, base),
        )
        written.append(_write(path, text))
    return written


def write_migrations(
    directory: str | Path,
    suggestions: Sequence[IndexSuggestion],
    *,
    fmt: MigrationFormat = "sql",
    alembic_dir: str | Path | None = None,
    workload: Workload | None = None,
    data: DataOrigin | None = None,
    schema: Schema | None = None,
    foreign_keys: Sequence[IndexSuggestion] = (),
    lock_timeout: str = "2s",
) -> tuple[Path, ...]:
    """Write one migration per index of ``suggestions`` (then of ``foreign_keys``, marked
    as foreign-key indexes outside the chosen set) into ``directory``; the paths written.

    ``fmt="alembic"`` chains the revisions from the head of ``alembic_dir`` (default:
    ``directory`` itself). ``workload``, ``schema`` and ``data`` feed each file's evidence.
    """
    target = Path(directory)
    _prepare(target)
    chosen = {s.name for s in suggestions}
    items = [(s, False) for s in suggestions]
    items += [(s, True) for s in foreign_keys if s.name not in chosen]
    if not items:
        return ()
    base = EvidenceContext(workload, schema, data)
    if fmt == "sql":
        entries = _numbered(target, items, (".up.sql", ".down.sql"))
        return tuple(_write_sql(target, entries, base, lock_timeout))
    entries = _numbered(target, items, (".py",))
    project = Path(alembic_dir) if alembic_dir is not None else None
    return tuple(_write_alembic(target, entries, base, lock_timeout, project))
