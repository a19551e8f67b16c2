"""Every area folder of tests/unit on sys.path, so a test module can import another area's helpers
(``from test_conventions import good_notebook``) whichever file or folder pytest is asked to run first.

pytest imports test modules by basename with their own folder prepended (no packages here;
tests/unit/architecture/test_suite_layout.py keeps basenames unique), which alone would make such an import
depend on collection order.
"""

from __future__ import annotations

import sys
from pathlib import Path

for _area in sorted(p for p in Path(__file__).resolve().parent.iterdir() if p.is_dir() and p.name != "__pycache__"):
    if str(_area) not in sys.path:
        sys.path.append(str(_area))
