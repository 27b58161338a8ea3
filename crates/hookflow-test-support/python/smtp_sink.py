"""A real SMTP server for tests: aiosmtpd on 127.0.0.1.

Prints `PORT <n>` once it listens, then one JSON line per received message:
{"mail_from": ..., "rcpt_tos": [...], "data": "<the raw message>"}.
Runs until its standard input closes or it is killed. No STARTTLS, no AUTH.
"""

import json
import socket
import sys
import threading

from aiosmtpd.controller import Controller

_print_lock = threading.Lock()


def emit(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Recorder:
    async def handle_DATA(self, server, session, envelope):
        content = envelope.content
        if isinstance(content, bytes):
            content = content.decode("utf-8", errors="replace")
        emit(json.dumps({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), "data": content}))
        return "250 Message accepted for delivery"


def free_port() -> int:
    # The Controller checks it is up by connecting to its port, so it needs a
    # real one rather than 0: take one the kernel hands out.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    controller = Controller(Recorder(), hostname="127.0.0.1", port=free_port())
    controller.start()
    emit(f"PORT {controller.port}")
    try:
        while sys.stdin.read(4096):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
