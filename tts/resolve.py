"""The I/O half of a request, after `schema.parse`: stored voices read, URLs fetched, reference and context
audio decoded to the engine's rate, the bucket chosen."""
from __future__ import annotations

import dataclasses

from tts import audio_input
from tts.audio_input import AudioClip
from tts.errors import InputError
from tts.fetch import Fetcher
from tts.request import AudioSource, Conditioning, SynthesisRequest, Turn, TurnSource
from tts.upload import Bucket
from tts.voices import VoiceLibrary


class Resolver:
    def __init__(self, engine: str, sample_rate: int, library: VoiceLibrary | None, fetcher: Fetcher,
                 bucket: Bucket | None):
        self.engine = engine
        self.sample_rate = sample_rate
        self.library = library      # stored voices; None when the engine does not clone voices
        self.fetcher = fetcher
        self.bucket = bucket        # the endpoint's own, from BUCKET_*

    def audio(self, source: AudioSource, deadline: float | None = None) -> AudioClip:
        if source.url is not None:
            data = self.fetcher.get(source.field, source.url, deadline)
            return audio_input.from_bytes(source.field, data, self.sample_rate)
        return audio_input.from_base64(source.field, source.base64, self.sample_rate)

    def conditioning(self, r: SynthesisRequest, deadline: float | None = None) -> Conditioning:
        reference = self._turn(r.reference, deadline) if r.reference is not None else \
            self._stored(r.voice, r.speaker) if r.stored_voice else None
        return Conditioning(reference, tuple(self._turn(t, deadline) for t in r.context))

    def output_bucket(self, r: SynthesisRequest, deadline: float | None = None) -> Bucket | None:
        """The request's s3Config, else the endpoint's bucket; refuses "url" output with neither, before any
        synthesis (this request could not succeed). A request's own endpoint must pass the same address
        policy as audio URLs; the endpoint's BUCKET_* is the operator's and may be private."""
        bucket = self.bucket
        if r.bucket is not None:  # pinned: the upload connects to the address checked here, never a new lookup's
            address = self.fetcher.check_host("s3Config.endpointUrl", r.bucket.endpoint_url, deadline)
            bucket = dataclasses.replace(r.bucket, address=address)
        if r.output_mode == "url" and bucket is None:
            raise InputError("output_mode", '"url" needs a bucket: set BUCKET_ENDPOINT_URL, '
                                            "BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY and BUCKET_NAME on the "
                                            "endpoint, or send s3Config")
        return bucket

    def _turn(self, t: TurnSource, deadline: float | None) -> Turn:
        return Turn(t.text, t.speaker, self.audio(t.audio, deadline))

    def _stored(self, name: str, speaker: int) -> Turn:
        stored = self.library.get(name) if self.library is not None else None
        if stored is None:
            names = self.library.names() if self.library is not None else []
            if name in names:
                raise InputError("voice", f"stored voice {name!r} cannot be read (damaged or incomplete, see the "
                                          "worker log); upload it again")
            raise InputError("voice", f"unknown voice {name!r} for the {self.engine} engine; "
                                      f"installed: {', '.join(names) or 'none'}")
        clip, transcript = stored
        return Turn(transcript, speaker, clip)
