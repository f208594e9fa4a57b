"""Properties of every codec of the five links — the XML documents and the intermediate
server's msgpack — for any values its dataclass's types allow (hypothesis builds them:
text of any Unicode, integers past the store's, any dates): a document is either encoded
and read back as the same value, or refused with ``BodyError`` — by its schema on the
way out or in — never another exception; and any bytes put in place of the document are
refused the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols import card, consistency, identity, intermediate, moj, national, senddest, wide_area
from protocols.errors import BodyError

# (encode, decode, the document's dataclass, the strategy of its value)
CODECS: dict[str, tuple[Callable[[Any], bytes], Callable[[bytes], Any], Any]] = {
    "identity_update": (identity.encode_identity_update, identity.decode_identity_update,
                        st.builds(identity.IdentityUpdate)),
    "number_request": (national.encode_number_request, national.decode_number_request,
                       st.builds(national.NumberRequest)),
    "transfer_in": (national.encode_transfer_in, national.decode_from_national,
                    st.builds(national.TransferInNotice)),
    "consistency_result": (consistency.encode_result, consistency.decode_result,
                           st.builds(consistency.ConsistencyResult, differences=st.lists(
                               st.builds(consistency.Difference), max_size=3).map(tuple))),
    "moj_notice": (moj.encode_notice, moj.decode_notice, st.builds(moj.ForeignResidentNotice)),
    "wide_area_request": (wide_area.encode_request, national.decode_from_national,
                          st.builds(wide_area.WideAreaCopyRequest)),
    "wide_area_answer": (wide_area.encode_answer, wide_area.decode_answer,
                         st.builds(wide_area.WideAreaCopyAnswer, entries=st.lists(
                             st.builds(wide_area.Entry), max_size=2).map(tuple))),
    "consistency_chunk": (consistency.encode_chunk, national.decode_to_national,
                          st.builds(consistency.ConsistencyChunk, records=st.lists(
                              st.builds(consistency.CheckRecord), max_size=3).map(tuple))),
    "card_event": (card.encode_card_event, card.decode_card_event, st.builds(card.CardEvent)),
    "send_destinations": (senddest.encode_chunk, senddest.decode_chunk,
                          st.builds(senddest.SendDestinationChunk, destinations=st.lists(
                              st.builds(senddest.SendDestination), max_size=2).map(tuple))),
    "number_generated": (national.encode_number_generated, national.decode_number_generated,
                         st.builds(national.NumberGenerated)),
    "identity_query": (national.encode_query, national.decode_query,
                       st.builds(national.IdentityQuery)),
    "query_result": (national.encode_query_result, national.decode_query_result,
                     st.builds(national.QueryResult, matches=st.lists(
                         st.builds(national.QueryMatch), max_size=2).map(tuple))),
    "moving_out_certificate": (national.encode_moving_out, national.decode_to_national,
                               st.builds(national.MovingOutCertificate)),
    "certificate_request": (national.encode_certificate_request, national.decode_question,
                            st.builds(national.CertificateRequest)),
    "certificate_answer": (national.encode_certificate_answer,
                           national.decode_certificate_answer,
                           st.builds(national.CertificateAnswer)),
    "code_change_request": (national.encode_code_change_request, national.decode_question,
                            st.builds(national.CodeChangeRequest)),
    "code_change_answer": (national.encode_code_change_answer,
                           national.decode_code_change_answer,
                           st.builds(national.CodeChangeAnswer)),
    # The intermediate server's msgpack documents, each on its own stream.
    **{f"intermediate_{cls.__name__}": (intermediate.encode, decode, st.builds(cls))
       for cls, decode in ((intermediate.CopyUpdate, intermediate.decode_to_intermediate),
                           (intermediate.CodeRequest, intermediate.decode_to_intermediate),
                           (intermediate.ManualAnswer, intermediate.decode_to_intermediate),
                           (intermediate.CodeIssued, intermediate.decode_from_intermediate),
                           (intermediate.ManualAnswerRequest,
                            intermediate.decode_from_intermediate),
                           (intermediate.ProvisionRecord,
                            intermediate.decode_from_intermediate))},
}
PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _round_trip(encode: Callable[[Any], bytes], decode: Callable[[bytes], Any],
                value: Any) -> None:
    try:
        body = encode(value)
    except (BodyError, ValueError):
        return  # refused on the way out (a value its schema does not allow)
    try:
        back = decode(body)
    except BodyError:
        return  # refused on the way in, by the same schema
    assert back == value


@pytest.mark.parametrize("name", sorted(CODECS))
def test_a_document_round_trips_or_is_refused(name: str) -> None:
    encode, decode, values = CODECS[name]

    @PROPERTY
    @given(values)
    def check(value: Any) -> None:
        _round_trip(encode, decode, value)

    check()


@pytest.mark.parametrize("name", sorted(CODECS))
def test_any_text_in_place_of_a_document_is_refused_with_the_protocols_error(
        name: str) -> None:
    _, decode, _ = CODECS[name]

    @PROPERTY
    @given(st.one_of(st.binary(max_size=2000), st.text(max_size=2000).map(
        lambda t: t.encode("utf-8", "surrogatepass"))))
    def check(data: bytes) -> None:
        try:
            decode(data)
        except BodyError:
            pass

    check()


def test_a_value_the_schema_allows_round_trips() -> None:
    """Not only refusals: a plain document comes back as it went (the property above
    accepts either; this pins the sound case)."""
    req = wide_area.WideAreaCopyRequest("Q-1", "222038", "131016", "12345678903", "person",
                                        dt.datetime(2026, 12, 1, 10, 0))
    assert national.decode_from_national(wide_area.encode_request(req)) == req
