"""The test suite's package. Imported before any test module or conftest, so what it sets holds
for the whole run, the xdist workers and every process a test starts.

Bytecode is written and reused whatever PYTHONDONTWRITEBYTECODE says: this machine's image sets
it, and then every process compiled every module it imported from source, again: about 1 s of CPU
a `gapwatch` process at load 25 (`gaps` on a small SQLite store 2.0 against 0.9 s), in a suite
that starts hundreds of them. With it unset the first process to import a module writes its
`.pyc` (atomically: a temporary file renamed) and the others read it; three CLI test files took
49.1 s of CPU without bytecode, 47.0 s the run that wrote it and 36.5 s the next
(benchmarks/README.md, "Session 38: bytecode in the test run"). The caches land in __pycache__
directories (.gitignore) of the clone and of its .venv.
"""

import os
import sys

os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False
