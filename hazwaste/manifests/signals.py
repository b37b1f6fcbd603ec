"""Signals other domains subscribe to, so the manifest module never imports them.

Receivers run inside the sender's transaction (before the single commit of the request), so
they should only record what must happen and enqueue the work itself as an outbox job
(``hazwaste.jobs.outbox.enqueue``), which runs after commit, outside the hand-off's locks.
"""

from blinker import Namespace

_signals = Namespace()

#: Sent at the end of ``lifecycle.receive`` with ``session``, ``manifest`` and ``now``.
receipt_recorded = _signals.signal("receipt-recorded")
