"""The Slack double answers slack-sdk's real ``WebClient`` the way Slack does.

Every test here drives the double over real HTTP with ``slack_sdk.WebClient`` (or
httpx for the form-encoded and response_url paths), so a behaviour pinned here is one
the Slack notifier can rely on in its own tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from tests.support.slack_double import PostedMessage, SlackDouble, block_errors

TOKEN = "xoxb-test-token"
POST = "chat.postMessage"


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    with SlackDouble() as double:
        yield double


@pytest.fixture
def client(slack: SlackDouble) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.url, timeout=5)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the rate-limit handler's sleeps instead of sleeping (it adds up to 1 s jitter)."""
    durations: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=durations.append))
    return durations


def section(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": "section", "text": {"type": kind, "text": text}}


def header(text: str, kind: str = "plain_text") -> dict[str, Any]:
    return {"type": "header", "text": {"type": kind, "text": text}}


def fields(*texts: str) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": t} for t in texts]}


def api_error(excinfo: pytest.ExceptionInfo[SlackApiError]) -> Any:
    return excinfo.value.response["error"]


# -- success -------------------------------------------------------------------------


def test_successful_post_is_recorded_with_text_and_blocks(
    slack: SlackDouble, client: WebClient
) -> None:
    blocks = [header("NCT01234567 changed"), section("*Status*: RECRUITING → COMPLETED")]
    response = client.chat_postMessage(
        channel="#trial-alerts", text="NCT01234567 changed", blocks=blocks
    )

    assert response["ok"] is True
    assert response["channel"] == slack.channel_id("#trial-alerts")
    assert response["channel"].startswith("C")
    assert response["ts"] == "1700000000.000100"
    assert response["message"]["text"] == "NCT01234567 changed"
    assert response["message"]["blocks"] == blocks
    assert slack.messages == [
        PostedMessage(
            channel="#trial-alerts",
            text="NCT01234567 changed",
            blocks=blocks,
            payload={"channel": "#trial-alerts", "text": "NCT01234567 changed", "blocks": blocks},
            token=TOKEN,
        )
    ]
    assert slack.calls == [(POST, 200)]


def test_ts_increases_and_channel_may_be_an_id_or_a_bare_name(
    slack: SlackDouble, client: WebClient
) -> None:
    oncology = slack.channel_id("#oncology")
    first = client.chat_postMessage(channel=oncology, text="one")
    second = client.chat_postMessage(channel="oncology", text="two")

    assert first["channel"] == second["channel"] == oncology
    assert float(second["ts"]) > float(first["ts"])
    assert [(m.channel, m.text) for m in slack.messages] == [(oncology, "one"), ("oncology", "two")]


def test_channel_given_as_an_id_answers_as_itself() -> None:
    with SlackDouble(channels=("C0123ABCD",)) as double:
        response = WebClient(token=TOKEN, base_url=double.url).chat_postMessage(
            channel="C0123ABCD", text="hi"
        )
    assert response["channel"] == "C0123ABCD"


def test_limits_at_their_maximum_are_accepted(slack: SlackDouble, client: WebClient) -> None:
    blocks = [
        header("h" * 150),
        section("s" * 3000),
        section("p" * 3000, kind="plain_text"),
        fields(*["f" * 2000] * 10),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
        {"type": "divider"},
    ]
    blocks += [{"type": "divider"}] * (50 - len(blocks))
    client.chat_postMessage(channel="#trial-alerts", text="t" * 40_000, blocks=blocks)
    assert len(slack.messages[0].blocks) == 50


def test_form_encoded_post_with_token_in_the_form(slack: SlackDouble) -> None:
    blocks = [section("from a form")]
    form = {
        "token": TOKEN,
        "channel": "#trial-alerts",
        "text": "form",
        "blocks": '[{"type": "section", "text": {"type": "mrkdwn", "text": "from a form"}}]',
    }
    answer = httpx.post(f"{slack.url}{POST}", data=form).json()

    assert answer["ok"] is True
    (message,) = slack.messages
    assert (message.text, message.blocks, message.token) == ("form", blocks, TOKEN)
    assert message.payload["blocks"] == blocks


def test_form_encoded_post_with_unparsable_blocks(slack: SlackDouble) -> None:
    form = {"token": TOKEN, "channel": "#trial-alerts", "text": "x", "blocks": "[{"}
    answer = httpx.post(f"{slack.url}{POST}", data=form).json()
    assert answer == {"ok": False, "error": "invalid_blocks_format"}
    assert slack.messages == []


# -- auth and channels ---------------------------------------------------------------


def test_unknown_token_is_invalid_auth(slack: SlackDouble) -> None:
    client = WebClient(token="xoxb-wrong", base_url=slack.url)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#trial-alerts", text="hi")
    assert api_error(excinfo) == "invalid_auth"
    assert excinfo.value.response.status_code == 200
    assert slack.messages == []
    assert slack.calls == [(POST, 200)]


def test_missing_token_is_not_authed(slack: SlackDouble) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        WebClient(base_url=slack.url).chat_postMessage(channel="#trial-alerts", text="hi")
    assert api_error(excinfo) == "not_authed"


def test_unknown_channel_is_channel_not_found(slack: SlackDouble, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#no-such-channel", text="hi")
    assert api_error(excinfo) == "channel_not_found"
    assert slack.messages == []


def test_channel_the_bot_is_not_in_is_not_in_channel() -> None:
    with SlackDouble(member_of=["#trial-alerts"]) as double:
        client = WebClient(token=TOKEN, base_url=double.url)
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_postMessage(channel="#oncology", text="hi")
        client.chat_postMessage(channel="#trial-alerts", text="hi")
        assert api_error(excinfo) == "not_in_channel"
        assert [m.channel for m in double.messages] == ["#trial-alerts"]


def test_member_of_must_name_known_channels() -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        SlackDouble(member_of=["#elsewhere"])


def test_auth_test_and_unknown_method(slack: SlackDouble, client: WebClient) -> None:
    me = client.auth_test()
    assert (me["ok"], me["user_id"], me["team"]) == (True, "U0BOT", "Test")

    with pytest.raises(SlackApiError) as excinfo:
        WebClient(token="xoxb-wrong", base_url=slack.url).auth_test()
    assert api_error(excinfo) == "invalid_auth"

    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.frobnicate")
    assert api_error(excinfo) == "unknown_method"
    assert slack.calls == [("auth.test", 200), ("auth.test", 200), ("chat.frobnicate", 200)]


# -- Block Kit limits and text -------------------------------------------------------


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        pytest.param([{"type": "divider"}] * 51, "/blocks]", id="51-blocks"),
        pytest.param([section("s" * 3001)], "/blocks/0/text/text]", id="3001-char-section"),
        pytest.param(
            [section("p" * 3001, kind="plain_text")],
            "/blocks/0/text/text]",
            id="3001-char-plain-section",
        ),
        pytest.param([header("h" * 151)], "/blocks/0/text/text]", id="151-char-header"),
        pytest.param([header("h", kind="mrkdwn")], "/blocks/0/text/type]", id="mrkdwn-header"),
        pytest.param([fields(*["f"] * 11)], "/blocks/0/fields]", id="11-fields"),
        pytest.param([fields("ok", "f" * 2001)], "/blocks/0/fields/1/text]", id="2001-char-field"),
        pytest.param(
            [
                {"type": "divider"},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
            ],
            "/blocks/1/elements]",
            id="11-context-elements",
        ),
        pytest.param([{"type": "banner"}], "/blocks/0/type]", id="unknown-type"),
        pytest.param([{"text": "no type"}], "/blocks/0]", id="missing-type"),
        pytest.param([section("")], "/blocks/0/text/text]", id="empty-section-text"),
    ],
)
def test_block_kit_violation_is_invalid_blocks(
    slack: SlackDouble, client: WebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#trial-alerts", text="fallback", blocks=blocks)

    assert api_error(excinfo) == "invalid_blocks"
    messages = excinfo.value.response["response_metadata"]["messages"]
    assert messages
    assert all(m.startswith("[ERROR] ") for m in messages)
    assert any(m.endswith(f"[json-pointer:{pointer}") for m in messages), messages
    assert slack.messages == []
    assert slack.calls == [(POST, 200)]


def test_block_errors_quotes_slacks_wording() -> None:
    assert block_errors([{"type": "divider"}] * 51) == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]
    assert block_errors([section("s" * 3001)]) == [
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    assert block_errors([header("ok"), {"type": "divider"}]) == []


def test_no_text_and_no_blocks_is_no_text(slack: SlackDouble, client: WebClient) -> None:
    with pytest.warns(UserWarning), pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#trial-alerts", text="")
    assert api_error(excinfo) == "no_text"


def test_blocks_without_text_are_accepted(slack: SlackDouble, client: WebClient) -> None:
    with pytest.warns(UserWarning):  # slack-sdk's accessibility warning, not the double's
        client.chat_postMessage(channel="#trial-alerts", blocks=[section("only blocks")])
    assert slack.messages[0].text == ""


def test_text_over_40000_chars_is_msg_too_long(slack: SlackDouble, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#trial-alerts", text="x" * 40_001)
    assert api_error(excinfo) == "msg_too_long"
    assert slack.messages == []


# -- faults and slack-sdk's retry handlers ---------------------------------------------


@pytest.mark.parametrize("handlers", ["default", "none"])
def test_500_raises_without_server_error_handler(slack: SlackDouble, handlers: str) -> None:
    client = WebClient(
        token=TOKEN, base_url=slack.url, retry_handlers=None if handlers == "default" else []
    )
    slack.fail_next(status=500)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#trial-alerts", text="hi")

    assert excinfo.value.response.status_code == 500
    assert slack.messages == []
    assert slack.calls == [(POST, 500)]
    client.chat_postMessage(channel="#trial-alerts", text="hi")  # the fault was used up
    assert slack.calls == [(POST, 500), (POST, 200)]


def test_canned_api_error_applies_before_validation(slack: SlackDouble) -> None:
    slack.fail_next(error="channel_not_found")
    client = WebClient(token="xoxb-wrong", base_url=slack.url)  # would be invalid_auth
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#trial-alerts", text="hi")
    assert api_error(excinfo) == "channel_not_found"
    assert excinfo.value.response.status_code == 200
    assert slack.calls == [(POST, 200)]


def test_faults_apply_to_chat_post_message_only(slack: SlackDouble, client: WebClient) -> None:
    slack.fail_next(status=503)
    assert client.auth_test()["ok"] is True
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="#trial-alerts", text="hi")
    assert slack.calls == [("auth.test", 200), (POST, 503)]


def test_503_then_success_with_server_error_retry_handler(
    slack: SlackDouble, client: WebClient
) -> None:
    client.retry_handlers.append(
        ServerErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0.0))
    )
    slack.fail_next(status=503)

    response = client.chat_postMessage(channel="#trial-alerts", text="after a 503")

    assert response["ok"] is True
    assert [m.text for m in slack.messages] == ["after a 503"]
    assert slack.calls == [(POST, 503), (POST, 200)]


