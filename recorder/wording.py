"""Words every part of the product shares. Here, at the bottom of the layers (dashboard -> replay
-> recorder), so that the recorder's own reports (the lab's, recorder/lab/) word a window's class
as replay and the dashboard do without importing them."""

from __future__ import annotations

from collections.abc import Sequence


def class_text(cls: str, also: Sequence[str]) -> str:
    """`closed-before-deregistered (or registered-before-forwarding: undecided)`: a window's
    class with the other classes the samples allow as well; just the class when they decide.
    The one wording every table, label and report uses (docs/semantics.md, "Undecided
    classes"); the class itself stays the first word, so filters and colours keep working."""
    if not also:
        return cls
    return f"{cls} (or {' or '.join(also)}: undecided)"
