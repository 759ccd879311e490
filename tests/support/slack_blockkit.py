"""Block Kit limits as Slack enforces them, for the Slack double to answer ``invalid_blocks``.

Kept apart from the double's HTTP and state: the checks are a table of
limits and a walk over the blocks, and tests use :func:`block_errors` directly
to prove every message ctwatch builds would be accepted.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BLOCK_ID = 255
MAX_BUTTON_TEXT = 75
MAX_ACTION_ID = 255
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_URL = 3000
MAX_MESSAGE_TEXT = 40_000
BLOCK_TYPES = frozenset(
    {
        "section",
        "header",
        "context",
        "divider",
        "actions",
        "rich_text",
        # Also valid in messages; accepted without further checks.
        "image",
        "markdown",
        "video",
        "file",
        "input",
        "table",
    }
)


def _check_text_object(
    value: Any, pointer: str, limit: int, errors: list[str], *, plain_only: bool = False
) -> None:
    if not isinstance(value, dict):
        errors.append(f"must provide an object [json-pointer:{pointer}]")
        return
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if value.get("type") not in allowed:
        errors.append(f"must be a valid enum value [json-pointer:{pointer}/type]")
    text = value.get("text")
    if not isinstance(text, str):
        errors.append(f"must provide a string [json-pointer:{pointer}/text]")
    elif not text:
        errors.append(f"must be more than 0 characters [json-pointer:{pointer}/text]")
    elif len(text) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{pointer}/text]")


def _check_items(value: Any, pointer: str, limit: int, errors: list[str]) -> list[Any]:
    """A required, non-empty array of at most ``limit`` items; returns it (or [])."""
    if not isinstance(value, list):
        errors.append(f"must provide an array [json-pointer:{pointer}]")
        return []
    if not value:
        errors.append(f"must provide at least 1 item [json-pointer:{pointer}]")
    elif len(value) > limit:
        errors.append(f"must be less than {limit + 1} items [json-pointer:{pointer}]")
    return value


def _check_block(block: Any, pointer: str, errors: list[str]) -> None:
    if not isinstance(block, dict):
        errors.append(f"must provide an object [json-pointer:{pointer}]")
        return
    kind = block.get("type")
    if kind is None:
        errors.append(f"missing required field: type [json-pointer:{pointer}]")
        return
    if kind not in BLOCK_TYPES:
        errors.append(f"unsupported type: {kind} [json-pointer:{pointer}/type]")
        return
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or len(block_id) > MAX_BLOCK_ID):
        errors.append(
            f"must be less than {MAX_BLOCK_ID + 1} characters [json-pointer:{pointer}/block_id]"
        )
    if kind == "section":
        if "text" not in block and "fields" not in block:
            errors.append(f"must provide either text or fields [json-pointer:{pointer}]")
        if "text" in block:
            _check_text_object(block["text"], f"{pointer}/text", MAX_SECTION_TEXT, errors)
        if "fields" in block:
            fields = _check_items(block["fields"], f"{pointer}/fields", MAX_SECTION_FIELDS, errors)
            for index, item in enumerate(fields):
                _check_text_object(item, f"{pointer}/fields/{index}", MAX_FIELD_TEXT, errors)
    elif kind == "header":
        _check_text_object(
            block.get("text"), f"{pointer}/text", MAX_HEADER_TEXT, errors, plain_only=True
        )
    elif kind == "context":
        _check_items(block.get("elements"), f"{pointer}/elements", MAX_CONTEXT_ELEMENTS, errors)
    elif kind == "actions":
        elements = _check_items(
            block.get("elements"), f"{pointer}/elements", MAX_ACTIONS_ELEMENTS, errors
        )
        for index, element in enumerate(elements):
            _check_button(element, f"{pointer}/elements/{index}", errors)
    elif kind == "rich_text" and not isinstance(block.get("elements"), list):
        errors.append(f"must provide an array [json-pointer:{pointer}/elements]")


def _check_button(element: Any, pointer: str, errors: list[str]) -> None:
    """Buttons (other interactive elements are accepted without further checks)."""
    if not isinstance(element, dict) or element.get("type") != "button":
        return
    _check_text_object(
        element.get("text"), f"{pointer}/text", MAX_BUTTON_TEXT, errors, plain_only=True
    )
    for key, limit in (("action_id", MAX_ACTION_ID), ("value", MAX_BUTTON_VALUE),
                       ("url", MAX_BUTTON_URL)):  # fmt: skip
        value = element.get(key)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= limit):
            errors.append(f"must be 1 to {limit} characters [json-pointer:{pointer}/{key}]")


def block_errors(blocks: Any) -> list[str]:
    """Slack-style ``[ERROR] ...`` messages for a ``blocks`` value; empty when it is valid."""
    errors: list[str] = []
    if not isinstance(blocks, list):
        errors.append("must provide an array [json-pointer:/blocks]")
        return [f"[ERROR] {e}" for e in errors]
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    for index, block in enumerate(blocks):
        _check_block(block, f"/blocks/{index}", errors)
    return [f"[ERROR] {e}" for e in errors]


# -- the double --------------------------------------------------------------------
