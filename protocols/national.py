"""Documents exchanged with the national server (全国サーバ, J-LIS).

Moves between cities (住基法 9条, 22条, 24条の2), both ways through the national server:

- this city is the *former* city: a 特例転出 (the resident has a 個人番号カード) sends the
  ``MovingOutCertificate`` (転出証明書情報) on the hub's stream for the destination; the
  destination's ``TransferInNotice`` (転入通知) comes back on the national server's
  stream and confirms the 転出.
- this city is the *destination*: a domestic 転入 asks (request/response, like a query)
  ``CertificateRequest`` for the former city's 転出証明書情報; the ``CertificateAnswer``
  carries it — ``special`` when it is a 特例転出's certificate, else the former city's
  record as J-LIS holds it (what the resident's paper 転出証明書 says) — and the hub
  keeps the 住民票コード and 個人番号 from it.  The hub's ``TransferInNotice`` then goes
  to the former city on the hub's stream.

住民票コードの変更 (住基法 30条の4): a resident asks for a new 住民票コード; the hub asks
(request/response) ``CodeChangeRequest`` and J-LIS answers ``CodeChangeAnswer`` with the
new code (the same one again for a repeated 依頼管理番号).  The change itself then goes
to J-LIS on the hub's stream as an ``IdentityUpdate`` (new code, old code in 旧住民票コード),
so its copy follows.

The wide-area copy of the 住民票 (広域交付, ``protocols.wide_area``): J-LIS pushes another
municipality's ``WideAreaCopyRequest``; the hub answers ``WideAreaCopyAnswer`` on its
stream.

Individual-number generation:

A new 住民票コード without a 個人番号 (出生, 転入 from abroad, …) sends a
``NumberRequest`` (番号法 8条: the city asks J-LIS to generate the number); the national
server answers on its own stream with ``NumberGenerated``, which the hub matches back by
住民票コード.  Schemas: ``schemas/national_number_request.xsd`` and
``schemas/national_number_generated.xsd``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from protocols import wide_area
from protocols.consistency import CHUNK, RESULT, ConsistencyChunk, ConsistencyResult
from protocols.identity import IDENTITY_UPDATE, IdentityUpdate
from protocols.wide_area import WideAreaCopyAnswer, WideAreaCopyRequest
from protocols.xmlrecord import XmlDispatch, XmlDocument, XmlListDocument, XmlRecord
from protocols.xmlsafe import load_schema, parse_xml, validate

NAMESPACE = "urn:jukihub:national:number:1"
QUERY_NAMESPACE = "urn:jukihub:national:query:1"
TRANSFER_NAMESPACE = "urn:jukihub:national:transfer:1"


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


# ---- identity queries (本人確認情報照会): request/response, matched by correlation id --


@dataclass(frozen=True, slots=True)
class IdentityQuery:
    """By 住民票コード, by 個人番号, or by the four items (氏名 as kanji or kana)."""

    municipality_code: str               # the asking municipality
    resident_code: str | None = None     # 住民票コード
    individual_number: str | None = None  # 個人番号
    name_kanji: str | None = None        # 氏名
    name_kana: str | None = None         # ふりがな (matched by its 清音化かな)
    birth_date: dt.date | None = None    # 生年月日
    sex: str | None = None               # 性別
    address: str | None = None           # 住所 (matched from its beginning)


@dataclass(frozen=True, slots=True)
class QueryMatch:
    """One person found; never the 個人番号 (lists that show people never show it)."""

    resident_code: str
    name_kanji: str
    name_kana: str
    birth_date: dt.date
    sex: str
    municipality_code: str
    address: str
    record_status: str  # active | removed


@dataclass(frozen=True, slots=True)
class QueryResult:
    status: str  # found | not_found | too_many | refused
    count: int   # how many matched (more than ``matches`` when too_many)
    matches: tuple[QueryMatch, ...] = ()


MAX_MATCHES = 100  # the XSD's maxOccurs
_QUERY = XmlDocument(IdentityQuery, "IdentityQuery", QUERY_NAMESPACE, "national_query.xsd")
QUERY_FIELDS = _QUERY.fields
_RESULT = XmlListDocument(QueryResult, "IdentityQueryResult", QUERY_NAMESPACE,
                          "national_query_result.xsd", "matches", QueryMatch, "Match",
                          MAX_MATCHES)


def encode_query(q: IdentityQuery) -> bytes:
    return _QUERY.dumps(q)


def decode_query(data: bytes) -> IdentityQuery:
    q: IdentityQuery = _QUERY.loads(data)
    return q


def encode_query_result(r: QueryResult) -> bytes:
    return _RESULT.dumps(r)


def decode_query_result(data: bytes) -> QueryResult:
    r: QueryResult = _RESULT.loads(data)
    return r


# ---- between municipalities: 転出証明書情報 in, 転入通知 out ------------------------


@dataclass(frozen=True, slots=True)
class MovingOutCertificate:
    """転出証明書情報 (住基法 24条の2): someone moving from one city to another; the
    former city sends it for a 特例転出, and a destination's request is answered with it."""

    certificate_number: str       # the certificate's number at the former municipality
    from_municipality_code: str   # 転出元 市町村コード
    to_municipality_code: str     # 転入先 市町村コード
    resident_code: str            # 住民票コード
    name_kanji: str               # 氏名
    name_kana: str                # ふりがな
    birth_date: dt.date           # 生年月日
    sex: str                      # 性別
    former_address: str           # 転出元住所
    planned_address: str | None = None   # 転出先（予定）住所
    moving_out_date: dt.date | None = None  # 転出予定年月日
    household_head: str | None = None  # 世帯主
    relationship: str | None = None    # 続柄
    individual_number: str | None = None  # 個人番号


