"""The checked-in stubs in proto/ are what protoc makes of explain.proto today."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROTO_ROOT = Path(__file__).resolve().parents[1] / "proto"
PROTO = "kipoi_explain/v2/explain.proto"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    pytest.importorskip("grpc_tools.protoc")
    out = tmp_path_factory.mktemp("stubs")
    # In a process of its own: protoc's embedded protobuf crashes beside a running gRPC server.
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}",
                    f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}",
                    f"--descriptor_set_out={out / 'explain.desc'}", str(PROTO_ROOT / PROTO)],
                   check=True)
    return out


def _without_versions(text: str) -> str:
    """The generated code with the generator's version stamps blanked: a newer grpcio-tools
    stamps its own version into otherwise identical code."""
    text = re.sub(r"Protobuf Python Version: \S+", "", text)
    text = re.sub(r"ValidateProtobufRuntimeVersion\([^)]*\)", "", text, flags=re.S)
    return re.sub(r"GRPC_GENERATED_VERSION = '[^']*'", "", text)


def test_message_descriptors_are_current(regenerated):
    from google.protobuf import descriptor_pb2

    from kipoi_explain.v2 import explain_pb2

    fresh = descriptor_pb2.FileDescriptorSet.FromString(
        (regenerated / "explain.desc").read_bytes()).file[0]
    for message in fresh.message_type:   # generated code drops the derived JSON names
        _clear_json_names(message)
    shipped = descriptor_pb2.FileDescriptorProto.FromString(explain_pb2.DESCRIPTOR.serialized_pb)
    assert shipped == fresh, "proto/ stubs are stale: regenerate them (see explain.proto)"


@pytest.mark.parametrize("name", ["explain_pb2.py", "explain_pb2_grpc.py", "explain_pb2.pyi"])
def test_generated_files_are_current(regenerated, name):
    fresh = (regenerated / "kipoi_explain" / "v2" / name).read_text()
    shipped = (PROTO_ROOT / "kipoi_explain" / "v2" / name).read_text()
    assert _without_versions(shipped) == _without_versions(fresh), \
        f"proto/kipoi_explain/v2/{name} is stale: regenerate it (see explain.proto)"


def test_service_has_every_rpc():
    from kipoi_explain.v2 import explain_pb2

    service = explain_pb2.DESCRIPTOR.services_by_name["ExplainService"]
    assert service.full_name == "kipoi_explain.v2.ExplainService"
    # Every command runs through Run (RunStream for a stream of items): the service does not
    # change when a command is added.
    assert {m.name for m in service.methods} == {"ListModels", "Run", "RunStream", "Stats"}
    streaming = service.methods_by_name["RunStream"]
    assert streaming.client_streaming and streaming.server_streaming


def _clear_json_names(message) -> None:
    for field in message.field:
        field.ClearField("json_name")
    for nested in message.nested_type:
        _clear_json_names(nested)
