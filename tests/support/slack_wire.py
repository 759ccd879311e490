"""The Slack double's wire: requests as read, answers to write, Web API argument decoding.

Kept apart from :mod:`tests.support.slack_double` (its state and the API
methods) so each stays one concept: this module knows how slack-sdk puts a
call on the wire (JSON with ``Authorization: Bearer``, or a form with
``token``) and how Slack answers (HTTP 200 with ``"ok": false`` for API errors).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from watcher.testing.loopback import TEXT

JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclass
class Request:
    """What the handler read off the wire; decisions are made by ``SlackDouble``."""

    verb: str
    path: str
    query: str
    headers: Mapping[str, str]  # names lowercased
    body: bytes = field(repr=False)


class ApiError(Exception):
    """Becomes ``{"ok": false, "error": error, **extra}`` with HTTP 200."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def json_response(
    status: int, value: Mapping[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> Response:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(status, body, JSON, tuple(headers))


def text_response(status: int, message: str) -> Response:
    return Response(status, message.encode("utf-8"), TEXT)


def decode_call(request: Request) -> tuple[dict[str, Any], str | None]:
    """Arguments and token of an API call, from a JSON or form body (and the query)."""
    args: dict[str, Any] = dict(parse_qsl(request.query, keep_blank_values=True))
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.body and content_type == "application/json":
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError("invalid_json") from exc
        if not isinstance(body, dict):
            raise ApiError("json_not_object")
        args.update(body)
    elif request.body and content_type in ("application/x-www-form-urlencoded", ""):
        try:
            form = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise ApiError("invalid_form_data") from exc
        args.update(form)
        for key, error in (
            ("blocks", "invalid_blocks_format"),
            ("attachments", "invalid_attachments"),
        ):
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError as exc:
                    raise ApiError(error) from exc
    elif request.body:
        raise ApiError("invalid_form_data")
    token: str | None = None
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        token = credentials.strip()
    elif content_type != "application/json" and isinstance(args.get("token"), str):
        token = args["token"] or None
    return args, token


def format_ts(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{seconds}.{fraction:06d}"
