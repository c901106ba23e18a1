"""WS /ws/session: a voice agent's session. Text comes in as the language model writes it, per context; audio goes
out as JSON frames as soon as a sentence (or a long clause) is complete; a context can be cancelled at once.

The protocol (every message and field) is in the README, "Session WebSocket". Here: the session reads every
message as it comes (config, text, flush, cancel, a phone's clear), and each context has a speaker task that
submits one runner job per segment (TTSService.speak): no job thread is held between segments or while a slow
client reads, so many sessions share the few job threads. One writer task sends the session's frames in order
from a queue bounded in audio milliseconds; while it is full no context submits its next segment."""
from __future__ import annotations

import asyncio
import base64
import collections
import itertools
import logging
import re
import time
from dataclasses import dataclass

from fastapi import WebSocket, WebSocketDisconnect

from tts.doors.backend import Backend
from tts.doors.framing import Framer
from tts.doors.guard import UNAUTHORIZED, authorized
from tts.doors.jsonbody import TooDeep, parse_json
from tts.doors.runner import Busy
from tts.doors.slots import Slots
from tts.errors import InputError
from tts.events import Audio, Done, Failed, Words
from tts.schema import parse
from tts.text.stream import Segmenter

log = logging.getLogger("tts.session")

FORMATS = ("pcm", "mulaw", "alaw")
CHUNK_MS, MIN_CHUNK_MS, MAX_CHUNK_MS = 100, 20, 1000
MAX_WAIT_MS, MIN_WAIT_MS, MAX_MAX_WAIT_MS = 1000, 50, 10000
PHONES = ("twilio", "telnyx")
PHONE_EVENTS = ("connected", "start", "media", "mark", "stop", "dtmf")   # a phone's own messages: ignored
MAX_CONTEXTS = 8                 # contexts open at once on one session
MAX_TEXT_WAITING = 20_000        # characters a session may have waiting to be spoken
_CONTEXT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_NOT_SESSION = ("text_type", "cache", "output_mode", "s3Config", "max_audio_length_ms", "subtitles")
_NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class Config:
    """A session's settings: the synthesis request every segment uses (its text replaced), and the framing."""
    request: object               # tts.request.SynthesisRequest
    chunk_ms: int
    max_wait_ms: int
    phone: str | None
    stream_sid: str | None


class BadMessage(Exception):
    """A message the session answers with {"error": ...} and otherwise ignores."""


def configure(raw: dict, service) -> Config:
    """The first message -> Config; raises BadMessage naming the field, what is wrong and what is allowed."""
    fields = dict(raw)
    if "text" in fields or "flush" in fields or "cancel" in fields:
        raise BadMessage("input: the first message configures the session (voice, format, sample_rate, chunk_ms, "
                         "...; {} for the defaults); send text after it")
    for name in _NOT_SESSION:
        if name in fields:
            raise BadMessage(f"{name}: not a session setting (sessions are never cached and send their audio "
                             "themselves, as frames)")
    phone = fields.pop("phone", None)
    if phone is not None and phone not in PHONES:
        raise BadMessage(f"phone: must be null, \"twilio\" or \"telnyx\"; got {phone!r}")
    sid = fields.pop("streamSid", None)
    if phone == "twilio" and (not isinstance(sid, str) or not 1 <= len(sid) <= 128):
        raise BadMessage("streamSid: phone \"twilio\" needs the call's streamSid (a string of 1 to 128 characters, "
                         "from Twilio's start message)")
    if phone != "twilio" and sid is not None:
        raise BadMessage("streamSid: only with phone \"twilio\"")
    chunk_ms = _whole(fields.pop("chunk_ms", 20 if phone else CHUNK_MS), "chunk_ms", MIN_CHUNK_MS, MAX_CHUNK_MS,
                      "milliseconds of audio per frame")
    if phone and chunk_ms != 20:
        raise BadMessage(f"chunk_ms: a phone line takes 20 ms frames; omit chunk_ms or send 20; got {chunk_ms}")
    max_wait_ms = _whole(fields.pop("max_wait_ms", MAX_WAIT_MS), "max_wait_ms", MIN_WAIT_MS, MAX_MAX_WAIT_MS,
                         "how long text may wait for a sentence end before it is spoken")
    if phone:
        if fields.get("format", "mulaw") not in ("mulaw", "ulaw", "pcmu", "g711_ulaw"):
            raise BadMessage(f"format: a phone line takes mulaw; omit format or send \"mulaw\"; "
                             f"got {fields['format']!r}")
        if fields.get("sample_rate", 8000) != 8000:
            raise BadMessage(f"sample_rate: a phone line takes 8000; got {fields['sample_rate']!r}")
        fields.update(format="mulaw", sample_rate=8000)
    fields.setdefault("format", "pcm")
    try:
        request = parse({**fields, "text": "session", "cache": False}, service.engine.capabilities(),
                        service.settings.max_text_chars)
    except InputError as e:
        raise BadMessage(str(e)) from None
    if getattr(request, "format", None) not in FORMATS:
        got = getattr(request, "format", None)
        raise BadMessage(f"format: a session sends {', '.join(FORMATS)}; got {got!r}")
    return Config(request, chunk_ms, max_wait_ms, phone, sid)


