"""`audit verify`: the checks of ``Store.verify_audit``, one streamed query at a time over the portable
SQL, the same on either backend."""

from __future__ import annotations

import hmac
import json
from typing import Callable

import triage.records.store.access_log as access_log
import triage.records.store.counts as counts
from triage.records.store.audit import (GENESIS, INVITE_COLUMNS, AuditKeys, account_columns, account_hash, alert_hash,
                                audit_hash, content_hash, draft_hash, invite_hash, keyed_audit_hash, keyed_by)
from triage.records.store.backend import Backend
from triage.records.store.files import verify_record_files
from triage.records.store.model import (ACKNOWLEDGED, ALERT_ANSWER_CHANGED, ALERT_RAISED, DRAFT_SAVED, DRAFT_SEALED,
                                AuditReport, stored_columns)
from triage.records.store.requests import verify_record_requests
from triage.records.store.worklist import expected_worklist, open_alert_state, stored_worklist, worklist_entry


class _Verifier:
    """The checks of ``Store.verify_audit``, one streamed query at a time (portable SQL)."""

    PROGRESS_EVERY = 5000

    def __init__(self, on_progress: Callable[[int, int], None] | None, backend: Backend,
                 retriage: Callable[[dict, dict, dict], tuple[bool, str | None]] | None = None,
                 keys: AuditKeys | None = None, expect_head: str | None = None):
        self.backend = backend
        self.keys = keys
        self.expect_head = expect_head
        self.keyed_rows = 0  # rows whose MAC could not be checked: keyed, and no key file given
        self.retriage = retriage
        self.retriaged = self.not_retriaged = 0
        self.stream = backend.stream  # the long queries, row by row (flat memory on either backend)
        self.problems: list[str] = []
        self.on_progress = on_progress
        self.done = self.total = 0
        self.rows = 0
        self.access_rows = 0
        self.head_hash = GENESIS
        # Gathered from the audit rows as the chain is read (one pass): each account's last hash, and
        # the hashes of the invitations issued (a count each: two identical rows are two invitations).
        self.account_hashes: dict[str, str] = {}
        self.invite_hashes: dict[str, list[int | None]] = {}
        self.request_hashes: dict[int, str] = {}  # each record request's last hash (issue 30)

    def report(self) -> AuditReport:
        return AuditReport(self.rows, self.head_hash, self.problems, self.retriaged, self.not_retriaged,
                           self.keyed_rows, self.access_rows)

    def tick(self) -> None:
        self.done += 1
        if self.on_progress and self.done % self.PROGRESS_EVERY == 0:
            self.on_progress(self.done, self.total)

    def run(self, db) -> None:
        if self.on_progress:
            self.total = sum(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                             for table in ("audit", "versions", "intakes", "drafts"))
        self.integrity(db)
        self.chain(db)
        self.versions(db)
        self.audited_versions_exist(db)
        self.intakes(db)
        self.drafts(db)
        self.worklist(db)
        self.alerts(db)
        self.accounts(db)
        self.invites(db)
        verify_record_requests(self, db)
        verify_record_files(self, db)
        self.access_log(db)
        if self.on_progress:
            self.on_progress(self.total, self.total)

    def access_log(self, db) -> None:
        """The access log's own chain (triage/records/store/access_log.py), checked like the audit chain."""
        problems, self.access_rows = access_log.check(db, self.stream, self.row_hash_matches, self.tick)
        self.problems += problems

    def integrity(self, db) -> None:
        self.problems += self.backend.integrity_problems(db)

    def chain(self, db) -> None:
        expected_seq, prev, last_seq = 1, GENESIS, 0
        for seq, at, user, action, intake_id, version, detail, prev_hash, digest in self.stream(
                "SELECT seq, at, \"user\", action, intake_id, version, detail, prev_hash, hash FROM audit ORDER BY seq"):
            self.tick()
            self.rows += 1
            if seq != expected_seq:
                self.problems.append(f"audit row {expected_seq}: missing (deleted); the chain jumps to row {seq}")
            elif prev_hash != prev:
                self.problems.append(f"audit row {seq}: does not follow row {seq - 1} (a row before it was changed or removed)")
            elif not self.row_hash_matches(seq, at, user, action, intake_id, version, detail, prev_hash, digest):
                self.problems.append(f"audit row {seq}: its contents were changed after it was written")
            if self.expect_head is not None and digest == self.expect_head:
                self.expect_head = None  # found: the chain still passes through the head noted earlier
            if '"account_sha256"' in detail or '"invite_sha256"' in detail or '"request_sha256"' in detail:
                self.gather(seq, intake_id, detail)
            expected_seq, prev, last_seq = seq + 1, digest, seq
        head = db.execute("SELECT seq, hash FROM audit_head").fetchone()
        if (head[0] if head else 0) != last_seq or (head[1] if head else GENESIS) != prev:
            self.problems.append(f"audit log ends at row {last_seq}, but row {head[0] if head else 0} was the last "
                                 "written (rows at the end were removed)")
        self.head_hash = prev
        if self.expect_head is not None and self.expect_head != GENESIS:
            self.problems.append("no audit row has the head given by --expect-head (the chain was rewritten or cut "
                                 "since that head was noted)")
        if self.keys is not None and last_seq and keyed_by(prev) is None:
            self.problems.append(f"audit row {last_seq}: the last row is not keyed, but a key file was given (the "
                                 "chain was written or rewritten without the key)")

    def row_hash_matches(self, seq, at, user, action, intake_id, version, detail, prev_hash, digest) -> bool:
        """A plain row: its SHA-256. A keyed row: its MAC under the key it names (none given: only
        its place in the chain is checked, and counted). With a key file, no plain row may follow a
        keyed one, and keys are used in the file's order."""
        ident, before = keyed_by(digest), keyed_by(prev_hash)
        if ident is None:
            if before is not None and self.keys is not None:
                self.problems.append(f"audit row {seq}: not keyed, after a keyed row (written without the key)")
            return audit_hash(seq, at, user, action, intake_id, version, detail, prev_hash) == digest
        if self.keys is None:
            self.keyed_rows += 1
            return True
        key = self.keys.get(ident)
        if key is None:
            self.problems.append(f"audit row {seq}: keyed with a key the key file does not hold (key id {ident})")
            return True
        if before is not None and self.keys.order(before) > self.keys.order(ident):
            self.problems.append(f"audit row {seq}: keyed with an older key than the row before it")
        return hmac.compare_digest(
            keyed_audit_hash(ident, key, seq, at, user, action, intake_id, version, detail, prev_hash), digest)

    def versions(self, db) -> None:
        """Each version: its content hash, the audit row that recorded it, and the columns stored
        beside the content (what `list`, `show` and the filters read) derived again from it; and,
        from each intake's latest version (read once, here), its worklist row."""
        latest: tuple | None = None  # (intake_id, version, answers, result, recorded_at); None content = unreadable
        for row in self.stream(
                "SELECT v.intake_id, v.version, v.recorded_at, v.recorded_by, v.source, v.answers, v.result,"
                " v.settings, v.content_sha256, v.status, v.patient_id, v.ruleset_name, v.ruleset_version,"
                " v.language,"
                " (SELECT a.detail FROM audit a WHERE a.intake_id = v.intake_id AND a.version = v.version"
                "  AND a.action IN ('created', 'amended') ORDER BY a.seq LIMIT 1)"
                " FROM versions v ORDER BY v.intake_id, v.version"):
            self.tick()
            (intake_id, version, at, user, source, answers_text, result_text, settings_text, stored,
             status, patient_id, ruleset_name, ruleset_version, language, detail) = row
            if latest is not None and latest[0] != intake_id:
                self.worklist_row(db, latest)
            latest = (intake_id, version, None, None, at)
            where = f"intake {intake_id} version {version}"
            try:
                answers, result = json.loads(answers_text), json.loads(result_text)
                actual = content_hash(intake_id, version, at, user, source, answers, result, json.loads(settings_text),
                                      language)
                audited = json.loads(detail).get("content_sha256") if detail else None
            except (ValueError, TypeError, AttributeError):
                self.problems.append(f"{where}: its contents are not readable (changed)")
                continue
            if actual != stored or audited != stored:
                self.problems.append(f"{where}: its contents do not match the hash recorded in the audit log (changed)")
                continue
            latest = (intake_id, version, answers, result, at)
            if self.retriage is not None:
                self.retriage_version(where, answers, result, settings_text)
            columns = stored_columns(answers, result)
            for name, value in (("status", status), ("patient_id", patient_id), ("ruleset_name", ruleset_name),
                                ("ruleset_version", ruleset_version)):
                if columns[name] != value:
                    self.problems.append(f"{where}: its {name} column does not match its recorded content (changed)")
        if latest is not None:
            self.worklist_row(db, latest)

    def retriage_version(self, where: str, answers: dict, result: dict, settings_text: str) -> None:
        try:
            settings = json.loads(settings_text)
        except ValueError:
            settings = None
        if not isinstance(settings, dict) or not isinstance(result, dict) or not isinstance(answers, dict):
            done, differs = True, "its recorded answers, result or settings cannot be read"
        else:
            done, differs = self.retriage(answers, result, settings)
        if not done:
            self.not_retriaged += 1
            return
        self.retriaged += 1
        if differs:
            self.problems.append(f"{where}: {differs} (changed)")

    def worklist_row(self, db, latest: tuple) -> None:
        intake_id, version, answers, result, at = latest
        if answers is None:
            return  # its latest version is unreadable or changed: reported above
        pending = db.execute("SELECT 1 FROM drafts WHERE intake_id = ?", (intake_id,)).fetchone() is not None
        if stored_worklist(db, intake_id) != worklist_entry(version, answers, result, at, pending,
                                                            *open_alert_state(db, intake_id)):
            self.problems.append(f"intake {intake_id}: its worklist row does not match its recorded content (changed)")

    def audited_versions_exist(self, db) -> None:
        for seq, intake_id, version in db.execute(
                "SELECT a.seq, a.intake_id, a.version FROM audit a WHERE a.action IN ('created', 'amended')"
                " AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.intake_id = a.intake_id"
                " AND v.version = a.version) ORDER BY a.seq"):
            self.problems.append(f"intake {intake_id} version {version}: recorded in the audit log but missing "
                                 f"from the store (audit row {seq})")

    def intakes(self, db) -> None:
        """Each intake was created by the first audit row naming it (same time, same user); every
        intake the audit log names exists."""
        for intake_id, created_at, created_by, at, user in self.stream(
                "SELECT i.id, i.created_at, i.created_by, a.at, a.\"user\" FROM intakes i LEFT JOIN audit a"
                " ON a.seq = (SELECT MIN(b.seq) FROM audit b WHERE b.intake_id = i.id) ORDER BY i.id"):
            self.tick()
            if at is None:
                self.problems.append(f"intake {intake_id}: no audit row records its creation (added by hand)")
            elif (created_at, created_by) != (at, user):
                self.problems.append(f"intake {intake_id}: its creation time or user does not match the audit log (changed)")
        for (intake_id,) in db.execute(
                "SELECT DISTINCT a.intake_id FROM audit a WHERE a.intake_id IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM intakes i WHERE i.id = a.intake_id) ORDER BY a.intake_id"):
            self.problems.append(f"intake {intake_id}: named in the audit log but missing from the store")

    def worklist(self, db) -> None:
        """Each intake's worklist row (what `list` shows and filters by) equals the row its latest
        version, or its draft, gives; no row or item exists for an intake that is not there."""
        # Intakes with versions were checked with their latest version (``versions``); here, the rest.
        for (intake_id,) in self.stream("SELECT i.id FROM intakes i WHERE NOT EXISTS"
                                       " (SELECT 1 FROM versions v WHERE v.intake_id = i.id) ORDER BY i.id"):
            self.tick()
            try:
                expected = expected_worklist(db, intake_id)
            except (ValueError, TypeError, AttributeError):
                continue  # its version or draft is unreadable: reported by the checks above
            if stored_worklist(db, intake_id) != expected:
                self.problems.append(f"intake {intake_id}: its worklist row does not match its recorded "
                                     "content (changed)")
        for (intake_id,) in db.execute(
                "SELECT intake_id FROM worklist w WHERE NOT EXISTS (SELECT 1 FROM intakes i WHERE i.id = w.intake_id)"
                " UNION SELECT intake_id FROM worklist_items t WHERE NOT EXISTS"
                " (SELECT 1 FROM worklist w WHERE w.intake_id = t.intake_id) ORDER BY 1"):
            self.problems.append(f"intake {intake_id}: has a worklist row or item but no intake (added by hand)")
        # The counts kept with the worklist (staff pages show them): recounted from the rows.
        expected, stored = counts.expected_counts(db), counts.stored_counts(db)
        for key in sorted(set(expected) | set(stored)):
            if expected.get(key) != stored.get(key):
                self.problems.append(f"worklist count {key}: {stored.get(key, 0)} kept, {expected.get(key, 0)} "
                                     "counted (changed)")

    def alerts(self, db) -> None:
        """Each red-flag alert staff see: raised by an audit row that holds its hash, and, once
        acknowledged, acknowledged by the audit row naming it (who and when); no audited alert is
        missing. Alerts are few (one per red flag answered yes), so their audit rows are held here."""
        raised: dict[int, tuple[int, str]] = {}
        backlogs: set[int] = set()  # alerts raised as a backlog's (their audit row says so)
        acknowledged: dict[int, tuple[int, str, str]] = {}
        answer_changed: dict[int, str | None] = {}  # the last change of each alert's mark
        for action, intake_id, at, user, detail in db.execute(
                "SELECT action, intake_id, at, \"user\", detail FROM audit WHERE action IN (?, ?, ?) ORDER BY seq",
                (ALERT_RAISED, ACKNOWLEDGED, ALERT_ANSWER_CHANGED)):
            try:
                data = json.loads(detail)
                if action == ALERT_RAISED:
                    raised[int(data["alert"])] = (intake_id, str(data["alert_sha256"]))
                    if data.get("backlog"):
                        backlogs.add(int(data["alert"]))
                elif action == ALERT_ANSWER_CHANGED:
                    for alert_id in data["ids"]:
                        answer_changed[int(alert_id)] = data["at"]
                else:
                    for alert_id in data.get("ids", []):
                        acknowledged[int(alert_id)] = (intake_id, at, user)
            except (ValueError, TypeError, KeyError, AttributeError):
                self.problems.append(f"audit row of {action} for intake {intake_id}: not readable (changed)")
        seen = set()
        for alert_id, intake_id, question, urgency, raised_at, acked_at, acked_by, changed_at, backlog in self.stream(
                "SELECT id, intake_id, question, urgency, raised_at, acknowledged_at, acknowledged_by,"
                " answer_changed_at, backlog FROM alerts ORDER BY id"):
            seen.add(alert_id)
            where = f"red-flag alert {alert_id} (intake {intake_id})"
            audited = raised.get(alert_id)
            if audited is None:
                self.problems.append(f"{where}: no audit row raised it (added or changed by hand)")
            elif audited != (intake_id, alert_hash(alert_id, intake_id, question, urgency, raised_at)):
                self.problems.append(f"{where}: does not match the audit row that raised it (changed)")
            elif bool(backlog) != (alert_id in backlogs):
                self.problems.append(f"{where}: its backlog mark does not match the audit row that raised it (changed)")
            expected = acknowledged.get(alert_id)
            if (acked_at, acked_by) == (None, None):
                if expected is not None:
                    self.problems.append(f"{where}: its acknowledgement was removed")
            elif expected != (intake_id, acked_at, acked_by):
                self.problems.append(f"{where}: its acknowledgement does not match the audit log (changed)")
            if changed_at != answer_changed.get(alert_id):
                self.problems.append(f"{where}: its \"answer changed\" mark does not match the audit log (changed)")
        for alert_id, (intake_id, _) in raised.items():
            if alert_id not in seen:
                self.problems.append(f"red-flag alert {alert_id} (intake {intake_id}): raised in the audit log "
                                     "but missing from the store (removed)")

    def gather(self, seq: int, intake_id: int | None, detail: str) -> None:
        try:
            data = json.loads(detail)
            if "account_sha256" in data:
                self.account_hashes[str(data["name"])] = str(data["account_sha256"])
            if "invite_sha256" in data:
                self.invite_hashes.setdefault(str(data["invite_sha256"]), []).append(intake_id)
            if "request_sha256" in data:
                self.request_hashes[int(data["request"])] = str(data["request_sha256"])
        except (ValueError, TypeError, KeyError, AttributeError):
            self.problems.append(f"audit row {seq}: not readable (changed)")

    def accounts(self, db) -> None:
        """Each staff account as the last audit row about it left it (``account_hash``): its role,
        whether it is enabled, its password hash, its second factor; no account that no audit row
        added; no audited account missing. Accounts are few: their hashes are held here."""
        seen = set()
        cursor = db.execute("SELECT * FROM users ORDER BY name")
        names = [column[0] for column in cursor.description]
        for row in cursor.fetchall():
            state = account_columns(dict(zip(names, row)), db)
            name = str(state["name"])
            seen.add(name)
            audited = self.account_hashes.get(name)
            if audited is None:
                self.problems.append(f"staff account {name}: no audit row added it (added by hand)")
            elif audited != account_hash(state):
                self.problems.append(f"staff account {name}: its role, status, password or second factor does not "
                                     "match the audit log (changed)")
        for name in sorted(set(self.account_hashes) - seen):
            self.problems.append(f"staff account {name}: in the audit log but missing from the store (removed)")

    def invites(self, db) -> None:
        """Each invitation (where its code leads, from which version, until when) was issued by an
        audit row holding its hash; none that was issued is missing."""
        left = {digest: list(intakes) for digest, intakes in self.invite_hashes.items()}
        for row in self.stream(f"SELECT {INVITE_COLUMNS} FROM invites ORDER BY intake_id, created_at, code_sha256"):
            intakes = left.get(invite_hash(*row))
            if intakes:
                intakes.pop()
            else:
                self.problems.append(f"invitation to intake {row[1]} (issued {row[3]}): does not match an audit row "
                                     "that issued it (changed or added by hand)")
        for intakes in left.values():
            for intake_id in intakes:
                self.problems.append(f"invitation to intake {intake_id}: issued in the audit log but missing from "
                                     "the store (removed)")

    def drafts(self, db) -> None:
        """The last draft event of an intake decides: after a save (or a seal) its draft must be
        there with that hash; after a recording or a discard there must be none."""
        for intake_id, action, detail, draft in self.stream(
                "SELECT i.id, a.action, a.detail, d.intake_id FROM intakes i"
                " LEFT JOIN audit a ON a.seq = (SELECT MAX(b.seq) FROM audit b WHERE b.intake_id = i.id"
                "  AND b.action IN ('draft_saved', 'draft_sealed', 'draft_discarded', 'created', 'amended'))"
                " LEFT JOIN drafts d ON d.intake_id = i.id ORDER BY i.id"):
            expects_draft = action in (DRAFT_SAVED, DRAFT_SEALED)
            if draft is None and expects_draft:
                self.problems.append(f"intake {intake_id}: its draft is missing (removed by hand)")
            elif draft is not None and not expects_draft:
                self.problems.append(f"intake {intake_id}: has a draft that no audit row saved (added by hand)")
            elif draft is not None:
                row = db.execute("SELECT answers, revision, base_version, saved_at, saved_by FROM drafts"
                                 " WHERE intake_id = ?", (intake_id,)).fetchone()
                try:
                    actual = draft_hash(intake_id, json.loads(row[0]), row[1], row[2], row[3], row[4])
                    sealed = json.loads(detail).get("draft_sha256")
                except (ValueError, TypeError, AttributeError):
                    actual, sealed = "", None
                if actual != sealed:
                    self.problems.append(f"intake {intake_id}: its draft does not match the hash recorded in the "
                                         "audit log (changed)")
        for (intake_id,) in db.execute("SELECT d.intake_id FROM drafts d WHERE NOT EXISTS"
                                       " (SELECT 1 FROM intakes i WHERE i.id = d.intake_id)"):
            self.problems.append(f"intake {intake_id}: has a draft but no intake (added by hand)")
