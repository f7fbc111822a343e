"""GenerateRequest (core/request.py): the one request the panel, batch.py, the CLI and the worker
build and read, validated where it is made, and the same after a trip through the protocol."""

from __future__ import annotations

import json

import pytest

from asynfusion.core import protocol
from asynfusion.core.protocol import MAX_SEED, MAX_VARIATIONS
from asynfusion.core.request import GenerateRequest, RequestError, variation_seeds


def trip(request: GenerateRequest, req_id: str = "r1") -> GenerateRequest:
    """Through the wire as the add-on sends it and the worker reads it."""
    message = protocol.parse_request(protocol.encode(request.to_message(req_id)))
    assert message["op"] == "generate" and message["id"] == req_id
    return GenerateRequest.from_message(message)


def test_a_request_survives_the_protocol_unchanged():
    full = GenerateRequest("a.wav", "/m/a-seed7.npz", 7, ((8, "/m/a-seed8.npz"), (9, "/m/a-seed9.npz")),
                           steps_face=4, steps_body=5, guidance=2.5, speaker=3, regenerate=(10, 40),
                           source="/m/take.npz", smoothing=True)
    assert trip(full) == full
    plain = GenerateRequest("a.wav", "o.npz")
    assert trip(plain) == plain
    # what is left to the weights is not sent at all: the worker's defaults are the weights'
    assert plain.to_message("x") == {"op": "generate", "id": "x", "audio": "a.wav", "out": "o.npz", "seed": 0}


def test_seeds_and_outputs_pair_up_and_outputs_can_be_replaced():
    request = GenerateRequest.for_seeds("a.wav", variation_seeds(4, 3), ["x.npz", "y.npz", "z.npz"], steps_face=2)
    assert request.seeds == [4, 5, 6] and request.outs == ["x.npz", "y.npz", "z.npz"]
    moved = request.with_outputs(["/abs/x.npz", "/abs/y.npz", "/abs/z.npz"])
    assert moved.more == ((5, "/abs/y.npz"), (6, "/abs/z.npz")) and moved.steps_face == 2
    assert request.regeneration is None
    assert GenerateRequest("a", "o", regenerate=(3, 9), source="t.npz").regeneration == ("t.npz", 3, 9)


def test_json_numbers_and_lists_are_normalised():
    got = GenerateRequest.from_message({"audio": "a", "out": "o", "seed": 3.0, "guidance": 2, "steps_face": 4.0,
                                        "variations": [[4, "p"]], "regenerate": [1, 5], "source": "s"})
    assert (got.seed, got.guidance, got.steps_face, got.more, got.regenerate) == (3, 2.0, 4, ((4, "p"),), (1, 5))
    assert type(got.seed) is int and type(got.guidance) is float and type(got.steps_face) is int


@pytest.mark.parametrize("fields,words", [
    ({"audio": ""}, "needs a path in 'audio'"),
    ({"out": None}, "needs a path in 'out'"),
    ({"seed": "one"}, "'seed' must be a number"),
    ({"seed": True}, "'seed' must be a number"),
    ({"guidance": float("nan")}, "'guidance' must be a finite number"),
    ({"steps_body": 2.5}, "'steps_body' must be a whole number"),
    ({"steps_face": 0}, "'steps_face' must be at least 1"),
    ({"speaker": "a"}, "'speaker' must be a number"),
    ({"smooth": "yes"}, "'smooth' must be true or false"),
    ({"regenerate": [1, 5]}, "needs the take's motion file in 'source'"),
    ({"regenerate": [1.5, 5], "source": "t"}, "two whole frame numbers"),
    ({"variations": [[2, "v.npz", 3]]}, "list of \\[seed, output path\\] pairs"),
    ({"variations": [[k, f"v{k}"] for k in range(1, MAX_VARIATIONS + 1)]},
     f"holds {MAX_VARIATIONS} seeds; a request has at most {MAX_VARIATIONS} seeds in all"),
    ({"seed": MAX_SEED + 1}, f"seed {MAX_SEED + 1} is outside 0 to {MAX_SEED}"),
    ({"seed": MAX_SEED, "variations": [[MAX_SEED + 1, "v"]]}, f"seed {MAX_SEED + 1} is outside"),
    ({"seed": 0, "variations": [[-3, "v"]]}, "seed -3 is outside"),
])
def test_a_bad_request_is_refused_in_one_sentence(fields, words):
    with pytest.raises(RequestError, match=words) as err:
        GenerateRequest.from_message({"audio": "a.wav", "out": "o.npz"} | fields)
    assert "\n" not in str(err.value) and str(err.value).count(". ") == 0


def test_the_most_variations_are_allowed_and_one_more_is_not():
    outs = [f"v{k}.npz" for k in range(MAX_VARIATIONS)]
    assert len(GenerateRequest.for_seeds("a.wav", variation_seeds(0, MAX_VARIATIONS), outs).seeds) == MAX_VARIATIONS
    with pytest.raises(RequestError, match="at most"):
        GenerateRequest.for_seeds("a.wav", variation_seeds(0, MAX_VARIATIONS + 1), outs + ["w.npz"])


def test_variation_seeds_say_the_front_ends_sentence():
    assert variation_seeds(MAX_SEED) == [MAX_SEED]
    with pytest.raises(RequestError) as err:
        variation_seeds(MAX_SEED - 1, 3)
    assert str(err.value) == protocol.seed_error(MAX_SEED - 1, 3)
    assert str(err.value) == (f"Seeds are whole numbers from 0 to {MAX_SEED} (asked: {MAX_SEED - 1} to "
                              f"{MAX_SEED + 1}); choose a seed in that range.")


def test_the_envelope_is_the_protocols_and_the_fields_the_requests():
    with pytest.raises(protocol.ProtocolError, match="string 'id'"):
        protocol.parse_request(json.dumps({"op": "generate", "audio": "a", "out": "o"}))
    # a generate line with a good envelope still has its fields checked, by the request
    message = protocol.parse_request(json.dumps({"op": "generate", "id": "x", "audio": "a", "out": "o",
                                                 "guidance": "Infinity"}))
    with pytest.raises(RequestError, match="'guidance' must be a number"):
        GenerateRequest.from_message(message)
