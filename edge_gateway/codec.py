"""The two subprotocols: decode a client frame into a command, encode server objects.

Decoding never raises to the caller except as `FrameError`, which carries the response code
and whatever `op` and `id` could be read, so the error reply can address the command.
"""

from typing import Any

import msgspec

from bus import body as body_checks
from bus import commands
from bus.codes import Code, CommandError

JSON = "mimo.v1.json"
MSGPACK = "mimo.v1.msgpack"
SUBPROTOCOLS = (JSON, MSGPACK)


class FrameError(Exception):
    def __init__(self, code: Code, message: str, op: Any = None, request_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.op = op if isinstance(op, str) and op in commands.KNOWN_OPS else None
        self.unknown_op = op if isinstance(op, str) and op not in commands.KNOWN_OPS else None
        self.request_id = commands.reply_id(request_id)


class Codec:
    """One subprotocol's decoder and encoder. `text` is True when it writes text frames."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.text = name == JSON
        if self.text:
            self._decoder = commands.json_decoder
            self._head = commands.json_head_decoder
            self._encoder = msgspec.json.Encoder()
        else:
            self._decoder = commands.msgpack_decoder
            self._head = commands.msgpack_head_decoder
            self._encoder = msgspec.msgpack.Encoder()
        self.encode = self._encoder.encode
        self._opcode = 0x81 if self.text else 0x82  # FIN bit with the text or binary opcode

    def frame(self, payload: bytes) -> bytes:
        """Frame `payload` as one unmasked, unfragmented server-to-client WebSocket frame."""
        length = len(payload)
        if length < 126:
            header = bytes((self._opcode, length))
        elif length < 65536:
            header = bytes((self._opcode, 126)) + length.to_bytes(2, "big")
        else:
            header = bytes((self._opcode, 127)) + length.to_bytes(8, "big")
        return header + payload

    def encode_frame(self, obj: Any) -> bytes:
        """Encode `obj` and frame it for the wire."""
        return self.frame(self._encoder.encode(obj))

    def decode(self, frame: str | bytes, max_body: int) -> commands.Command:
        if isinstance(frame, str) != self.text:
            kind = "text" if self.text else "binary"
            raise FrameError(Code.INVALID_COMMAND, f"expected a {kind} frame for {self.name}")
        try:
            cmd = self._decoder.decode(frame)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            head = self._read_head(frame)
            raise FrameError(Code.INVALID_COMMAND, f"invalid command: {error}",
                             head.op, head.id) from None
        if isinstance(cmd, commands.Send):
            try:
                body_checks.check_body(cmd.body, len(self.encode(cmd.body)), max_body)
            except CommandError as error:
                raise FrameError(error.code, error.message, "send", cmd.id) from None
        return cmd

    def _read_head(self, frame: str | bytes) -> commands.Head:
        try:
            return self._head.decode(frame)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return commands.Head()


CODECS = {name: Codec(name) for name in SUBPROTOCOLS}
