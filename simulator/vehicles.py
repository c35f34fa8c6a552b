"""Vehicle classes, driver styles and the fleet: who is driving what.

Class parameters are round figures for typical European cars of each kind
(kerb mass plus a driver, frontal drag area, rolling resistance, tank size);
the fuel model in `simulator.fuel` is fitted to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleet.registry import WMI_BY_CLASS
from fleet.vin import with_check_digit


@dataclass(frozen=True)
class VehicleClass:
    name: str
    mass_kg: float
    drag_area_m2: float  # Cd * A
    rolling_resistance: float
    tank_l: float
    idle_l_per_h: float
    engine_efficiency: float  # brake thermal efficiency at useful load
    fuel_mj_per_l: float  # lower heating value: petrol 32-34, diesel 36
    tyre_kpa: float  # recommended cold gauge pressure
    rpm_per_kmh: tuple[float, ...]  # per gear, 1st to 6th
    share: float  # fraction of the fleet


CLASSES: tuple[VehicleClass, ...] = (
    VehicleClass(
        "small_petrol", 1_150, 0.62, 0.010, 45, 0.55, 0.24, 32.0, 230,
        (120.0, 70.0, 48.0, 37.0, 30.0, 25.0), 0.35,
    ),
    VehicleClass(
        "sedan_petrol", 1_500, 0.68, 0.010, 55, 0.75, 0.25, 32.0, 240,
        (110.0, 64.0, 44.0, 34.0, 27.0, 22.0), 0.25,
    ),
    VehicleClass(
        "suv_petrol", 1_900, 0.90, 0.011, 65, 0.90, 0.24, 32.0, 250,
        (105.0, 62.0, 42.0, 32.0, 26.0, 21.0), 0.20,
    ),
    VehicleClass(
        "van_diesel", 2_300, 1.15, 0.012, 80, 0.90, 0.30, 36.0, 340,
        (95.0, 55.0, 38.0, 29.0, 23.0, 19.0), 0.20,
    ),
)  # fmt: skip
CLASS_INDEX = {c.name: i for i, c in enumerate(CLASSES)}


@dataclass(frozen=True)
class DriverStyle:
    name: str
    accel: float  # m/s^2 the driver uses pulling away
    brake: float  # m/s^2 the driver brakes with (positive number)
    speed_factor: float  # cruising speed relative to the flowing traffic speed
    share: float


STYLES: tuple[DriverStyle, ...] = (
    DriverStyle("calm", 1.0, 1.6, 0.93, 0.3),
    DriverStyle("normal", 1.4, 2.2, 1.00, 0.5),
    DriverStyle("aggressive", 2.2, 3.2, 1.08, 0.2),
)

# ISO 3779 characters; a VIN never holds I, O or Q.
_VIN_CHARS = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"))
_MODEL_YEARS = "NPRST"  # 2022-2026


@dataclass(frozen=True)
class Fleet:
    vins: list[str]
    classes: np.ndarray  # int index into CLASSES, per car
    styles: np.ndarray  # int index into STYLES, per car

    def __len__(self) -> int:
        return len(self.vins)


def make_fleet(cars: int, rng: np.random.Generator) -> Fleet:
    """``cars`` vehicles with distinct check-digit-valid VINs, classes and driver styles."""
    classes = rng.choice(len(CLASSES), size=cars, p=[c.share for c in CLASSES])
    styles = rng.choice(len(STYLES), size=cars, p=[s.share for s in STYLES])
    vins: list[str] = []
    seen: set[str] = set()
    for cls in classes.tolist():
        while True:
            body = "".join(rng.choice(_VIN_CHARS, size=5).tolist())
            year = _MODEL_YEARS[int(rng.integers(len(_MODEL_YEARS)))]
            serial = f"{int(rng.integers(1_000_000)):06d}"
            vin = with_check_digit(f"{WMI_BY_CLASS[CLASSES[cls].name]}{body}0{year}A{serial}")
            if vin not in seen:
                break
        seen.add(vin)
        vins.append(vin)
    return Fleet(vins, classes.astype(np.int64), styles.astype(np.int64))
