"""The post-incident report: what happened (the alerts), the impact as counts, the notices,
the lessons learnt apart from the notes, the follow-up tasks and the timeline; as HTML and
PDF, from the CLI's flow, the API and the web; never a customer's personal value nor a
subject id; refused to a person of another organisation."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dealvault.access.principal import local
from dealvault.api.app import create_app
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.documents import pdf_from_html
from dealvault.errors import Forbidden
from dealvault.flows import incident_tasks, incidents
from dealvault.flows.context import AppStores
from dealvault.flows.incident_notices import draft_for_regimes
from dealvault.flows.incident_report import incident_report
from dealvault.incidents.report import render_html
from tests.incidents.conftest import ANALYST, ROWS, SECURITY, Scene, release
from tests.monitor.test_api import _token

OFFICER = local(SECURITY)


def _incident(stores: AppStores, keyring: KeyRing, scene: Scene) -> int:
    release(stores, keyring, scene.world, "Bidder A")
    inc = incidents.open_incident(stores, actor=OFFICER, title="refused reads, then a release",
                                  alert_ids=[scene.alert])  # fmt: skip
    incidents.add_note(stores, actor=OFFICER, incident_id=inc.id,
                       text="asked Bidder A to confirm its copies")  # fmt: skip
    incidents.add_note(stores, actor=OFFICER, incident_id=inc.id, kind="lesson",
                       text="review clean-team ceilings weekly")  # fmt: skip
    incident_tasks.add_task(stores, actor=OFFICER, incident_id=inc.id,
                            title="collect the certificate", owner=SECURITY,
                            due=utcnow() + timedelta(days=2))  # fmt: skip
    draft_for_regimes(stores, actor=OFFICER, incident_id=inc.id)
    return inc.id


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_report_holds_every_section_and_no_personal_value(
    stores: AppStores, keyring: KeyRing, scene: Scene
) -> None:
    incident_id = _incident(stores, keyring, scene)
    data = incident_report(stores, actor=OFFICER, incident_id=incident_id)
    assert data.impact.customers == 12 and [a.id for a in data.alerts] == [scene.alert]
    html = render_html(data)
    for heading in ("1. Summary", "2. What happened", "3. Impact", "4. Notices",
                    "5. Lessons learnt", "6. Follow-up tasks", "7. Timeline"):  # fmt: skip
        assert heading in html
    assert "review clean-team ceilings weekly" in html
    assert "collect the certificate" in html and "1 open of 1" in html
    lessons = html.split("5. Lessons learnt")[1].split("6. Follow-up")[0]
    assert "asked Bidder A" not in lessons  # a note is not a lesson
    assert "Bidder A" in html.split("3. Impact")[1].split("4. Notices")[0]
    notices = html.split("4. Notices")[1].split("5. Lessons")[0]
    assert "pipl-authority" in notices and "draft" in notices
    for row in ROWS:
        for value in row.values():
            if len(value) >= 6:
                assert value not in html
    for subject in scene.subjects:
        assert subject not in html
    text = _pdf_text(pdf_from_html(html))
    assert "Post-incident report: incident" in text and "Lessons learnt" in text


def _pdf_text(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    return out.stdout.decode()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_report_over_http_and_refused_to_another_organisation(
    stores: AppStores, keyring: KeyRing, scene: Scene, tmp_path: Path
) -> None:
    incident_id = _incident(stores, keyring, scene)
    settings = Settings(home=tmp_path)
    http = TestClient(create_app(settings, keyring=keyring, stores=stores),
                      base_url="https://testserver")  # fmt: skip
    officer = {"Authorization": f"Bearer {_token(stores, settings, SECURITY)}"}
    analyst = {"Authorization": f"Bearer {_token(stores, settings, ANALYST)}"}
    url = f"/api/incidents/{incident_id}/report"
    html = http.get(url, headers=officer, params={"format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "5. Lessons learnt" in html.text
    pdf = http.get(url, headers=officer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert http.get(url, headers=analyst).status_code == 403
    with pytest.raises(Forbidden):
        incident_report(stores, actor=local(ANALYST), incident_id=incident_id)
