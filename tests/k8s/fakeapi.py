"""The fake kube-apiserver moved into the package (gapwatch.recorder.lab.fakes.fakeapi) so that
`gapwatch lab` can serve it; the tests keep importing it from here."""

from gapwatch.recorder.lab.fakes.fakeapi import KINDS, PLURAL_OF, Change, FakeApiServer

__all__ = ["KINDS", "PLURAL_OF", "Change", "FakeApiServer"]
