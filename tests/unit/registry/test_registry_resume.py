"""ResumingBody: a blob stream cut mid-body resumes with Range from the byte it stopped at."""

import io

import pytest
import urllib3

from mason.errors import RegistryError
from mason.registry.download import ResumingBody
from mason.registry.retry import Retrier, RetryPolicy

DATA = bytes(range(256)) * 40


class Raw:
    def __init__(self, data, cut_after=None):
        self.stream, self.cut_after, self.sent = io.BytesIO(data), cut_after, 0

    def read(self, n, decode_content=False):
        if self.cut_after is not None and self.sent >= self.cut_after:
            raise urllib3.exceptions.ProtocolError("Connection broken: reset")
        chunk = self.stream.read(min(n, (self.cut_after - self.sent) if self.cut_after is not None else n))
        self.sent += len(chunk)
        return chunk


class Response:
    def __init__(self, status, data, headers=None, cut_after=None):
        self.status_code, self.headers, self.raw = status, headers or {}, Raw(data, cut_after)

    def close(self):
        pass


def _read_all(body):
    out = b""
    while chunk := body.read(1000):
        out += chunk
    return out


def _retrier(attempts=5):
    return Retrier(RetryPolicy(max_attempts=attempts), sleep=lambda s: None)


def test_resumes_with_range_from_the_cut():
    asked = []

    def reopen(headers):
        asked.append(headers)
        start = int(headers["Range"].split("=")[1].rstrip("-"))
        return Response(206, DATA[start:], {"Content-Range": f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"},
                        cut_after=3000 if len(asked) == 1 else None)

    body = ResumingBody(Response(200, DATA, cut_after=2500), reopen, _retrier(), expected_size=len(DATA),
                        what="blob", registry="r")
    assert _read_all(body) == DATA
    assert asked == [{"Range": "bytes=2500-"}, {"Range": "bytes=5500-"}]


def test_a_registry_ignoring_range_is_skipped_forward():
    body = ResumingBody(Response(200, DATA, cut_after=4000), lambda h: Response(200, DATA), _retrier(),
                        expected_size=len(DATA), what="blob", registry="r")
    assert _read_all(body) == DATA


def test_short_body_without_error_is_resumed():
    body = ResumingBody(Response(200, DATA[:1000]), lambda h: Response(
        206, DATA[1000:], {"Content-Range": f"bytes 1000-{len(DATA) - 1}/{len(DATA)}"}), _retrier(),
        expected_size=len(DATA), what="blob", registry="r")
    assert _read_all(body) == DATA


def test_wrong_content_range_and_exhausted_retries_are_errors():
    body = ResumingBody(Response(200, DATA, cut_after=100), lambda h: Response(
        206, DATA, {"Content-Range": f"bytes 0-{len(DATA) - 1}/{len(DATA)}"}), _retrier(),
        expected_size=len(DATA), what="blob", registry="r")
    with pytest.raises(RegistryError, match="resume at byte 100"):
        _read_all(body)
    body = ResumingBody(Response(200, DATA, cut_after=100), lambda h: Response(200, DATA, cut_after=50),
                        _retrier(3), expected_size=len(DATA), what="blob x", registry="r")
    with pytest.raises(RegistryError, match="blob x broke after 100 bytes.*skipping"):
        _read_all(body)