def test_503_twice_exhausts_one_retry(slack: SlackDouble, client: WebClient) -> None:
    client.retry_handlers.append(
        ServerErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0.0))
    )
    slack.fail_next(status=503, times=2)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#trial-alerts", text="hi")
    assert excinfo.value.response.status_code == 503
    assert slack.calls == [(POST, 503), (POST, 503)]
    assert slack.messages == []


def test_429_then_success_with_rate_limit_retry_handler(
    slack: SlackDouble, client: WebClient, slept: list[float]
) -> None:
    client.retry_handlers.append(RateLimitErrorRetryHandler())
    slack.fail_next(status=429, retry_after=0)

    response = client.chat_postMessage(channel="#trial-alerts", text="after a 429")

    assert response["ok"] is True
    assert [m.text for m in slack.messages] == ["after a 429"]
    assert slack.calls == [(POST, 429), (POST, 200)]
    # slack-sdk sleeps Retry-After plus up to 1 s jitter; without the header it would be >= 1.
    assert len(slept) == 1
    assert 0 <= slept[0] < 1


def test_retry_after_header_reaches_the_handler(
    slack: SlackDouble, client: WebClient, slept: list[float]
) -> None:
    client.retry_handlers.append(RateLimitErrorRetryHandler())
    slack.fail_next(status=429, retry_after=7)
    client.chat_postMessage(channel="#trial-alerts", text="hi")
    assert len(slept) == 1
    assert 7 <= slept[0] < 8


