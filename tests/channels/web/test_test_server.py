"""The browser tests' in-process server (tests/support/web_browser.py) stops without leaving a thread
that could write to a file descriptor it closed: a later test may own that number by then (once a
multiprocessing queue got waitress's wake-up byte and its reader waited for ever, hanging the suite)."""

from __future__ import annotations

import urllib.request

from support.web import make_app
from support.web_browser import Server


def test_after_stop_no_thread_of_the_server_is_left_and_its_descriptors_are_closed(tmp_path):
    server = Server(make_app(tmp_path / "store" / "triage.db"))
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=30) as answer:  # a worker thread served it
        assert answer.status == 200
    waitress = server._server
    server.stop()
    assert not server._thread.is_alive()
    assert not [thread for thread in waitress.task_dispatcher.threads]  # no worker left to wake the loop
    assert waitress._map == {}  # the listener, the trigger and every connection closed by the loop itself
