"""Every kind of bad input gets its code or close code, and the connection stays usable."""

import json

import jwt
import msgspec
import pytest

from tests.client import Client


async def test_command_before_login_gets_1005(connect) -> None:
    client = await connect(login=False)
    reply = await client.request("room.join", room="lobby")
    assert reply["code"] == 1005
    assert reply["op"] == "room.join"


async def test_unknown_op_gets_4003_with_op(connect, uid) -> None:
    client = await connect(uid())
    reply = await client.request("fly", room="x")
    assert reply["code"] == 4003
    assert reply["op"] == "fly"
    assert "fly" in reply["error"]
    assert (await client.request("ping"))["op"] == "pong"


async def test_malformed_json_gets_error_op(connect, uid) -> None:
    client = await connect(uid())
    await client.send_raw('{"op": "send", ')
    error = await client.next("error")
    assert error["code"] == 4003
    assert (await client.request("ping"))["code"] == 0


@pytest.mark.parametrize("fields", [
    {"room": 5},
    {"room": "a.b"},
    {"room": "a*"},
    {"room": "x" * 65},
    {"room": ""},
    {},
])
async def test_invalid_room_field_gets_4003(connect, uid, fields) -> None:
    client = await connect(uid())
    reply = await client.request("room.join", **fields)
    assert reply["code"] == 4003
    assert reply["error"]


async def test_invalid_identifier_never_reaches_bus(connect, uid) -> None:
    client = await connect(uid())
    reply = await client.request("send", to="bob.>", cid="c1", body="x")
    assert reply["code"] == 4003
    assert "to" in reply["error"]


async def test_send_needs_exactly_one_target(connect, uid) -> None:
    client = await connect(uid())
    both = await client.request("send", to=uid(), room=uid("room"), cid="c1", body="x")
    assert both["code"] == 4003
    neither = await client.request("send", cid="c2", body="x")
    assert neither["code"] == 4003


async def test_body_over_limit_gets_4004(connect, uid) -> None:
    client = await connect(uid())
    reply = await client.request("send", room=uid("room"), cid="c1", body="x" * 5000)
    assert reply["code"] == 4004


async def test_msgpack_bin_body_gets_4003(connect, uid) -> None:
    client = await connect(uid(), msgpack=True)
    reply = await client.request("send", room=uid("room"), cid="c1", body=b"\x00\x01")
    assert reply["code"] == 4003


async def test_msgpack_nan_body_gets_4003(connect, uid) -> None:
    client = await connect(uid(), msgpack=True)
    reply = await client.request("send", room=uid("room"), cid="c1", body=float("nan"))
    assert reply["code"] == 4003


async def test_json_huge_integer_gets_4003(connect, uid) -> None:
    client = await connect(uid())
    await client.send_raw('{"op":"send","id":7,"room":"r1","cid":"c1","body":'
                          + "9" * 30 + "}")
    reply = await client.next()
    assert reply["id"] == 7
    assert reply["code"] == 4003


async def test_oversized_frame_closes_1009(connect, uid) -> None:
    client = await connect(uid())
    await client.send_raw(json.dumps({"op": "ping", "pad": "x" * 70000}))
    code, _ = await client.wait_closed()
    assert code == 1009


async def test_invalid_utf8_closes_1007(stack) -> None:
    client = await Client.connect(stack.url())
    # A text frame whose payload is not UTF-8: the library sends bytes as text unchanged.
    await client.ws.send(b'{"op":"ping","x":"\xff\xfe"}', text=True)
    code, _ = await client.wait_closed()
    assert code == 1007


async def test_wrong_frame_type_gets_4003(connect, uid) -> None:
    client = await connect(uid())
    await client.send_raw(msgspec.msgpack.encode({"op": "ping", "id": 1}))
    error = await client.next()
    assert error["code"] == 4003


async def test_invalid_id_is_not_echoed(connect, uid) -> None:
    client = await connect(uid())
    await client.send_raw(json.dumps({"op": "fly", "id": "x" * 100}))
    reply = await client.next()
    assert reply["code"] == 4003
    assert "id" not in reply


async def test_repeated_invalid_frames_close_1008(connect, uid) -> None:
    client = await connect(uid())
    for _ in range(60):
        await client.send_raw("not json")
    code, _ = await client.wait_closed()
    assert code == 1008


async def test_login_bad_signature_gets_1000(connect, uid, stack) -> None:
    client = await connect(login=False)
    forged = jwt.encode({"sub": uid(), "iat": 1, "exp": 4102444800}, "wrong-secret-xxxxxxxx",
                        algorithm="HS256")
    reply = await client.request("login", token=forged)
    assert reply["code"] == 1000


async def test_login_expired_token_gets_1000(connect, uid, stack) -> None:
    client = await connect(login=False)
    expired = jwt.encode({"sub": uid(), "iat": 1000, "exp": 2000}, stack.secret,
                         algorithm="HS256")
    reply = await client.request("login", token=expired)
    assert reply["code"] == 1000


async def test_login_alg_none_gets_1000(connect, uid) -> None:
    client = await connect(login=False)
    unsigned = jwt.encode({"sub": uid(), "iat": 1, "exp": 4102444800}, None, algorithm="none")
    reply = await client.request("login", token=unsigned)
    assert reply["code"] == 1000


async def test_login_other_algorithm_gets_1000(connect, uid, stack) -> None:
    client = await connect(login=False)
    token = jwt.encode({"sub": uid(), "iat": 1, "exp": 4102444800}, stack.secret,
                       algorithm="HS512")
    assert (await client.request("login", token=token))["code"] == 1000


async def test_login_missing_exp_gets_1000(connect, uid, stack) -> None:
    client = await connect(login=False)
    token = jwt.encode({"sub": uid(), "iat": 1}, stack.secret, algorithm="HS256")
    assert (await client.request("login", token=token))["code"] == 1000


async def test_login_future_nbf_gets_1000(connect, uid, stack) -> None:
    client = await connect(login=False)
    token = jwt.encode({"sub": uid(), "iat": 1, "exp": 4102444800, "nbf": 4000000000},
                       stack.secret, algorithm="HS256")
    assert (await client.request("login", token=token))["code"] == 1000


async def test_login_garbage_token_gets_1000(connect) -> None:
    client = await connect(login=False)
    assert (await client.request("login", token="not-a-token"))["code"] == 1000
    assert (await client.request("ping"))["code"] == 1005
