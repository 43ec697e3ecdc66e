"""COSI's gRPC contract, v1alpha2: ``cosi.proto`` and the modules ``generate.py`` makes from it.

``cosi_pb2`` (with its ``.pyi``) holds the messages and the descriptor the driver serves from;
``cosi_pb2_grpc`` the stubs a client (COSI's sidecar, the tests) calls with. Both are generated:
edit ``cosi.proto`` and run ``.venv/bin/python -m loopback.cosi.proto.generate``.
"""
