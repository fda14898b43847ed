"""Time for tests that wait: a clock that moves only when slept, so that no test sleeps for real."""

from __future__ import annotations


class FakeClock:
    """Time that moves only when slept, with an optional oversleep to imitate a loaded machine; records
    each wait."""

    def __init__(self, oversleep: float = 0.0) -> None:
        self.now = 100.0
        self.oversleep = oversleep
        self.starts: list[float] = []
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds + self.oversleep
