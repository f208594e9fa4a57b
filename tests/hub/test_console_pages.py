"""Every page of the staff console, rendered in-process in Japanese and in English
(``Console`` over a fake ``invoke`` answering as the API would): in Japanese no message
of the catalog is left in English, codes are shown by their names with the code
beside them, times carry their zone; the language follows the setting, then
``Accept-Language``.  The browser tests (``tests/integration/test_console.py``) keep
what a real browser and the real API do."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from babel.messages.pofile import read_po
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import crypto
from twisted.internet import defer
from twisted.web import server
from twisted.web.test.requesthelper import DummyRequest

from devtools.harness import CONFIG
from hub.api.console import LANGUAGE_COOKIE, Console
from hub.api.console.visit import COOKIE
from hub.config import load_config
from hub.support.i18n import LOCALE_DIR

NOW = 1_764_750_000.0  # 2025-12-03 08:20 UTC


def _certificate(common_name: str) -> crypto.X509:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(dt.datetime(2025, 1, 1)).not_valid_after(dt.datetime(2035, 1, 1))
            .sign(key, hashes.SHA256()))
    return crypto.X509.from_cryptography(cert)


class _Terminal:
    """A TLS transport whose peer is a staff terminal's certificate."""

    cert = _certificate("operator.jukihub.test")

    def getPeerCertificate(self) -> crypto.X509:  # noqa: N802 (Twisted's name)
        return self.cert


STATUS = {
    "at": NOW, "maintenance": {"on": True, "since": NOW - 600, "by": "sup1"},
    "intake": {"open": False, "code": "maintenance", "message": "maintenance mode"},
    "links": [{"link": "national", "state": "backoff", "depth": 3, "inflight": 1,
               "inflight_bytes": 800, "held_residents": 1, "dead_letters": 1,
               "oldest_age_seconds": 185.0, "last_error": "out_of_order",
               "last_error_at": NOW - 60, "owner": "hub-a"}],
    "certificates": [{"party": "prefecture", "days_left": 10.5}],
    "jobs": [{"kind": "consistency_check", "id": "C1", "link": "prefecture",
              "state": "answered", "done": 10, "total": 10, "started_at": NOW - 30,
              "finished_at": NOW - 20, "differences": 1}]}
ANSWERS: dict[str, Any] = {
    "/v1/sessions/current": {"user_id": "sup1", "roles": ["supervisor", "auditor"],
                             "terminal_id": "t01"},
    "/v1/status": STATUS,
    "/v1/inbox": {"items": [{"id": 7, "link": "intermediate",
                             "kind": "intermediate.code_issued", "received_at": NOW - 5,
                             "state": "new"}]},
    "/v1/manual-answers/7": {
        "item_id": 7, "state": "new", "request": {"requester": "A市", "procedure": "X"},
        "items_asked": [{"item": "birth_date", "name": "生年月日"}],
        "if_approved": {"items": {"birth_date": "1990-03-04"}},
        "if_refused": {"status": "refused"}},
    "/v1/approvals": {"approvals": [{"approval_id": "A1", "kind": "export",
                                     "subject": "E1", "people": 120, "requested_by": "op1",
                                     "requested_at": NOW - 100}]},
    "/v1/dead-letters": {"dead_letters": [{"id": 3, "link": "prefecture", "seq": 12,
                                           "resident_key": "K", "code": "rejected_by_peer",
                                           "reason": "peer text", "age_seconds": 7300,
                                           "correlation_id": "c1"}]},
    "/v1/dead-letters/3": {"dead_letter": {"id": 3, "link": "prefecture", "seq": 12,
                                           "code": "xml_syntax", "reason": "peer text",
                                           "state": "open", "created_at": NOW - 50},
                           "message": {"kind": "identity_update", "format": "xml",
                                       "content": "<x/>"}},
    "/v1/consistency-checks/C1": {"check_id": "C1", "link": "prefecture",
                                  "state": "answered", "sent": 10, "compared": 10,
                                  "held": 11, "difference_count": 1,
                                  "differences": [{"resident_code": "R", "kind": "only_at_peer"}]},
    "/v1/audit": {"entries": [{"id": 1, "at": NOW - 3, "operator_id": "sup1",
                               "terminal_id": "t01", "action": "session.login",
                               "target": None, "result": "not_permitted", "count": None}]},
}
PAGES = ("/console/", "/console/inbox", "/console/manual-answers",
         "/console/manual-answers/7", "/console/approvals", "/console/dead-letters",
         "/console/dead-letters/3", "/console/checks", "/console/checks/C1",
         "/console/audit", "/console/login", "/console/nowhere")


