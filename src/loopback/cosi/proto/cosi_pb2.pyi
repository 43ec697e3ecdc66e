from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
ALPHA_ENUM_FIELD_NUMBER: _ClassVar[int]
alpha_enum: _descriptor.FieldDescriptor
ALPHA_ENUM_VALUE_FIELD_NUMBER: _ClassVar[int]
alpha_enum_value: _descriptor.FieldDescriptor
COSI_SECRET_FIELD_NUMBER: _ClassVar[int]
cosi_secret: _descriptor.FieldDescriptor
ALPHA_FIELD_FIELD_NUMBER: _ClassVar[int]
alpha_field: _descriptor.FieldDescriptor
ALPHA_MESSAGE_FIELD_NUMBER: _ClassVar[int]
alpha_message: _descriptor.FieldDescriptor
ALPHA_METHOD_FIELD_NUMBER: _ClassVar[int]
alpha_method: _descriptor.FieldDescriptor
ALPHA_SERVICE_FIELD_NUMBER: _ClassVar[int]
alpha_service: _descriptor.FieldDescriptor

class DriverGetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DriverGetInfoResponse(_message.Message):
    __slots__ = ("name", "supported_protocols")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_PROTOCOLS_FIELD_NUMBER: _ClassVar[int]
    name: str
    supported_protocols: _containers.RepeatedCompositeFieldContainer[ObjectProtocol]
    def __init__(self, name: _Optional[str] = ..., supported_protocols: _Optional[_Iterable[_Union[ObjectProtocol, _Mapping]]] = ...) -> None: ...

class ObjectProtocol(_message.Message):
    __slots__ = ("type",)
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[ObjectProtocol.Type]
        S3: _ClassVar[ObjectProtocol.Type]
        AZURE: _ClassVar[ObjectProtocol.Type]
        GCS: _ClassVar[ObjectProtocol.Type]
    UNKNOWN: ObjectProtocol.Type
    S3: ObjectProtocol.Type
    AZURE: ObjectProtocol.Type
    GCS: ObjectProtocol.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    type: ObjectProtocol.Type
    def __init__(self, type: _Optional[_Union[ObjectProtocol.Type, str]] = ...) -> None: ...

class ObjectProtocolAndBucketInfo(_message.Message):
    __slots__ = ("s3", "azure", "gcs")
    S3_FIELD_NUMBER: _ClassVar[int]
    AZURE_FIELD_NUMBER: _ClassVar[int]
    GCS_FIELD_NUMBER: _ClassVar[int]
    s3: S3BucketInfo
    azure: AzureBucketInfo
    gcs: GcsBucketInfo
    def __init__(self, s3: _Optional[_Union[S3BucketInfo, _Mapping]] = ..., azure: _Optional[_Union[AzureBucketInfo, _Mapping]] = ..., gcs: _Optional[_Union[GcsBucketInfo, _Mapping]] = ...) -> None: ...

class CredentialInfo(_message.Message):
    __slots__ = ("s3", "azure", "gcs")
    S3_FIELD_NUMBER: _ClassVar[int]
    AZURE_FIELD_NUMBER: _ClassVar[int]
    GCS_FIELD_NUMBER: _ClassVar[int]
    s3: S3CredentialInfo
    azure: AzureCredentialInfo
    gcs: GcsCredentialInfo
    def __init__(self, s3: _Optional[_Union[S3CredentialInfo, _Mapping]] = ..., azure: _Optional[_Union[AzureCredentialInfo, _Mapping]] = ..., gcs: _Optional[_Union[GcsCredentialInfo, _Mapping]] = ...) -> None: ...

class S3BucketInfo(_message.Message):
    __slots__ = ("bucket_id", "endpoint", "region", "addressing_style")
    BUCKET_ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    ADDRESSING_STYLE_FIELD_NUMBER: _ClassVar[int]
    bucket_id: str
    endpoint: str
    region: str
    addressing_style: S3AddressingStyle
    def __init__(self, bucket_id: _Optional[str] = ..., endpoint: _Optional[str] = ..., region: _Optional[str] = ..., addressing_style: _Optional[_Union[S3AddressingStyle, _Mapping]] = ...) -> None: ...

