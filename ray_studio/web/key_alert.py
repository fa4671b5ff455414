"""The owner's alert when Segmind refuses the page's own key: out of credits (402/406), the key rejected
(401, also by the storage upload) or not allowed this model (403).

While it lasts, every visitor on the page's key is told the page cannot make clips (the errors'
``owner_key_action``), so the owner's view puts it first. The alert is kept with the spend record
(record.py: SQLite or Redis), so it survives a restart and every replica shows it; it is raised once
per occurrence (one WARNING in the log, the first failure's time kept) and cleared when a paid call on
the page's key that started after it succeeds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from ray_studio.client.errors import (
    API_KEYS_PAGE,
    BILLING_PAGE,
    AuthenticationError,
    InsufficientCreditsError,
    PermissionDeniedError,
    RayError,
    UploadAuthenticationError,
)

UTC = timezone.utc

# reason → (what happened, what the owner can do)
REASONS = {
    "out-of-credits": ("out of credits", f"recharge at {BILLING_PAGE}"),
    "key-refused": ("the key was rejected", f"check SEGMIND_API_KEY (keys are at {API_KEYS_PAGE})"),
    "key-not-allowed": ("the key may not use this model", "check the key's permissions and your Segmind plan"),
}


# The Redis store's clear (record.py): deleted only if raised before ARGV[1], so a success elsewhere
# cannot clear the alert of a later failure.
CLEAR_IF_OLDER = """
local raw = redis.call('GET', KEYS[1])
if raw and tonumber(cjson.decode(raw)['at']) < tonumber(ARGV[1]) then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class KeyAlert:
    at: float  # UTC epoch seconds of the failure that raised it
    reason: str  # one of REASONS
    status: int = 0  # Segmind's HTTP status

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> KeyAlert | None:
        """The stored alert; None for none, or for one this version cannot read."""
        try:
            values = json.loads(raw) if raw else None
            alert = cls(float(values["at"]), str(values["reason"]), int(values.get("status") or 0)) if values else None
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return alert if alert is None or alert.reason in REASONS else None

    def line(self, now: float) -> str:
        """``Segmind refused the page's key: out of credits at 14:05 UTC — visitors are told …; recharge at …``."""
        what, action = REASONS[self.reason]
        when = datetime.fromtimestamp(self.at, UTC)
        day = "" if when.date() == datetime.fromtimestamp(now, UTC).date() else f" on {when.day} {when:%b}"
        status = f" (HTTP {self.status})" if self.status else ""
        return (
            f"Segmind refused the page's key: {what}{status} at {when:%H:%M} UTC{day} — visitors are told the "
            f"page cannot make clips; {action}."
        )


def alert_reason(err: BaseException) -> str | None:
    """The reason an error raises the owner's alert, or None for any other failure."""
    if isinstance(err, InsufficientCreditsError):
        return "out-of-credits"
    if isinstance(err, (AuthenticationError, UploadAuthenticationError)):
        return "key-refused"
    if isinstance(err, PermissionDeniedError):
        return "key-not-allowed"
    return None


def alert_for(err: RayError, at: float) -> KeyAlert | None:
    reason = alert_reason(err)
    return None if reason is None else KeyAlert(at, reason, err.status or 0)
