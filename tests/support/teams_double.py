"""A double of a Teams Power Automate Workflows webhook, over HTTP on 127.0.0.1.

What it imitates (API_FACTS §15):

- ``POST /powerautomate/automations/direct/workflows/<flow>/triggers/manual/paths/invoke``
  with ``api-version``, ``sp``, ``sv`` and ``sig`` in the query, as the new
  ``*.environment.api.powerplatform.com`` URLs look; a wrong or missing
  ``sig`` answers 401 (``DirectApiAuthorizationRequired``), an unknown path 404;
- the payload Workflows' "Post card" step needs: ``{"type": "message",
  "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
  "content": {"type": "AdaptiveCard", "version": …, "body": […]}}]}``; anything
  else answers 400 with the problems found (:func:`card_errors`);
- a body over ``max_bytes`` (about 28 KB) answers 413 "Request Entity Too Large";
- accepted requests answer **202 Accepted** with an empty body;
- canned faults (``fail_next``): 429 with ``Retry-After``, 5xx, a dropped
  connection, a slow answer, an error body that echoes the request URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tests.support.http_sink import Reply, Request, SinkDouble, json_reply

FLOW_PATH = "/powerautomate/automations/direct/workflows/{flow}/triggers/manual/paths/invoke"
MAX_BYTES = 28 * 1024
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
ELEMENTS = frozenset({"TextBlock", "RichTextBlock", "Container", "ColumnSet", "FactSet"})
VERSIONS = frozenset({"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"})


@dataclass(frozen=True)
class PostedCard:
    """One accepted request: the flow it went to and the Adaptive Card it carried."""

    flow: str
    card: dict[str, Any]
    size: int


def card_errors(payload: Any) -> list[str]:
    """What Workflows (and Teams' renderer) would refuse in a request payload."""
    if not isinstance(payload, dict) or payload.get("type") != "message":
        return ['the payload must be an object with "type": "message"']
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return ['"attachments" must be a non-empty list']
    errors = []
    for index, attachment in enumerate(attachments):
        where = f"attachments[{index}]"
        if not isinstance(attachment, dict) or attachment.get("contentType") != CARD_TYPE:
            errors.append(f"{where}.contentType must be {CARD_TYPE}")
            continue
        card = attachment.get("content")
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
            errors.append(f'{where}.content must be an object with "type": "AdaptiveCard"')
            continue
        if card.get("version") not in VERSIONS:
            errors.append(f"{where}.content.version {card.get('version')!r} is not supported")
        if not isinstance(card.get("body"), list):
            errors.append(f"{where}.content.body must be a list")
            continue
        errors += [f"{where}.content.{e}" for e in _element_errors(card["body"], "body")]
        actions = card.get("actions", [])
        errors += [f"{where}.content.{e}" for e in _action_errors(actions, "actions")]
    return errors


def _each(
    items: Any, where: str, check: Callable[[Any, str], Iterator[str]], *, empty: bool = True
) -> Iterator[str]:
    """``check`` every item of a list (which must be one, and non-empty unless ``empty``)."""
    if not isinstance(items, list) or not (items or empty):
        yield f"{where} must be a {'' if empty else 'non-empty '}list"
        return
    for index, item in enumerate(items):
        yield from check(item, f"{where}[{index}]")


def _element_errors(elements: Any, where: str) -> Iterator[str]:
    return _each(elements, where, _element)


def _element(element: Any, here: str) -> Iterator[str]:
    kind = element.get("type") if isinstance(element, dict) else None
    if kind not in ELEMENTS:
        yield f"{here}: unknown element {kind!r}"
    elif kind == "TextBlock" and not isinstance(element.get("text"), str):
        yield f"{here}.text must be a string"
    elif kind == "RichTextBlock":
        yield from _each(element.get("inlines"), f"{here}.inlines", _inline, empty=False)
    elif kind == "Container":
        yield from _element_errors(element.get("items"), f"{here}.items")


def _inline(inline: Any, here: str) -> Iterator[str]:
    if not isinstance(inline, dict) or inline.get("type") != "TextRun":
        yield f"{here} must be a TextRun"
    elif not isinstance(inline.get("text"), str):
        yield f"{here}.text must be a string"
    elif "selectAction" in inline:
        yield from _action(inline["selectAction"], f"{here}.selectAction")


def _action_errors(actions: Any, where: str) -> Iterator[str]:
    return _each(actions, where, _action)


def _action(action: Any, here: str) -> Iterator[str]:
    if not isinstance(action, dict) or action.get("type") != "Action.OpenUrl":
        yield f"{here} must be an Action.OpenUrl"
    elif not str(action.get("url", "")).startswith(("https://", "http://")):
        yield f"{here}.url must be an http(s) URL"


def _error(status: int, code: str, message: str) -> Reply:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return json_reply(status, body)


class TeamsDouble(SinkDouble):
    """Workflows webhooks for any flow name, all signed with ``signature``."""

    label = "teams double"

    def __init__(
        self, *, signature: str = "double-sig-0123456789", max_bytes: int = MAX_BYTES
    ) -> None:
        super().__init__()
        self.signature = signature
        self.max_bytes = max_bytes
        self._cards: list[PostedCard] = []

    def url(self, flow: str = "alerts", signature: str | None = None) -> str:
        """A Workflows webhook URL for ``flow``, as Teams shows it (with its ``sig=``)."""
        sig = self.signature if signature is None else signature
        return (
            f"{self.origin()}{FLOW_PATH.format(flow=flow)}"
            f"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"
        )

    @property
    def cards(self) -> list[PostedCard]:
        """Accepted cards, oldest first."""
        with self._lock:
            return list(self._cards)

    def answer(self, request: Request) -> tuple[Reply, str]:
        flow = _flow(request.path)
        if flow is None:
            return _error(404, "TriggerNotFound", "The workflow was not found."), "unknown flow"
        if _first(request.query, "sig") != self.signature:
            message = "The request must be authenticated: the signature does not match."
            return _error(401, "DirectApiAuthorizationRequired", message), "bad signature"
        if len(request.body) > self.max_bytes:
            return Reply(413, b"Request Entity Too Large"), "too large"
        try:
            payload = json.loads(request.body)
        except ValueError:
            return _error(400, "InvalidRequestContent", "The body is not JSON."), "not JSON"
        errors = card_errors(payload)
        if errors:
            return _error(400, "InvalidRequestContent", "; ".join(errors)), "invalid card"
        card = payload["attachments"][0]["content"]
        self._cards.append(PostedCard(flow, card, len(request.body)))
        return Reply(202), "accepted"


def _flow(path: str) -> str | None:
    prefix, _, suffix = FLOW_PATH.partition("{flow}")
    if not (path.startswith(prefix) and path.endswith(suffix)):
        return None
    flow = path[len(prefix) : len(path) - len(suffix)]
    return flow if flow and "/" not in flow else None


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None
