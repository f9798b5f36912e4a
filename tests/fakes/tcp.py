"""Plain TCP stand-ins for a server that is going away: one that accepts each connection and closes it
at once, and a proxy to a real server that can be stopped and started again on the same port (the
server seen going down mid-way and coming back, without stopping the real one)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


def _listener(port: int = 0) -> socket.socket:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    return listener


def _close(sock: socket.socket) -> None:
    """Shut down, then close: a thread blocked in accept() or recv() on it returns at once (close
    alone leaves a listener accepting in the thread that waits on it)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextlib.contextmanager
def accept_and_close() -> Iterator[int]:
    """The port of a server that accepts every connection and closes it without a word."""
    listener = _listener()

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        _close(listener)
        thread.join(5)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `upstream` while started; `stop` closes the port and cuts every
    connection through it, `start` opens the same port again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        self._listener = _listener(self.port)
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self._listener is not None:
                _close(self._listener)
                self._listener = None
            for connection in self._open:
                _close(connection)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    _close(client)
                    _close(server)
                    return
                self._open.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:  # one side ended: end the other too (its pump then ends and closes)
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            source.close()
            with self._lock:
                self._open.discard(source)
