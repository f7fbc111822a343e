"""The warm worker the Blender add-on drives: JSON lines in, JSON lines out.

It loads the weights once and serves requests one after another from a job
thread, while the main thread keeps reading stdin so that a ``cancel`` is seen
within one sampling chunk (well under a second). At end of input it finishes the
requests it has and exits 0. Protocol: core/protocol.py.
Stdout carries protocol lines only; anything else goes to stderr.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
import traceback

from . import __version__
from .core import protocol
from .core.motion_file import MotionFileError
from .core.output import OutputError, check_outputs, folder_files
from .core.request import GenerateRequest
from .errors import UserError
from .memory import OUT_OF_MEMORY, check_address_space, is_out_of_memory


class Channel:
    """Protocol lines to ``out``, one writer at a time, and a heartbeat every
    HEARTBEAT_SECONDS from a thread of its own, so the add-on can tell a busy worker from a
    frozen one (a stopped process sends nothing at all)."""

    def __init__(self, out) -> None:
        self.out = out
        self.lock = threading.Lock()
        threading.Thread(target=self._beat, daemon=True).start()

    def send(self, message: dict) -> None:
        with self.lock:
            self.out.write(protocol.encode(message))
            self.out.flush()

    def _beat(self) -> None:
        while True:
            time.sleep(protocol.HEARTBEAT_SECONDS)
            try:
                self.send({"type": "heartbeat"})
            except (OSError, ValueError):      # the reader has gone: nothing left to tell
                return


class Worker:
    def __init__(self, generator, channel: Channel) -> None:
        self.generator = generator
        self.send = channel.send
        self.jobs: queue.Queue[tuple[str, GenerateRequest] | None] = queue.Queue()
        self.cancels: dict[str, threading.Event] = {}
        self.thread = threading.Thread(target=self._run_jobs, daemon=True)

    def serve(self, lines) -> None:
        self.thread.start()
        for line in lines:
            if line.strip():
                self.handle(line)
        self.jobs.put(None)  # end of input: finish what was asked, then exit
        self.thread.join()

    def handle(self, line: str) -> None:
        try:
            req = protocol.parse_request(line)
            request = GenerateRequest.from_message(req) if req["op"] == "generate" else None
        except protocol.ProtocolError as err:
            self.send(protocol.error(None, "bad_request", f"Ignored a malformed request: {str(err).rstrip('.')}."))
            return
        if req["op"] == "ping":
            self.send(self.ready())
        elif req["op"] == "cancel":
            event = self.cancels.get(req["id"])
            if event is None:
                self.send(protocol.error(req["id"], "bad_request", f"No running request {req['id']!r} to cancel."))
            else:
                event.set()
        elif request is not None:
            if req["id"] in self.cancels:
                self.send(protocol.error(req["id"], "bad_request", f"Request id {req['id']!r} is already in use."))
                return
            self.cancels[req["id"]] = threading.Event()
            self.jobs.put((req["id"], request))

    def ready(self) -> dict:
        return {"type": "ready", "device": self.generator.device_name,
                "weights": str(self.generator.weights_dir), "version": __version__}

    def _run_jobs(self) -> None:
        while (job := self.jobs.get()) is not None:
            rid, request = job
            try:
                request = request.with_outputs(check_outputs(
                    request.outs, [request.audio, request.source, *folder_files(self.generator.weights_dir)]))
                result = self.generator.run(
                    request, progress=lambda f, stage: self.send(protocol.progress(rid, f, stage)),
                    cancel=self.cancels[rid],
                    on_audio=lambda s: self.send(protocol.progress(rid, 0.0, "audio", audio_seconds=s)))
                self.send({"type": "result", "id": rid, "path": result.path, "frames": result.frames,
                           "seconds": result.seconds, "device": result.device,
                           "elapsed": round(result.total_seconds, 3), "more": list(result.more)})
            except UserError as err:
                self.send(protocol.error(rid, err.kind, str(err)))
            except (OutputError, MotionFileError) as err:
                self.send(protocol.error(rid, "output", str(err)))
            except Exception as err:  # keep serving; the details go to stderr for bug reports
                traceback.print_exc(file=sys.stderr)
                self.send(protocol.error(rid, "internal", _sentence(OUT_OF_MEMORY) if is_out_of_memory(err) else
                                         f"Generation failed unexpectedly ({type(err).__name__}); "
                                         "see the worker log for details."))
            finally:
                del self.cancels[rid]


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asynfusion.worker", description=__doc__)
    parser.add_argument("--weights", default=None, help="weights folder (default: the shipped weights)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)
    channel = Channel(sys.stdout)    # heartbeats from now on: loading torch and weights takes a while
    sys.stdout = sys.stderr          # stray prints must not corrupt the protocol
    try:
        check_address_space()
        from .generate import Generator  # imported late so argument errors are instant

        generator = Generator(args.weights, args.device)
    except UserError as err:
        channel.send(protocol.error(None, err.kind, _sentence(str(err))))
        return 2
    except (MemoryError, ImportError, OSError) as err:
        if not is_out_of_memory(err):
            raise
        channel.send(protocol.error(None, "internal", _sentence(OUT_OF_MEMORY)))
        return 2
    worker = Worker(generator, channel)
    worker.send(worker.ready())
    worker.serve(sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
