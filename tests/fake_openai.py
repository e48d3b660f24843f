"""A local OpenAI-compatible chat server that misbehaves on demand, for tests and benchmarks.

`FakeOpenAI` serves POST /v1/chat/completions on 127.0.0.1 (a free port) from a thread pool
(keep-alive HTTP/1.1, one thread per connection). It answers with a label as JSON and usage
tokens, and injects faults either from a FIFO queue shared by all requests (`fail_next`) or per
text (`text_faults`). Faults:

  ok          a clean JSON answer
  429         rate limited, with the Retry-After header `retry_after`
  500 / 503   server error
  401         bad key (the key is echoed in the error, as some providers do)
  timeout     sleep `timeout_sleep_s` before answering (longer than the client's timeout)
  drop        close the connection without a response
  bad_body    a 200 whose body is not JSON
  malformed   an answer that is not valid JSON
  think       the JSON after a <think>...</think> block
  fence       the JSON inside ```json fences
  refuse      a refusal in Chinese
  number      the phone as a JSON number

`reject_response_format=True` answers 400 to any request carrying response_format.
Run as a script (`python tests/fake_openai.py --latency 0.05`) it serves in its own process
and prints its base URL on the first line of stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FIELDS = ("province", "city", "district", "specific_location", "name", "phone")


def stub_label(text: str) -> dict[str, str]:
    """A fixed, cheap mapping: the 11-digit run is the phone, the rest is the location."""
    m = re.search(r"\d{11}", text)
    phone = m.group(0) if m else ""
    rest = text.replace(phone, "").strip(" :,，") if phone else text
    return {
        "province": "",
        "city": "",
        "district": "",
        "specific_location": rest,
        "name": "",
        "phone": phone,
    }


def gazetteer_label(text: str) -> dict[str, str]:
    from distill_assets.core.teacher.rule_teacher import GazetteerTeacher

    return GazetteerTeacher().label(text)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    fake: FakeOpenAI


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment: with Nagle on, the second write waits for the
    # client's delayed ACK (~40 ms per request on loopback).
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _error(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"error": {"message": message, "type": "fake", "code": code}})
        self._send(code, body.encode("utf-8"), headers)

    def do_POST(self) -> None:  # noqa: N802
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, f"no route {self.path}")
            return
        try:
            body = json.loads(raw)
            text = next(m["content"] for m in body["messages"] if m["role"] == "user")
            system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        except (ValueError, KeyError, StopIteration):
            self._error(400, "bad request body")
            return
        fault = fake._next_fault(text, body, self.headers.get("Authorization", ""))
        if fake.latency_s:
            time.sleep(fake.latency_s)
        if fault == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault == "timeout":
            time.sleep(fake.timeout_sleep_s)
            fault = "ok"
        if fault == "429":
            self._error(429, "rate limited", {"Retry-After": fake.retry_after})
            return
        if fault in ("500", "503"):
            self._error(int(fault), "upstream overloaded")
            return
        if fault == "401":
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            self._error(401, f"Incorrect API key provided: {key}")
            return
        if fault == "400_format":
            self._error(400, "response_format is not supported by this model")
            return
        if fault == "bad_body":
            self._send(200, b"<html>502 bad gateway</html>")
            return
        label = dict(fake.answer_fn(text))
        answer = json.dumps(label, ensure_ascii=False)
        if fault == "malformed":
            answer = answer[: len(answer) // 2]
        elif fault == "think":
            answer = "<think>\n先找电话，再找地址。\n</think>\n\n" + answer
        elif fault == "fence":
            answer = "```json\n" + answer + "\n```"
        elif fault == "refuse":
            answer = "抱歉，我无法处理这个请求。"
        elif fault == "number" and label.get("phone", "").isdigit():
            label_num: dict[str, Any] = {**label, "phone": int(label["phone"])}
            answer = json.dumps(label_num, ensure_ascii=False)
        with fake._lock:
            fake.answered.append(text)
        resp = {
            "id": f"chatcmpl-{fake.requests}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": len(system) + len(text),
                "completion_tokens": len(answer),
                "total_tokens": len(system) + len(text) + len(answer),
            },
        }
        self._send(200, json.dumps(resp, ensure_ascii=False).encode("utf-8"))


class FakeOpenAI:
    """`with FakeOpenAI() as srv: srv.base_url ...`; counters: requests, texts, answered."""

    def __init__(
        self,
        latency_s: float = 0.0,
        answer_fn: Callable[[str], dict[str, str]] = stub_label,
        retry_after: str = "0",
        timeout_sleep_s: float = 2.0,
    ) -> None:
        self.latency_s = latency_s
        self.answer_fn = answer_fn
        self.retry_after = retry_after
        self.timeout_sleep_s = timeout_sleep_s
        self.reject_response_format = False
        self.faults: deque[str] = deque()
        self.text_faults: dict[str, str | list[str]] = {}
        self.requests = 0
        self.texts: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.auth_headers: list[str] = []
        self.answered: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, *faults: str) -> None:
        """Queue faults for the next requests, whatever their text."""
        with self._lock:
            self.faults.extend(faults)

    def _next_fault(self, text: str, body: dict[str, Any], auth: str) -> str:
        with self._lock:
            self.requests += 1
            self.texts.append(text)
            self.bodies.append(body)
            self.auth_headers.append(auth)
            if self.reject_response_format and "response_format" in body:
                return "400_format"
            per_text = self.text_faults.get(text)
            if isinstance(per_text, list):
                if per_text:
                    return per_text.pop(0)
            elif per_text:
                return per_text
            if self.faults:
                return self.faults.popleft()
            return "ok"

    def start(self) -> FakeOpenAI:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def api_settings(srv: FakeOpenAI, api_key: str, **kw: Any) -> Any:
    """TeacherSettings for a client of `srv`: short timeouts and backoffs, failures tolerated,
    progress quiet; `kw` overrides any field."""
    from distill_assets.core.teacher.settings import TeacherSettings

    base: dict[str, Any] = {
        "kind": "openai",
        "base_url": srv.base_url,
        "model": "fake-teacher",
        "api_key": api_key,
        "timeout_s": 2.0,
        "concurrency": 4,
        "max_attempts": 4,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "max_failure_rate": 1.0,
        "progress_every_s": 60.0,
    }
    return TeacherSettings(**(base | kw))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--answer", choices=("stub", "gazetteer"), default="stub")
    args = ap.parse_args(argv)
    fn = gazetteer_label if args.answer == "gazetteer" else stub_label
    srv = FakeOpenAI(latency_s=args.latency, answer_fn=fn).start()
    sys.stdout.write(srv.base_url + "\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()  # serve until the parent closes our stdin or kills us
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
