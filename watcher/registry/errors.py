"""The registry's failures, in one hierarchy; every message is safe to show users.

* :class:`RegistryError` - base class.
* :class:`RegistryUnavailable` - network errors, time-outs, 429 and 5xx that
  outlasted the retries, or bodies that never parsed.
* :class:`RegistryRejected` - a 4xx the registry meant (a malformed ID, a bad
  parameter); retrying would not help.
* :class:`RequestTooLong` - 414/431 or a length-related 400; the caller halves
  its batch. :class:`ResponseTooLarge` - an answer over the body cap: the same.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base class for registry failures; messages are user-facing.

    ``status`` is the HTTP status the registry last answered, when one did.
    """

    def __init__(self, message: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RegistryUnavailable(RegistryError):
    """The registry could not be read (after retries)."""


class RegistryRejected(RegistryError):
    """The registry refused the request (4xx); retrying will not help."""


class RequestTooLong(RegistryRejected):
    """The request URL was too long for the registry; use a smaller batch."""


class ResponseTooLarge(RequestTooLong):
    """The answer was bigger than ctwatch reads at once; ask for fewer records."""
