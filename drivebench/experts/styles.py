"""Driving styles as data. An expert is a control law (curve.py, parking.py) plus one of these records."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CurveStyle:
    name: str
    description: str
    speed_factor: float
    """cruise speed as a fraction of the speed limit [-]"""
    lateral_acceleration: float
    """largest lateral acceleration it accepts in a curve; sets its curve speed [m/s^2]"""
    apex_cut: float
    """share of the free room in its lane it uses to move toward the inside of a curve [-], 0 = lane centre"""
    time_headway: float
    """time gap it keeps to the vehicle ahead in its lane [s]"""
    braking: float
    """deceleration it plans with before curves and behind slower vehicles [m/s^2]"""


@dataclass(frozen=True)
class ParkingStyle:
    name: str
    description: str
    manoeuvre: Literal["forward", "reverse"]
    """forward: along a line parallel to the aisle, one quarter turn nose-in; reverse: along that line past
    the bay, stop, then a quarter turn backwards into it"""
    cruise: float
    """cruise speed forwards [m/s]"""
    reverse_cruise: float
    """cruise speed backwards [m/s]"""
    turn_radius: float
    """radius of its planned turns [m]"""
    lookahead: float
    """pure-pursuit lookahead [m]"""
    pre_entrance: float
    """its turn into the bay ends this far out in the aisle, the car then goes straight in [m]; with the turn
    radius it sets the line it drives along the aisle"""


CURVE_STYLES = {
    "cautious": CurveStyle("cautious", "slow, keeps the lane centre, long headway", speed_factor=0.7,
                           lateral_acceleration=1.5, apex_cut=0.0, time_headway=2.0, braking=1.5),
    "sporty": CurveStyle("sporty", "at the limit, cuts the apex within its lane, short headway", speed_factor=1.0,
                         lateral_acceleration=3.5, apex_cut=0.8, time_headway=1.0, braking=3.0),
}

PARKING_STYLES = {
    "tidy": ParkingStyle("tidy", "keeps to the aisle, one tight turn nose-in", "forward", cruise=3.0,
                         reverse_cruise=1.5, turn_radius=6.5, lookahead=3.0, pre_entrance=2.5),
    "reverse": ParkingStyle("reverse", "drives past the bay, then reverses into it (nose out)", "reverse",
                            cruise=2.5, reverse_cruise=1.5, turn_radius=7.5, lookahead=3.0,
                            pre_entrance=1.0),
    "shortcut": ParkingStyle("shortcut", "fast, swings wide through the empty bays across the aisle for one "
                             "sweeping turn nose-in", "forward", cruise=4.0, reverse_cruise=1.5, turn_radius=13.0,
                             lookahead=4.0, pre_entrance=0.0),
}
