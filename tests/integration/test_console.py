"""The staff console in a real headless browser (Debian's Chromium under Selenium), as a
staff terminal uses it: log in, approve a manual answer after seeing what will be sent,
replay a dead letter, and a window clerk who cannot reach the auditor's pages.  The
browser sits behind the terminal's mutual-TLS client (``devtools.terminal``)."""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from devtools.harness import ROOT, STAFF_PASSWORD, Env
from devtools.synthetic import Synth
from devtools.terminal import TerminalProxy, browser
from mock_endpoints.population import individual_number


@pytest.fixture
def chromium() -> Iterator[Any]:
    b = browser()
    try:
        yield b
    finally:
        b.quit()


def log_in(b: Any, base: str, user: str) -> None:
    b.get(f"{base}/console/")
    WebDriverWait(b, 30).until(ec.presence_of_element_located((By.ID, "login-form")))
    b.find_element(By.ID, "user_id").send_keys(user)
    b.find_element(By.ID, "password").send_keys(STAFF_PASSWORD)
    b.find_element(By.ID, "login").click()
    WebDriverWait(b, 30).until(ec.presence_of_element_located((By.ID, "who")))


def log_out(b: Any) -> None:
    b.find_element(By.ID, "logout").click()
    WebDriverWait(b, 30).until(ec.presence_of_element_located((By.ID, "login-form")))


def test_staff_approve_a_manual_answer_and_replay_a_dead_letter_in_a_browser(
        env_with: Any, chromium: Any) -> None:
    env: Env = env_with("intermediate")
    synth, client = Synth(seed=951), env.client()
    person = synth.arrival()
    person["resident"]["individual_number"] = individual_number(synth.rng)
    assert client.post("/v1/changes", person)[0] == 201
    env.other_control("intermediate", "GET", "/wait?pushes_settled=1")
    sup = env.staff("sup9", "supervisor")
    env.staff("clerk9", "window_clerk")
    env.staff("audit9", "auditor")
    _, issued = sup.get("/v1/inbox?kind=intermediate.code_issued")
    atena = issued["items"][0]["document"]["integrated_atena"]
    env.other_control("intermediate", "POST", "/push", {"manual_answer_request": {
        "request_number": "REQ-B1", "integrated_atena": atena, "requester": "INST-9",
        "procedure": "別表第二 16", "item": "住民票関係情報",
        "items": ["name", "address", "birth_date"], "requested_at": "2026-11-27T10:00:00"}})
    env.other_control("intermediate", "GET", "/wait?pushes_settled=2")
    # A dead letter on the prefecture link.
    env.control("POST", "/faults", {"refuse": {"kind": "permanent", "count": 1,
                                               "code": "rejected_by_peer"}})
    assert client.post("/v1/changes", synth.arrival())[0] == 201
    env.hub.wait_event(lambda e: e.get("event") == "link.dead_letter")

    terminal = TerminalProxy(env.intake_port, env.certs_dir)
    b, base = chromium, terminal.url
    try:
        log_in(b, base, "sup9")
        who = b.find_element(By.ID, "who").text  # Japanese by default, codes beside
        assert "sup9" in who and "管理責任者 supervisor" in who
        links = b.find_element(By.ID, "links").text
        assert "prefecture" in links and "intermediate" in links

        # The manual answer: what will be sent is shown, then approved.
        b.find_element(By.ID, "nav-manual-answers").click()
        b.find_element(By.CLASS_NAME, "manual-answer").click()
        WebDriverWait(b, 30).until(ec.presence_of_element_located((By.ID, "if-approved")))
        shown = b.find_element(By.ID, "if-approved").text
        assert person["resident"]["name_kanji"] in shown and "住所 (address)" in shown
        b.find_element(By.ID, "item-birth_date").click()  # not this one: two of three go
        b.find_element(By.ID, "approve").click()
        WebDriverWait(b, 30).until(ec.presence_of_element_located((By.ID, "manual-answers")))
        assert "REQ-B1" not in b.page_source
        env.other_control("intermediate", "GET", "/wait?applied_seq=3")
        _, answer = env.other_control("intermediate", "GET", "/manual-answers/REQ-B1")
        assert answer["decision"] == "approved"
        assert answer["items"] == {"name": person["resident"]["name_kanji"],
                                   "address": person["resident"]["address"]["text"]}

        # The dead letter: replayed from its list, delivered.
        b.find_element(By.ID, "nav-dead-letters").click()
        row = b.find_element(By.CLASS_NAME, "dead-letter")
        assert "rejected_by_peer" in row.text
        b.find_element(By.ID, f"replay-{row.get_attribute('data-id')}").click()
        WebDriverWait(b, 30).until(ec.presence_of_element_located((By.ID, "no-dead-letters")))
        env.wait_applied(3)  # 2 withdrawn, 3 its replay
        assert env.read_store("SELECT state, resolved_by FROM dead_letters") == [
            ("replayed", "sup9")]
        log_out(b)

        # A window clerk: no operation log in the menu, and its page refused.
        log_in(b, base, "clerk9")
        assert not b.find_elements(By.ID, "nav-audit")
        b.get(f"{base}/console/audit")
        assert "403" in b.find_element(By.ID, "refusal").text
        b.get(f"{base}/console/dead-letters")
        assert "403" in b.find_element(By.ID, "refusal").text
        log_out(b)

        # The auditor sees the log, with what the supervisor did in the browser.
        log_in(b, base, "audit9")
        b.find_element(By.ID, "nav-audit").click()
        log = b.find_element(By.ID, "audit").text
        assert "manual_answer.approve" in log and "deadletters.replay" in log
        assert "not_permitted" in log  # the clerk's refused look is on the record
    finally:
        terminal.stop()

    # Everything went through the API: the same operation log entries.
    actions = {a for (a,) in env.read_store(
        "SELECT action FROM audit_log WHERE operator_id = 'sup9'")}
    assert {"session.login", "manual_answer.preview", "manual_answer.approve",
            "deadletters.replay"} <= actions


