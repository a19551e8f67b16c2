"""Generators of the documentation site's reference pages (docs/reference/cli.md, docs/runbooks.md, docs/labs.md).

They are written from the objects that define the behaviour (the argparse tree, each notebook's
``metadata.kubebook`` and parameters cell, scheduled/schedules.yaml, the lab catalog) so the pages cannot
say something the code does not do; ``python -m tools.docsgen --check`` fails when a committed page is stale,
like the lab notebooks' render check.
"""
