"""Make ``cosi_pb2.py``, ``cosi_pb2.pyi`` and ``cosi_pb2_grpc.py`` from ``cosi.proto`` with grpcio-tools.

Run ``.venv/bin/python -m loopback.cosi.proto.generate`` after changing the ``.proto``;
``tests/cosi/test_proto.py`` fails while the committed modules differ from what this makes.
grpcio-tools is a development dependency: a driver only imports what it made.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_ROOT = HERE.parents[2]  # src/: the .proto is loopback/cosi/proto/cosi.proto below it
PROTO = HERE.relative_to(SOURCE_ROOT) / "cosi.proto"
GENERATED = ("cosi_pb2.py", "cosi_pb2.pyi", "cosi_pb2_grpc.py")


def generate(into: Path) -> list[Path]:
    """Write the generated modules under ``into`` (a source root, as ``src/`` is) and name them."""
    import grpc_tools
    from grpc_tools import protoc

    includes = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/descriptor.proto
    arguments = [
        "grpc_tools.protoc",
        f"-I{SOURCE_ROOT}",
        f"-I{includes}",
        f"--python_out={into}",
        f"--pyi_out={into}",
        f"--grpc_python_out={into}",
        str(PROTO),
    ]
    if protoc.main(arguments) != 0:
        raise RuntimeError(f"protoc failed on {SOURCE_ROOT / PROTO}")
    return [into / PROTO.parent / name for name in GENERATED]


if __name__ == "__main__":
    for path in generate(SOURCE_ROOT):
        sys.stdout.write(f"wrote {path}\n")
