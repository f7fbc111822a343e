"""A tiny real worker process that speaks core/protocol.py, for the client's protocol handling.

It "generates" by copying a real motion file to the requested output. Modes:
  normal  ready, three progress lines, result
  slow    progress every 0.1 s for 30 s, honouring cancel
  die     one progress line, a message on stderr, exit code 3 (a crashed worker)
Standard library only: it runs under whatever Python the test uses.
"""

import argparse
import json
import queue
import shutil
import sys
import threading
import time


def send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="normal", choices=("normal", "slow", "die"))
    parser.add_argument("--motion", required=True)
    args = parser.parse_args()
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            lines.put(json.loads(line))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    send({"type": "ready", "device": "fake-cpu", "weights": "none", "version": "test"})
    cancelled: set[str] = set()
    while (req := lines.get()) is not None:
        if req["op"] == "cancel":
            cancelled.add(req["id"])
            continue
        if req["op"] != "generate":
            continue
        rid = req["id"]
        steps = 300 if args.mode == "slow" else 3
        for k in range(steps):
            while not lines.empty():
                other = lines.get()
                if other is None:
                    return 0
                if other["op"] == "cancel":
                    cancelled.add(other["id"])
            if rid in cancelled:
                send({"type": "error", "id": rid, "kind": "cancelled", "message": "Cancelled."})
                break
            send({"type": "progress", "id": rid, "fraction": k / steps, "stage": "sampling"})
            if args.mode == "die":
                print("RuntimeError: CUDA out of memory", file=sys.stderr, flush=True)
                return 3
            time.sleep(0.1 if args.mode == "slow" else 0.01)
        else:
            shutil.copyfile(args.motion, req["out"])
            send({"type": "result", "id": rid, "path": req["out"], "frames": 1906,
                  "seconds": 63.5, "device": "fake-cpu"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
