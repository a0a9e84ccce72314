"""An OpenAI-compatible chat-completions stub on 127.0.0.1 for the judge tests: a handler subclass says how
to reply to a request body, `serving` runs it on a free port and yields the base URL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatStub(BaseHTTPRequestHandler):
    """Answers every POST with one assistant message whose content is `reply(body)` (`self.path` is the
    request path)."""

    def reply(self, body: dict) -> str:
        raise NotImplementedError

    def status(self, body: dict) -> tuple[int, dict[str, str]]:
        """The reply's HTTP status and extra headers: 200 sends `reply(body)`, anything else an error."""
        return 200, {}

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        code, headers = self.status(body)
        if code == 200:
            message = {"role": "assistant", "content": self.reply(body)}
            reply = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
        else:
            reply = {"error": {"message": f"stub answered {code}", "type": "stub_error"}}
        payload = json.dumps(reply).encode()
        try:
            self.send_response(code)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def log_message(self, *args):
        pass


@contextmanager
def serving(handler: type[ChatStub]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
    finally:
        server.shutdown()
        server.server_close()
