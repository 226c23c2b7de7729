"""Segment captions from Gemini (hosted), through the generateContent REST endpoint.

The API key is read from the environment only, sent only in the `x-goog-api-key` header (never
in the URL, which servers and proxies log), and kept in a wrapper whose str / repr hide it, so it
cannot reach a rendered notebook, a log, a sidecar or an error message.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ...audio import write_audio
from .caption_response import Caption, load_prompt, parse_caption_response
from .hosted_http import (
    HostedCaptionError,
    RateLimiter,
    RetryPolicy,
    Transport,
    post_with_retries,
    retry_after_header,
    urllib_transport,
)
from .segment_audio import mono_at_rate

API_ROOT = "https://generativelanguage.googleapis.com/v1beta/models"
# Gemini downsamples audio to 16 kHz mono itself; sending more only inflates the request.
AUDIO_RATE = 16_000
AUDIO_MIME_TYPE = "audio/flac"
# generateContent refuses requests above 20 MB of inline data (about 15 min of 16 kHz FLAC).
MAX_REQUEST_BYTES = 20 * 1024 * 1024
EXCERPT_CHARS = 300


class _Secret:
    """A string that str() and repr() will not show."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


def generate_content_request(prompt: str, audio_flac: bytes, temperature: float) -> dict:
    """The generateContent JSON: the segment as inline FLAC, then the prompt, asking for a JSON answer."""
    return {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"inlineData": {"mimeType": AUDIO_MIME_TYPE, "data": base64.b64encode(audio_flac).decode("ascii")}},
                    {"text": prompt},
                ],
            }
        ],
        "generationConfig": {"responseMimeType": "application/json", "temperature": temperature},
    }


def response_text(body: bytes, segment_id: str) -> str:
    """The answer's text: candidates[0].content.parts[].text joined, without the model's thought summaries."""
    try:
        reply = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HostedCaptionError(
            f"Gemini answered segment {segment_id!r} with a body that is not JSON: {_excerpt(body)!r}", status=200
        ) from None
    candidates = reply.get("candidates") if isinstance(reply, dict) else None
    if not isinstance(candidates, list) or not candidates:
        blocked = (reply.get("promptFeedback") or {}).get("blockReason") if isinstance(reply, dict) else None
        raise HostedCaptionError(
            f"Gemini returned no candidates for segment {segment_id!r}"
            + (f": the request was blocked ({blocked})" if blocked else f": {_excerpt(body)!r}"),
            status=200,
        )
    candidate = candidates[0] if isinstance(candidates[0], dict) else {}
    parts = (candidate.get("content") or {}).get("parts") or []
    texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")]
    if not texts:
        raise HostedCaptionError(
            f"Gemini's answer for segment {segment_id!r} has no text (finishReason {candidate.get('finishReason')!r}); "
            "MAX_TOKENS means the model spent its budget thinking, SAFETY / RECITATION that it refused",
            status=200,
        )
    return "".join(texts)


def gemini_retry_hint(headers: dict[str, str], body: bytes) -> float | None:
    """Retry-After, or the retryDelay ("37s") Gemini puts in a 429 body's RetryInfo."""
    hint = retry_after_header(headers, body)
    if hint is not None:
        return hint
    try:
        details = json.loads(body)["error"]["details"]
        delays = [d["retryDelay"] for d in details if isinstance(d, dict) and "retryDelay" in d]
    except (ValueError, KeyError, TypeError):
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", delays[0]) if delays else None
    return float(match.group(1)) if match else None


