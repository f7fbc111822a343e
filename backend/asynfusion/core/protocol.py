"""The worker's line protocol: one JSON object per line, each way.

Requests (add-on -> worker):
  {"op": "generate", "id": str, "audio": path, "out": path,
   "seed": int?, "steps_face": int?, "steps_body": int?, "guidance": float?, "speaker": int?,
   "regenerate": [start, end]?, "source": path?, "variations": [[seed, out], ...]?, "smooth": bool?}
                                       the fields of a GenerateRequest (core/request.py: built by
                                       every front end, validated there, to_message/from_message)
                                       seed, and every seed in variations: 0 to MAX_SEED (2^32 - 1)
                                       regenerate: resample motion frames [start, end) of the
                                       motion file ``source`` (same audio), keep the rest exactly
                                       variations: more seeds (MAX_VARIATIONS in all), sampled in
                                       the same model batches as "seed", each written to its "out"
                                       (no out may be an input or another out: core/output.py)
                                       steps, guidance left out: the weights' own (config.json)
                                       smooth: a light temporal Gaussian on the result
  {"op": "cancel", "id": str}          stop that request within a second
  {"op": "ping"}                       answered by a "ready" reply
Replies (worker -> add-on):
  {"type": "ready", "device": str, "weights": str, "version": str}
  {"type": "progress", "id": str, "fraction": float, "stage": str, "audio_seconds": float?}
                                       audio_seconds: the clip's length, once it is read (so a
                                       large bake can be announced before it starts)
  {"type": "result", "id": str, "path": str, "frames": int, "seconds": float, "device": str,
   "more": [path, ...], ...}          more: the variations' files, in the order asked
  {"type": "error", "id": str|None, "kind": str, "message": str}
                                       kind, for the add-on to branch on: bad_request, audio,
                                       weights, device, output, cancelled or internal
  {"type": "heartbeat"}                every HEARTBEAT_SECONDS from start-up to exit, busy or idle,
                                       so that a worker that stops talking (frozen, stopped) is seen
The worker prints nothing else on stdout and exits 0 on end of input.
"""

from __future__ import annotations

import json

OPS = ("generate", "cancel", "ping")
REPLY_TYPES = ("ready", "progress", "result", "error", "heartbeat")
HEARTBEAT_SECONDS = 1.0
MAX_VARIATIONS = 16     # seeds one Generate may ask for (the panel, batch.py, asynfusion generate)
MAX_SEED = 2**32 - 1    # seeds are whole numbers 0..MAX_SEED everywhere (CLI, batch.py, worker, panel)


class ProtocolError(ValueError):
    """A line that is not a valid request or reply; the message says why."""


def encode(message: dict) -> str:
    """One message as one line (no embedded newlines, ASCII-safe)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=True) + "\n"


def seed_error(seed: int, count: int = 1) -> str | None:
    """The one sentence for seeds ``seed`` .. ``seed + count - 1`` (a Generate's variations) when
    any lies outside 0..MAX_SEED, else None. Checked wherever a seed enters."""
    if 0 <= seed and seed + count - 1 <= MAX_SEED:
        return None
    asked = f"{seed}" if count == 1 else f"{seed} to {seed + count - 1}"
    return f"Seeds are whole numbers from 0 to {MAX_SEED} (asked: {asked}); choose a seed in that range."


def _parse_object(line: str) -> dict:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        raise ProtocolError("the line is not JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("the line is not a JSON object")
    return obj


def parse_request(line: str) -> dict:
    """Validate one request line's envelope (its op, and the id of a generate or cancel);
    raises ProtocolError with a reason. A generate line's fields are a GenerateRequest's
    (core/request.py: GenerateRequest.from_message validates them)."""
    req = _parse_object(line)
    op = req.get("op")
    if op not in OPS:
        raise ProtocolError(f"unknown op {op!r}; expected one of {', '.join(OPS)}")
    if op in ("generate", "cancel") and not isinstance(req.get("id"), str):
        raise ProtocolError(f"a {op} request needs a string 'id'")
    return req


def parse_reply(line: str) -> dict:
    """Validate one reply line (used by the add-on's client)."""
    rep = _parse_object(line)
    if rep.get("type") not in REPLY_TYPES:
        raise ProtocolError(f"unknown reply type {rep.get('type')!r}")
    if rep["type"] == "error" and not isinstance(rep.get("message"), str):
        raise ProtocolError("an error reply needs a 'message'")
    return rep


def progress(req_id: str, fraction: float, stage: str, audio_seconds: float | None = None) -> dict:
    reply = {"type": "progress", "id": req_id, "fraction": round(float(fraction), 4), "stage": stage}
    if audio_seconds is not None:
        reply["audio_seconds"] = round(float(audio_seconds), 3)
    return reply


def error(req_id: str | None, kind: str, message: str) -> dict:
    return {"type": "error", "id": req_id, "kind": kind, "message": message}
