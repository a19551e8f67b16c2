"""Allow ``python -m kubebook.cli``."""

from kubebook.cli import main

raise SystemExit(main())
