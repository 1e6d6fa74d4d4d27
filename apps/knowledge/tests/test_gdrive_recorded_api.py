"""Google Drive folders and shared drives against a local HTTP server in the Drive v3 API's
recorded response shapes.

Google's servers cannot be reached here, so the test starts a loopback HTTP server that
plays both Google endpoints the connector calls: the OAuth 2.0 token endpoint (the JWT bearer
grant: it verifies the assertion's RS256 signature with the service account's public key
and its iss/aud/scope/exp claims, as Google does) and the Drive API v3 (files.list with q,
corpora and paging, changes.getStartPageToken, changes.list, files.get, files.get
alt=media, files.export), answering with the documented JSON shapes (drive#fileList,
drive#changeList, drive#startPageToken, Google's error object). The files are invented.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.knowledge import actions, crypto
from apps.knowledge.ingest.connectors import gdrive
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.search import answering, retrieval
from apps.knowledge.tests.httpfixture import serve
from apps.knowledge.tests.test_parsing import minimal_pdf

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fetch_from_loopback")]

PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = PRIVATE.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
ROOT, SUB, ELSEWHERE = "1AbCfolderRootOps", "1SubFolderOnCall", "1OtherFolderHr"
DOC, SHEET, PDF, IMAGE, SECRET = "1DocEtcd", "1SheetRota", "1PdfCeph", "1PngLogo", "1DocHr"
ACCESS = "ya29.a0AfB_test-access-token"
GOOGLE_HTML = (
    '<html><head><meta content="text/html; charset=UTF-8" http-equiv="content-type">'
    '<style type="text/css">.c1{font-weight:700}</style></head><body class="c2 doc-content">'
    '<h1 class="c3" id="h.x1"><span class="c1">etcd: database space exceeded</span></h1>'
    '<p class="c4"><span>Run </span><span class="c5">etcdctl defrag --cluster</span><span>'
    " after compaction, then disarm the NOSPACE alarm.</span></p></body></html>"
)


def key_json(token_uri: str) -> str:
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "ops-knowledge",
            "private_key_id": "3c1f0e9a",
            "private_key": PEM,
            "client_email": "opsdesk-indexer@ops-knowledge.iam.gserviceaccount.com",
            "client_id": "104857600000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }
    )


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class FakeGoogle:
    """Drive's files and change log, changed by the test between syncs."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.content: dict[str, bytes] = {}
        self.log: list[dict[str, Any]] = []  # changes; page token n = position n in the log
        self.requests: list[str] = []
        self.page_size_seen: list[int] = []
        self.base = ""

    def put(self, fid: str, name: str, mime: str, parents: list[str], data: bytes = b"", version: int = 1, log: bool = True) -> None:  # fmt: skip
        self.files[fid] = {
            "kind": "drive#file",
            "id": fid,
            "name": name,
            "mimeType": mime,
            "parents": parents,
            "version": str(version),
            "modifiedTime": "2025-11-24T10:00:00.000Z",
            "webViewLink": f"https://docs.google.com/document/d/{fid}/edit?usp=drivesdk"
            if mime.startswith("application/vnd.google-apps.document")
            else f"https://drive.google.com/file/d/{fid}/view?usp=drivesdk",
            "trashed": False,
        }
        if not mime.startswith("application/vnd.google-apps"):
            self.files[fid]["size"] = str(len(data))
            self.files[fid]["headRevisionId"] = f"0B{fid}rev{version}"
        self.content[fid] = data
        if log:
            self.change(fid)

    def change(self, fid: str, removed: bool = False) -> None:
        entry: dict[str, Any] = {"kind": "drive#change", "changeType": "file", "time": "2025-11-25T10:00:00.000Z", "removed": removed, "fileId": fid}  # fmt: skip
        if not removed:
            entry["file"] = dict(self.files[fid])
        self.log.append(entry)

    def route(self, handler):
        url = urlparse(handler.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append(f"{handler.command} {handler.path}")
        if url.path == "/token":
            return self.token(handler)
        if handler.headers.get("Authorization") != f"Bearer {ACCESS}":
            return self.error(401, "Request had invalid authentication credentials.", "authError")
        if url.path == "/drive/v3/changes/startPageToken":
            return self.ok({"kind": "drive#startPageToken", "startPageToken": str(len(self.log))})
        if url.path == "/drive/v3/changes":
            start = int(q["pageToken"])
            if start > len(self.log):
                return self.error(400, "Invalid Value", "invalid", location="pageToken")
            page = self.log[start : start + 2]
            body: dict[str, Any] = {"kind": "drive#changeList", "changes": page}
            if start + 2 < len(self.log):
                body["nextPageToken"] = str(start + 2)
            else:
                body["newStartPageToken"] = str(len(self.log))
            return self.ok(body)
        if url.path == "/drive/v3/files":
            return self.ok(self.listing(q))
        parts = url.path.removeprefix("/drive/v3/files/").split("/")
        fid = parts[0]
        if fid not in self.files or self.files[fid]["trashed"]:
            return self.error(404, f"File not found: {fid}.", "notFound", location="fileId")
        if len(parts) == 2 and parts[1] == "export":
            return 200, q["mimeType"], self.content[fid]
        if q.get("alt") == "media":
            return 200, self.files[fid]["mimeType"], self.content[fid]
        return self.ok(self.files[fid])

    def listing(self, q: dict[str, str]) -> dict[str, Any]:
        assert q["supportsAllDrives"] == "true" and q["includeItemsFromAllDrives"] == "true"
        if q["corpora"] == "drive":  # a whole shared drive
            assert q["q"] == "trashed = false"
            matching = [
                f
                for f in self.files.values()
                if f.get("driveId") == q["driveId"] and not f["trashed"]
            ]
        else:
            assert q["corpora"] == "allDrives"
            parent = q["q"].split("'")[1]
            matching = [
                f for f in self.files.values() if parent in f["parents"] and not f["trashed"]
            ]
        size = int(q["pageSize"])
        self.page_size_seen.append(size)
        start = int(q.get("pageToken") or 0)
        body: dict[str, Any] = {
            "kind": "drive#fileList",
            "incompleteSearch": False,
            "files": matching[start : start + size],
        }
        if start + size < len(matching):
            body["nextPageToken"] = str(start + size)
        return body

    def token(self, handler):
        form = {k: v[0] for k, v in parse_qs(handler.body.decode()).items()}
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        header, claims, signature = form["assertion"].split(".")
        try:
            PRIVATE.public_key().verify(
                b64decode(signature),
                f"{header}.{claims}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            return 400, "application/json", json.dumps({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}).encode()  # fmt: skip
        payload = json.loads(b64decode(claims))
        assert json.loads(b64decode(header)) == {"alg": "RS256", "typ": "JWT", "kid": "3c1f0e9a"}
        assert payload["iss"] == "opsdesk-indexer@ops-knowledge.iam.gserviceaccount.com"
        assert payload["aud"] == f"{self.base}/token"
        assert payload["scope"] == "https://www.googleapis.com/auth/drive.readonly"
        assert payload["iat"] <= time.time() < payload["exp"] <= payload["iat"] + 3600
        return self.ok({"access_token": ACCESS, "expires_in": 3599, "token_type": "Bearer"})

    @staticmethod
    def ok(body: Any) -> tuple[int, str, bytes]:
        return 200, "application/json; charset=UTF-8", json.dumps(body).encode()

    @staticmethod
    def error(code: int, message: str, reason: str, location: str = "") -> tuple[int, str, bytes]:
        err: dict[str, Any] = {"message": message, "domain": "global", "reason": reason}
        if location:
            err.update(location=location, locationType="parameter")
        body = {"error": {"code": code, "message": message, "errors": [err]}}
        return code, "application/json; charset=UTF-8", json.dumps(body).encode()


def seeded() -> FakeGoogle:
    g = FakeGoogle()
    g.put(ROOT, "Ops", gdrive.FOLDER, ["0AParentMyDrive"])
    g.put(SUB, "On-call", gdrive.FOLDER, [ROOT])
    g.put(DOC, "Runbook: etcd", "application/vnd.google-apps.document", [ROOT], GOOGLE_HTML.encode(), version=12)  # fmt: skip
    g.put(SHEET, "On-call rota", "application/vnd.google-apps.spreadsheet", [SUB], b"Week,Primary,Secondary\n2025-W48,Ivan Petrov,Olga Smirnova\n2025-W49,Anna Orlova,Pavel Sokolov\n", version=7)  # fmt: skip
    g.put(PDF, "Ceph OSD replacement.pdf", "application/pdf", [SUB], minimal_pdf("Ceph OSD replacement: mark the OSD out and wait for backfill"), version=3)  # fmt: skip
    g.put(IMAGE, "logo.png", "image/png", [ROOT], b"\x89PNG\r\n\x1a\n", version=1)
    g.put(ELSEWHERE, "HR", gdrive.FOLDER, ["0AParentMyDrive"])
    g.put(SECRET, "Salaries", "application/vnd.google-apps.document", [ELSEWHERE], b"<p>salary table</p>", version=2)  # fmt: skip
    return g


def make_source(admin: User, g: FakeGoogle, base: str, **extra: Any) -> Source:
    g.base = base
    return actions.save_source(
        admin,
        source=Source.objects.filter(name="drive-ops").first(),
        name="drive-ops",
        type=Source.Type.GDRIVE,
        groups=["sre"],
        settings={"folder": ROOT, "api_url": base, **extra},
        secrets={"service_account_key": key_json(f"{base}/token")},
    )


def test_drive_folder_docs_sheets_pdfs_citations_and_permissions_recorded_drive_v3(
    admin_user: User, member: User, outsider: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gdrive, "PAGE_SIZE", 2)  # the listing of the folder takes two pages
    g = seeded()
    with serve(g.route) as (base, _):
        source = make_source(admin_user, g, base)
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE, job.message
    assert job.errors == []
    docs = {d.external_id: d for d in source.documents.all()}
    assert sorted(docs) == sorted([DOC, SHEET, PDF])  # the image and the other folder: not read
    assert docs[DOC].link == f"https://docs.google.com/document/d/{DOC}/edit?usp=drivesdk"
    assert docs[DOC].title == "Runbook: etcd" and docs[DOC].version == "v12"
    assert any("export?mimeType=text%2Fhtml" in r or "export?mimeType=text/html" in r for r in g.requests)  # fmt: skip
    assert any(f"/files/{PDF}?alt=media" in r for r in g.requests)
    assert g.page_size_seen and set(g.page_size_seen) == {2}

    hits = retrieval.search(member, "etcd defrag NOSPACE alarm", k=3)
    assert hits[0].document_id == DOC and "etcdctl defrag --cluster" in hits[0].text
    cited = answering.citations(hits)[0]
    assert cited["title"] == "Runbook: etcd" and cited["link"] == docs[DOC].link
    assert cited["version"] == "v12"
    rota = retrieval.search(member, "on-call rota week primary secondary", k=3)
    assert any(h.document_id == SHEET and "2025-W49 | Anna Orlova | Pavel Sokolov" in h.text for h in rota)  # fmt: skip
    assert retrieval.search(member, "Ceph OSD backfill mark out", k=3)[0].document_id == PDF
    assert retrieval.search(outsider, "etcd defrag NOSPACE alarm", k=10) == []
    assert retrieval.search(outsider, "on-call rota", k=10) == []


def test_drive_incremental_sync_by_changes_page_token_recorded_drive_v3(
    admin_user: User, member: User
) -> None:
    g = seeded()
    with serve(g.route) as (base, _):
        source = make_source(admin_user, g, base)
        first = actions.start_job(admin_user, source, wait=True)
        first.refresh_from_db()
        assert first.state == IndexJob.State.DONE, first.message
        source.refresh_from_db()
        assert source.sync_state["page_token"] == str(len(g.log))
        assert sorted(source.sync_state["folders"]) == sorted([ROOT, SUB])

        # The runbook edited, the PDF trashed, a new doc in the subfolder, the HR file edited.
        g.put(DOC, "Runbook: etcd", "application/vnd.google-apps.document", [ROOT], GOOGLE_HTML.replace("NOSPACE alarm", "NOSPACE alarm with etcdctl alarm disarm").encode(), version=15)  # fmt: skip
        g.files[PDF]["trashed"] = True
        g.change(PDF)
        g.put("1DocNew", "Redis latency", "application/vnd.google-apps.document", [SUB], b"<h1>Redis latency</h1><p>Check LATENCY DOCTOR and slowlog on redis-cache-2.</p>", version=1)  # fmt: skip
        g.put(SECRET, "Salaries", "application/vnd.google-apps.document", [ELSEWHERE], b"<p>salary table v2</p>", version=3)  # fmt: skip
        g.requests.clear()
        second = actions.start_job(admin_user, source, wait=True)
        second.refresh_from_db()
        assert second.state == IndexJob.State.DONE, second.message
        assert not any(r.startswith("GET /drive/v3/files?") for r in g.requests)  # no listing
        # Four changes, two to a page: two pages, the second with the new start token.
        assert sum(r.startswith("GET /drive/v3/changes?") for r in g.requests) == 2
        exported = sorted(r.split("/files/")[1].split("/")[0] for r in g.requests if "/export" in r)
        assert exported == ["1DocEtcd", "1DocNew"]  # the sheet was not read again, HR never
        assert second.docs_skipped == 1 and second.docs_removed == 1
        assert set(source.documents.values_list("external_id", flat=True)) == {DOC, SHEET, "1DocNew"}  # fmt: skip
        assert source.documents.get(external_id=DOC).version == "v15"
        hits = retrieval.search(member, "etcdctl alarm disarm", k=3)
        assert hits[0].document_id == DOC and hits[0].version == "v15"
        assert all(h.document_id != PDF for h in retrieval.search(member, "Ceph OSD backfill", k=10))  # fmt: skip

        # Deleted for good (removed: true), and the stored token no longer accepted.
        g.log.append({"kind": "drive#change", "changeType": "file", "removed": True, "fileId": "1DocNew", "time": "2025-11-26T10:00:00.000Z"})  # fmt: skip
        g.files.pop("1DocNew")
        third = actions.start_job(admin_user, source, wait=True)
        third.refresh_from_db()
        assert third.state == IndexJob.State.DONE and third.docs_removed == 1
        Source.objects.filter(pk=source.pk).update(sync_state={**source.sync_state, "page_token": "999"})  # fmt: skip
        source.refresh_from_db()
        g.requests.clear()
        fourth = actions.start_job(admin_user, source, wait=True)
    fourth.refresh_from_db()
    assert fourth.state == IndexJob.State.DONE, fourth.message
    assert any(r.startswith("GET /drive/v3/files?") for r in g.requests)  # listed again
    assert set(source.documents.values_list("external_id", flat=True)) == {DOC, SHEET}


def test_drive_hostile_answers_and_bad_keys_recorded_drive_v3(
    admin_user: User, settings: Any
) -> None:
    g = seeded()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with serve(g.route) as (base, _):
        source = make_source(admin_user, g, base)
        wrong = json.loads(key_json(f"{base}/token"))
        wrong["private_key"] = other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        Source.objects.filter(pk=source.pk).update(
            secrets_encrypted=crypto.encrypt({"service_account_key": json.dumps(wrong)})
        )
        source.refresh_from_db()
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.FAILED
    assert "HTTP 400" in job.message and "Invalid JWT Signature" in job.message
    assert "PRIVATE KEY" not in job.message

    settings.KNOWLEDGE_MAX_FILE_MB = 1
    g.put(PDF, "Ceph OSD replacement.pdf", "application/pdf", [SUB], b"%PDF-1.4\n" + b"0" * 2_000_000, version=4)  # fmt: skip
    with serve(g.route) as (base, _):
        source = make_source(admin_user, g, base)
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE, job.message  # one file too big, the rest read
    assert [e["path"] for e in job.errors] == ["Ceph OSD replacement.pdf"]
    assert "KNOWLEDGE_MAX_FILE_MB" in job.errors[0]["error"]
    assert source.documents.filter(error="").count() == 2
    assert not any(f"/files/{PDF}?alt=media" in r for r in g.requests[-20:])  # never downloaded

    def looping(handler):
        if handler.path.startswith("/drive/v3/files?"):
            g.requests.append(handler.path)
            return g.ok({"kind": "drive#fileList", "nextPageToken": "same", "files": []})
        return g.route(handler)

    with serve(looping) as (base, _):
        source = make_source(admin_user, g, base)
        job = actions.start_job(admin_user, source, IndexJob.Kind.REBUILD, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.FAILED and "the same page token came back" in job.message

    def garbage(handler):
        if handler.path.startswith("/drive/v3/files?"):
            return 200, "application/json", b"<html>captive portal</html>"
        return g.route(handler)

    with serve(garbage) as (base, _):
        source = make_source(admin_user, g, base)
        job = actions.start_job(admin_user, source, IndexJob.Kind.REBUILD, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.FAILED
    assert job.message.startswith("Google Drive GET /files: not JSON")


def test_drive_source_form_checks_the_key_and_never_shows_it(admin_client: Client) -> None:
    url = reverse("knowledge_console:source_new")
    form = {"name": "drive", "type": "gdrive", "folder": ROOT, "enabled": "on"}
    page = admin_client.post(url, {**form, "service_account_key": SimpleUploadedFile("key.json", b'{"type": "authorized_user"}')}).content.decode()  # fmt: skip
    assert "service_account" in page and not Source.objects.exists()
    page = admin_client.post(url, {**form, "folder": "x' or name contains '", "service_account_key": SimpleUploadedFile("key.json", key_json("https://oauth2.googleapis.com/token").encode())}).content.decode()  # fmt: skip
    assert not Source.objects.exists()
    saved = admin_client.post(url, {**form, "service_account_key": SimpleUploadedFile("key.json", key_json("https://oauth2.googleapis.com/token").encode())})  # fmt: skip
    assert saved.status_code == 302
    source = Source.objects.get(name="drive")
    assert source.settings == {"folder": ROOT}
    stored = crypto.decrypt(source.secrets_encrypted)["service_account_key"]
    assert (
        json.loads(stored)["private_key"] == PEM and "PRIVATE KEY" not in source.secrets_encrypted
    )
    edit = admin_client.get(reverse("knowledge_console:source_edit", args=[source.pk])).content.decode()  # fmt: skip
    assert "PRIVATE KEY" not in edit and "opsdesk-indexer@" not in edit


def test_drive_shared_drive_with_slides_and_a_docx_recorded_drive_v3(
    admin_user: User, member: User
) -> None:
    import io

    import docx

    document = docx.Document()
    document.add_heading("HAProxy reload", level=1)
    document.add_paragraph("Check the config with haproxy -c -f before a reload.")
    buf = io.BytesIO()
    document.save(buf)
    g = FakeGoogle()
    shared = "0ADriveOpsShared"
    g.put("1Slides", "Incident review", "application/vnd.google-apps.presentation", [shared], b"Incident review\n\nRabbitMQ partition: pause_minority stopped the split brain.", version=4)  # fmt: skip
    g.put("1Docx", "haproxy", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", [shared], buf.getvalue(), version=2)  # fmt: skip
    g.put("1Elsewhere", "Other", "application/vnd.google-apps.document", ["0AOther"], b"<p>x</p>")
    for fid in ("1Slides", "1Docx"):
        g.files[fid]["driveId"] = shared
    with serve(g.route) as (base, _):
        g.base = base
        source = actions.save_source(
            admin_user,
            name="drive-shared",
            type=Source.Type.GDRIVE,
            groups=["sre"],
            settings={"drive": shared, "api_url": base},
            secrets={"service_account_key": key_json(f"{base}/token")},
        )
        job = actions.start_job(admin_user, source, wait=True)
        job.refresh_from_db()
        assert job.state == IndexJob.State.DONE and job.errors == [], (job.message, job.errors)
        listing = [r for r in g.requests if "/drive/v3/" in r and "/files/" not in r]
        assert listing and all(f"driveId={shared}" in r for r in listing)
        ids = sorted(source.documents.values_list("external_id", flat=True))
        assert ids == ["1Docx", "1Slides"]
        hits = retrieval.search(member, "RabbitMQ partition pause_minority", k=2)
        assert hits[0].document_id == "1Slides" and hits[0].title == "Incident review"
        hits = retrieval.search(member, "haproxy -c reload config check", k=2)
        assert hits[0].document_id == "1Docx"

        # Changes on the shared drive: the docx trashed; a file of another drive is ignored.
        g.files["1Docx"]["trashed"] = True
        g.change("1Docx")
        g.change("1Elsewhere")
        again = actions.start_job(admin_user, source, wait=True)
    again.refresh_from_db()
    assert again.state == IndexJob.State.DONE and again.docs_removed == 1
    assert list(source.documents.values_list("external_id", flat=True)) == ["1Slides"]
