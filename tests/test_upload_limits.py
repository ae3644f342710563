"""Bodies above the limit, sent the way browsers reach the service: through the hub's proxy.

Both ways a body can come (a declared ``Content-Length``, or ``chunked`` with
no length known in advance) must get the course service's own 413 with its
plain message, not the proxy's bare 400 or 503; and the same straight to the
service. Nothing is stored. The JSON API takes 1 MiB (notebooks are read from
the learner's server, not uploaded); a use case's table takes
``course.usecase_max_upload_mb`` (200 MB here, the default).
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from coursetest import api, person
from hubtest import wait_until

pytestmark = pytest.mark.hub

CHUNK = b"x" * (1 << 20)
FIELDS = {
    "title": "Upload limit check",
    "administration": "Municipality of Example",
    "decision": "Which applications get a second look",
    "affected": "Applicants for housing benefit",
    "legal_basis": "Social Support Act, art. 3",
    "ai_act_area": "5a",
}


def port(hub, where):
    return hub.settings["hub"]["port"] if where == "proxy" else hub.settings["course"]["port"]


def post_raw(hub, where, path, token, *, megabytes, chunked):
    """POST ``megabytes`` MiB to ``path``; return (status, headers+body text) of the answer.

    Sends until the server answers or hangs up (an early 413 stops the upload).
    """
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {token}\r\n"
    head += "Content-Type: application/octet-stream\r\n"
    if chunked:
        head += "Transfer-Encoding: chunked\r\n\r\n"
    else:
        head += f"Content-Length: {megabytes * len(CHUNK)}\r\n\r\n"
    deadline = time.monotonic() + 180
    with socket.create_connection(("127.0.0.1", port(hub, where)), timeout=120) as s:
        s.sendall(head.encode())
        s.setblocking(False)
        answer = b""
        try:
            for _ in range(megabytes):
                piece = (b"%x\r\n" % len(CHUNK)) + CHUNK + b"\r\n" if chunked else CHUNK
                view = memoryview(piece)
                while view:
                    try:
                        sent = s.send(view)
                        view = view[sent:]
                    except BlockingIOError:
                        assert time.monotonic() < deadline, "nobody read the body nor answered"
                        time.sleep(0.01)
                    try:
                        answer += s.recv(65536)
                    except BlockingIOError:
                        pass
                if answer:
                    break
            else:
                if chunked:
                    s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed: the answer was sent before
        s.setblocking(True)
        s.settimeout(120)
        try:
            while b"\r\n\r\n" not in answer or not _complete(answer):
                more = s.recv(65536)
                if not more:
                    break
                answer += more
        except (ConnectionResetError, TimeoutError):
            pass
    text = answer.decode(errors="replace")
    status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/1.1 ") else 0
    return status, text


def _complete(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def error_of(text):
    return json.loads(text.partition("\r\n\r\n")[2])["error"]


@pytest.mark.parametrize("where", ["proxy", "service"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_submit_with_a_large_body_gets_the_services_413(hub, where, chunked):
    token = person(hub, "theo")
    status, text = post_raw(
        hub,
        where,
        "/services/course/api/labs/no-such-lab/submit",
        token,
        megabytes=30,
        chunked=chunked,
    )
    assert status == 413, text[:400]
    assert "request body too large" in error_of(text)
    assert "notebooks are read from your server" in error_of(text)


@pytest.fixture(scope="module")
def usecase(hub):
    r = api(hub, "tom").post("/usecases", json=FIELDS)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def stored_datasets(hub, usecase):
    return [d["name"] for d in api(hub, "tom").get(f"/usecases/{usecase}").json()["datasets"]]


@pytest.mark.parametrize("where", ["proxy", "service"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_usecase_upload_above_the_limit_gets_the_services_413(hub, usecase, where, chunked):
    limit_mb = hub.settings["course"]["usecase_max_upload_mb"]
    token = person(hub, "tom")
    name = f"big{where}{int(chunked)}"
    status, text = post_raw(
        hub,
        where,
        f"/services/course/api/usecases/{usecase}/datasets/{name}?filename={name}.csv",
        token,
        megabytes=limit_mb + 2,  # MiB: above the limit of limit_mb * 10^6 bytes
        chunked=chunked,
    )
    assert status == 413, text[:400]
    assert f"files up to {limit_mb} MB are accepted" in error_of(text)
    assert name not in stored_datasets(hub, usecase)
    folder = hub.settings["paths"]["state_dir"] + "/course/usecases/.uploads"
    from pathlib import Path

    assert wait_until(lambda: not list(Path(folder).glob("*")), timeout=30)