@dataclass(frozen=True, slots=True)
class CertificateRequest:
    """A destination asks for the former city's 転出証明書情報 of the person its 転入
    names: by 住民票コード, else by ふりがな, birth date and sex at the former city."""

    municipality_code: str         # the asking city (the destination)
    former_municipality_code: str  # 転出元 市町村コード
    resident_code: str             # 住民票コード, as the register has it
    name_kana: str                 # ふりがな
    birth_date: dt.date            # 生年月日
    sex: str                       # 性別


@dataclass(frozen=True, slots=True)
class CertificateAnswer:
    status: str                    # found | not_found | refused
    special: bool = False          # a 特例転出's certificate (else the record J-LIS holds)
    certificate: MovingOutCertificate | None = None


@dataclass(frozen=True, slots=True)
class TransferInNotice:
    """転入通知 (住基法 9条1項) to the former municipality, through the national server."""

    update_seq: int                # 更新順番号 of the 転入
    municipality_code: str         # this city
    former_municipality_code: str  # 転入前 市町村コード
    resident_code: str             # 住民票コード
    move_in_date: dt.date          # 異動年月日
    notified_date: dt.date | None  # 届出の年月日
    address: str                   # 住所 (here)


_MOVING_OUT = XmlDocument(MovingOutCertificate, "MovingOutCertificate", TRANSFER_NAMESPACE,
                          "national_moving_out.xsd")
_TRANSFER_IN = XmlDocument(TransferInNotice, "TransferInNotice", TRANSFER_NAMESPACE,
                           "national_transfer_in.xsd")
_CERTIFICATE_REQUEST = XmlDocument(CertificateRequest, "CertificateRequest",
                                   TRANSFER_NAMESPACE, "national_certificate_request.xsd")
CERTIFICATE_REQUEST_FIELDS = _CERTIFICATE_REQUEST.fields


class _AnswerDocument:
    """``CertificateAnswer``: its status and ``special``, then the certificate's elements
    inside a ``MovingOutCertificate`` element (absent unless found)."""

    root = "CertificateAnswer"
    xsd = "national_certificate_answer.xsd"

    def __init__(self) -> None:
        self.head = XmlRecord(CertificateAnswer, skip=("certificate",))
        self.certificate = XmlRecord(MovingOutCertificate)
        self._open = (f"<?xml version='1.0' encoding='UTF-8'?>\n"
                      f"<{self.root} xmlns=\"{TRANSFER_NAMESPACE}\">")

    def dumps(self, answer: CertificateAnswer) -> bytes:
        parts = [self._open, self.head.encode(answer)]
        if answer.certificate is not None:
            parts += ["<MovingOutCertificate>", self.certificate.encode(answer.certificate),
                      "</MovingOutCertificate>"]
        parts.append(f"</{self.root}>")
        return "".join(parts).encode()

    def loads(self, data: bytes) -> CertificateAnswer:
        return self.load_root(parse_xml(data))

    def load_root(self, root: etree._Element) -> CertificateAnswer:
        validate(load_schema(self.xsd), root)
        inner = root.find(f"{{{TRANSFER_NAMESPACE}}}MovingOutCertificate")
        cert = self.certificate.decode(inner) if inner is not None else None
        answer: CertificateAnswer = self.head.decode(root, certificate=cert)
        return answer


