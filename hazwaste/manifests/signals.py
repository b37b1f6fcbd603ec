"""Signals other domains subscribe to, so the manifest module never imports them.

Receivers run inside the sender's transaction (before the single commit of the request).
"""

from blinker import Namespace

_signals = Namespace()

#: Sent at the end of ``lifecycle.receive`` with ``session``, ``manifest`` and ``now``.
receipt_recorded = _signals.signal("receipt-recorded")
