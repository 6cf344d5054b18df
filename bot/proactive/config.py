"""The proactive service's configuration (``thresholds.yml``): thresholds per product, the task
deadline, quiet hours, the daily cap. Read and checked by :func:`load_config`."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot.workorders.calendar import read_yaml
from bot.workorders.policy import BASES, ChannelLimit, DeadlinePolicy

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "thresholds.yml"

# The "channel" under which a proactive task's deadline is counted by the deadline policy.
TASK_CHANNEL = "proactive"

_THRESHOLD_KEYS = ("no_scan_hours", "no_update_hours", "station_hours")


@dataclass(frozen=True)
class ProductThresholds:
    """How long a mail of one product may go without a scan, an update, or collection.

    Attributes:
        no_scan_hours: posted (or watched) this long without any scan: 发货无信息.
        no_update_hours: no new scan for this long while it should be moving: 超时未更新.
        station_hours: waiting at a station or locker for this long: 驿站超时未取.
    """

    no_scan_hours: float = 24.0
    no_update_hours: float = 48.0
    station_hours: float = 72.0

    def __post_init__(self) -> None:
        for name in _THRESHOLD_KEYS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number of hours, got {value!r}")


@dataclass(frozen=True)
class QuietHours:
    """No notice goes out from `start` until `end` (may span midnight: 21:00-08:00)."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, moment: datetime) -> bool:
        """Whether `moment` falls inside the quiet hours."""
        now = moment.time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """`moment` itself outside the quiet hours, else the moment they end."""
        if not self.contains(moment):
            return moment
        end_today = datetime.combine(moment.date(), self.end)
        return end_today if end_today > moment else end_today + timedelta(days=1)


@dataclass(frozen=True)
class ProactiveConfig:
    """Everything ``thresholds.yml`` configures.

    Attributes:
        default: thresholds of products not listed.
        products: thresholds per product name (EMS, 邮政快递包裹, 挂号信, ...).
        task_limit: the deadline of a proactive task (hours, working or clock basis).
        quiet: the quiet hours of notices.
        daily_cap: notices per customer per day at most.
        max_attempts: sends tried per notice at most.
    """

    default: ProductThresholds = ProductThresholds()
    products: Mapping[str, ProductThresholds] = field(default_factory=dict)
    task_limit: ChannelLimit = ChannelLimit(4, "working")
    quiet: QuietHours = QuietHours()
    daily_cap: int = 3
    max_attempts: int = 3

    def thresholds(self, product: str | None) -> ProductThresholds:
        """The thresholds of `product` (the default ones when it is not configured)."""
        return self.products.get(product or "", self.default)

    def task_policy(self, policy: DeadlinePolicy) -> DeadlinePolicy:
        """The work-order deadline policy (calendar, unit windows) counting the task limit."""
        return replace(policy, limits={TASK_CHANNEL: self.task_limit})


def _thresholds(value: Any, where: str) -> ProductThresholds:
    if not isinstance(value, dict) or set(value) - set(_THRESHOLD_KEYS):
        raise ValueError(f"{where}: expected a mapping with {', '.join(_THRESHOLD_KEYS)}")
    try:
        return ProductThresholds(**value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _clock(value: str, where: str) -> time:
    try:
        return datetime.strptime(value.strip(), "%H:%M").time()
    except ValueError:
        raise ValueError(f"{where}: expected HH:MM, got {value!r}") from None


def _quiet(value: Any, where: str) -> QuietHours:
    if not isinstance(value, str) or value.count("-") != 1:
        raise ValueError(f"{where}: expected \"HH:MM-HH:MM\", got {value!r}")
    start, end = value.split("-")
    return QuietHours(_clock(start, where), _clock(end, where))


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: expected a whole number of at least 1, got {value!r}")
    return value


def load_config(path: Path | None = None) -> ProactiveConfig:
    """Read and check ``thresholds.yml`` (or `path`).

    Raises:
        ValueError: naming the file and the entry that is wrong.
    """
    path = path or DEFAULT_CONFIG_PATH
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    default = _thresholds(data.get("default", {}), f"{path}: default")
    products_raw = data.get("products") or {}
    if not isinstance(products_raw, dict):
        raise ValueError(f"{path}: products: expected a mapping of product to thresholds")
    products = {str(name): _thresholds({**vars(default), **(value or {})},
                                       f"{path}: products.{name}")
                for name, value in products_raw.items()}
    task = data.get("task_deadline", {"hours": 4, "basis": "working"})
    if not isinstance(task, dict) or task.get("basis") not in BASES:
        raise ValueError(f"{path}: task_deadline: expected {{hours: N, basis: working|clock}}")
    try:
        task_limit = ChannelLimit(task.get("hours"), task["basis"])  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"{path}: task_deadline: {exc}") from None
    notices = data.get("notices") or {}
    if not isinstance(notices, dict):
        raise ValueError(f"{path}: notices: expected a mapping")
    return ProactiveConfig(
        default=default,
        products=products,
        task_limit=task_limit,
        quiet=_quiet(notices.get("quiet_hours", "21:00-08:00"), f"{path}: notices.quiet_hours"),
        daily_cap=_positive_int(notices.get("per_customer_per_day", 3),
                                f"{path}: notices.per_customer_per_day"),
        max_attempts=_positive_int(notices.get("max_attempts", 3),
                                   f"{path}: notices.max_attempts"),
    )
