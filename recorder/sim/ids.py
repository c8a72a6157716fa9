"""Deterministic identifiers drawn from the simulation's own random generator."""

from __future__ import annotations

import random

_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def uid(rng: random.Random) -> str:
    """A UUID-4-shaped string."""
    bits = rng.getrandbits(128)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[bits & 3]}{h[17:20]}-{h[20:32]}"


def template_hash(rng: random.Random) -> str:
    """A pod-template-hash like the Deployment controller's (10 safe characters)."""
    return "".join(rng.choice(_HASH_ALPHABET) for _ in range(10))


def suffix(rng: random.Random, n: int = 5) -> str:
    """A generateName suffix."""
    return "".join(rng.choice(_HASH_ALPHABET) for _ in range(n))


def instance_bits(rng: random.Random) -> int:
    """The 64 random bits a new node's instance id is made of (recorder.sim.providers)."""
    return rng.getrandbits(64)
