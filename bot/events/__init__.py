"""Event clustering: stories from any feed that report one news event share a cluster."""

from bot.events.clusters import EventClusters, Report
from bot.events.features import EventFeatures, extract
from bot.events.index import Assignment, EventIndex, Member
from bot.events.similarity import DEFAULT_WEIGHTS, Weights

__all__ = [
    "DEFAULT_WEIGHTS",
    "Assignment",
    "EventClusters",
    "EventFeatures",
    "EventIndex",
    "Member",
    "Report",
    "Weights",
    "extract",
]
