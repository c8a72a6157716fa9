"""replay.unseen places each excursion by bisection: `dead_before`, `_written_before` and
`_programmed` read a few samples around each excursion, not their whole lanes (a refresh
calls them for every moved node), and give what they give on a plain list."""

from __future__ import annotations

import random
from typing import Any

from gapwatch.replay import unseen
from gapwatch.replay.fold import Sample
from gapwatch.replay.signals import Iv


class Counted(list[Sample]):
    """A lane that counts the elements read from it (indexed or iterated)."""

    reads = 0

    def __getitem__(self, i: Any) -> Any:
        got = super().__getitem__(i)
        Counted.reads += len(got) if isinstance(i, slice) else 1
        return got

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]


def _lane(rng: random.Random, n: int, values: tuple[str, ...]) -> list[Sample]:
    at, out = 0, []
    for k in range(n):
        at += rng.randrange(1, 5)
        out.append(Sample(at, at - rng.randrange(0, 3), rng.choice(values), k, rng.choice((0, 1))))
    return out


def test_excursions_are_placed_from_a_few_samples() -> None:
    """200 random lanes of 4,000 looks (300 endpoint changes), three excursions each: the
    same answers as on plain lists, from fewer than 400 samples read (before: every lane
    read whole, 8,300 and more)."""
    rng = random.Random(2931)
    for _ in range(200):
        samples = _lane(rng, 4000, ("connected", "connected", "timeout"))
        eps = _lane(rng, 300, ("ready",))
        health = _lane(rng, 4000, ("200", "200", "503"))
        end = samples[-1].at_us
        periods = sorted(Iv(s, s + rng.randrange(1, 40)) for s in rng.sample(range(end), 3))
        deaths = [(d - rng.randrange(1, 9), d) for d in rng.sample(range(end), 3)]

        def bad(v: str) -> bool:
            return v != "connected"

        Counted.reads = 0
        got = unseen.dead_before(periods, deaths, Counted(eps), Counted(samples), bad, 7)
        assert got == unseen.dead_before(periods, deaths, eps, samples, bad, 7)
        found = [iv._replace(start=iv.start - 1) for iv in periods]
        stamped = rng.random() < 0.5
        wide = unseen._written_before(periods, found, Counted(samples), 11, stamped)
        assert wide == unseen._written_before(periods, found, samples, 11, stamped)
        for iv in periods:
            programmed = unseen._programmed(Counted(health), iv.start, iv.end)
            assert programmed == unseen._programmed(health, iv.start, iv.end)
        # three excursions, each a few bisections (~12 reads) and the looks inside it
        assert Counted.reads < 400, Counted.reads
