"""Signals other areas connect to.

`context_gap_triaged(sender=Triage, triage=..., actor=...)` is sent after commit when a
failed case is triaged as a context gap. The context area connects a receiver that
creates a gap item and writes its reference into ``triage.follow_up_ref``.
"""

from django.dispatch import Signal

context_gap_triaged = Signal()
