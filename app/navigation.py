"""Time navigation of a recording's views: zoom, scroll, step, jump, fit. Qt-free.

A view shows the time range ``(start, end)`` in seconds of a recording ``duration`` seconds long.
Every function returns a new range, clamped so that it stays inside the recording and is never
narrower than :data:`MIN_SPAN_S` (nor wider than the recording). The conventions are Audacity's and
EDFbrowser's: zooming keeps the time under the mouse pointer where it is on screen, a step moves a
tenth of the visible span, a page moves the whole span.
"""

from __future__ import annotations

MIN_SPAN_S = 0.05  # 50 ms: a few oscillations of S1 remain visible at the deepest zoom
STEP_FRACTION = 0.1  # an arrow key moves a tenth of the visible span
WHEEL_ZOOM = 1.25  # one wheel notch (120 eighths of a degree) zooms by this factor
WHEEL_NOTCH = 120.0

TimeRange = tuple[float, float]


def clamp(view: TimeRange, duration: float, *, min_span: float = MIN_SPAN_S) -> TimeRange:
    """``view`` moved and resized as little as possible to fit inside ``[0, duration]``."""
    if duration <= 0:
        return (0.0, 0.0)
    start, end = float(min(view)), float(max(view))
    span = min(max(end - start, min_span), duration)
    centre = (start + end) / 2.0
    start = centre - span / 2.0
    start = min(max(start, 0.0), duration - span)
    return (start, start + span)


def fit(duration: float) -> TimeRange:
    """The whole recording."""
    return (0.0, max(0.0, float(duration)))


def zoom(view: TimeRange, factor: float, anchor: float, duration: float) -> TimeRange:
    """Zoom in (``factor`` > 1) or out (< 1), keeping ``anchor`` (s) at its place on screen.

    An anchor outside the view is moved to the nearest edge, so that zooming from the keyboard
    with a cursor out of sight never jumps away from what is shown.
    """
    start, end = view
    span = end - start
    if span <= 0 or factor <= 0:
        return clamp(view, duration)
    anchor = min(max(anchor, start), end)
    relative = (anchor - start) / span
    new_span = span / factor
    new_start = anchor - relative * new_span
    zoomed = clamp((new_start, new_start + new_span), duration)
    if zoomed[1] - zoomed[0] >= duration:
        return fit(duration)
    return zoomed


def wheel_zoom_factor(angle_delta: float) -> float:
    """The zoom factor for a wheel turn of ``angle_delta`` eighths of a degree (+ zooms in)."""
    return WHEEL_ZOOM ** (angle_delta / WHEEL_NOTCH)


def scroll(view: TimeRange, fraction: float, duration: float) -> TimeRange:
    """Move the view by ``fraction`` of its span (+ later in time, - earlier)."""
    start, end = view
    shift = fraction * (end - start)
    return clamp((start + shift, end + shift), duration)


def to_start(view: TimeRange, duration: float) -> TimeRange:
    """The same span at the start of the recording (Home)."""
    span = view[1] - view[0]
    return clamp((0.0, span), duration)


def to_end(view: TimeRange, duration: float) -> TimeRange:
    """The same span at the end of the recording (End)."""
    span = view[1] - view[0]
    return clamp((duration - span, duration), duration)


def follow(view: TimeRange, time_s: float, duration: float) -> TimeRange:
    """The view paged forward (or back) so that ``time_s`` is visible, as a playhead needs."""
    start, end = view
    if start <= time_s <= end:
        return view
    span = end - start
    return clamp((time_s, time_s + span), duration)
