"""Every `headwater` command printed in README.md and docs/*.md is checked against the real command
line, and run as written (issue 20, item 7: "Every example in the README and docs becomes a test
that runs it as written").

An example is a line of a fenced block (```sh, ```bash, ```shell, ```console or a bare ```) whose
command, or one stage of its pipeline, is `headwater ...` (also `$ headwater ...` and
`.venv/bin/headwater ...`). Continuations are joined (a trailing backslash, an open quote, and the
indented `[--option ...]` lines of a synopsis), a `# comment` is dropped, and so is, in a bare
block, the description after an aligned gap of two or more spaces (the README's "command
description" listing).

Every example is checked: each subcommand word and each option it names exists on the command it
is given to, in the Typer/Click tree of the real app. A synopsis (`[...]`, `a|b`, `NAME`, `D`,
`...`, `<...>`) is read as one: its alternatives, optional parts and placeholders. A runnable
example is also parsed by Click as the command would parse it (types, required arguments).

A runnable example is then run as printed, by bash, in a folder of its own per doc file, against a
copy (one per doc file) of a data directory holding `headwater demo --users 200 --days 14`, after
the lines printed before it in its block (the files that echo / printf / gzip / openssl write, the
commands before it). The ones that need a server, an outside service or a cluster are in EXCLUDED
with the reason: they are not run (their commands and options are still checked above), and
test_the_exclusions_are_current lists them in the report and fails on an exclusion that names no
example any more.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer.main

from headwater.cli import app
from tests.helpers import HEADWATER, ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = frozenset({"sh", "bash", "shell", "console"})  # and a bare fence, "": a listing
# The placeholders of the synopses: an example naming one (unquoted) is read, never run. A new
# placeholder missing here makes its example look runnable, and its run fails: add it then.
PLACEHOLDERS = frozenset(
    {"A", "C", "COL", "CURSOR", "D", "DATE", "DIR", "E", "EMAIL", "F", "FILE", "ID", "K", "KEY", "M"}
    | {"N", "NAME", "P", "PATH", "R", "S", "T", "TEXT", "TZ", "URL", "USER_ID", "YYYY-MM"}
)
# The programs a `|` feeds in the docs; a word after `|` that is none of these is an alternative of
# a synopsis (`keys create NAME | list`). A new filter missing here fails the check: add it then.
PIPE_PROGRAMS = frozenset({"wc", "head", "tail", "grep", "sort", "jq", "less"})
# The lines of a block, printed before an example, that write the files it reads: run before it.
SETUP_PROGRAMS = frozenset({"echo", "printf", "gzip", "openssl"})

# --- what cannot run here: (doc, the command as printed) -> why. -------------------------------------
# Every runnable example not named here runs. An entry covers each line of its doc printed so.
SERVER = "starts the server, which runs until stopped (tests/e2e starts real servers)"
BIGQUERY = "needs BigQuery (HEADWATER_WAREHOUSE_URL): tests/warehouse runs it against an emulator"
OBJECT_STORE = "needs object storage (HEADWATER_OBJECT_STORE_URL, gs:// or s3://): tests/shipping"
CLUSTER = "needs a cluster (HEADWATER_CLUSTER=1, a shared PostgreSQL and bucket): tests/cluster"
DATABASE = "needs a PostgreSQL server (the block's HEADWATER_DATABASE_URL): tests/e2e/test_growing.py"
EXCLUDED: dict[tuple[str, str], str] = {
    # growing.md:33 (on PostgreSQL, after `export HEADWATER_DATABASE_URL=...`) and :83 (back on SQLite)
    ("docs/growing.md", "headwater serve"): SERVER,
    # growing.md:97, after `export HEADWATER_REDIS_URL=...`: also needs Redis (tests/e2e/live)
    ("docs/growing.md", "headwater serve --workers 4"): SERVER,
    # growing.md:143-144, after `export HEADWATER_WAREHOUSE_URL='bigquery://...'`
    ("docs/growing.md", "headwater serve --workers 2"): SERVER,
    ("docs/growing.md", "headwater warehouse init"): BIGQUERY,
    # growing.md:81, going back from PostgreSQL to SQLite
    (
        "docs/growing.md",
        'headwater db copy --from "$HEADWATER_DATABASE_URL"'
        " --to sqlite:///$PWD/data/realtime.sqlite3 --replace",
    ): DATABASE,
    # scale-out.md:117-120: without an object store each says "no object store is configured", exit 2
    ("docs/scale-out.md", "headwater ship --dry-run"): OBJECT_STORE,
    ("docs/scale-out.md", "headwater ship"): OBJECT_STORE,
    ("docs/scale-out.md", "headwater ship --json"): OBJECT_STORE,
    ("docs/scale-out.md", "headwater ship status"): OBJECT_STORE,
    # scale-out.md:198, a cluster's host (after the exports of HEADWATER_CLUSTER=1 and the shared stores)
    ("docs/scale-out.md", "headwater serve --workers 4"): SERVER,
    # scale-out.md:273-274: outside a cluster each says "this host is not part of a cluster", exit 2
    ("docs/scale-out.md", "headwater cluster drain"): CLUSTER,
    ("docs/scale-out.md", "headwater cluster join"): CLUSTER,
    # warehouse.md:15-16 and :42: without a warehouse each says "no warehouse is configured", exit 2
    ("docs/warehouse.md", "headwater warehouse init"): BIGQUERY,
    ("docs/warehouse.md", "headwater serve"): SERVER,
    ("docs/warehouse.md", "headwater warehouse backfill --from 2026-11-01 --to 2026-11-30"): BIGQUERY,
}


# --- reading the docs -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Word:
    text: str  # as the shell passes it, quotes removed
    quoted: bool  # some of it was quoted: `[`, `|`, `...`, NAME in it are data, not synopsis
    spaced: bool = False  # a `|` with a space on each side


@dataclass(frozen=True)
class Scan:
    words: tuple[Word, ...]
    end: int  # where the command ends: a `# comment`, or (a listing) its aligned description
    open: bool  # ends inside a quote or after a backslash: the command goes on on the next line


def scan(text: str, listing: bool) -> Scan:
    """Shell words of ``text`` (quotes, backslashes, `#` comments; an unquoted `|` is a word of its
    own); in a listing, the command ends at a gap of two or more spaces."""
    words: list[Word] = []
    buf: list[str] = []
    state = {"word": False, "quoted": False}
    quote = ""

    def flush() -> None:
        if state["word"]:
            words.append(Word("".join(buf), state["quoted"]))
        buf.clear()
        state["word"] = state["quoted"] = False

    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"' and text[i + 1 : i + 2] in ('"', "\\", "$", "`"):
                buf.append(text[i + 1])
                i += 1
            else:
                buf.append(c)
        elif c in "'\"":
            quote = c
            state["word"] = state["quoted"] = True
        elif c == "\\":
            if i + 1 == len(text):
                flush()
                return Scan(tuple(words), len(text), True)
            buf.append(text[i + 1])
            state["word"] = True
            i += 1
        elif c.isspace():
            if listing and (words or state["word"]) and text[i : i + 2].isspace() and len(text) > i + 1:
                break
            flush()
        elif c == "#" and not state["word"]:
            break
        elif c == "|":
            flush()
            spaced = text[i - 1 : i].isspace() and text[i + 1 : i + 2].isspace()
            words.append(Word("|", False, spaced))
        else:
            buf.append(c)
            state["word"] = True
        i += 1
    if quote:
        return Scan(tuple(words), len(text), True)
    flush()
    return Scan(tuple(words), i, False)


@dataclass(frozen=True)
class Line:
    """One command of a block: its physical lines joined."""

    number: int  # the line of the doc it starts on
    text: str  # as printed, its comment (or a listing's description) left out
    words: tuple[Word, ...]


@dataclass
class Block:
    doc: str  # "README.md", "docs/scale-out.md"
    number: int  # the line of its opening fence
    fence: str  # "sh", "bash", ..., "" (a bare fence)
    lines: list[Line] = field(default_factory=list)


@dataclass(frozen=True)
class Example:
    block: Block
    index: int  # of its line in the block
    argv: tuple[Word, ...]  # the words after `headwater`

    @property
    def line(self) -> Line:
        return self.block.lines[self.index]

    @property
    def id(self) -> str:
        return f"{self.block.doc}:{self.line.number}"

    @property
    def text(self) -> str:
        return self.line.text

    @property
    def synopsis(self) -> bool:
        """It shows a form to fill (placeholders, optional parts, alternatives), not a command."""
        for w in self.argv:
            if w.quoted:
                continue
            t = w.text
            if t == "|" or "[" in t or "]" in t or "..." in t or (t.startswith("<") and t.endswith(">")):
                return True
            if any(part in PLACEHOLDERS for part in re.split(r"[=,:]", t)):
                return True
        return False


def fenced_blocks(path: Path) -> Iterator[Block]:
    doc = path.relative_to(ROOT).as_posix()
    opened: tuple[int, str, int] | None = None  # line, fence, indent
    body: list[tuple[int, str]] = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.lstrip()
        if stripped.startswith("```"):
            if opened is None:
                opened, body = (
                    (number, stripped[3:].strip().split(" ")[0].lower(), len(raw) - len(stripped)),
                    [],
                )
            else:
                start, fence, _ = opened
                if fence in SHELL_FENCES or fence == "":
                    yield Block(doc, start, fence, logical_lines(doc, fence, body))
                opened = None
        elif opened is not None:
            indent = opened[2]
            body.append((number, raw[indent:] if not raw[:indent].strip() else raw.lstrip()))


def logical_lines(doc: str, fence: str, body: list[tuple[int, str]]) -> list[Line]:
    """The commands of a block's body (line number, text without the fence's indentation)."""
    listing = fence == ""
    lines: list[Line] = []
    pending: tuple[int, str] | None = None

    def add(number: int, text: str) -> None:
        s = scan(text, listing)
        lines.append(Line(number, text[: s.end].rstrip(), s.words))

    for number, raw in body:
        stripped = raw.strip()
        if pending is not None:
            start, text = pending
            # after a backslash, joined as the shell does (one command); in a quote, the newline stays
            text = text[:-1].rstrip() + " " + stripped if text.endswith("\\") else text + "\n" + raw
        else:
            if stripped.startswith("$ "):
                stripped = stripped[2:].lstrip()
            elif fence == "console":
                continue  # a console's output
            if not stripped:
                continue
            if raw[:1].isspace() and lines and stripped.startswith(("[", "--")):
                # the indented next line of a synopsis: `[--filter F ...] [--json]`
                previous = lines.pop()
                add(previous.number, previous.text + " " + stripped)
                continue
            if raw[:1].isspace() and stripped.startswith("#"):
                continue  # a comment going on from the line above
            start, text = number, stripped
        if scan(text, listing).open and (text.endswith("\\") or not listing):
            pending = (start, text)  # a listing (often output, with apostrophes) joins only on `\`
            continue
        pending = None
        add(start, text)
    assert pending is None, f"{doc}:{pending[0]}: a quote or a backslash is never closed"
    return lines


def is_headwater(words: list[Word]) -> bool:
    """The words run `headwater` (after VAR=value assignments), by name or by path."""
    for w in words:
        if not w.quoted and re.match(r"[A-Za-z_][A-Za-z0-9_]*=", w.text):
            continue
        return w.text == "headwater" or w.text.endswith("/headwater")
    return False


def headwater_stages(words: tuple[Word, ...]) -> list[list[Word]]:
    """The headwater commands of a line, each its words from `headwater` on: a pipeline is cut at
    each `|` that feeds a program (PIPE_PROGRAMS, headwater, or from a program that is not
    headwater); any other `|` is an alternative inside a synopsis."""
    segments: list[list[Word]] = [[]]
    for w in words:
        if w.text == "|" and not w.quoted:
            segments.append([w])
        else:
            segments[-1].append(w)
    stages: list[list[Word]] = []
    for segment in segments:
        head = segment[1:] if segment and segment[0].text == "|" else segment
        continues = (
            stages
            and is_headwater(stages[-1])
            and not is_headwater(head)
            and not (head and head[0].text in PIPE_PROGRAMS)
        )
        if continues:
            stages[-1].extend(segment)
        else:
            stages.append(head)
    found = []
    for stage in stages:
        if is_headwater(stage):
            start = next(
                i for i, w in enumerate(stage) if w.text == "headwater" or w.text.endswith("/headwater")
            )
            found.append(stage[start:])
    return found


def find_examples() -> list[Example]:
    examples: list[Example] = []
    for path in DOCS:
        for block in fenced_blocks(path):
            for index, line in enumerate(block.lines):
                stages = headwater_stages(line.words)
                assert len(stages) <= 1, f"{block.doc}:{line.number}: two headwater commands in one line"
                if stages:
                    examples.append(Example(block, index, tuple(stages[0][1:])))
    return examples


EXAMPLES = find_examples()
RUNNABLE = [e for e in EXAMPLES if not e.synopsis]


# --- checking them against the command tree ---------------------------------------------------------
COMMAND: Any = typer.main.get_command(app)
HELP: Any = COMMAND.get_help_option(COMMAND.make_context("headwater", [], resilient_parsing=True))


def subcommands(command: Any) -> dict[str, Any]:
    return dict(getattr(command, "commands", {}))


def option(command: Any, name: str) -> Any | None:
    if name == "--help":
        return HELP
    for param in command.params:
        if param.param_type_name == "option" and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def tokens(argv: tuple[Word, ...]) -> Iterator[Word]:
    """The words of a synopsis, an unquoted `[` and `]` made words of their own and `...` dropped."""
    for w in argv:
        if w.quoted or w.text == "|":
            yield w
            continue
        text = w.text
        while text.startswith("["):
            yield Word("[", False)
            text = text[1:]
        closing = len(text) - len(text.rstrip("]"))
        text = text.rstrip("]")
        if text and text != "...":
            yield Word(text, False)
        for _ in range(closing):
            yield Word("]", False)


def problems(example: Example) -> list[str]:
    """What the example names that the command line does not have (empty: all there)."""
    found: list[str] = []
    path: list[tuple[str, Any]] = [("headwater", COMMAND)]  # the command the next words are given to
    brackets: list[tuple[list[tuple[str, Any]], bool]] = []  # each open `[`: path then, at a group
    mode = ""  # after a `|`: "sub" (of the group of the `[`), "sibling", "command" (from any parent), "value"
    previous = ""  # "command", "value", "option"
    wants_value = False

    def name(p: list[tuple[str, Any]]) -> str:
        return " ".join(n for n, _ in p)

    def resolve(word: str, candidates: list[list[tuple[str, Any]]]) -> bool:
        nonlocal path
        for parent in candidates:
            sub = subcommands(parent[-1][1]).get(word)
            if sub is not None:
                path = [*parent, (word, sub)]
                return True
        return False

    for w in tokens(example.argv):
        t = w.text
        if t == "[" and not w.quoted:
            brackets.append((path[:], bool(subcommands(path[-1][1]))))
            previous, wants_value = "", False
        elif t == "]" and not w.quoted:
            if brackets:
                path = brackets.pop()[0]
            wants_value = False
        elif t == "|" and not w.quoted:
            if brackets and brackets[-1][1]:
                path, mode = brackets[-1][0][:], "sub"
            elif w.spaced:
                mode = "command"
            else:
                mode = "sibling" if previous == "command" else "value"
            wants_value = False
        elif t.startswith("-") and t != "-" and not (wants_value and not t.startswith("--")):
            opt = option(path[-1][1], t.split("=", 1)[0])
            if opt is None:
                found.append(f"`{name(path)}` has no option {t.split('=', 1)[0]}")
            wants_value = opt is not None and not opt.is_flag and not opt.count and "=" not in t
            previous, mode = "option", ""
        elif wants_value or mode == "value":
            previous, wants_value, mode = "value", False, ""
        elif mode == "sub" or (mode == "" and subcommands(path[-1][1])):
            if not resolve(t, [path]):
                found.append(f"`{name(path)}` has no command {t!r}")
            previous, mode = "command", ""
        elif mode == "sibling":
            if not resolve(t, [path[:-1]]):
                found.append(f"`{name(path[:-1])}` has no command {t!r}")
            previous, mode = "command", ""
        elif mode == "command":
            if not resolve(t, [path[:i] for i in range(len(path) - 1, 0, -1)]):
                found.append(f"`{name(path[:-1])}` (nor any group above it) has no command {t!r}")
            previous, mode = "command", ""
        else:
            previous = "value"  # an argument of a command
    return found


def parse_problem(example: Example) -> str | None:
    """Click's objection to the runnable example's arguments (types, a missing argument), if any."""
    command, names, args = COMMAND, ["headwater"], [w.text for w in example.argv]
    while args and args[0] in subcommands(command):
        names.append(args[0])
        command = subcommands(command)[args.pop(0)]
    try:
        command.make_context(" ".join(names), args)
    except Exception as exc:
        return f"`{' '.join(names)}` refuses its arguments: {type(exc).__name__}: {exc}"
    return None


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_the_example_names_real_commands_and_options(example: Example) -> None:
    found = problems(example)
    if not found and not example.synopsis:
        found = [p for p in [parse_problem(example)] if p]
    assert not found, f"{example.id}: {example.text}\n" + "\n".join(found)


# --- running them -----------------------------------------------------------------------------------
def program(line: Line) -> str:
    """The program a line of a block runs first (after VAR=value assignments)."""
    for w in line.words:
        if w.quoted or not re.match(r"[A-Za-z_][A-Za-z0-9_]*=", w.text):
            return w.text
    return ""


def exclusion(example: Example) -> str | None:
    return EXCLUDED.get((example.block.doc, example.text))


def environment(data_dir: Path) -> dict[str, str]:
    """This environment without any HEADWATER_* setting (the docs' commands run with the defaults),
    but the data directory, and with this venv's `headwater` first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env["HEADWATER_DATA_DIR"] = str(data_dir)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


VENV = Path(sys.executable).parent.parent


class Runner:
    """Runs examples as printed: per doc file, a folder of its own (where `.venv` is this venv) and
    a copy of the demo data of its own."""

    def __init__(self, base: Path, demo: Path) -> None:
        self.base, self.demo = base, demo
        self.done: dict[tuple[str, int], subprocess.CompletedProcess[str]] = {}
        self.runnable = {(e.block.doc, e.line.number) for e in RUNNABLE if not exclusion(e)}

    def shell(self, doc: str, line: Line) -> subprocess.CompletedProcess[str]:
        """The line run by bash in the doc's folder (once: later calls answer the same run)."""
        key = (doc, line.number)
        if key not in self.done:
            work = self.base / doc.replace("/", "-")
            if not work.exists():
                work.mkdir()
                (work / ".venv").symlink_to(VENV)
                shutil.copytree(self.demo, work / "data")
            self.done[key] = subprocess.run(
                ["bash", "-o", "pipefail", "-c", line.text],
                cwd=work,
                env=environment(work / "data"),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        return self.done[key]

    def run(self, example: Example) -> subprocess.CompletedProcess[str]:
        """The example's run, after the lines of its block above it that it may need: the files that
        echo / printf / gzip / openssl write, and the runnable examples (each run once)."""
        doc = example.block.doc
        for line in example.block.lines[: example.index]:
            if (doc, line.number) in self.runnable or program(line) in SETUP_PROGRAMS:
                done = self.shell(doc, line)
                assert done.returncode == 0, (
                    f"{doc}:{line.number}, above {example.id}, failed: {line.text}\n{done.stderr[-3000:]}"
                )
        return self.shell(doc, example.line)


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    base = tmp_path_factory.mktemp("docs")
    subprocess.run(
        [*HEADWATER, "demo", "--users", "200", "--days", "14"],
        env=environment(base / "demo"),
        capture_output=True,
        check=True,
        timeout=300,
    )
    return Runner(base, base / "demo")


def run_cases() -> list[Any]:
    """One case per runnable example not excluded (the excluded ones, with their reasons, are what
    test_the_exclusions_are_current records and checks: no case is skipped)."""
    return [pytest.param(e, id=e.id) for e in RUNNABLE if not exclusion(e)]


@pytest.mark.parametrize("example", run_cases())
def test_the_example_runs_as_printed(example: Example, runner: Runner) -> None:
    done = runner.run(example)
    assert done.returncode == 0 and "Traceback" not in done.stderr, (
        f"{example.id}: {example.text}\nexit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    )


def test_the_exclusions_are_current(record_property: Callable[[str, object], None]) -> None:
    """Each exclusion names a runnable example of its doc as printed now (else it is stale: the
    example changed or went, and the exclusion would hide its successor); the list is recorded."""
    runnable = {(e.block.doc, e.text) for e in RUNNABLE}
    stale = [f"{doc}: {text}" for doc, text in EXCLUDED if (doc, text) not in runnable]
    assert not stale, "exclusions naming no runnable example:\n" + "\n".join(stale)
    assert all(reason.strip() for reason in EXCLUDED.values())
    excluded = [f"{e.id}: {e.text} -- {exclusion(e)}" for e in RUNNABLE if exclusion(e)]
    record_property("excluded", "\n".join(excluded))
    print(f"{len(excluded)} of {len(RUNNABLE)} runnable examples not run:", *excluded, sep="\n")


def _first(doc: str, start: str) -> Any:
    """The first example of ``doc`` whose text starts with ``start``."""
    found = [e for e in EXAMPLES if e.block.doc == doc and e.text.startswith(start)]
    assert found, f"no example of {doc} starts with {start!r}"
    return found[0]


def test_every_headwater_line_of_a_block_is_an_example() -> None:
    """The reader misses none: each line of a fenced block that starts a `headwater` command (also
    `$ headwater`, `.venv/bin/headwater`) is where an example starts; and the forms the docs use are
    read as they are meant (continuations joined, listings' descriptions cut, pipes split)."""
    starts = {(e.block.doc, e.line.number) for e in EXAMPLES}
    missed = []
    for path in DOCS:
        doc, inside = path.relative_to(ROOT).as_posix(), False
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            if raw.lstrip().startswith("```"):
                inside = not inside
            elif (
                inside and re.match(r"\s*(\$ )?(\.venv/bin/)?headwater ", raw) and (doc, number) not in starts
            ):
                missed.append(f"{doc}:{number}: {raw.strip()}")
    assert not missed, "\n".join(missed)
    by_id = {e.id: e for e in EXAMPLES}
    assert len(EXAMPLES) >= 100 and len(RUNNABLE) >= 60
    assert by_id["README.md:84"].synopsis and by_id["README.md:84"].text.endswith("revoke KEY|NAME")
    # found by their text, not their line (the docs move)
    synopsis = _first("docs/insights.md", "headwater insights trend --start D --end D [--tz TZ]")
    assert synopsis.text.endswith("[--compare] [--json]")  # its indented lines
    piped = _first("docs/privacy.md", "headwater privacy export user-42 -o -")  # "| wc -l" cut off
    assert not piped.synopsis and piped.argv[-1].text == "-"
    assert [w.text for w in by_id["docs/transfer.md:27"].argv] == ["import", "-", "--json"]
    assert (
        by_id["docs/segment.md:16"].text
        == "headwater keys create segment-web --webhook-secret-file segment-secret"
    )