class GeminiCaptioner:
    """Captions segments with a Gemini model; `caption` is safe to call from one thread at a time."""

    def __init__(
        self,
        model: str = "gemini-2.5-pro",
        api_key_env: str = "GEMINI_API_KEY",
        transport: Transport | None = None,
        max_retries: int = 5,
        backoff_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = 300.0,
        requests_per_minute: float = 60.0,
        temperature: float = 0.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ):
        key = os.environ.get(api_key_env, "").strip()
        if not key:
            raise HostedCaptionError(
                f"curate.captioning.backend 'gemini' needs an API key in the environment variable {api_key_env}, "
                f"which is not set; run `export {api_key_env}=...` (the key is read only from the environment, "
                "never from params.yaml)"
            )
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.temperature = temperature
        self.backend = f"gemini:{model}"
        self._api_key = _Secret(key)
        self._transport = _redacting(transport or urllib_transport, key)
        self._policy = RetryPolicy(max_retries=max_retries, backoff_s=backoff_s)
        self._sleep = sleep
        self._limiter = RateLimiter(requests_per_minute, clock=clock, sleep=sleep)
        self._rng = random.Random(seed)

    def __repr__(self) -> str:
        return f"GeminiCaptioner(model={self.model!r}, api_key_env={self.api_key_env!r})"

    def caption(self, audio_mono: np.ndarray, sample_rate: int, segment_id: str, label: str) -> Caption:
        """Caption one segment: 16 kHz mono FLAC and the captioning prompt in, a parsed Caption out."""
        text = self.answer(audio_mono, sample_rate, load_prompt(label), segment_id)
        return parse_caption_response(text, backend=self.backend, segment_id=segment_id)

    def answer(self, audio_mono: np.ndarray, sample_rate: int, prompt: str, item_id: str) -> str:
        """The model's text answer to `prompt` about one clip (sent as 16 kHz mono FLAC); the CCS judge asks through it too."""
        audio = mono_at_rate(audio_mono, sample_rate, AUDIO_RATE, item_id)
        body = json.dumps(generate_content_request(prompt, _flac_bytes(audio), self.temperature)).encode("utf-8")
        if len(body) > MAX_REQUEST_BYTES:
            raise HostedCaptionError(
                f"{item_id!r} ({len(audio) / AUDIO_RATE:.0f} s) makes a {len(body) / 2**20:.1f} MiB request, "
                f"over Gemini's {MAX_REQUEST_BYTES // 2**20} MiB inline limit; send shorter clips"
            )
        status, _, reply = post_with_retries(
            self._transport,
            f"{API_ROOT}/{self.model}:generateContent",
            {"Content-Type": "application/json", "x-goog-api-key": self._api_key.reveal()},
            body,
            timeout_s=self.timeout_s,
            policy=self._policy,
            limiter=self._limiter,
            rng=self._rng,
            sleep=self._sleep,
            what=f"Gemini {self.model} request for {item_id!r}",
            retry_hint=gemini_retry_hint,
        )
        if status != 200:
            raise HostedCaptionError(self._refusal(status, reply, item_id), status=status)
        return response_text(reply, item_id)

    def _refusal(self, status: int, reply: bytes, segment_id: str) -> str:
        advice = {
            400: "the request was malformed or the model name is wrong",
            401: f"the key in {self.api_key_env} was refused; check it",
            403: f"the key in {self.api_key_env} may not use {self.model}; check its project and billing",
            404: f"there is no model {self.model!r}; check the model name",
        }.get(status, "not retried")
        try:
            detail = json.loads(reply)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            detail = _excerpt(reply)
        # Servers have echoed credentials in error text before; never pass the key on.
        detail = str(detail).replace(self._api_key.reveal(), "<secret>")
        return f"Gemini {self.model} refused segment {segment_id!r} with status {status} ({advice}): {detail}"


def _redacting(transport: Transport, key: str) -> Transport:
    """`transport` with `key` scrubbed from everything that comes back: reply bodies and headers,
    and the messages of the TimeoutError / ConnectionError it raises. Servers and proxies have
    echoed credentials, and what they send ends up in captions, reject reasons and logs."""
    secret = key.encode("utf-8")

    def call(url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> tuple[int, dict[str, str], bytes]:
        try:
            status, reply_headers, reply = transport(url, headers, body, timeout_s)
        except TimeoutError as err:
            raise TimeoutError(str(err).replace(key, "<secret>")) from None
        except ConnectionError as err:
            raise ConnectionError(str(err).replace(key, "<secret>")) from None
        scrubbed_headers = {name: str(value).replace(key, "<secret>") for name, value in reply_headers.items()}
        return status, scrubbed_headers, reply.replace(secret, b"<secret>")

    return call


def _flac_bytes(audio: np.ndarray) -> bytes:
    # write_audio is the one writer of audio files; a temporary file keeps encoding in it.
    with tempfile.TemporaryDirectory() as folder:
        return write_audio(Path(folder) / "segment.flac", audio, AUDIO_RATE).read_bytes()


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."
