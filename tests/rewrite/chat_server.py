"""A real OpenAI-compatible chat server for tests: ``POST /v1/chat/completions`` on
127.0.0.1 replays scripted answers in order and records every request body.

An answer is a string (the assistant's content) or a :class:`Scripted` with a delay (to
provoke client timeouts) or an HTTP status (to provoke HTTP errors). When the script runs
out the server answers 500, so a test that asks more often than planned fails loudly.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Scripted:
    """One scripted reply."""

    content: str = ""
    delay_s: float = 0.0
    status: int = 200


class ChatServer:
    """Start with ``with ChatServer([...]) as server:``; ``server.url`` is the base URL."""

    def __init__(self, answers: list[str | Scripted]) -> None:
        self.answers = [a if isinstance(a, Scripted) else Scripted(a) for a in answers]
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A handler still sleeping past the client's timeout must not block shutdown.
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def remaining(self) -> int:
        return len(self.answers)

    def last_user_message(self, index: int = -1) -> str:
        """The last user message of request ``index``."""
        messages = self.requests[index]["messages"]
        return next(m["content"] for m in reversed(messages) if m["role"] == "user")

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, body: dict[str, Any]) -> Scripted:
        with self._lock:
            self.requests.append(body)
            if not self.answers:
                return Scripted(status=500, content="no scripted answer left")
            return self.answers.pop(0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._reply(404, {"error": {"message": f"no route {self.path}"}})
                    return
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                answer = server._next(body)
                time.sleep(answer.delay_s)
                if answer.status != 200:
                    error = {"message": answer.content or "scripted error", "type": "test"}
                    self._reply(answer.status, {"error": error})
                    return
                self._reply(200, completion(body.get("model", "?"), answer.content, body))

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        return Handler


def completion(model: str, content: str, request: dict[str, Any]) -> dict[str, Any]:
    """A chat completion in OpenAI's response format."""
    prompt_chars = sum(len(m.get("content") or "") for m in request.get("messages", []))
    return {
        "id": f"chatcmpl-test-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_chars // 4,
            "completion_tokens": len(content) // 4,
            "total_tokens": (prompt_chars + len(content)) // 4,
        },
    }
