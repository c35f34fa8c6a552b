"""The fleet registry: what a VIN says about the vehicle.

A VIN's first three characters, the world manufacturer identifier (WMI),
name the maker; a fleet operator's registry maps its makers and models to
vehicle classes. This fleet's makers are fictional and build one class each,
so the WMI alone gives the class. The simulator mints VINs from this table
and the batch jobs read classes from it: one source for both.
"""

from __future__ import annotations

CLASS_BY_WMI: dict[str, str] = {
    "WF1": "small_petrol",
    "WF2": "sedan_petrol",
    "WF3": "suv_petrol",
    "WF4": "van_diesel",
}
WMI_BY_CLASS: dict[str, str] = {cls: wmi for wmi, cls in CLASS_BY_WMI.items()}


def vehicle_class(vin: str) -> str | None:
    """The class of the vehicle with this VIN, or None for a maker outside the registry."""
    return CLASS_BY_WMI.get(vin[:3])
