"""gunicorn's configuration (``gunicorn -c config/gunicorn.py config.wsgi``), from the
environment. Requests never run a release or an import inline (those are Celery jobs), so the
longest request is a large CSV export streamed from the data browser: the timeout is sized for
that, not for jobs.

- GUNICORN_BIND (default 0.0.0.0:8000, or 0.0.0.0:$PORT when PORT is set)
- GUNICORN_WORKERS (default 2 x cores + 1), GUNICORN_THREADS (default 4): gthread workers, so a
  slow client or a streamed download holds a thread, not a process
- GUNICORN_TIMEOUT (default 60 s), GUNICORN_GRACEFUL_TIMEOUT (default 30 s)
- GUNICORN_MAX_REQUESTS (default 2000, with jitter): workers are recycled now and then so that
  memory fragmentation never builds up
- GUNICORN_FORWARDED_ALLOW_IPS (default 127.0.0.1): the proxies whose X-Forwarded-* headers
  gunicorn believes (Django trusts X-Forwarded-Proto via SECURE_PROXY_SSL_HEADER and counts
  X-Forwarded-For hops with CURATION_TRUSTED_PROXY_COUNT)
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Request lines come from the app (core.logs: request id, user, campaign, status, duration);
# gunicorn's own access log would repeat them without those. Errors go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Load the app before forking: one copy of the code in memory, and an import error stops the
# server at once instead of in every worker.
preload_app = True
# The worker heartbeat files live in memory, not on a possibly slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "codearena-curation"
# gunicorn 27's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl): two
# instances on one machine would fight over it, and nothing here uses it. GUNICORN_CONTROL_SOCKET
# names a path to turn it on.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