def test_429_without_handler_raises_with_retry_after(slack: SlackDouble, client: WebClient) -> None:
    slack.fail_next(status=429, retry_after=30)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#trial-alerts", text="hi")
    response = excinfo.value.response
    assert response.status_code == 429
    assert response["error"] == "ratelimited"
    assert response.headers["Retry-After"] == "30"


def test_fail_next_rejects_meaningless_faults(slack: SlackDouble) -> None:
    with pytest.raises(ValueError, match="needs an error"):
        slack.fail_next()
    with pytest.raises(ValueError, match="times"):
        slack.fail_next(status=500, times=0)
    with pytest.raises(ValueError, match="status"):
        slack.fail_next(status=700)


# -- response_url and lifecycle --------------------------------------------------------


def test_response_url_records_json_bodies(slack: SlackDouble) -> None:
    url = slack.response_url("cmd-1")
    assert url == f"{slack.url.removesuffix('/api/')}/response/cmd-1"

    answer = httpx.post(url, json={"response_type": "ephemeral", "text": "Watching 3 trials"})
    bad = httpx.post(url, content=b"not json", headers={"Content-Type": "application/json"})

    assert (answer.status_code, answer.text) == (200, "ok")
    assert bad.status_code == 400
    assert slack.responses == [{"response_type": "ephemeral", "text": "Watching 3 trials"}]
    assert slack.calls == [("response/cmd-1", 200), ("response/cmd-1", 400)]


def test_url_needs_a_running_double_and_stop_is_prompt() -> None:
    double = SlackDouble()
    with pytest.raises(RuntimeError, match="not running"):
        _ = double.url
    double.start()
    assert double.url.startswith("http://127.0.0.1:")
    assert double.url.endswith("/api/")
    with httpx.Client() as keep_alive:  # leaves an idle keep-alive connection open
        keep_alive.post(double.response_url(), json={"text": "x"})
        started = time.monotonic()
        double.stop()
        assert time.monotonic() - started < 2
    double.stop()  # a second stop is harmless
