"""Capacity: history, forecasts with backtested intervals, rightsizing, node counts and cost.

Engines return data (dataclasses, dicts); ``kubebook.views.capacity`` draws them. The public
names are the ones notebooks and the CLI call; each module's docstring says how it decides.
"""

from kubebook.capacity.binpack import PodDemand, PoolShape, recommend_nodes
from kubebook.capacity.cost import Price, Prices, allocate
from kubebook.capacity.forecast import ForecastEntry, to_json
from kubebook.capacity.forecast import Settings as ForecastSettings
from kubebook.capacity.forecast import forecast as forecast_history
from kubebook.capacity.outlook import Outlook
from kubebook.capacity.outlook import outlook as forecast_outlook
from kubebook.capacity.rightsize import Recommendation, recommend, totals
from kubebook.capacity.rightsize import Settings as RightsizeSettings
from kubebook.capacity.schema import read_samples, read_series, validate_samples, validate_series
from kubebook.capacity.store import HistoryStore

__all__ = [
    "ForecastEntry", "ForecastSettings", "HistoryStore", "Outlook", "PodDemand", "PoolShape", "Price", "Prices",
    "Recommendation", "RightsizeSettings", "allocate", "forecast_history", "forecast_outlook", "read_samples",
    "read_series", "recommend", "recommend_nodes", "to_json", "totals", "validate_samples", "validate_series",
]
