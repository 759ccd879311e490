"""Searches from Slack, over signed HTTP: ``/ctwatch watch <search URL>``, ``list``,
``unwatch``, the alerts in the channel and their *Watch trial* button."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.slack.test_buttons import click, signed, web
from tests.slack.test_slash import ENV, OTHER, command, commands_config, endpoint, follow_up, form
from tests.support.search_setup import DAY1, DAY2, trial
from tests.support.slack_blockkit import block_errors
from tests.support.slack_double import SlackDouble
from watcher.slack.blocks import WATCH_ACTION
from watcher.testing.registry_double import RegistryDouble
from watcher.web.asgi import COMMANDS_PATH, INTERACTIONS_PATH

A, B, C, D = "NCT00000001", "NCT00000002", "NCT00000003", "NCT00000004"
URL = "https://clinicaltrials.gov/search?cond=rectal%20cancer&aggFilters=status:rec"
AS_SLACK_SENDS = f"<{URL.replace('&', '&amp;')}>"  # a pasted link, escaped by Slack


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    with SlackDouble(channels=("#trial-alerts", "#oncology", "#lab")) as double:
        yield double


@pytest.fixture
def reg() -> Iterator[RegistryDouble]:
    studies = [trial(A, "Trial A"), trial(B, "Trial B"), trial(OTHER, "Other", condition="Lung")]
    with RegistryDouble(studies, data_timestamp=DAY1) as double:
        yield double


def subscribed(tmp_path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as db:
        return db.execute(
            "SELECT channel_id, name, url FROM search_subscriptions ORDER BY channel_id"
        ).fetchall()


def check(config: Path) -> str:
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_a_channel_watches_a_search_and_hears_its_news_with_buttons(
    tmp_path: Path, reg: RegistryDouble, slack: SlackDouble
) -> None:
    config = commands_config(tmp_path, reg, slack, trials=(OTHER,), watch_extra="")
    with endpoint(config) as server:
        ack = command(server, slack, f"watch {AS_SLACK_SENDS}", channel="#lab")
        assert ack["text"] == "Checking that search in the registry…"
        text = follow_up(slack)
    assert text.startswith(
        "This channel now watches the search *rectal-cancer* "
        "(`aggFilters=status:rec · query.cond=rectal cancer`): 2 trials match today "
        "(the registry's count). e.g. NCT00000001 (Trial A), NCT00000002 (Trial B)."
    )
    assert "`/ctwatch unwatch rectal-cancer` stops it." in text
    lab = slack.channel_id("#lab")
    assert subscribed(tmp_path) == [(lab, "rectal-cancer", URL)]
    assert "alerts sent 0" in check(config)  # a silent baseline
    reg.put(trial(D, "Trial <!channel> D", first="2026-01-05", last="2026-01-05"))
    reg.set_data_timestamp(DAY2)
    assert "1 newly posted, 0 now matching" in check(config)
    (message,) = slack.messages
    assert message.channel_id == lab and block_errors(message.blocks) == []
    assert message.blocks[0]["text"]["text"] == "New trial · rectal-cancer"
    assert "<!channel>" not in json.dumps(message.blocks)
    with web(config) as origin:
        answer = signed(origin + INTERACTIONS_PATH, click(slack, message, WATCH_ACTION, value=D))
        assert answer.status_code == 200
        reply = slack.wait_for_responses(2)[1]["text"]
    assert f"• *{D}* — Trial &lt;!channel&gt; D (Recruiting) — now watched in this channel" in reply
    (update,) = slack.updates
    assert (
        update.blocks[-1]["elements"][0]["text"]
        == f":eyes: <@U0ALICE> now watches *{D}* in this channel."
    )


def test_list_unwatch_by_name_and_url_and_a_shared_search(
    tmp_path: Path, reg: RegistryDouble, slack: SlackDouble
) -> None:
    config = commands_config(tmp_path, reg, slack, trials=(OTHER,), watch_extra="")
    with endpoint(config) as server:
        command(server, slack, f"watch {AS_SLACK_SENDS}", channel="#lab")
        follow_up(slack, 1)
        command(server, slack, f"watch {URL}", channel="#oncology")  # the same query
        assert "the search *rectal-cancer*" in follow_up(slack, 2)
        check(config)
        listed = command(server, slack, "list", channel="#lab")["text"]
        assert "• search *rectal-cancer* — 2 trials match — Slack (by <@U0ALICE>" in listed
        gone = command(server, slack, "unwatch rectal-cancer", channel="#lab")["text"]
        assert (
            gone == "• Search *rectal-cancer*: unwatched; this channel gets no more of its alerts."
        )
        again = command(server, slack, f"unwatch {AS_SLACK_SENDS}", channel="#oncology")["text"]
        assert again.startswith("• Search *rectal-cancer*: unwatched")
        never = command(server, slack, "unwatch rectal-cancer", channel="#lab")["text"]
        assert never == "• This channel was not watching the search *rectal-cancer*."
    assert subscribed(tmp_path) == []


def test_bad_urls_are_named_and_big_searches_refused_nothing_stored(
    tmp_path: Path, reg: RegistryDouble, slack: SlackDouble
) -> None:
    config = commands_config(tmp_path, reg, slack, trials=(OTHER,), watch_extra="")
    with endpoint(config) as server:
        bad = command(server, slack, "watch https://clinicaltrials.gov/search?cond=x&foo=1")
        assert bad["text"] == (
            "That search URL cannot be followed; nothing was changed:\n"
            "• unknown URL parameter 'foo'"
        )
        unsplittable = "https://[clinicaltrials.gov/search?cond=x"  # urlsplit refuses it
        for verb in ("watch", "unwatch"):
            answer = command(server, slack, f"{verb} {unsplittable}")["text"]
            assert "is not a registry search URL (Invalid IPv6 URL;" in answer, answer
        assert reg.requests == []
        huge = {"totalCount": 41_237, "studies": []}
        reg.fail_next(200, json.dumps(huge), content_type="application/json")
        command(server, slack, "watch https://clinicaltrials.gov/search?cond=cancer")
        assert follow_up(slack).startswith(
            "That search matches 41,237 trials, more than ctwatch follows for one search (5,000)."
        )
    assert not (tmp_path / "ctwatch.db").exists() or subscribed(tmp_path) == []


def test_a_config_search_posting_here_is_not_subscribed_twice(
    tmp_path: Path, reg: RegistryDouble, slack: SlackDouble
) -> None:
    config = commands_config(tmp_path, reg, slack, trials=(OTHER,), watch_extra="")
    text = config.read_text() + f'\n[[search]]\nname = "ci"\nurl = "{URL}"\nslack = ["#lab"]\n'
    config.write_text(text)
    with endpoint(config) as server:
        command(server, slack, f"watch {AS_SLACK_SENDS}", channel="#lab")
        assert (
            follow_up(slack)
            == "The config file's search “ci” already posts here; nothing was changed."
        )
        refused = command(server, slack, "unwatch ci", channel="#lab")["text"]
        assert "the config file posts it here; Slack cannot remove that" in refused
        command(server, slack, f"watch {AS_SLACK_SENDS}", channel="#oncology")
        assert "now watches the search *ci*" in follow_up(slack, 2)  # joins the config search
    assert [name for _, name, _ in subscribed(tmp_path)] == ["ci"]


def test_watching_a_search_obeys_the_allow_list(
    tmp_path: Path, reg: RegistryDouble, slack: SlackDouble
) -> None:
    config = commands_config(
        tmp_path, reg, slack, trials=(OTHER,), watch_extra="",
        commands='allowed_channels = ["#trial-alerts"]',
    )  # fmt: skip
    with web(config) as origin:
        answer = signed(origin + COMMANDS_PATH, form(slack, f"watch {URL}", channel="#lab"))
        assert "is not enabled in this channel" in answer.json()["text"]
    assert not (tmp_path / "ctwatch.db").exists() or subscribed(tmp_path) == []


def test_a_channel_hears_a_followed_trial_once_when_a_watch_also_posts_there(
    tmp_path: Path, reg: RegistryDouble, slack: SlackDouble
) -> None:
    config = commands_config(tmp_path, reg, slack, trials=(A,), watch_extra='slack = ["#lab"]')
    search = f'[[search]]\nname = "rectal"\nurl = "{URL}"\nfollow = true\nslack = ["#oncology"]\n'
    config.write_text(config.read_text() + search)
    with endpoint(config) as server:  # #lab joins the followed search from Slack (by its ID)
        command(server, slack, f"watch {AS_SLACK_SENDS}", channel="#lab")
        assert "now watches the search *rectal*" in follow_up(slack)
    check(config)
    changed = trial(A, "Trial A", last="2026-01-05")
    changed["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 7
    reg.put(changed)
    reg.set_data_timestamp(DAY2)
    assert "changed 1" in check(config)
    lab = [m for m in slack.messages if m.channel_id == slack.channel_id("#lab")]
    assert len(lab) == 1 and "Enrollment" in lab[0].text  # the watch's #lab and the search's ID
    oncology = [m for m in slack.messages if m.channel_id == slack.channel_id("#oncology")]
    assert len(oncology) == 1


def test_a_config_search_taking_a_channels_search_name_never_swaps_its_query(
    tmp_path: Path, reg: RegistryDouble, slack: SlackDouble
) -> None:
    config = commands_config(tmp_path, reg, slack, trials=(OTHER,), watch_extra="")
    with endpoint(config) as server:
        command(server, slack, f"watch {AS_SLACK_SENDS}", channel="#lab")
        assert "now watches the search *rectal-cancer*" in follow_up(slack)
    check(config)  # the channel's baseline: A and B, recruiting
    completed = "https://clinicaltrials.gov/search?cond=rectal%20cancer&aggFilters=status:com"
    taken = f'[[search]]\nname = "rectal-cancer"\nurl = "{completed}"\n'  # another question
    config.write_text(config.read_text() + taken)
    reg.put(trial(C, "Done C", status="COMPLETED"))
    reg.reset_requests()
    out = check(config)
    assert "searches 2 (0 newly posted, 0 now matching, 0 no longer matching)" in out
    asked = [r.params["aggFilters"] for r in reg.requests if "query.cond" in r.params]
    assert asked == ["status:com", "status:rec"]  # the channel's search keeps its own query
    lab = slack.channel_id("#lab")
    assert subscribed(tmp_path) == [(lab, "rectal-cancer-2", URL)]
    db = tmp_path / "ctwatch.db"
    with sqlite3.connect(db) as conn:
        members = conn.execute("SELECT search, nct_id FROM search_members ORDER BY 1, 2").fetchall()
    assert members == [("rectal-cancer", C), ("rectal-cancer-2", A), ("rectal-cancer-2", B)]
    (told,) = slack.messages
    assert told.channel_id == lab
    assert "search “rectal-cancer” is now called “rectal-cancer-2”" in told.text
    reg.put(trial(D, "Trial D", first="2026-01-05", last="2026-01-05"))
    reg.put(
        trial("NCT00000009", "Done N", status="COMPLETED", first="2026-01-05", last="2026-01-05")
    )
    reg.set_data_timestamp(DAY2)
    out = check(config)
    assert "searches 2 (2 newly posted, 0 now matching, 0 no longer matching)" in out
    news = [m for m in slack.messages if m.channel_id == lab][1:]
    assert [m.blocks[0]["text"]["text"] for m in news] == ["New trial · rectal-cancer-2"]
    assert D in news[0].text and "NCT00000009" not in news[0].text
    assert "New trial · search “rectal-cancer”\nNCT00000009" in out  # the config's, on console
    check(config)
    assert len(slack.messages) == 2  # renamed once, told once
    with endpoint(config) as server:  # the new name is the one the channel uses
        listed = command(server, slack, "list", channel="#lab")["text"]
        assert "• search *rectal-cancer-2* — " in listed
        gone = command(server, slack, "unwatch rectal-cancer-2", channel="#lab")["text"]
        assert gone.startswith("• Search *rectal-cancer-2*: unwatched")
