"""When to try a kept request again, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    #: First retry after this many seconds, doubling per attempt up to ``max_delay``.
    base_delay: float = 15.0
    max_delay: float = 300.0
    #: A request older than this is given up (WhatsApp's window closes after 24 hours anyway).
    max_age: timedelta = timedelta(hours=24)

    def delay(self, attempts: int) -> float:
        """Seconds until the next try after ``attempts`` failed ones. Jittered (between half and
        the whole step) so that the conversations an outage piled up do not retry in lockstep
        when the system comes back."""
        step = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempts))
        return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not security

    def expired(self, created_at: datetime, now: datetime) -> bool:
        return now - created_at > self.max_age