class Terminal:
    """The console from a staff terminal without a browser: form posts and a cookie."""

    def __init__(self, env: Env) -> None:
        self.client, self.cookie = env.client("operator"), ""

    def get(self, path: str) -> tuple[int, str]:
        return self.client.request("GET", path, headers={"Cookie": self.cookie})

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        import urllib.parse

        status, body = self.client.request(
            "POST", path, raw=urllib.parse.urlencode(form).encode(),
            content_type="application/x-www-form-urlencoded", headers={"Cookie": self.cookie})
        if "set-cookie" in self.client.last_headers:
            self.cookie = self.client.last_headers["set-cookie"].split(";")[0]
        return status, body


def test_every_console_page_renders_for_who_may_see_it(env_with: Any) -> None:
    import re

    env: Env = env_with(hub_extra=["controls.bulk_threshold=0"])  # any export is bulk
    client = env.client()
    env.control("POST", "/faults", {"refuse": {"kind": "permanent", "count": 1,
                                               "code": "rejected_by_peer"}})
    assert client.post("/v1/changes", Synth(seed=952).arrival())[0] == 201
    env.hub.wait_event(lambda e: e.get("event") == "link.dead_letter")
    sup = env.staff("sup8", "supervisor")
    status, check = sup.post("/v1/consistency-checks", {"links": ["prefecture"]})
    check_id = check["checks"][0]["check_id"]
    assert sup.get(f"/v1/consistency-checks/{check_id}?wait=60")[1]["state"] == "answered"

    t = Terminal(env)
    assert t.get("/console/inbox")[0] == 303  # no session: to the login page
    assert t.post("/console/login", {"user_id": "sup8", "password": "wrong"})[0] == 401
    assert t.post("/console/login", {"user_id": "sup8", "password": STAFF_PASSWORD})[0] == 303
    pages = ["/console/", "/console/inbox", "/console/manual-answers", "/console/approvals",
             "/console/dead-letters", "/console/dead-letters/1", "/console/checks",
             f"/console/checks/{check_id}"]
    for page in pages:
        status, html = t.get(page)
        assert status == 200, (page, html[-400:])
        assert "<h1" in html and "Traceback" not in html
    status, html = t.get("/console/dead-letters/1")
    assert "rejected_by_peer" in html and "<pre id=\"message\">" in html
    status, html = t.get(f"/console/checks/{check_id}")
    assert 'data-count="1"' in html and "差異 1 件" in html  # the dead-lettered one
    assert "ハブにのみ存在" in html and "only_at_hub" in html
    assert t.get("/console/audit")[0] == 403  # an auditor's page
    assert t.get("/console/nowhere")[0] == 404
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', t.get("/console/")[1])
    assert csrf is not None
    # A form without the session's token is refused, and changes nothing.
    status, html = t.post("/console/dead-letters/1/replay", {})
    assert status == 403 and "form_expired" in html
    assert env.read_store("SELECT state FROM dead_letters") == [("open",)]
    status, _ = t.post("/console/dead-letters/1/discard", {"csrf": csrf.group(1),
                                                            "reason": "test"})
    assert status == 303
    assert env.read_store("SELECT state FROM dead_letters") == [("discarded",)]
    # A bulk output another supervisor asked for, approved from the console.
    status, export = env.staff("sup7", "supervisor").post("/v1/exports", {"kind": "residents"})
    assert status == 202 and export["state"] == "awaiting_approval", export
    status, html = t.get("/console/approvals")
    assert status == 200 and export["approval_id"] in html
    status, _ = t.post(f"/console/approvals/{export['approval_id']}",
                       {"csrf": csrf.group(1), "decision": "approve"})
    assert status == 303
    assert env.read_store("SELECT state, decided_by FROM approvals") == [("approved", "sup8")]
    assert export["approval_id"] not in t.get("/console/approvals")[1]
    # Not a staff terminal: no console at all.
    status, html = env.client("register").request("GET", "/console/")
    assert status == 403 and "client_not_allowed" in html


