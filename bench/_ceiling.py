"""The minimal correct intake (issue 19): the machine's ceiling that bench/ingest.py measures Hamlet against.

    gunicorn -c python:server.gunicorn_config --pythonpath bench '_ceiling:app'   (CEILING_DATABASE_URL set)

What any OpenRosa intake must do and nothing more: answer Collect's HEAD with 204 and the OpenRosa
headers; read the multipart body with werkzeug's form parser; parse the XML with a safe lxml parser (no
entities, no network) and find meta/instanceID; one INSERT keyed by the instanceID (a resend changes
nothing); commit; answer 201 with the OpenRosa response. No auth, no form lookup, no columns, no
attachments kept: everything Hamlet does beyond this is what the ratio prices. Served by the same
gunicorn configuration as Hamlet (gthread, 2 workers, 4 threads, the access log)."""
from __future__ import annotations

import os
import threading

import psycopg
from lxml import etree
from werkzeug.wrappers import Request, Response

TABLE = "ceiling_submissions"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (instance_id text PRIMARY KEY, xml bytea NOT NULL, " \
         "received_at timestamptz NOT NULL DEFAULT now())"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
_HEADERS = {"X-OpenRosa-Version": "1.0", "X-OpenRosa-Accept-Content-Length": "104857600"}
_OK = (b'<OpenRosaResponse xmlns="http://openrosa.org/http/response" items="0">'
       b'<message nature="submit_success">full submission upload was successful!</message></OpenRosaResponse>')
_local = threading.local()


def _conn() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["CEILING_DATABASE_URL"])
    return conn


def app(environ, start_response):
    request = Request(environ)
    if request.method == "HEAD":
        return Response(status=204, headers=_HEADERS)(environ, start_response)
    if request.method != "POST":
        return Response("minimal intake", status=404)(environ, start_response)
    upload = request.files.get("xml_submission_file")
    if upload is None:
        return Response("no xml_submission_file", status=400, headers=_HEADERS)(environ, start_response)
    xml = upload.read()
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError:
        return Response("unparseable", status=400, headers=_HEADERS)(environ, start_response)
    found = root.find("{*}meta/{*}instanceID")
    if found is None or not (found.text or "").strip():
        return Response("no instanceID", status=400, headers=_HEADERS)(environ, start_response)
    conn = _conn()
    conn.execute(f"INSERT INTO {TABLE} (instance_id, xml) VALUES (%s, %s) ON CONFLICT (instance_id) DO NOTHING",
                 (found.text.strip(), xml))
    conn.commit()
    return Response(_OK, status=201, content_type="text/xml; charset=utf-8",
                    headers=_HEADERS)(environ, start_response)
