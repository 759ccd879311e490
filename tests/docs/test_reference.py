"""The generated references cover the code: every config key, every command and option.

``docs/reference/configuration.md`` and ``docs/reference/cli.md`` are written by
``scripts/gen_docs.py``. These tests fail when the committed pages are older
than the code, when a key or an option is missing from them (walked here
independently of the generator), and when a key has no description or an
option no help text, so that neither reference can drift.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from pydantic import BaseModel, Field

from scripts import gen_docs
from watcher.cli import main
from watcher.config.model import Config

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"


def sections(page: str) -> dict[str, str]:
    """A generated page's ``## `title` { #id }`` sections by title."""
    parts = re.split(r"^## `([^`]+)` \{ #[\w-]+ \}$", page, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def model_in(annotation: object) -> type[BaseModel] | None:
    """The section model a field holds (``X``, ``X | None``, ``tuple[X, ...]``), if any."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        inner = typing.get_args(candidate)
        if inner and isinstance(inner[0], type) and issubclass(inner[0], BaseModel):
            return inner[0]
    return None


def config_keys(
    model: type[BaseModel], path: str = "", array: bool = False
) -> Iterator[tuple[str, str, bool]]:
    """``(table path, key, is array of tables)`` for every key the config accepts."""
    for name, field in model.model_fields.items():
        child = model_in(field.annotation)
        if child is not None:
            many = typing.get_origin(field.annotation) is tuple
            yield from config_keys(child, f"{path}.{name}" if path else name, many)
        else:
            yield path, name, array


def every_command() -> Iterator[tuple[str, click.Command]]:
    def walk(command: click.Command, name: str) -> Iterator[tuple[str, click.Command]]:
        yield name, command
        if isinstance(command, click.Group):
            for sub, child in command.commands.items():
                yield from walk(child, f"{name} {sub}")

    main.load_all()  # commands register when their module is imported
    yield from walk(main, "ctwatch")


def test_the_committed_references_are_what_the_code_generates_now() -> None:
    for page, text in gen_docs.pages().items():
        assert page.read_text(encoding="utf-8") == text, (
            f"{page.name} is out of date: run python scripts/gen_docs.py"
        )


def test_every_config_key_appears_in_its_table() -> None:
    page = sections((REFERENCE / "configuration.md").read_text(encoding="utf-8"))
    keys = list(config_keys(Config))
    assert len(keys) > 50  # the walk found the whole model
    for table, key, array in keys:
        title = f"[[{table}]]" if array else f"[{table}]"
        assert title in page, f"table {title} is missing: run python scripts/gen_docs.py"
        assert f"\n| `{key}` |" in page[title], f"{table}.{key} is missing from {title}"


def test_every_command_and_option_appears() -> None:
    page = sections((REFERENCE / "cli.md").read_text(encoding="utf-8"))
    commands = list(every_command())
    assert len(commands) > 20
    for name, command in commands:
        assert name in page, f"command {name!r} is missing: run python scripts/gen_docs.py"
        assert command.help and command.help.split("\n")[0].strip() in page[name]
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for flag in param.opts:
                    assert re.search(rf"[` ]{re.escape(flag)}[ ,`]", page[name]), (
                        f"{name} {flag} is missing"
                    )
            elif isinstance(param, click.Argument):
                assert (param.metavar or param.name or "").upper() in page[name].upper()


def test_every_config_key_has_a_description() -> None:
    for table, key, _ in config_keys(Config):
        model: type[BaseModel] = Config
        for part in table.split("."):
            found = model_in(model.model_fields[part].annotation)
            assert found is not None
            model = found
        description = gen_docs.field_description(model, key, model.model_fields[key])
        assert description.strip(), f"{table}.{key}: add description= or an attribute docstring"


def test_every_command_and_option_has_help() -> None:
    for name, command in every_command():
        assert (command.help or "").strip(), f"{name} has no help text"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert (param.help or "").strip(), f"{name} {param.opts[0]} has no help text"


class _Section(BaseModel):
    documented: int = Field(default=1, description="Has words.")
    bare: int = 2


class _Root(BaseModel):
    part: _Section = _Section()


def test_the_generator_refuses_a_key_without_a_description() -> None:
    with pytest.raises(gen_docs.Undocumented, match=r"part\.bare"):
        gen_docs.configuration_reference(_Root)


def test_the_generator_refuses_an_option_without_help() -> None:
    @click.group()
    def root() -> None:
        """A group."""

    @root.command()
    @click.option("--loud", is_flag=True)
    def shout(loud: bool) -> None:
        """Shout."""

    with pytest.raises(gen_docs.Undocumented, match="--loud"):
        gen_docs.cli_reference(root)
