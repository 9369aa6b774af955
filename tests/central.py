"""Central's test harness for CSV exports: publish, submit, set in the database what Central's unit tests
mock (dates, submitters, review states, edits, attachment counts), and download, as one project's caller."""
from __future__ import annotations

import io
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update

from helpers import Api
from server.models.accounts import Actor, create_session
from server.models.blobs import Blob
from server.models.forms import Form
from server.models.submissions import Submission, SubmissionAttachment

DATA = Path(__file__).parent / "data" / "central_csv"
# The columns after the form's own in every CSV Central exports.
META = "KEY,SubmitterID,SubmitterName,AttachmentsPresent,AttachmentsExpected,Status,ReviewState,DeviceID,Edits,FormVersion"


class Central:
    """Publish, submit, set what Central's unit tests mock, and download exports, as one project's caller."""

    def __init__(self, app, api, project: int):
        self.app, self.api, self.project = app, api, project
        self.sessionmaker = app.extensions["hamlet.sessionmaker"]

    # --- forms ------------------------------------------------------------------------------------

    def publish(self, name: str, xml: str | None = None) -> None:
        body = xml if xml is not None else (DATA / f"{name}.xml").read_text("utf-8")
        resp = self.api.post(f"/v1/projects/{self.project}/forms?publish=true&ignoreWarnings=true",
                             data=body.encode("utf-8"), content_type="application/xml")
        assert resp.status_code == 200, resp.get_data(as_text=True)

    def new_version(self, form: str, xml: str | None = None, version: str | None = None) -> None:
        """A draft (from an upload, or a copy of the published version) published at once."""
        base = f"/v1/projects/{self.project}/forms/{form}"
        if xml is None:
            resp = self.api.post(f"{base}/draft")
        else:
            resp = self.api.post(f"{base}/draft?ignoreWarnings=true", data=xml.encode("utf-8"),
                                 content_type="application/xml")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        resp = self.api.post(f"{base}/draft/publish" + (f"?version={version}" if version else ""))
        assert resp.status_code == 200, resp.get_data(as_text=True)

    # --- submissions ------------------------------------------------------------------------------

    def submit(self, form: str, xml: str, api=None) -> None:
        """REST: POST …/forms/{form}/submissions with the XML as the body."""
        resp = (api or self.api).post(f"/v1/projects/{self.project}/forms/{form}/submissions",
                                      data=xml.encode("utf-8"), content_type="application/xml")
        assert resp.status_code == 200, resp.get_data(as_text=True)

    def openrosa(self, xml: str, files: dict[str, bytes] | None = None, api=None, query: str = "") -> None:
        """OpenRosa: POST …/submission as multipart, the way Central's tests attach files."""
        data = {"xml_submission_file": (io.BytesIO(xml.encode("utf-8")), "data.xml", "text/xml")}
        for name, content in (files or {}).items():
            data[name] = (io.BytesIO(content), name, "application/octet-stream")
        resp = (api or self.api).post(f"/v1/projects/{self.project}/submission{query}", data=data,
                                      content_type="multipart/form-data", headers={"X-OpenRosa-Version": "1.0"})
        assert resp.status_code == 201, resp.get_data(as_text=True)

    def review(self, form: str, instance_id: str, state: str) -> None:
        resp = self.api.patch(f"/v1/projects/{self.project}/forms/{form}/submissions/{instance_id}",
                              {"reviewState": state})
        assert resp.status_code == 200, resp.get_data(as_text=True)

    # --- what Central's unit tests mock -----------------------------------------------------------

    def _submissions(self, form: str):
        form_id = select(Form.id).where(Form.project_id == self.project, Form.xml_form_id == form).scalar_subquery()
        return update(Submission).where(Submission.form_id == form_id)

    def set_all(self, form: str, **values) -> None:
        """Set columns of every submission of a form (created_at=JAN_2018, …)."""
        with self.sessionmaker() as s:
            s.execute(self._submissions(form).values(**values))
            s.commit()

    def set(self, form: str, instance_id: str, **values) -> None:
        with self.sessionmaker() as s:
            s.execute(self._submissions(form).where(Submission.instance_id == instance_id).values(**values))
            s.commit()

    def actor(self, actor_id: int, display_name: str, admin: bool = False):
        """A user with the id Central's fixtures give it (Alice is 5, Bob 6), and a signed-in caller."""
        with self.sessionmaker() as s:
            assert s.get(Actor, actor_id) is None
            s.execute(insert(Actor).values(id=actor_id, type="user", display_name=display_name,
                                           email=f"{display_name.lower()}@central.test",
                                           site_role="admin" if admin else None,
                                           created_at=datetime.now(UTC)))
            token = create_session(s, s.get(Actor, actor_id), hours=1).token
            s.commit()
        return Api(self.api.client, token)

    def attachments(self, form: str, instance_id: str, present: int, expected: int) -> None:
        """Attachment rows on the current version: `expected` files named, `present` of them received."""
        with self.sessionmaker() as s:
            sub = s.scalars(select(Submission).join(Form, Form.id == Submission.form_id).where(
                Form.project_id == self.project, Form.xml_form_id == form, Submission.instance_id == instance_id)).one()
            for i in range(expected):
                blob_id = None
                if i < present:
                    blob = Blob(sha256=uuid.uuid4().hex * 2, md5=uuid.uuid4().hex, size=0)
                    s.add(blob)
                    s.flush()
                    blob_id = blob.id
                s.add(SubmissionAttachment(submission_def_id=sub.current_def_id, name=f"file{i}.jpg", blob_id=blob_id))
            s.commit()

    # --- exports ----------------------------------------------------------------------------------

    def get(self, form: str, path: str, api=None):
        resp = (api or self.api).get(f"/v1/projects/{self.project}/forms/{form}/{path}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp

    def csv_zip(self, form: str, query: str = "", api=None) -> dict[str, bytes]:
        """The archive's entries, in archive order, as bytes."""
        resp = self.get(form, f"submissions.csv.zip{query}", api)
        with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
            return {name: z.read(name) for name in z.namelist()}

    def csv_files(self, form: str, query: str = "", api=None) -> dict[str, str]:
        return {name: data.decode("utf-8") for name, data in self.csv_zip(form, query, api).items()}

    def csv(self, form: str, query: str = "") -> str:
        return self.get(form, f"submissions.csv{query}").get_data(as_text=True)
