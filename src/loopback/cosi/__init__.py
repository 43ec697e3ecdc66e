"""``loopback cosi-driver``: Kubernetes' Container Object Storage Interface (COSI, v1alpha2) in front
of every Loopback provider.

COSI's sidecar turns a cluster's BucketClaims and BucketAccesses into gRPC calls on a unix socket;
this driver answers them as a client of Loopback's API, with a token, so every bucket and key it
makes is authorized, audited and listed like any other. One module a job:

- ``proto``: the wire contract (``cosi.proto`` and the modules generated from it);
- ``parameters``: what a BucketClass and a BucketAccessClass may say;
- ``handles``: the ids COSI keeps for a bucket and an access, and the names made from COSI's;
- ``errors``: a refusal as the gRPC status the sidecar acts on;
- ``api``: the calls to Loopback's API, over ``loopback.client``;
- ``buckets``: create, adopt and delete, waiting for the bucket within the sidecar's deadline;
- ``access``: grant one key over the requested buckets, and revoke it;
- ``servicer``: the gRPC methods, messages in and out;
- ``server``: the unix socket and the gRPC server; ``cli``: the ``cosi-driver`` command.
"""
