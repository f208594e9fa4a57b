"""The words staff use for the hub's codes: inbox kinds, link states, refusal and error
codes, 異動事由, card events, job and item states.  Each table maps a code to its name
in English (marked for the catalog); the Japanese names are the catalog's, in the words
of the privacy impact assessment and of the 住基ネット (符号取得結果, 転出証明書情報,
個人番号生成結果, 交付, 一時停止, …).  Staff see the name with the code beside it, since
a call to the vendor needs the code.  A code no table knows is shown as it is."""

from __future__ import annotations

from hub.support.i18n import N_, Speaker

LINKS = {
    "prefecture": N_("Prefectural server"),
    "national": N_("National server (J-LIS)"),
    "card": N_("Card management system"),
    "intermediate": N_("Intermediate server"),
    "moj": N_("Ministry of Justice"),
}

# The certificates the hub watches (``GET /v1/status``'s parties): the links' and its own.
PARTIES = {**LINKS,
           "ca": N_("Certificate authority"),
           "crl:ca.crl": N_("Revocation list of the certificate authority"),
           "hub": N_("The hub (its client certificate)"),
           "intake": N_("The intake (its server certificate)"),
           "metrics": N_("The metrics listener")}

INBOX_KINDS = {
    "national.moving_out": N_("Moving-out certificate information"),
    "national.transfer_in": N_("Transfer-in notice"),
    "national.number_generated": N_("Individual number generation result"),
    "national.wide_area_copy_request": N_("Wide-area copy request"),
    "national.unreadable": N_("Unreadable document from the national server"),
    "intermediate.code_issued": N_("Code acquisition result"),
    "intermediate.manual_answer_request": N_("Request needing a manual answer"),
    "intermediate.provision_record": N_("Information provision record"),
    "intermediate.unreadable": N_("Unreadable document from the intermediate server"),
    "moj.residence_change": N_("Residence status change notice"),
    "prefecture.unreadable": N_("Unreadable document from the prefectural server"),
}

LINK_STATES = {
    "idle": N_("Idle"),
    "standby": N_("Standby (another hub sends)"),
    "connecting": N_("Connecting"),
    "handshaking": N_("Handshaking"),
    "ready": N_("Connected"),
    "backoff": N_("Waiting to reconnect"),
    "stopped": N_("Stopped"),
    "behind_peer": N_("Behind the peer (restored store)"),
}

CHANGE_REASONS = {
    "move_in": N_("Move-in"),
    "birth": N_("Birth"),
    "move_within": N_("Move within the city"),
    "move_out": N_("Move-out"),
    "death": N_("Death"),
    "name_change": N_("Name change"),
    "correction": N_("Correction by the city"),
    "number_designation": N_("Designation of the individual number"),
    "resident_code_change": N_("Change of the resident code"),
    "household_change": N_("Household change"),
    "household_head_change": N_("Change of the head of household"),
}

CARD_EVENTS = {
    "issue": N_("Issue"),
    "suspend": N_("Temporary suspension"),
    "suspend_lift": N_("Lifting of the suspension"),
    "revoke": N_("Revocation"),
    "collect": N_("Collection"),
    "return": N_("Return"),
}

JOB_KINDS = {
    "consistency_check": N_("Consistency check"),
    "send_batch": N_("Send-destination batch"),
    "export": N_("Bulk output"),
}

STATES = {  # of inbox items, dead letters, approvals and long jobs
    "new": N_("New"),
    "acknowledged": N_("Taken"),
    "refused": N_("Refused"),
    "open": N_("Open"),
    "replayed": N_("Replayed"),
    "discarded": N_("Discarded"),
    "pending": N_("Waiting for approval"),
    "approved": N_("Approved"),
    "awaiting_approval": N_("Waiting for approval"),
    "building": N_("Building"),
    "built": N_("Built"),
    "sent": N_("Sent"),
    "answered": N_("Answered"),
    "delivered": N_("Delivered"),
    "ready": N_("Ready"),
    "written": N_("Written"),
}

