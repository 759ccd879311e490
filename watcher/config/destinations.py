"""The destination keys a ``[[watch]]`` or ``[[search]]`` names: where its alerts go.

Why one base for both tables: they route alerts the same way (``slack``,
``email``, ``teams``, ``webhook``), so the keys, their checks and how they
become :class:`Destination` values are written once and inherited.

Why each key carries a :class:`ChannelKey`: how a key's values become
destinations (a channel each, one destination for all the addresses, a
reference per secret URL), which section it needs and whether its values are
secrets are the channel's business, not this model's. The built-in keys are
declared fields (so a typo is still an unknown key and the error messages stay
exact); a channel registered later (:mod:`watcher.channels`) brings its own
ChannelKey, passed in the validation context (:data:`CHANNEL_KEYS`), and its
key is accepted and checked the same way without a line here. Teams and
webhook URLs are secrets: they are checked without ever being echoed, and a
destination names them only by reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.functional_validators import ModelWrapValidatorHandler
from pydantic_core import InitErrorDetails

from watcher.config.types import (
    EMAIL_RE,
    check_no_control,
    check_secret_url,
    is_slack_channel_id,
)
from watcher.core.destination import Destination

CHANNEL_KEYS = "channel_keys"
"""The validation-context entry naming the registered channels' keys (name -> ChannelKey)."""

Values = tuple[str, ...]
UrlPairs = tuple[tuple[Destination, str], ...]


def _a_list(value: Any, info: ValidationInfo) -> Any:
    """A lone string is the commonest slip (``teams = "${URL}"``): say how to write it."""
    if isinstance(value, str):
        raise ValueError(f'must be a list, e.g. {info.field_name} = ["…"]')
    return value


def _channels(value: Values) -> Values:
    """Names are normalised to ``#name`` (lower case) so that ``trial-alerts`` and
    ``#Trial-Alerts`` in two watches are one channel and get one message."""
    out = []
    for channel in value:
        if not channel.strip() or any(c.isspace() for c in channel):
            raise ValueError(f"{channel!r} is not a Slack channel (e.g. #alerts or C0123)")
        is_id = is_slack_channel_id(channel)
        out.append(channel if is_id else "#" + channel.removeprefix("#").lower())
    return tuple(dict.fromkeys(out))


def _emails(value: Values) -> Values:
    for address in value:
        check_no_control(address, "an email address")
        if not EMAIL_RE.match(address):
            raise ValueError(f"{address!r} is not an email address")
    return value


def _urls(value: Values) -> Values:
    return tuple(dict.fromkeys(check_secret_url(url) for url in value))


AList = Annotated[Values, BeforeValidator(_a_list)]
SlackChannels = Annotated[AList, AfterValidator(_channels)]
EmailAddresses = Annotated[AList, AfterValidator(_emails)]
SecretUrls = Annotated[AList, AfterValidator(_urls)]
"""URLs that are secrets (``${VAR}`` in the file): http(s), checked, never echoed."""


def _no_urls(values: Values) -> UrlPairs:
    return ()


@dataclass(frozen=True)
class ChannelKey:
    """How the values of one destination key (``teams = [...]``) become destinations."""

    destinations: Callable[[Values], tuple[Destination, ...]]
    urls: Callable[[Values], UrlPairs] = _no_urls
    """Each destination that stands for a secret URL, with the URL (notifiers resolve it)."""
    values: Any = AList
    """The type that checks the values, for a key not declared on :class:`DestinationKeys`."""
    section: str | None = None
    """The Config section the key needs (``slack``): naming one without it is an error."""
    names: str = "destinations"
    """What the values are, for that error (``names Slack channels but …``)."""
    secret: bool = False
    """The values are secrets: never repeated in an error."""


def by_reference(kind: str) -> ChannelKey:
    """A key whose values are secret URLs, each its own destination by reference."""

    def urls(values: Values) -> UrlPairs:
        return tuple((Destination.reference(kind, url), url) for url in values)

    return ChannelKey(
        destinations=lambda values: tuple(d for d, _ in urls(values)),
        urls=urls,
        values=SecretUrls,
        secret=True,
    )


SLACK_KEY = ChannelKey(
    lambda channels: tuple(Destination.slack(c) for c in channels),
    values=SlackChannels,
    section="slack",
    names="Slack channels",
)
EMAIL_KEY = ChannelKey(
    lambda addresses: (Destination.email(addresses),) if addresses else (),
    values=EmailAddresses,
    section="email",
    names="email addresses",
)
"""All of a table's addresses are one destination: one message to every recipient."""