class S3CredentialInfo(_message.Message):
    __slots__ = ("access_key_id", "access_secret_key")
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_SECRET_KEY_FIELD_NUMBER: _ClassVar[int]
    access_key_id: str
    access_secret_key: str
    def __init__(self, access_key_id: _Optional[str] = ..., access_secret_key: _Optional[str] = ...) -> None: ...

class S3AddressingStyle(_message.Message):
    __slots__ = ("style",)
    class Style(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[S3AddressingStyle.Style]
        PATH: _ClassVar[S3AddressingStyle.Style]
        VIRTUAL: _ClassVar[S3AddressingStyle.Style]
    UNKNOWN: S3AddressingStyle.Style
    PATH: S3AddressingStyle.Style
    VIRTUAL: S3AddressingStyle.Style
    STYLE_FIELD_NUMBER: _ClassVar[int]
    style: S3AddressingStyle.Style
    def __init__(self, style: _Optional[_Union[S3AddressingStyle.Style, str]] = ...) -> None: ...

class AzureBucketInfo(_message.Message):
    __slots__ = ("storage_account",)
    STORAGE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    storage_account: str
    def __init__(self, storage_account: _Optional[str] = ...) -> None: ...

class AzureCredentialInfo(_message.Message):
    __slots__ = ("access_token", "expiry_timestamp")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    expiry_timestamp: str
    def __init__(self, access_token: _Optional[str] = ..., expiry_timestamp: _Optional[str] = ...) -> None: ...

class GcsBucketInfo(_message.Message):
    __slots__ = ("project_id", "bucket_name")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    BUCKET_NAME_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    bucket_name: str
    def __init__(self, project_id: _Optional[str] = ..., bucket_name: _Optional[str] = ...) -> None: ...

class GcsCredentialInfo(_message.Message):
    __slots__ = ("access_id", "access_secret", "private_key_name", "service_account")
    ACCESS_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_SECRET_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    access_id: str
    access_secret: str
    private_key_name: str
    service_account: str
    def __init__(self, access_id: _Optional[str] = ..., access_secret: _Optional[str] = ..., private_key_name: _Optional[str] = ..., service_account: _Optional[str] = ...) -> None: ...

class AuthenticationType(_message.Message):
    __slots__ = ("type",)
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[AuthenticationType.Type]
        KEY: _ClassVar[AuthenticationType.Type]
        SERVICE_ACCOUNT: _ClassVar[AuthenticationType.Type]
    UNKNOWN: AuthenticationType.Type
    KEY: AuthenticationType.Type
    SERVICE_ACCOUNT: AuthenticationType.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    type: AuthenticationType.Type
    def __init__(self, type: _Optional[_Union[AuthenticationType.Type, str]] = ...) -> None: ...

class AccessMode(_message.Message):
    __slots__ = ("mode",)
    class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[AccessMode.Mode]
        READ_WRITE: _ClassVar[AccessMode.Mode]
        READ_ONLY: _ClassVar[AccessMode.Mode]
        WRITE_ONLY: _ClassVar[AccessMode.Mode]
    UNKNOWN: AccessMode.Mode
    READ_WRITE: AccessMode.Mode
    READ_ONLY: AccessMode.Mode
    WRITE_ONLY: AccessMode.Mode
    MODE_FIELD_NUMBER: _ClassVar[int]
    mode: AccessMode.Mode
    def __init__(self, mode: _Optional[_Union[AccessMode.Mode, str]] = ...) -> None: ...

class DriverCreateBucketRequest(_message.Message):
    __slots__ = ("name", "protocols", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROTOCOLS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    protocols: _containers.RepeatedCompositeFieldContainer[ObjectProtocol]
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., protocols: _Optional[_Iterable[_Union[ObjectProtocol, _Mapping]]] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DriverCreateBucketResponse(_message.Message):
    __slots__ = ("bucket_id", "protocols")
    BUCKET_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOLS_FIELD_NUMBER: _ClassVar[int]
    bucket_id: str
    protocols: ObjectProtocolAndBucketInfo
    def __init__(self, bucket_id: _Optional[str] = ..., protocols: _Optional[_Union[ObjectProtocolAndBucketInfo, _Mapping]] = ...) -> None: ...

class DriverGetExistingBucketRequest(_message.Message):
    __slots__ = ("existing_bucket_id", "protocols", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EXISTING_BUCKET_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOLS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    existing_bucket_id: str
    protocols: _containers.RepeatedCompositeFieldContainer[ObjectProtocol]
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, existing_bucket_id: _Optional[str] = ..., protocols: _Optional[_Iterable[_Union[ObjectProtocol, _Mapping]]] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DriverGetExistingBucketResponse(_message.Message):
    __slots__ = ("bucket_id", "protocols")
    BUCKET_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOLS_FIELD_NUMBER: _ClassVar[int]
    bucket_id: str
    protocols: ObjectProtocolAndBucketInfo
    def __init__(self, bucket_id: _Optional[str] = ..., protocols: _Optional[_Union[ObjectProtocolAndBucketInfo, _Mapping]] = ...) -> None: ...

class DriverDeleteBucketRequest(_message.Message):
    __slots__ = ("bucket_id", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    bucket_id: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, bucket_id: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DriverDeleteBucketResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DriverGrantBucketAccessRequest(_message.Message):
    __slots__ = ("account_name", "protocol", "authentication_type", "service_account_name", "parameters", "buckets")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AccessedBucket(_message.Message):
        __slots__ = ("bucket_id", "access_mode")
        BUCKET_ID_FIELD_NUMBER: _ClassVar[int]
        ACCESS_MODE_FIELD_NUMBER: _ClassVar[int]
        bucket_id: str
        access_mode: AccessMode
        def __init__(self, bucket_id: _Optional[str] = ..., access_mode: _Optional[_Union[AccessMode, _Mapping]] = ...) -> None: ...
    ACCOUNT_NAME_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    account_name: str
    protocol: ObjectProtocol
    authentication_type: AuthenticationType
    service_account_name: str
    parameters: _containers.ScalarMap[str, str]
    buckets: _containers.RepeatedCompositeFieldContainer[DriverGrantBucketAccessRequest.AccessedBucket]
    def __init__(self, account_name: _Optional[str] = ..., protocol: _Optional[_Union[ObjectProtocol, _Mapping]] = ..., authentication_type: _Optional[_Union[AuthenticationType, _Mapping]] = ..., service_account_name: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., buckets: _Optional[_Iterable[_Union[DriverGrantBucketAccessRequest.AccessedBucket, _Mapping]]] = ...) -> None: ...

class DriverGrantBucketAccessResponse(_message.Message):
    __slots__ = ("account_id", "buckets", "credentials")
    class BucketInfo(_message.Message):
        __slots__ = ("bucket_id", "bucket_info")
        BUCKET_ID_FIELD_NUMBER: _ClassVar[int]
        BUCKET_INFO_FIELD_NUMBER: _ClassVar[int]
        bucket_id: str
        bucket_info: ObjectProtocolAndBucketInfo
        def __init__(self, bucket_id: _Optional[str] = ..., bucket_info: _Optional[_Union[ObjectProtocolAndBucketInfo, _Mapping]] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    buckets: _containers.RepeatedCompositeFieldContainer[DriverGrantBucketAccessResponse.BucketInfo]
    credentials: CredentialInfo
    def __init__(self, account_id: _Optional[str] = ..., buckets: _Optional[_Iterable[_Union[DriverGrantBucketAccessResponse.BucketInfo, _Mapping]]] = ..., credentials: _Optional[_Union[CredentialInfo, _Mapping]] = ...) -> None: ...

class DriverRevokeBucketAccessRequest(_message.Message):
    __slots__ = ("account_id", "protocol", "authentication_type", "service_account_name", "parameters", "buckets")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AccessedBucket(_message.Message):
        __slots__ = ("bucket_id",)
        BUCKET_ID_FIELD_NUMBER: _ClassVar[int]
        bucket_id: str
        def __init__(self, bucket_id: _Optional[str] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    protocol: ObjectProtocol
    authentication_type: AuthenticationType
    service_account_name: str
    parameters: _containers.ScalarMap[str, str]
    buckets: _containers.RepeatedCompositeFieldContainer[DriverRevokeBucketAccessRequest.AccessedBucket]
    def __init__(self, account_id: _Optional[str] = ..., protocol: _Optional[_Union[ObjectProtocol, _Mapping]] = ..., authentication_type: _Optional[_Union[AuthenticationType, _Mapping]] = ..., service_account_name: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., buckets: _Optional[_Iterable[_Union[DriverRevokeBucketAccessRequest.AccessedBucket, _Mapping]]] = ...) -> None: ...

class DriverRevokeBucketAccessResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
