"""Stop strings, applied the same way by every backend.

A completion is cut before the first occurrence of any of the request's stop strings; the stop string itself
is dropped.  Servers and engines also stop on their own, but their rules differ in details (some keep the
stop string, some only look at token boundaries), so every backend runs its text through :func:`cut_at_stop`
before it yields it: the same text then gives the same completion whichever backend produced it.
"""

from __future__ import annotations

from collections.abc import Sequence


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Return ``text`` cut before the earliest stop string, and whether a stop string was found."""
    cut = -1
    for stop in stops:
        if not stop:
            continue
        at = text.find(stop)
        if at != -1 and (cut == -1 or at < cut):
            cut = at
    if cut == -1:
        return text, False
    return text[:cut], True
