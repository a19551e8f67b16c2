"""Disaster recovery: etcd snapshots with checks and retention, full-cluster and HA drills, namespace backups.

Engines return data (NamedTuples, dataclasses with ``as_json``); views in
:mod:`kubebook.views.dr` draw them; ``kubebook dr`` is the command line.

* :mod:`~kubebook.dr.etcd` runs etcdctl/etcdutl; :mod:`~kubebook.dr.snapshots` keeps
  snapshots in the report archive (tamper-evident through its ledger);
* :mod:`~kubebook.dr.drill` the full-cluster drill, :mod:`~kubebook.dr.hadrill` member loss;
* :mod:`~kubebook.dr.backup`, :mod:`~kubebook.dr.bundle`, :mod:`~kubebook.dr.restore`
  namespace backup and restore.
"""

from kubebook.dr.errors import DrError, IntegrityError

__all__ = ["DrError", "IntegrityError"]
