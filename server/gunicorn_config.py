"""How gunicorn serves Hamlet: `gunicorn -c python:server.gunicorn_config 'server:create_app()'`.

The Procfile and `hamlet serve` both load it, so production and the quick start run the same way.
Threaded workers keep a connection open between requests: ODK Collect's HEAD and POST share one TCP
connection, as they do through Central's nginx, and a long export holds one thread instead of a
whole worker (a sync worker would also be killed by the 30 s timeout halfway through a big XLSX).
Command-line flags still override any of these."""
import gc
import os

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
threads = int(os.environ.get("HAMLET_THREADS") or 4)
keepalive = 5
accesslog = "-"
logger_class = "server.logs.AccessLogger"   # app-user keys and tokens masked in the access log
control_socket_disable = True               # gunicorn 24's shared control socket is not used

# Only HAMLET_TRUSTED_PROXIES (werkzeug's ProxyFix in server/__init__.py) decides what X-Forwarded-*
# headers are believed. gunicorn has its own list, 127.0.0.1 and ::1 by default, from which it takes
# X-Forwarded-Proto / -Ssl / -Protocol as proof of https: any client on the same host (or behind a
# local tunnel) could then have Basic auth accepted over plain http. Trust nobody here.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}


# A kept-alive connection is closed after this many requests, with `Connection: close` on the last answer
# (nginx's keepalive_requests, Apache's MaxKeepAliveRequests). Workers share one listening socket and the
# first to wake takes what arrives: devices that connect at once can all land on one worker, which (one
# GIL) then serves them on one CPU while the other idles, for as long as they keep their connections
# (bench/ingest.py: 95% / 0%). Reconnecting every 100 requests lets the less busy worker take them over;
# a phone's upload of a day's work is a few dozen requests, so it rarely meets this.
KEEPALIVE_REQUESTS = 100


def pre_request(worker, req):
    worker.log.debug("%s %s", req.method, req.path)   # gunicorn's own pre_request
    if req.req_number % KEEPALIVE_REQUESTS == 0:
        req.force_close()


def post_worker_init(worker):
    """Move what loading the app allocated out of the collector's reach: otherwise every full
    collection rescans every loaded module and template (~126k objects, 46 ms here) in some request."""
    gc.collect()
    gc.freeze()
