"""Every RPC passes through here: a request ID, a log line, and the bearer-token check.

The request ID is the client's ``x-request-id`` metadata when it sends one, else a new one; it
goes back in the trailing metadata, into every error message and into the log line (with the
command a Run names), so a failure a user reports can be found in the server log.
"""
from __future__ import annotations

import contextvars
import hmac
import logging
import time
import uuid

import grpc

log = logging.getLogger("kipoi_explain.server")

#: The ID of the request the current thread is serving.
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
#: The command a Run or RunStream request names (logged after the method, as a last path part).
COMMAND: contextvars.ContextVar[str] = contextvars.ContextVar("command", default="")

#: Services a load balancer or grpcurl must reach without a token.
OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                 "/grpc.reflection.v1.ServerReflection/")


class RequestInterceptor(grpc.ServerInterceptor):
    """Assigns request IDs, logs each RPC with its status and time, and checks the bearer
    token when ``tokens`` is not empty."""

    def __init__(self, tokens=()):
        self._tokens = [t.encode() for t in tokens]

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None:
            return None
        metadata = dict(details.invocation_metadata or ())
        request_id = metadata.get("x-request-id") or uuid.uuid4().hex[:16]
        method = details.method
        refusal = None
        if self._tokens and not method.startswith(OPEN_SERVICES):
            refusal = self._refusal(metadata.get("authorization"))
        return _wrap(handler, request_id, method, refusal)

    def _refusal(self, header: str | None) -> str | None:
        if not header:
            return "missing authorization metadata; send 'authorization: Bearer <token>'"
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not any(hmac.compare_digest(token.encode(), known)
                                                 for known in self._tokens):
            return "invalid bearer token"
        return None


def _wrap(handler, request_id: str, method: str, refusal: str | None):
    def begin(context) -> float:
        REQUEST_ID.set(request_id)
        COMMAND.set("")
        context.set_trailing_metadata((("x-request-id", request_id),))
        if refusal is not None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{refusal} (request {request_id})")
        return time.perf_counter()

    def end(context, started: float) -> None:
        code = context.code() or grpc.StatusCode.OK
        log.info("%s %s%s %s %.1f ms", request_id, method,
                 f"/{COMMAND.get()}" if COMMAND.get() else "", getattr(code, "name", code),
                 1e3 * (time.perf_counter() - started))

    def unary(behaviour):
        def run(request, context):
            started = time.perf_counter()
            try:
                started = begin(context)
                return behaviour(request, context)
            finally:
                end(context, started)
        return run

    def streaming(behaviour):
        def run(request, context):
            started = time.perf_counter()
            try:
                started = begin(context)
                yield from behaviour(request, context)
            finally:
                end(context, started)
        return run

    kinds = {(False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
             (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
             (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
             (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler)}
    name, make = kinds[(handler.request_streaming, handler.response_streaming)]
    wrap = streaming if handler.response_streaming else unary
    return make(wrap(getattr(handler, name)), request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
