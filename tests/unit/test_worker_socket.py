"""``serve --workers N``: each worker listens on a socket of its own and the kernel spreads connections."""

from __future__ import annotations

import pickle
import socket
from multiprocessing.reduction import ForkingPickler

import pytest

from complaintdesk.web.server import WorkerSocket, worker_socket

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT on this system")


def _accepted(listener: socket.socket) -> int:
    """Connections waiting in ``listener``'s queue (accepted and closed here)."""
    listener.setblocking(False)
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_the_supervisor_socket_sent_to_a_worker_becomes_its_own_socket_on_the_same_port() -> None:
    supervisor = worker_socket("127.0.0.1", 0)
    try:
        assert isinstance(supervisor, WorkerSocket)
        port = supervisor.getsockname()[1]
        # What uvicorn does when it starts a worker: the socket is pickled into the spawned process.
        workers = [pickle.loads(ForkingPickler.dumps(supervisor)) for _ in range(2)]
        try:
            for sock in workers:
                assert sock.fileno() != supervisor.fileno()
                assert sock.getsockname() == ("127.0.0.1", port)
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
                sock.listen(128)
            clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(64)]
            shares = [_accepted(sock) for sock in workers]
            for client in clients:
                client.close()
        finally:
            for sock in workers:
                sock.close()
        assert sum(shares) == 64  # the supervisor's own socket never listens: nothing waits there
        assert min(shares) >= 12, shares  # spread by the kernel (binomial: below 12 of 64 is ~1 in 10^6)
    finally:
        supervisor.close()


def test_a_port_held_by_another_server_is_refused_not_shared() -> None:
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    earlier = worker_socket("127.0.0.1", 0)  # another `serve --workers N`, which SO_REUSEPORT would admit
    its_worker = pickle.loads(ForkingPickler.dumps(earlier))
    its_worker.listen(8)
    try:
        for taken in (other.getsockname()[1], earlier.getsockname()[1]):
            with pytest.raises(OSError):
                worker_socket("127.0.0.1", taken)
    finally:
        for sock in (other, earlier, its_worker):
            sock.close()