def invoke(client: str, token: str | None, method: str, path: str, query: dict[str, str],
           body: Any) -> defer.Deferred[tuple[int, dict[str, Any]]]:
    if path == "/v1/inbox" and query.get("kind"):  # the manual answers waiting
        return defer.succeed((200, {"items": [{"id": 7, "received_at": NOW,
                                               "document": {"requester": "A市"}}]}))
    return defer.succeed((200, ANSWERS[path]))


CONSOLE = Console(invoke, load_config(CONFIG).access)


class _Request(DummyRequest):
    """Twisted's request double, with the cookies a browser sends."""

    received_cookies: dict[bytes, bytes]
    cookies: list[bytes]

    def getCookie(self, key: bytes) -> bytes | None:  # noqa: N802 (Twisted's name)
        return self.received_cookies.get(key)

    def addCookie(self, k: bytes, v: bytes, **how: Any) -> None:  # noqa: N802
        if not hasattr(self, "cookies"):
            self.cookies = []
        server.Request.addCookie(self, k, v, **how)  # type: ignore[arg-type]


def render(path: str, accept: str | None = None, chosen: str | None = None
           ) -> tuple[int, str, str]:
    request: Any = _Request(path.lstrip("/").split("/"))
    request.path, request.transport, request._disconnected = path.encode(), _Terminal(), False
    request.uri = path.encode()
    request.received_cookies = {COOKIE.encode(): b"token"}
    if chosen:
        request.received_cookies[LANGUAGE_COOKIE.encode()] = chosen.encode()
    if accept:
        request.requestHeaders.setRawHeaders(b"accept-language", [accept.encode()])
    CONSOLE.render(request)
    assert request.finished
    lang = request.responseHeaders.getRawHeaders(b"content-language", [b""])[0].decode()
    return request.responseCode, b"".join(request.written).decode(), lang


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("code", "pre", "style", "script")
        self.texts += [v for k, v in attrs if k == "placeholder" and v]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("code", "pre", "style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def _english_messages() -> set[str]:
    """The catalog's messages whose Japanese differs: shown in English, a miss."""
    with (LOCALE_DIR / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {m.id for m in read_po(f, locale="ja")
                if isinstance(m.id, str) and m.id and m.string and m.string != m.id
                and "%" not in m.id and len(m.id) > 2}


ENGLISH = _english_messages()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_japanese_by_default(path: str) -> None:
    status, html, lang = render(path)
    assert lang == "ja" and '<html lang="ja">' in html
    assert status in (200, 404), html[-500:]
    parser = _Text()
    parser.feed(html)
    shown = set(parser.texts)
    # Each piece of text, and its parts between punctuation: none a catalog message.
    pieces = shown | {p.strip() for t in shown for p in re.split(r"[()（）:：—·,、/]", t)}
    left = sorted(p for p in pieces if p in ENGLISH)
    assert not left, f"{path}: English left in the Japanese page: {left}"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_english_on_request(path: str) -> None:
    for how in ({"accept": "en-GB,en;q=0.9"}, {"chosen": "en", "accept": "ja"}):
        status, html, lang = render(path, **how)
        assert lang == "en" and '<html lang="en">' in html, how
        assert "受信箱" not in html and "概要" not in html


def test_codes_are_named_with_the_code_beside_them() -> None:
    _, inbox, _ = render("/console/inbox")
    assert '符号取得結果 <code class="code">intermediate.code_issued</code>' in inbox
    assert '中間サーバー <code class="code">intermediate</code>' in inbox
    _, letters, _ = render("/console/dead-letters")
    assert '相手先が拒否 <code class="code">rejected_by_peer</code>' in letters
    assert "2時間1分" in letters  # the letter's age
    _, overview, _ = render("/console/")
    assert '再接続待ち <code class="code">backoff</code>' in overview
    assert "保守モード" in overview and "JST" in overview
    assert "差異 1 件" in overview
    _, answer, _ = render("/console/manual-answers/7")
    assert "平成2年3月4日 (1990-03-04)" in answer  # a date of birth in 和暦


def test_a_code_no_table_knows_is_shown_as_it_is() -> None:
    ANSWERS["/v1/inbox"]["items"][0]["kind"] = "national.something_new"
    try:
        _, inbox, _ = render("/console/inbox")
    finally:
        ANSWERS["/v1/inbox"]["items"][0]["kind"] = "intermediate.code_issued"
    assert '<td><code class="code">national.something_new</code></td>' in inbox


def test_the_language_button_sets_a_cookie_for_this_browser() -> None:
    import io

    from hub.api.console.visit import Visit

    def post(fields: str) -> Any:
        request: Any = _Request([b"console", b"language"])
        request.method, request.path = b"POST", b"/console/language"
        request.transport, request._disconnected = _Terminal(), False
        request.received_cookies = {COOKIE.encode(): b"token"}
        request.requestHeaders.setRawHeaders(b"referer", [b"https://hub/console/inbox"])
        request.content = io.BytesIO(fields.encode())
        CONSOLE.render(request)
        return request

    csrf = Visit(invoke, post("")).csrf()  # derived from the session token
    done = post(f"lang=en&csrf={csrf}")
    assert done.responseCode == 303
    assert done.responseHeaders.getRawHeaders(b"location") == [b"/console/inbox"]
    assert any(c.startswith(b"jukihub_lang=en;") for c in done.cookies)
    stale = post("lang=en&csrf=forged")
    assert stale.responseCode == 403 and not getattr(stale, "cookies", [])


class _Recording:
    """An ``invoke`` that records the API calls and answers a full page of items."""

    def __init__(self, items: int = 100, ack: tuple[int, ...] = ()) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.items, self.ack = items, list(ack)

    def __call__(self, client: str, token: str | None, method: str, path: str,
                 query: dict[str, str], body: Any) -> defer.Deferred[Any]:
        self.calls.append((method, path, query))
        if path == "/v1/inbox":
            start = int(query.get("after", 0))
            return defer.succeed((200, {"items": [
                {"id": start + n + 1, "link": "national", "kind": "national.moving_out",
                 "received_at": NOW, "state": "new"} for n in range(self.items)]}))
        if path.endswith("/ack"):
            status = self.ack.pop(0)
            return defer.succeed((status, {"id": 1, "state": "acknowledged"} if status == 200
                                  else {"error": {"code": "already_taken", "message": "x"}}))
        return defer.succeed((200, ANSWERS[path]))


def _with(recording: _Recording, path: str, method: bytes = b"GET", form: str = "",
          args: dict[bytes, list[bytes]] | None = None) -> Any:
    import io

    from hub.api.console.visit import Visit
    request: Any = _Request(path.lstrip("/").split("/"))
    request.method, request.path = method, path.encode()
    request.transport, request._disconnected = _Terminal(), False
    request.received_cookies = {COOKIE.encode(): b"token"}
    request.args = args or {}
    csrf = Visit(recording, request).csrf()
    request.content = io.BytesIO((form + f"&csrf={csrf}").encode())
    Console(recording, load_config(CONFIG).access).render(request)
    assert request.finished
    return request


def test_the_inbox_filters_and_pages_through_the_api() -> None:
    rec = _Recording(items=101)  # one more than a page: there is a next page
    done = _with(rec, "/console/inbox", args={
        b"link": [b"national"], b"kind": [b"national.moving_out"], b"from": [b"2026-12-01"],
        b"to": [b"2026-12-02"], b"after": [b"200"]})
    html = b"".join(done.written).decode()
    [(_, _, query)] = [c for c in rec.calls if c[1] == "/v1/inbox"]
    utc = dt.UTC  # the days' starts in Tokyo are 15:00 UTC the day before
    since = dt.datetime(2026, 11, 30, 15, tzinfo=utc).timestamp()
    until = dt.datetime(2026, 12, 2, 15, tzinfo=utc).timestamp()  # the end of the 2nd
    assert query == {"state": "new", "link": "national", "kind": "national.moving_out",
                     "since": str(since), "until": str(until), "after": "200",
                     "limit": "101"}  # one more row than a page shows
    assert 'id="next-page"' in html and "after=300" in html  # after the last shown
    assert "link=national" in html.split('id="next-page"')[0].rsplit("href=", 1)[1]
    assert 'id="first-page"' in html
    assert html.count('class="item"') == 100  # the extra row is not shown
    for last in (3, 100):  # a short page, and one exactly full: nothing after it
        html = b"".join(_with(_Recording(items=last), "/console/inbox").written).decode()
        assert 'id="next-page"' not in html and 'id="first-page"' not in html
        assert html.count('class="item"') == last


def test_a_selection_is_taken_at_once_each_item_by_its_own_call() -> None:
    rec = _Recording(ack=(200, 409, 200))
    done = _with(rec, "/console/inbox", b"POST",
                 "items=5&items=6&items=7&items=5&items=x&state=new&link=national")
    assert [c[1] for c in rec.calls if c[0] == "POST"] == [
        "/v1/inbox/5/ack", "/v1/inbox/6/ack", "/v1/inbox/7/ack"]  # each once, ids only
    assert done.responseCode == 303
    [location] = done.responseHeaders.getRawHeaders(b"location")
    assert location.decode() == "/console/inbox?state=new&link=national&taken=2&already=1"


def test_a_long_list_of_differences_is_shown_a_page_at_a_time() -> None:
    many = [{"resident_code": f"R{n:05}", "kind": "differs" if n % 2 else "only_at_hub"}
            for n in range(250)]
    ANSWERS["/v1/consistency-checks/C1"]["differences"] = many
    try:
        first = render("/console/checks/C1")[1]
        third = b"".join(_with(_Recording(), "/console/checks/C1",
                               args={b"page": [b"3"]}).written).decode()
        odd = b"".join(_with(_Recording(), "/console/checks/C1", args={
            b"kind": [b"differs"], b"page": [b"2"]}).written).decode()
    finally:
        ANSWERS["/v1/consistency-checks/C1"]["differences"] = [
            {"resident_code": "R", "kind": "only_at_peer"}]
    assert "R00000" in first and "R00099" in first and "R00100" not in first
    assert "R00200" in third and "R00249" in third and "R00199" not in third
    assert 'id="next-page"' in first and 'id="next-page"' not in third
    # 125 of one kind (the odd ones): the second page is the 101st to the 125th
    assert "R00201" in odd and "R00199" not in odd and "R00249" in odd and "R00202" not in odd


def test_the_operation_log_names_each_function() -> None:
    ANSWERS["/v1/audit"]["entries"].append(
        {"id": 2, "at": NOW, "operator_id": "op1", "terminal_id": "t1",
         "action": "change.move_in", "target": "R-1", "result": "ok", "count": None})
    try:
        _, html, _ = render("/console/audit")
    finally:
        ANSWERS["/v1/audit"]["entries"].pop()
    assert 'ログイン <code class="code">session.login</code>' in html
    assert '転入 <code class="code">change.move_in</code>' in html
    assert '権限がありません <code class="code">not_permitted</code>' in html
