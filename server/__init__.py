"""The gRPC explanation service (``kipoi-explain-server``); needs the ``serve`` extra."""


def console() -> int:
    """``kipoi-explain-server``: a one-line error, not a traceback, when gRPC is not
    installed."""
    import sys

    from kipoi_explain.errors import MissingDependency
    from kipoi_explain.requirements import require_package

    try:
        require_package("grpc", "kipoi-explain-server")
    except MissingDependency as err:
        print(f"kipoi-explain-server: error: {err}", file=sys.stderr)
        return 2
    from .main import console as serve

    return serve()
