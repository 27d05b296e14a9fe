"""``--network FILE``: the ``Promiser`` over ``engine.promise`` (``api.promise_routes`` seam).

``engine.promise`` (the delivery calculator: network file, numba kernels, answer shapes) is
imported when ``--network`` is given, so a server without a network never loads numba.

Per sku, the calculator's candidates come straight from the read model's ATP array (indexed
like ``network.locations``): the locations with ATP above 0 and their ATP, no dict in between.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from api.promise_routes import AtpSource, Promiser
from engine.errors import ConfigError


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
    network_mod = importlib.import_module("engine.promise.network")
    return CalculatorPromiser(network_mod.load_network(text))


class CalculatorPromiser:
    """``engine.promise.calculator.Calculator`` behind the ``Promiser`` protocol."""

    def __init__(self, network: Any) -> None:
        calculator = importlib.import_module("engine.promise.calculator")
        self._answers = importlib.import_module("engine.promise.answers")
        self._destination = importlib.import_module("engine.promise.destination")
        postal = importlib.import_module("omnistock.postal")
        postal.warm()  # the ZIP table loads before the first request, not during it
        self._zip = postal.zip_centroid
        self._stock_of = calculator.Stock
        self.network = network
        self.calculator = calculator.Calculator(network)
        self.location_ids: list[str] = [location.id for location in network.locations]
        warm = getattr(calculator, "warm", None)
        if warm is not None:
            warm()  # compile (or load) the kernels before the first request

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

    def _where(self, destination: dict[str, Any]) -> Any:
        if "postal_code" in destination:
            return self._destination.at_postal_code(destination["postal_code"], self._zip)
        return self._destination.at_point(destination["lat"], destination["lon"])

    def _stock(self, sku: str, atp: AtpSource) -> Any:
        by_index = atp.atp_array(sku)[: len(self.location_ids)]
        loc = np.flatnonzero(by_index > 0).astype(np.int64)
        return self._stock_of(loc, by_index[loc].astype(np.int64))
