"""Individual-number generation with the national server (全国サーバ, J-LIS).

A new 住民票コード without a 個人番号 (出生, 転入 from abroad, …) sends a
``NumberRequest`` (番号法 8条: the city asks J-LIS to generate the number); the national
server answers on its own stream with ``NumberGenerated``, which the hub matches back by
住民票コード.  Schemas: ``schemas/national_number_request.xsd`` and
``schemas/national_number_generated.xsd``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from protocols.xmlrecord import XmlDocument

NAMESPACE = "urn:jukihub:national:number:1"


@dataclass(frozen=True, slots=True)
class NumberRequest:
    update_seq: int          # 更新順番号 of the change that created the resident
    municipality_code: str   # 市町村コード
    resident_code: str       # 住民票コード
    birth_date: dt.date      # 生年月日
    sex: str                 # 性別


@dataclass(frozen=True, slots=True)
class NumberGenerated:
    request_update_seq: int  # the request's 更新順番号
    municipality_code: str
    resident_code: str       # 住民票コード
    individual_number: str   # 個人番号, newly generated


_REQUEST = XmlDocument(NumberRequest, "NumberRequest", NAMESPACE, "national_number_request.xsd")
_GENERATED = XmlDocument(NumberGenerated, "NumberGenerated", NAMESPACE,
                         "national_number_generated.xsd")
REQUEST_FIELDS, GENERATED_FIELDS = _REQUEST.fields, _GENERATED.fields


def encode_number_request(req: NumberRequest) -> bytes:
    return _REQUEST.dumps(req)


def decode_number_request(data: bytes) -> NumberRequest:
    req: NumberRequest = _REQUEST.loads(data)
    return req


def encode_number_generated(gen: NumberGenerated) -> bytes:
    return _GENERATED.dumps(gen)


def decode_number_generated(data: bytes) -> NumberGenerated:
    gen: NumberGenerated = _GENERATED.loads(data)
    return gen