_CERTIFICATE_ANSWER = _AnswerDocument()


@dataclass(frozen=True, slots=True)
class CodeChangeRequest:
    """A new 住民票コード for a resident who asked for one (住基法 30条の4)."""

    municipality_code: str   # the asking city
    resident_code: str       # 住民票コード now
    request_id: str          # 依頼管理番号 of the change (asked again: the same new code)


@dataclass(frozen=True, slots=True)
class CodeChangeAnswer:
    status: str                      # issued | refused
    new_resident_code: str | None = None


_CODE_CHANGE_REQUEST = XmlDocument(CodeChangeRequest, "CodeChangeRequest", NAMESPACE,
                                   "national_code_change_request.xsd")
_CODE_CHANGE_ANSWER = XmlDocument(CodeChangeAnswer, "CodeChangeAnswer", NAMESPACE,
                                  "national_code_change_answer.xsd")


def encode_code_change_request(req: CodeChangeRequest) -> bytes:
    return _CODE_CHANGE_REQUEST.dumps(req)


def encode_code_change_answer(answer: CodeChangeAnswer) -> bytes:
    return _CODE_CHANGE_ANSWER.dumps(answer)


def decode_code_change_answer(data: bytes) -> CodeChangeAnswer:
    answer: CodeChangeAnswer = _CODE_CHANGE_ANSWER.loads(data)
    return answer
# What the hub sends on the national stream, and what the national server pushes back.
_TO_NATIONAL = XmlDispatch(_REQUEST, _TRANSFER_IN, _MOVING_OUT, CHUNK, IDENTITY_UPDATE,
                           wide_area.ANSWER)
_FROM_NATIONAL = XmlDispatch(_GENERATED, _MOVING_OUT, _TRANSFER_IN, RESULT, wide_area.REQUEST)
# The questions the hub asks the national server (request/response).
_QUESTIONS = XmlDispatch(_QUERY, _CERTIFICATE_REQUEST, _CODE_CHANGE_REQUEST)


def encode_moving_out(doc: MovingOutCertificate) -> bytes:
    return _MOVING_OUT.dumps(doc)


def encode_transfer_in(doc: TransferInNotice) -> bytes:
    return _TRANSFER_IN.dumps(doc)


def encode_certificate_request(req: CertificateRequest) -> bytes:
    return _CERTIFICATE_REQUEST.dumps(req)


def encode_certificate_answer(answer: CertificateAnswer) -> bytes:
    return _CERTIFICATE_ANSWER.dumps(answer)


def decode_certificate_answer(data: bytes) -> CertificateAnswer:
    return _CERTIFICATE_ANSWER.loads(data)


Question = IdentityQuery | CertificateRequest | CodeChangeRequest


def decode_question(data: bytes) -> Question:
    """A question the hub asked (the mock's side)."""
    doc: Question = _QUESTIONS.loads(data)
    return doc


ToNational = (NumberRequest | TransferInNotice | MovingOutCertificate | ConsistencyChunk
              | IdentityUpdate | WideAreaCopyAnswer)
FromNational = (NumberGenerated | MovingOutCertificate | TransferInNotice | ConsistencyResult
                | WideAreaCopyRequest)


def decode_to_national(data: bytes) -> ToNational:
    """A document of the hub's national stream (the mock's side)."""
    doc: ToNational = _TO_NATIONAL.loads(data)
    return doc


def decode_from_national(data: bytes) -> FromNational:
    """A document the national server pushed (the hub's side)."""
    doc: FromNational = _FROM_NATIONAL.loads(data)
    return doc
