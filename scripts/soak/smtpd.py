#!/usr/bin/env python3
"""A small SMTP server for the soak test: accepts every message and writes it to a Maildir.

    smtpd.py --maildir DIR --port-file FILE [--port N]

Speaks EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT (no AUTH, no TLS) on 127.0.0.1. Each
accepted message is written to DIR/tmp and renamed into DIR/new before the 250 reply, so a
message the client saw accepted is always on disk. With --port 0 a free port is chosen and
written to --port-file (a restart passes the same port back).

On SIGTERM it stops listening, lets a DATA transfer in progress finish, answers every session
"421" and exits: a client never sees a message accepted that was not stored, nor stored one it
was told failed (unless it was cut off after the 250 was written). Standard library only.
"""

import argparse
import asyncio
import os
import signal
import socket
import time

MAX_SIZE = 50 << 20


class Session:
    def __init__(self, server, reader, writer):
        self.srv, self.reader, self.writer = server, reader, writer
        self.reset()
        self.in_data = False

    def reset(self):
        self.mail_from = None
        self.rcpts = []

    async def reply(self, line):
        self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()

    async def run(self):
        await self.reply("220 soak-smtpd ESMTP ready")
        while True:
            if self.srv.stopping:
                await self.reply("421 soak-smtpd shutting down")
                return
            try:
                line = await asyncio.wait_for(self.reader.readline(), 300)
            except asyncio.TimeoutError:
                await self.reply("421 idle too long")
                return
            if not line:
                return
            if self.srv.stopping:
                await self.reply("421 soak-smtpd shutting down")
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = text.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reset()
                self.writer.write(b"250-soak-smtpd\r\n250-8BITMIME\r\n250-PIPELINING\r\n")
                await self.reply(f"250 SIZE {MAX_SIZE}")
            elif verb == "HELO":
                self.reset()
                await self.reply("250 soak-smtpd")
            elif verb == "MAIL":
                if not arg.upper().startswith("FROM:"):
                    await self.reply("501 syntax: MAIL FROM:<address>")
                    continue
                self.reset()
                self.mail_from = arg[5:].strip().split(" ")[0]
                await self.reply("250 OK")
            elif verb == "RCPT":
                if self.mail_from is None:
                    await self.reply("503 MAIL first")
                elif not arg.upper().startswith("TO:"):
                    await self.reply("501 syntax: RCPT TO:<address>")
                else:
                    self.rcpts.append(arg[3:].strip().split(" ")[0])
                    await self.reply("250 OK")
            elif verb == "DATA":
                if not self.rcpts:
                    await self.reply("503 RCPT first")
                    continue
                await self.reply("354 end with <CR><LF>.<CR><LF>")
                self.in_data = True
                body = await self.read_data()
                self.in_data = False
                if body is None:
                    return
                name = self.srv.store(body, self.mail_from, self.rcpts)
                self.reset()
                await self.reply(f"250 OK queued as {name}")
            elif verb == "RSET":
                self.reset()
                await self.reply("250 OK")
            elif verb == "NOOP":
                await self.reply("250 OK")
            elif verb == "QUIT":
                await self.reply("221 bye")
                return
            else:
                await self.reply("502 command not implemented")

    async def read_data(self):
        lines = []
        size = 0
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 60)
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]  # dot-unstuffing
            size += len(line)
            if size <= MAX_SIZE:
                lines.append(line)
        return b"".join(lines)


class Server:
    def __init__(self, maildir):
        self.maildir = maildir
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(maildir, sub), exist_ok=True)
        self.stopping = False
        self.sessions = set()
        self.counter = 0

    def store(self, body, mail_from, rcpts):
        self.counter += 1
        name = f"{time.time_ns()}.P{os.getpid()}Q{self.counter}.soak-smtpd"
        tmp = os.path.join(self.maildir, "tmp", name)
        envelope = f"X-Soak-Envelope-From: {mail_from}\r\nX-Soak-Envelope-To: {' '.join(rcpts)}\r\n"
        with open(tmp, "wb") as fh:
            fh.write(envelope.encode() + body)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, os.path.join(self.maildir, "new", name))
        return name

    async def handle(self, reader, writer):
        s = Session(self, reader, writer)
        task = asyncio.current_task()
        self.sessions.add((s, task))
        try:
            await s.run()
        except (ConnectionError, asyncio.TimeoutError, asyncio.CancelledError):
            pass
        finally:
            self.sessions.discard((s, task))
            try:
                writer.close()
            except Exception:
                pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    srv = Server(a.maildir)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", a.port))
    server = await asyncio.start_server(srv.handle, sock=sock)
    port = sock.getsockname()[1]
    with open(a.port_file + ".tmp", "w") as fh:
        fh.write(f"{port}\n")
    os.replace(a.port_file + ".tmp", a.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()
    srv.stopping = True
    # Sessions waiting for a command get 421 now; a DATA transfer may finish first (up to 10 s).
    deadline = time.monotonic() + 10
    for s, task in list(srv.sessions):
        if not s.in_data:
            try:
                s.writer.write(b"421 soak-smtpd shutting down\r\n")
                s.writer.close()
            except Exception:
                pass
            task.cancel()
    while srv.sessions and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for _, task in list(srv.sessions):
        task.cancel()
    await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main())