# What a peer refused a message with (the dead letters' codes), and the API's errors
# a staff member may meet in the console.
CODES = {
    "out_of_order": N_("Out of order"),
    "rejected_by_peer": N_("Rejected by the peer"),
    "wrong_municipality": N_("Another municipality's document"),
    "unknown_request": N_("Unknown request"),
    "unexpected_document": N_("Unexpected document"),
    "already_answered": N_("Already answered"),
    "stale_event": N_("Older than the event already held"),
    "stale_notice": N_("Older than the notice already held"),
    "items_inconsistent": N_("Items inconsistent"),
    "items_not_asked": N_("Item not asked for"),
    "incomplete_batch": N_("Incomplete batch"),
    "incomplete_check": N_("Incomplete check"),
    "chunk_out_of_order": N_("Part out of order"),
    "xml_syntax": N_("XML syntax error"),
    "xsd_invalid": N_("Fails the XML schema"),
    "schema_invalid": N_("Fails the schema"),
    "undecodable": N_("Cannot be decoded"),
    "unknown_document": N_("Unknown document"),
    "unmapped_gaiji": N_("Character outside the table (外字)"),
    "bad_value": N_("Invalid value"),
    "too_large": N_("Too large"),
    "only_at_hub": N_("Only at the hub"),
    "only_at_peer": N_("Only at the peer"),
    "differs": N_("Differs"),
    "not_permitted": N_("Not permitted"),
    "login_required": N_("Login required"),
    "login_failed": N_("Login failed"),
    "client_not_allowed": N_("This terminal is not allowed"),
    "not_found": N_("Not found"),
    "form_expired": N_("The form has expired"),
    "body_too_large": N_("Too large"),
    "internal": N_("Internal error"),
    "already_decided": N_("Already decided"),
    "already_resolved": N_("Already resolved"),
    "unknown_item": N_("Unknown item"),
    "unknown_person": N_("Nobody on the register holds this number"),
    "second_person_required": N_("A second person must approve"),
    "reason_required": N_("A reason is required"),
    "store_unavailable": N_("The store is unavailable"),
    "maintenance": N_("Maintenance mode"),
    "backpressure": N_("Too many messages waiting"),
}

ROLES = {
    "window_clerk": N_("Window clerk"),
    "supervisor": N_("Supervisor"),
    "auditor": N_("Auditor"),
    "operator": N_("Operator"),
}

# What the 操作ログ records (its functions; a refusal is recorded under the right asked for).
ACTIONS = {
    "session.login": N_("Log in"),
    "session.logout": N_("Log out"),
    "inbox.list": N_("Inbox listed"),
    "inbox.read": N_("Inbox item read"),
    "inbox.acknowledge": N_("Inbox item taken"),
    "inbox.ack": N_("Inbox item taken"),
    "manual_answer.preview": N_("Manual answer looked at"),
    "manual_answer.approve": N_("Manual answer approved"),
    "manual_answer.refuse": N_("Manual answer refused"),
    "manual_answer.decide": N_("Manual answer decided"),
    "deadletters.list": N_("Dead letters listed"),
    "deadletters.read": N_("Dead letter read"),
    "deadletters.replay": N_("Dead letter replayed"),
    "deadletters.discard": N_("Dead letter discarded"),
    "deadletters.mend": N_("Dead letter mended"),
    "maintenance.on": N_("Maintenance mode on"),
    "maintenance.off": N_("Maintenance mode off"),
    "maintenance.set": N_("Maintenance mode switched"),
    "audit.search": N_("Operation log searched"),
    "audit.read": N_("Operation log read"),
    "status.read": N_("Status looked at"),
    "register.read": N_("Resident record read"),
    "register.search": N_("Residents searched"),
    "query.answered": N_("Identity query answered"),
    "query.refused": N_("Identity query refused"),
    "query.identity": N_("Identity query"),
    "consistency.run": N_("Consistency check started"),
    "consistency.read": N_("Consistency check looked at"),
    "consistency.mend": N_("Consistency difference mended"),
    "send_batch.start": N_("Send-destination batch started"),
    "send_batch.read": N_("Send-destination batch looked at"),
    "bulk.approve": N_("Bulk output approved or refused"),
    "export.request": N_("Export asked for"),
    "export.written": N_("Export written"),
    "export.write": N_("Export"),
    "feed.open": N_("Department feed opened"),
    "feed.read": N_("Department feed read"),
    "backup.made": N_("Backup made"),
    "links.realign": N_("Link sequence realigned"),
    "account.add": N_("Account added"),
    "account.disable": N_("Account disabled"),
    "account.enable": N_("Account enabled"),
    "account.passwd": N_("Password changed"),
    "number.view": N_("Individual number viewed"),
    "changes.submit": N_("Change posted"),
}

FINDINGS = {  # the periodic account review's
    "never_logged_in": N_("Never logged in"),
    "unused": N_("Unused"),
    "no_role": N_("No role"),
    "expired": N_("Expired"),
    "disabled": N_("Disabled"),
}

TABLES = {"link": LINKS, "party": PARTIES, "inbox_kind": INBOX_KINDS, "link_state": LINK_STATES,
          "reason": CHANGE_REASONS, "card_event": CARD_EVENTS, "job": JOB_KINDS,
          "state": STATES, "code": CODES, "role": ROLES,
          "finding": FINDINGS, "action": ACTIONS}


def name(speaker: Speaker, table: str, code: str | None) -> str | None:
    """The name of ``code`` in ``table``, in the speaker's language; ``None`` if the
    table does not know it (shown as the code alone).  An action of the 操作ログ that is
    a register change or a card event is named by its 異動事由 or event."""
    if table == "action" and code and code.partition(".")[0] in ("change", "card"):
        kind, _, what = code.partition(".")
        return name(speaker, "reason" if kind == "change" else "card_event", what)
    english = TABLES[table].get(code or "")
    return speaker.gettext(english) if english is not None else None
