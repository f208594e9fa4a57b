"""Mock endpoints: the product's own test doubles of the outside systems."""

from __future__ import annotations

from mock_endpoints.base import MockEndpoint
from mock_endpoints.card import CardMock
from mock_endpoints.intermediate import IntermediateMock
from mock_endpoints.moj import MojMock
from mock_endpoints.national import NationalMock
from mock_endpoints.prefecture import PrefectureMock

MOCKS: dict[str, type[MockEndpoint]] = {"prefecture": PrefectureMock, "moj": MojMock,
                                          "intermediate": IntermediateMock, "card": CardMock,
                                          "national": NationalMock}

__all__ = ["MOCKS", "CardMock", "IntermediateMock", "MockEndpoint", "MojMock",
           "NationalMock", "PrefectureMock"]
