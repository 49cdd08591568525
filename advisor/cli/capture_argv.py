"""``advisor capture``'s options, once: read by the typer command and by the fast path.

A plain ``advisor capture [OPTIONS] -- COMMAND...`` is parsed here and run without typer
or rich (importing them costs ~0.15 s, paid by every captured test suite); anything else
(``--help``, an unknown or malformed option, no ``--``) goes through typer, which gives
the usage and its messages. :func:`run_capture` is the command's body for both.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.cli.edge import load_cfg, note_line, split_values
from advisor.errors import ConfigError

__all__ = ["OPTIONS", "CaptureArgs", "OptionSpec", "parse_plain", "run_capture"]


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One option: its parameter name, its flags (a switch's ``off`` flags turn it off),
    its kind (``value``, ``switch`` or ``repeated`` value) and its help."""

    name: str
    flags: tuple[str, ...]
    kind: str
    help: str
    off: tuple[str, ...] = ()

    @property
    def decls(self) -> tuple[str, ...]:
        """The flags as typer declares them (``--on/--off`` for a switch)."""
        if self.kind == "switch":
            return (f"{self.flags[0]}/{self.off[0]}",)
        return self.flags


OUTPUT = OptionSpec("output", ("--output", "-o"), "value", "Capture file (.jsonl).")
KEEP_PARAMS = OptionSpec(
    "keep_params",
    ("--keep-params",),
    "switch",
    "Keep parameter values (redacted by default).",
    off=("--no-keep-params",),
)
CALL_SITES = OptionSpec(
    "call_sites",
    ("--call-sites",),
    "switch",
    "Record the application line.",
    off=("--no-call-sites",),
)
APP_PACKAGE = OptionSpec(
    "app_package",
    ("--app-package",),
    "repeated",
    "An installed package that is application code (repeatable; default:"
    " app-packages of \\[tool.advisor]).",
)
OPTIONS: tuple[OptionSpec, ...] = (OUTPUT, KEEP_PARAMS, CALL_SITES, APP_PACKAGE)
"""The options of ``advisor capture``, in their typer order."""


@dataclass(frozen=True, slots=True)
class CaptureArgs:
    """What ``advisor capture`` was asked to do."""

    output: str
    command: tuple[str, ...]
    keep_params: bool = False
    call_sites: bool = True
    app_package: tuple[str, ...] | None = None


def parse_plain(args: list[str]) -> CaptureArgs | None:
    """``args`` (after ``capture``) as :class:`CaptureArgs` when they are the plain form
    ``[OPTIONS] -- COMMAND...``; None for anything typer should see (help, usage errors)."""
    if "--" not in args:
        return None
    split = args.index("--")
    options, command = args[:split], args[split + 1 :]
    by_flag = {flag: spec for spec in OPTIONS for flag in spec.flags}
    off = {flag: spec for spec in OPTIONS for flag in spec.off}
    values: dict[str, object] = {}
    repeated: list[str] = []
    index = 0
    while index < len(options):
        token = options[index]
        index += 1
        if token[:1] == "-" and token[1:2] != "-" and len(token) > 2:
            flag, equals, inline = token[:2], "=", token[2:]  # -oFILE, as click reads it
        else:
            flag, equals, inline = token.partition("=")
        if flag in off and not equals:
            values[off[flag].name] = False
            continue
        spec = by_flag.get(flag)
        if spec is None:
            return None
        if spec.kind == "switch":
            if equals:
                return None
            values[spec.name] = True
            continue
        if not equals:
            if index >= len(options):
                return None
            inline = options[index]
            index += 1
        if spec.kind == "repeated":
            repeated.append(inline)
        else:
            values[spec.name] = inline
    output = values.get("output")
    if not isinstance(output, str) or not command:
        return None
    return CaptureArgs(
        output=output,
        command=tuple(command),
        keep_params=bool(values.get("keep_params", False)),
        call_sites=bool(values.get("call_sites", True)),
        app_package=tuple(repeated) if repeated else None,
    )


def run_capture(args: CaptureArgs) -> int:
    """Run the command captured, say on stderr in one line what happened, and return the
    exit code (the command's)."""
    packages = tuple(split_values(list(args.app_package))) if args.app_package else None
    if packages is None:
        packages = load_cfg(None).app_packages
    from advisor.capture.run import run_command

    if not args.command:
        raise ConfigError("capture: no command given; usage: advisor capture -o FILE -- COMMAND")
    done = run_command(
        args.output,
        list(args.command),
        keep_params=args.keep_params,
        call_sites=args.call_sites,
        app_packages=packages,
    )
    written = f"{args.output} ({done.statements} statements)"
    problem = done.problem()
    if problem is None:
        note_line(f"advisor: capture written to {written}", dim=True)
    else:
        note_line(f"advisor: {problem}; capture written to {written}")
    return done.exit_code