def _whole(value, name: str, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BadMessage(f"{name}: must be a whole number from {lo} to {hi} ({what}); got {value!r}")
    return value


# -- the session ------------------------------------------------------------------------------------------
class Sessions:
    """The sessions of one server: how many are open (MAX_SESSIONS), and the job threads they may use at once
    (the runner's: sessions never fill the waiting line that the other doors share)."""

    def __init__(self, backend: Backend):
        self.open = 0
        self.max = backend.settings.max_sessions
        self.slots = Slots(max(1, backend.runner.threads if backend.runner else 1))


def _sessions(websocket: WebSocket, backend: Backend) -> Sessions:
    state = websocket.app.state
    if getattr(state, "sessions", None) is None:
        sessions = state.sessions = Sessions(backend)
        backend.service.metrics.gauge("tts_sessions_open", "WS /ws/session connections open now",
                                      lambda: sessions.open)
    return state.sessions


async def ws_session(websocket: WebSocket) -> None:
    backend: Backend = websocket.app.state.backend
    if not authorized(backend.settings, websocket.headers, websocket.query_params.get("api_key")):
        await websocket.close(code=1008, reason=UNAUTHORIZED)
        return
    await websocket.accept()
    if backend.state != "ready":
        reason = "initializing: the model is still loading; retry in a few seconds" \
            if backend.state == "initializing" else (backend.error or "unavailable")[:120]
        await websocket.close(code=1013, reason=reason)
        return
    sessions = _sessions(websocket, backend)
    if sessions.open >= sessions.max:
        await websocket.close(code=1013, reason=f"busy: {sessions.open} sessions are open (MAX_SESSIONS); "
                                                "retry later")
        return
    sessions.open += 1
    try:
        await Session(websocket, backend, sessions).run()
    finally:
        sessions.open -= 1


class Session:
    """One connection: its config, its open contexts, and the outbox its writer sends in order."""

    def __init__(self, websocket: WebSocket, backend: Backend, sessions: Sessions):
        self.ws = websocket
        self.backend = backend
        self.service = backend.service
        self.sessions = sessions
        settings = backend.settings
        self.idle_s = settings.session_idle_s
        self.buffer_ms = settings.session_buffer_ms
        self.config: Config | None = None
        self.contexts: dict[str, Context] = {}
        self.outbox: collections.deque = collections.deque()   # (its Context or None, message, audio ms)
        self.queued_ms = 0.0
        self.tasks: set[asyncio.Task] = set()                  # the speakers (the loop holds tasks weakly)
        self.wake_writer = asyncio.Event()
        self.room = asyncio.Condition()
        self.closed = False
        self.active_at = time.monotonic()   # the last message from the client, or the last frame sent to it
        self.number = next(_NUMBERS)         # for the log's job ids
        self.jobs = 0

    async def run(self) -> None:
        """Until the client leaves, the session is closed (idle), or the client stops reading for SESSION_IDLE_S."""
        reader, writer = asyncio.create_task(self._read()), asyncio.create_task(self._write())
        try:
            await asyncio.wait((reader, writer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.closed = True
            reader.cancel()
            writer.cancel()
            for context in list(self.contexts.values()):
                context.stop()   # every job stops at its next piece; nothing was cached
            async with self.room:
                self.room.notify_all()

    # -- in ----------------------------------------------------------------------------------------------
    async def _read(self) -> None:
        while True:
            timeout = self._next_timer()
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout)
            except TimeoutError:
                self._timers_due()
                if time.monotonic() - self.active_at < self.idle_s or self.outbox or \
                        any(c.busy for c in self.contexts.values()):
                    continue
                await self._close(1000, f"idle: no message for {self.idle_s} s (SESSION_IDLE_S)")
                return
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            self.active_at = time.monotonic()
            try:
                self._handle(message)
            except BadMessage as e:
                self.send(None, {"error": str(e)})

    def _next_timer(self) -> float:
        """Seconds until the next context's max_wait runs out, or the idle timeout."""
        now = time.monotonic()
        waits = [d - now for c in self.contexts.values() if (d := c.text.deadline()) is not None]
        return max(0.0, min([self.idle_s, *waits]))

    def _timers_due(self) -> None:
        now = time.monotonic()
        for context in list(self.contexts.values()):
            if context.text.deadline() is not None and context.text.deadline() <= now:
                context.speak(context.text.due(now))

    def _handle(self, message: dict) -> None:
        text = message.get("text")
        if text is None:
            raise BadMessage("input: a binary frame is not a message; send JSON text frames")
        try:
            raw = parse_json(text)
        except TooDeep as e:
            raise BadMessage(f"input: the message is not a request: {e}") from None
        except ValueError as e:
            raise BadMessage(f"input: not JSON ({e}); send one JSON object per message") from None
        if not isinstance(raw, dict):
            raise BadMessage('input: must be a JSON object like {"text": "Hello", "context_id": "turn-1"}')
        if self.config is None:
            if "event" in raw:   # a phone's own message forwarded before the config
                return
            self.config = configure(raw, self.service)
            r = self.config.request
            self.send(None, {"session": "ready", "format": r.format, "sample_rate": r.sample_rate,
                             "chunk_ms": self.config.chunk_ms, "engine": self.service.engine.name,
                             "voice": r.voice})
            return
        if "event" in raw:
            self._phone_event(raw)
        elif "cancel" in raw:
            _only(raw, ("cancel",))
            self.cancel(_context_id(raw["cancel"], "cancel"))
        elif "text" in raw or "flush" in raw:
            _only(raw, ("text", "context_id", "flush"))
            self._text(raw)
        else:
            raise BadMessage(f"input: unknown message with {', '.join(sorted(raw)) or 'no fields'}; send "
                             '{"text", "context_id"}, {"flush": true, "context_id"} or {"cancel": "<context_id>"}')

    def _phone_event(self, raw: dict) -> None:
        event = raw["event"]
        if event == "clear":   # barge-in: every context, and any audio of finished ones still queued
            for context_id in list(self.contexts):
                self.cancel(context_id)
            self._drop(lambda item: item[2] > 0)
        elif event not in PHONE_EVENTS:
            raise BadMessage(f"event: {event!r} is not a phone message this session knows; it takes \"clear\" "
                             f"(cancels every context) and ignores {', '.join(PHONE_EVENTS)}")

    def _text(self, raw: dict) -> None:
        context_id = _context_id(raw.get("context_id", "default"), "context_id")
        text = raw.get("text", "")
        if not isinstance(text, str):
            raise BadMessage(f"text: must be a string; got {type(text).__name__}")
        flush = raw.get("flush", False)
        if not isinstance(flush, bool):
            raise BadMessage(f"flush: must be true or false; got {flush!r}")
        waiting = sum(c.waiting_chars + len(c.text.text) for c in self.contexts.values())
        if waiting + len(text) > MAX_TEXT_WAITING:
            raise BadMessage(f"text: {waiting + len(text)} characters would be waiting to be spoken (at most "
                             f"{MAX_TEXT_WAITING}); send the rest after some audio has come")
        context = self.contexts.get(context_id)
        if context is not None and context.flushed:
            raise BadMessage(f"context_id: {context_id!r} was flushed and is finishing; wait for its done (then the "
                             "id starts a new context) or use another id")
        if context is None:
            if not text and flush:
                raise BadMessage(f"context_id: {context_id!r} has nothing to flush (no text since its last done)")
            if len(self.contexts) >= MAX_CONTEXTS:
                raise BadMessage(f"context_id: {MAX_CONTEXTS} contexts are open; flush or cancel one first")
            context = self.contexts[context_id] = Context(self, context_id)
        context.speak(context.text.add(text, time.monotonic()))
        if flush:
            context.flushed = True
            context.speak(context.text.flush(), last=True)

    def cancel(self, context_id: str) -> None:
        context = self.contexts.pop(context_id, None)
        if context is None:
            raise BadMessage(f"cancel: no open context {context_id!r} (it is done, or was never opened)")
        context.stop()
        self._drop(lambda item: item[0] is context)
        sent = round(context.sent_ms)
        if self.config.phone and sent:
            self.send(None, self._phone({"event": "clear"}))
        self.send(None, {"context_id": context_id, "cancelled": True, "audio_ms_sent": sent})

    # -- out ---------------------------------------------------------------------------------------------
    def send(self, context: Context | None, message: dict, audio_ms: float = 0.0) -> None:
        self.outbox.append((context, message, audio_ms))
        self.queued_ms += audio_ms
        self.wake_writer.set()

    def _drop(self, which) -> None:
        """Take queued messages out of the outbox (a cancel: they are never sent)."""
        kept = collections.deque()
        for item in self.outbox:
            if which(item):
                self.queued_ms -= item[2]
            else:
                kept.append(item)
        self.outbox = kept

    async def wait_for_room(self, context: Context) -> None:
        """Until the queued audio is under SESSION_BUFFER_MS (a slow reader pauses generation here, between
        segments: no job thread waits for it)."""
        async with self.room:
            await self.room.wait_for(lambda: self.queued_ms < self.buffer_ms or context.stopped or self.closed)

    async def _write(self) -> None:
        try:
            while True:
                while not self.outbox:
                    self.wake_writer.clear()
                    await self.wake_writer.wait()
                context, message, audio_ms = self.outbox.popleft()
                if context is not None:   # counted as sent once taken: a cancel cannot stop it any more
                    context.sent_ms += audio_ms
                try:
                    await asyncio.wait_for(self.ws.send_json(message), self.idle_s)
                except TimeoutError:
                    await self._close(1008, f"the client read nothing for {self.idle_s} s (SESSION_IDLE_S)")
                    return
                self.queued_ms -= audio_ms
                self.active_at = time.monotonic()
                async with self.room:
                    self.room.notify_all()
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            return

    async def _close(self, code: int, reason: str) -> None:
        log.info("session closed: %s", reason)
        try:   # a client that reads nothing may never take the close frame either: the session ends anyway
            await asyncio.wait_for(self.ws.close(code=code, reason=reason), 2.0)
        except (RuntimeError, ConnectionError, TimeoutError, WebSocketDisconnect):
            pass

    def _phone(self, message: dict) -> dict:
        if self.config.stream_sid is not None:
            return {"event": message["event"], "streamSid": self.config.stream_sid,
                    **{k: v for k, v in message.items() if k != "event"}}
        return message

    def audio_message(self, context: Context, frame: bytes) -> dict:
        payload = base64.b64encode(frame).decode("ascii")
        if self.config.phone:
            return self._phone({"event": "media", "media": {"payload": payload}})
        context.seq += 1
        return {"context_id": context.id, "audio": payload, "seq": context.seq - 1}

    def done(self, context: Context) -> None:
        if self.contexts.get(context.id) is context:
            del self.contexts[context.id]
        if self.config.phone:
            self.send(context, self._phone({"event": "mark", "mark": {"name": context.id}}))
        self.send(None, {"context_id": context.id, "done": True, "audio_ms": round(context.audio_ms),
                         "segments": context.spoken})


def _only(raw: dict, allowed: tuple[str, ...]) -> None:
    extra = sorted(set(raw) - set(allowed))
    if extra:
        raise BadMessage(f"{extra[0]}: not a field of this message; it takes {', '.join(allowed)}")


def _context_id(value, field: str) -> str:
    if not isinstance(value, str) or not _CONTEXT_ID.fullmatch(value):
        raise BadMessage(f"{field}: must be 1 to 64 letters, digits, or _ . : -; got {value!r}")
    return value


class Context:
    """One context: its text, and a speaker task that speaks its segments one job at a time, in order."""

    def __init__(self, session: Session, context_id: str):
        from tts.service import Speech

        self.session = session
        self.id = context_id
        self.text = Segmenter(session.config.max_wait_ms)
        c = session.config
        self.framer = Framer(c.request.format, c.request.sample_rate, c.chunk_ms, pad=c.phone is not None)
        self.speech = Speech(session.config.request)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.ticket = None
        self.stopped = False
        self.flushed = False     # its last segment is queued: no more text
        self.seq = 0
        self.spoken = 0          # segments spoken
        self.audio_ms = 0.0      # audio framed for the client
        self.waiting_chars = 0
        self.sent_ms = 0.0       # audio the writer has sent
        self.first_at: float | None = None   # when its first frame was framed: the listener's clock starts
        task = asyncio.create_task(self._speak())
        session.tasks.add(task)
        task.add_done_callback(session.tasks.discard)

    @property
    def busy(self) -> bool:
        return self.ticket is not None or not self.queue.empty()

    def speak(self, segments: list[str], last: bool = False) -> None:
        for i, segment in enumerate(segments):
            self.waiting_chars += len(segment)
            self.queue.put_nowait((segment, last and i == len(segments) - 1))
        if last and not segments:
            self.queue.put_nowait(("", True))

    def stop(self) -> None:
        """Stop at once: the running job at its next piece (the runner closes it: nothing is cached), the rest
        never submitted."""
        self.stopped = True
        if self.ticket is not None:
            self.ticket.cancel()
        self.queue.put_nowait(None)

    async def _speak(self) -> None:
        session, service = self.session, self.session.service
        try:
            while (item := await self.queue.get()) is not None and not self.stopped:
                text, last = item
                await session.wait_for_room(self)
                if self.stopped:
                    break
                slots = session.sessions.slots
                await slots.acquire(self._due())
                try:
                    if self.stopped:
                        break
                    self.ticket = await self._submit(service, text, last)
                    if self.ticket is None:
                        break
                    try:
                        await self._relay()
                    finally:
                        self.ticket = None
                finally:
                    slots.release()
                if self.stopped:
                    break
                self.waiting_chars -= len(text)
                if text.strip():
                    self.spoken += 1
                if last:
                    for frame in self.framer.end():
                        self._frame(frame)
                    session.done(self)
                    return
        finally:
            if self.stopped:
                self.speech.abort()   # no job is running now: the stream is this task's to drop

    def _due(self) -> float:
        """When the listener will need this context's next audio: now for its first, else when what was framed
        so far (played from its first frame on) runs out."""
        if self.first_at is None:
            return time.monotonic()
        return self.first_at + self.audio_ms / 1000

    async def _submit(self, service, text: str, last: bool):
        session = self.session
        session.jobs += 1
        job_id = f"session-{session.number}-{session.jobs}"
        while True:
            try:
                return session.backend.runner.submit(lambda: service.speak(self.speech, text, job_id, last))
            except Busy:   # other doors' jobs fill the line: wait for a thread, as the session's own jobs do
                await asyncio.sleep(0.02)
                if self.stopped:
                    return None
            except RuntimeError:   # the worker is shutting down
                return None

    async def _relay(self) -> None:
        session = self.session
        async for event in self.ticket:
            if self.stopped:
                continue   # cancelled: drain to the job's end, send nothing more
            if isinstance(event, Audio):
                for frame in self.framer.push(event.data):
                    self._frame(frame)
            elif isinstance(event, Words):
                session.send(self, {"context_id": self.id, "words": list(event.words)})
            elif isinstance(event, Failed):
                session.backend.heard(event)
                session.send(None, {"context_id": self.id, "error": event.error})
            elif isinstance(event, Done):
                pass   # spoken; the ticket ends once the job thread is free, and only then is the slot given on

    def _frame(self, frame: bytes) -> None:
        if self.first_at is None:
            self.first_at = time.monotonic()
        ms = self.framer.ms(len(frame))
        self.audio_ms += ms
        self.session.send(self, self.session.audio_message(self, frame), ms)


__all__ = ["Config", "Sessions", "configure", "ws_session"]