# Characters the page shows that no installed font draws: each is compared, drawn in
# the page's own font on a canvas, with characters no font has (a private-use one, a
# noncharacter) — the replacement box.  Empty when every character has its glyph.
_BOXES = """
const seen = [...new Set([...document.body.innerText].filter(c => c.codePointAt(0) > 0x2000))];
const style = getComputedStyle(document.body);
const canvas = document.createElement("canvas");
canvas.width = canvas.height = 48;
const ctx = canvas.getContext("2d");
ctx.font = "32px " + style.fontFamily;
const drawn = c => { ctx.clearRect(0, 0, 48, 48); ctx.fillText(c, 4, 38);
                     return ctx.getImageData(0, 0, 48, 48).data.join(","); };
const boxes = new Set([drawn("\\uE000"), drawn("\\u{10FFFD}"), drawn("\\uFFFF")]);
return seen.filter(c => boxes.has(drawn(c)));
"""
SHOTS = Path(os.environ.get("JUKIHUB_TEST_OUTPUT", ROOT / "test-output")) / "screenshots"
# Every page, as a supervisor who also audits sees them (the menu's pages and a detail).
PAGES = ("", "inbox", "manual-answers", "approvals", "dead-letters", "checks", "audit")


def test_every_page_in_both_languages_as_a_person_sees_it(env_with: Any,
                                                          chromium: Any) -> None:
    """Screenshots of every page in Japanese and in English (switched with the header's
    button) go to ``test-output/screenshots``; no page shows a replacement box for a
    character, and no Japanese page a message of the catalog left in English."""
    env: Env = env_with("intermediate")
    synth, client = Synth(seed=953), env.client()
    for _ in range(3):  # each with a 個人番号: a 符号 comes back to the inbox
        person = synth.arrival()
        person["resident"]["individual_number"] = individual_number(synth.rng)
        assert client.post("/v1/changes", person)[0] == 201
    env.other_control("intermediate", "GET", "/wait?pushes_settled=3")
    env.staff("sup7", "supervisor", "auditor")
    SHOTS.mkdir(parents=True, exist_ok=True)
    english = _english_messages()
    terminal = TerminalProxy(env.intake_port, env.certs_dir)
    b, base = chromium, terminal.url
    try:
        log_in(b, base, "sup7")
        for lang in ("ja", "en"):
            if lang == "en":  # the language button, as a person would switch
                b.find_element(By.ID, "lang-en").click()
                WebDriverWait(b, 30).until(ec.presence_of_element_located((By.ID, "lang-ja")))
            for page in (*PAGES, "login"):
                if page == "login":
                    log_out(b)
                else:
                    b.get(f"{base}/console/{page}")
                WebDriverWait(b, 30).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
                assert b.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
                shot = SHOTS / f"{lang}-{page or 'overview'}.png"
                assert b.save_screenshot(str(shot)), shot
                boxes = b.execute_script(_BOXES)
                assert not boxes, f"{lang} {page}: drawn as boxes: {''.join(boxes)}"
                if lang == "ja":
                    shown = {t.strip() for t in re.split(r"[\n()（）:：—·,、/]",
                                                         b.find_element(By.TAG_NAME, "body").text)}
                    left = sorted(shown & english)
                    assert not left, f"{page}: English left on the Japanese page: {left}"
            if lang == "ja":
                log_in(b, base, "sup7")
    finally:
        terminal.stop()
    print(f"screenshots: {SHOTS}")


