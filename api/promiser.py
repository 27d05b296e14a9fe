"""The delivery-promise calculator as the promise routes see it (``api.routes.promise``).

``Promiser`` is what the routes call; ``CalculatorPromiser`` is it over ``engine.promise`` (the
delivery calculator: network file, numba kernels, answer shapes), built from ``--network FILE``.
``engine.promise`` is imported only then, so a server without a network never loads numba.

What a ``Promiser`` provides:

- ``location_ids``: the network's location ids, in the order the calculator indexes them
  (``engine.promise`` sorts them by id). ``serve`` builds the read model with them first, so
  ``atp.atp_array(sku)[i]`` is the ATP of ``location_ids[i]`` (arrays may be longer: locations
  outside the network come after them, and are ignored).
- ``promise(items, destination, at, atp)``, ``listing(skus, destination, at, atp)``,
  ``availability(sku, near, radius_km, qty, limit, at, atp)``: each returns a dict ready to
  encode (datetimes allowed). ``destination`` is ``{"postal_code": str}``,
  ``{"lat": float, "lon": float}`` or ``{"region": str}`` (a region of the network file, at its
  point); ``near`` the raw query text (``POSTAL_CODE`` or ``LAT,LON``); ``at`` an aware UTC
  datetime.
- A bad input (an unknown postal code or region) raises an exception with a ``code`` attribute
  (``unknown_postal_code``, ``unknown_region``): the route answers 422 with that code and the
  exception's text.
- Optionally ``regions``: the network's regions by id (``CalculatorPromiser`` has them), the
  destinations of the promise table (``api.promise_table``).

Per sku, the calculator's candidates come straight from the read model's ATP array (indexed
like ``network.locations``): the locations with ATP above 0 and their ATP, no dict in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from api import postal
from engine.errors import ConfigError


class UnknownRegionError(ValueError):
    """A region destination the network file does not name."""

    code = "unknown_region"

    def __init__(self, region: str) -> None:
        super().__init__(
            f"unknown region {region!r}: the network file's regions name the destinations "
            "of the promise table"
        )


class AtpSource(Protocol):
    """What the read model offers a calculator (``api.readmodel.ReadModel``)."""

    location_ids: list[str]

    def atp_array(self, sku: str) -> npt.NDArray[np.int64]:
        """ATP per location index, a view without copy (zeros for an unknown sku)."""


class Promiser(Protocol):
    """A delivery-promise calculator over a network."""

    @property
    def location_ids(self) -> Sequence[str]:
        """The network's location ids, in the order the calculator indexes them."""

    def promise(
        self,
        items: list[tuple[str, int]],
        destination: dict[str, Any],
        at: datetime,
        atp: AtpSource,
    ) -> dict[str, Any]: ...

    def listing(
        self, skus: list[str], destination: dict[str, Any], at: datetime, atp: AtpSource
    ) -> dict[str, Any]: ...

    def availability(
        self,
        sku: str,
        near: str,
        radius_km: float,
        qty: int,
        limit: int,
        at: datetime,
        atp: AtpSource,
    ) -> dict[str, Any]: ...

    def rank(
        self, location_ids: Sequence[str], destination: dict[str, Any], at: datetime
    ) -> dict[str, tuple[Any, float]]:
        """Per location, the ``deliver_by`` of the network's first shipped service level from
        it to ``destination`` (``None`` when it cannot ship that level) and the distance:
        how a reservation at a group orders its locations (``api.groups``)."""


def load_promiser(path: Path) -> Promiser:
    """The calculator over the network in ``path``.

    Raises:
        ConfigError: the file cannot be read or is invalid.
    """
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the network file {path}: {exc.strerror}") from None
    return promiser_of(text)


def promiser_of(text: bytes) -> Promiser:
    """The calculator over a network file's text (``load_promiser``; the demo's built-in one)."""
    from engine.promise.network import load_network  # noqa: PLC0415 - numba only with a network

    return CalculatorPromiser(load_network(text))


class CalculatorPromiser:
    """``engine.promise.calculator.Calculator`` behind the ``Promiser`` protocol."""

    def __init__(self, network: Any) -> None:
        from engine.promise import answers, calculator, destination  # noqa: PLC0415

        self._answers = answers
        self._destination = destination
        postal.warm()  # the ZIP table loads before the first request, not during it
        self._zip = postal.zip_centroid
        self._stock_of = calculator.Stock
        self.network = network
        self.calculator = calculator.Calculator(network)
        self.location_ids: list[str] = [location.id for location in network.locations]
        self.regions: dict[str, Any] = {region.id: region for region in network.regions}
        calculator.warm()  # compile (or load) the kernels before the first request

    def promise(
        self,
        items: list[tuple[str, int]],
        destination: dict[str, Any],
        at: datetime,
        atp: AtpSource,
    ) -> dict[str, Any]:
        merged: dict[str, int] = {}
        for sku, qty in items:  # the calculator wants distinct skus
            merged[sku] = merged.get(sku, 0) + qty
        where = self._where(destination)
        stocks = [self._stock(sku, atp) for sku in merged]
        cart = self.calculator.cart(list(merged.items()), stocks, where, at)
        answer: dict[str, Any] = self._answers.promise_answer(self.network, cart, where, at)
        return answer

    def listing(
        self, skus: list[str], destination: dict[str, Any], at: datetime, atp: AtpSource
    ) -> dict[str, Any]:
        where = self._where(destination)
        unique = list(dict.fromkeys(skus))
        days = self.calculator.listing(unique, [self._stock(s, atp) for s in unique], where, at)
        answer: dict[str, Any] = self._answers.listing_answer(unique, days, where, at)
        return answer

    def availability(
        self,
        sku: str,
        near: str,
        radius_km: float,
        qty: int,
        limit: int,
        at: datetime,
        atp: AtpSource,
    ) -> dict[str, Any]:
        where = self._destination.parse_destination(near, self._zip)
        item = self.calculator.promise(sku, qty, self._stock(sku, atp), where, at, radius_km, limit)
        answer: dict[str, Any] = self._answers.availability_answer(
            self.network, item, where, radius_km
        )
        return answer

    def rank(
        self, location_ids: Sequence[str], destination: dict[str, Any], at: datetime
    ) -> dict[str, tuple[Any, float]]:
        where = self._where(destination)
        level = self.network.service_levels[0].name if self.network.service_levels else None
        index = self.network.index
        ranked: dict[str, tuple[Any, float]] = {}
        for location_id in location_ids:
            if location_id not in index:
                continue
            one = self._stock_of(
                np.array([index[location_id]], dtype=np.int64), np.ones(1, dtype=np.int64)
            )
            item = self.calculator.promise("", 1, one, where, at, 0.0, 0)
            option = next((o for o in item.options if o.service_level == level), None)
            if option is None:
                ranked[location_id] = (None, float("inf"))
            else:
                ranked[location_id] = (option.deliver_by, option.distance_km)
        return ranked

    def _where(self, destination: dict[str, Any]) -> Any:
        if "region" in destination:
            region = self.regions.get(destination["region"])
            if region is None:
                raise UnknownRegionError(destination["region"])
            return self._destination.at_point(region.lat, region.lon)
        if "postal_code" in destination:
            return self._destination.at_postal_code(destination["postal_code"], self._zip)
        return self._destination.at_point(destination["lat"], destination["lon"])

    def _stock(self, sku: str, atp: AtpSource) -> Any:
        by_index = atp.atp_array(sku)[: len(self.location_ids)]
        loc = np.flatnonzero(by_index > 0).astype(np.int64)
        return self._stock_of(loc, by_index[loc].astype(np.int64))
