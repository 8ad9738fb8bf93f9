"""The parking family's geometry: the lot's layout (bays, aisle, walls) from the spec's `lot`. Pure functions of the
spec; frame as in scenarios/roads.py (x east, y south)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from drivebench.scenarios.roads import Rect


@dataclass(frozen=True)
class Bay:
    id: str
    """'N<i>' (north of the aisle) or 'S<i>', numbered from the west"""
    rect: Rect
    """the bay's area; `rect.heading` is the direction a nose-in car faces, into the bay, away from the aisle"""

    @property
    def entrance(self) -> tuple[float, float]:
        """Middle of the bay's edge on the aisle [m]."""
        c, s = math.cos(self.rect.heading), math.sin(self.rect.heading)
        return self.rect.x - c * self.rect.length / 2, self.rect.y - s * self.rect.length / 2


@dataclass(frozen=True)
class LotGeometry:
    bays: tuple[Bay, ...]
    aisle: Rect
    """the aisle along x; its centre line is y = 0"""
    interior: Rect
    """everything inside the walls"""
    walls: tuple[Rect, ...]

    def bay(self, bay_id: str) -> Bay:
        return next(b for b in self.bays if b.id == bay_id)


WALL_THICKNESS = 1.0  # [m]


def build_lot(lot) -> LotGeometry:
    """Lay out the lot: the aisle runs east from x = 0 along y = 0, north bays above it, south bays below."""
    length = 2 * lot.margin + lot.bays_per_row * lot.bay_width
    half_aisle = lot.aisle_width / 2
    bays = []
    for row, sign in (("N", -1.0), ("S", 1.0))[: lot.rows]:
        y = sign * (half_aisle + lot.bay_depth / 2)
        for i in range(lot.bays_per_row):
            x = lot.margin + (i + 0.5) * lot.bay_width
            bays.append(Bay(f"{row}{i}", Rect(x, y, lot.bay_depth, lot.bay_width, sign * math.pi / 2)))
    north = -(half_aisle + lot.bay_depth)
    south = half_aisle + lot.bay_depth if lot.rows == 2 else half_aisle + 2.0
    interior = Rect(length / 2, (north + south) / 2, length, south - north)
    t = WALL_THICKNESS
    walls = (
        Rect(length / 2, north - t / 2, length + 2 * t, t),
        Rect(length / 2, south + t / 2, length + 2 * t, t),
        Rect(-t / 2, interior.y, t, interior.width),
        Rect(length + t / 2, interior.y, t, interior.width),
    ) if lot.walls else ()
    return LotGeometry(tuple(bays), Rect(length / 2, 0.0, length, lot.aisle_width), interior, walls)