def _english_messages() -> set[str]:
    """The catalog's messages whose Japanese differs (shown in English: a miss)."""
    from babel.messages.pofile import read_po

    from hub.support.i18n import LOCALE_DIR

    with (LOCALE_DIR / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {m.id for m in read_po(f, locale="ja") if isinstance(m.id, str) and m.id
                and m.string and m.string != m.id and "%" not in m.id and len(m.id) > 2}


def test_a_large_inbox_paged_filtered_and_a_selection_taken_at_once(env_with: Any) -> None:
    """250 ministry notices: the inbox page shows 100 and links to the next, which starts
    after the last; filtering by another link shows none; 30 ticked items are taken in
    one post, each with its own 操作ログ entry under the clerk who took them."""
    env: Env = env_with("moj")
    for n in range(250):
        env.other_control("moj", "POST", "/push", {"notice": {
            "notice_number": f"N-{n:04}", "residence_card_number": f"AB{n:08}CD",
            "change_date": "2026-11-02", "residence_status": "永住者"}})
    env.other_control("moj", "GET", "/wait?pushes_settled=250")
    env.staff("clerk5", "window_clerk")
    t = Terminal(env)
    assert t.post("/console/login", {"user_id": "clerk5", "password": STAFF_PASSWORD})[0] == 303

    status, first = t.get("/console/inbox?link=moj")
    ids = [int(i) for i in re.findall(r'class="item" data-id="(\d+)"', first)]
    assert status == 200 and len(ids) == 100 and ids == sorted(ids)
    following = re.search(r'href="([^"]+)" id="next-page"', first)
    assert following is not None
    status, second = t.get(following.group(1).replace("&amp;", "&"))
    more = [int(i) for i in re.findall(r'class="item" data-id="(\d+)"', second)]
    assert len(more) == 100 and more[0] > ids[-1]
    assert "data-id" not in t.get("/console/inbox?link=national")[1]

    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', first)
    assert csrf is not None
    chosen = ids[:30]
    status, _ = t.client.request(
        "POST", "/console/inbox", raw=urllib.parse.urlencode(
            [("csrf", csrf.group(1)), ("link", "moj"), *(("items", str(i)) for i in chosen)]
        ).encode(), content_type="application/x-www-form-urlencoded",
        headers={"Cookie": t.cookie})
    assert status == 303
    assert t.client.last_headers["location"] == "/console/inbox?link=moj&taken=30&already=0"
    assert "30 件を処理済みにしました" in t.get(t.client.last_headers["location"])[1]
    logged = env.read_store("SELECT operator_id, request_id FROM audit_log "
                            "WHERE action = 'inbox.acknowledge'")  # in the order they came
    assert sorted(logged, key=lambda r: int(r[1])) == [("clerk5", str(i)) for i in chosen]
    states = dict(env.read_store("SELECT id, state FROM inbox"))
    assert {i for i, s in states.items() if s == "acknowledged"} == set(chosen)