class DestinationKeys(BaseModel):
    """Slack channels, email addresses, Teams Workflows URLs and webhook URLs (and the keys
    of any channel registered with a :class:`ChannelKey` of its own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slack: Annotated[SlackChannels, SLACK_KEY] = ()
    """Slack channels (``"#name"`` or an ID such as ``"C0123ABCD"``); needs ``[slack]``."""
    email: Annotated[EmailAddresses, EMAIL_KEY] = ()
    """Email addresses, all in one message; needs ``[email]``. With no destination at all,
    alerts print on the console."""
    teams: Annotated[SecretUrls, by_reference("teams")] = ()
    """Power Automate Workflows webhook URLs (secrets: write them as ``${VAR}``); https only
    (plain http only to 127.0.0.1)."""
    webhook: Annotated[SecretUrls, by_reference("webhook")] = ()
    """Receiver URLs for signed JSON webhooks (write them as ``${VAR}``: they may carry a
    secret); https only (plain http only to 127.0.0.1)."""

    _more: dict[str, tuple[ChannelKey, Values]] = PrivateAttr(default_factory=dict)

    @classmethod
    def channel_keys(cls) -> dict[str, ChannelKey]:
        """The declared destination keys, in the order their destinations are listed."""
        return {
            name: key
            for name, info in cls.model_fields.items()
            for key in info.metadata
            if isinstance(key, ChannelKey)
        }

    @model_validator(mode="wrap")
    @classmethod
    def _registered_keys(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        """Take the keys of channels registered in the context out before the strict model
        sees them, check them with their own ChannelKey, and keep their values."""
        context = info.context if isinstance(info.context, Mapping) else {}
        registered: Mapping[str, ChannelKey] = context.get(CHANNEL_KEYS, {})
        extra = [k for k in registered if k not in cls.model_fields]
        if not extra or not isinstance(data, Mapping) or not any(k in data for k in extra):
            return handler(data)
        rest = dict(data)
        more: dict[str, tuple[ChannelKey, Values]] = {}
        errors: list[InitErrorDetails] = []
        for name in extra:
            if name in rest:
                key = registered[name]
                try:
                    more[name] = key, _checked(key, name, rest.pop(name))
                except ValidationError as exc:
                    errors += _moved(exc, (name,))
        try:
            model = handler(rest)
        except ValidationError as exc:
            if not errors:
                raise
            raise ValidationError.from_exception_data(
                cls.__name__, errors + _moved(exc, ())
            ) from None
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        model._more = more
        return model

    def channel_values(self) -> Iterator[tuple[str, ChannelKey, Values]]:
        """Each destination key with its ChannelKey and values (registered keys last)."""
        for name, key in self.channel_keys().items():
            yield name, key, getattr(self, name)
        for name, (key, values) in self._more.items():
            yield name, key, values

    def url_destinations(self) -> Iterator[tuple[Destination, str]]:
        """Each destination that stands for a secret URL (Teams, webhooks), with the URL."""
        for _, key, values in self.channel_values():
            yield from key.urls(values)

    @property
    def destinations(self) -> tuple[Destination, ...]:
        """Every destination named here; with none, alerts print to the console."""
        out = [d for _, key, values in self.channel_values() for d in key.destinations(values)]
        return tuple(out) or (Destination.console(),)


def _checked(key: ChannelKey, name: str, value: Any) -> Values:
    """A registered key's values, checked by its own type (``name`` for its messages)."""
    if isinstance(value, str):  # the same hint as a declared key's
        raise ValidationError.from_exception_data(
            name,
            [
                InitErrorDetails(
                    type="value_error",
                    loc=(),
                    input=value,
                    ctx={"error": ValueError(f'must be a list, e.g. {name} = ["…"]')},
                )
            ],
        )
    checked: Values = TypeAdapter(key.values).validate_python(value)
    return checked


def _moved(exc: ValidationError, prefix: tuple[str | int, ...]) -> list[InitErrorDetails]:
    """``exc``'s errors again, under ``prefix``, to be raised together with others."""
    return [
        InitErrorDetails(
            type=err["type"],
            loc=(*prefix, *err["loc"]),
            input=err["input"],
            ctx=err.get("ctx", {}),
        )
        for err in exc.errors()
    ]
