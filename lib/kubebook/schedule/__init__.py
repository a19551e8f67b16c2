"""Scheduled headless runs: schedules.yaml, due runs, locks, retries, notifications, CronJobs."""

from kubebook.schedule.model import Schedule, find_schedule, load_schedules
from kubebook.schedule.scheduler import Scheduler

__all__ = ["Schedule", "Scheduler", "find_schedule", "load_schedules"]
