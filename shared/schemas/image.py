"""The image and images JSON schemas: served by the API and used to validate requests.

The documents equal what Glance serves at ``/v2/schemas/image`` and
``/v2/schemas/images`` (Draft 4, permissive: custom properties are strings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from shared.domain.errors import Invalid

UUID_PATTERN = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
STATUSES = [
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated",
]


def _nullable_string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": ["null", "string"], "description": description, **extra}


def _read_only(kind: Any, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "readOnly": True, "description": description, **extra}


def _optional_string(description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "type": "string", **extra, "is_base": False}


_PROPERTY_KEYS_DOC = "https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"


def base_properties(disk_formats: Sequence[str], container_formats: Sequence[str]) -> dict[str, Any]:
    """The attributes every image has, in Glance's order."""
    return {
        "id": {"type": "string", "description": "An identifier for the image", "pattern": UUID_PATTERN},
        "name": _nullable_string("Descriptive name for the image", maxLength=255),
        "status": {
            "type": "string",
            "readOnly": True,
            "description": "Status of the image",
            "enum": STATUSES,
        },
        "visibility": {
            "type": "string",
            "description": "Scope of image accessibility",
            "enum": ["community", "public", "private", "shared"],
        },
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {
            "type": "boolean",
            "description": "If true, image will not appear in default image list response.",
        },
        "checksum": _read_only(["null", "string"], "md5 hash of image contents.", maxLength=32),
        "os_hash_algo": _read_only(["null", "string"], "Algorithm to calculate the os_hash_value", maxLength=64),
        "os_hash_value": _read_only(
            ["null", "string"],
            "Hexdigest of the image contents using the algorithm specified by the os_hash_algo",
            maxLength=128,
        ),
        "owner": _nullable_string("Owner of the image", maxLength=255),
        "size": _read_only(["null", "integer"], "Size of image file in bytes"),
        "virtual_size": _read_only(["null", "integer"], "Virtual size of image in bytes"),
        "container_format": {
            "type": ["null", "string"],
            "description": "Format of the container",
            "enum": [None, *container_formats],
        },
        "disk_format": {
            "type": ["null", "string"],
            "description": "Format of the disk",
            "enum": [None, *disk_formats],
        },
        "created_at": _read_only("string", "Date and time of image registration"),
        "updated_at": _read_only("string", "Date and time of the last image modification"),
        "tags": {
            "type": "array",
            "description": "List of strings related to the image",
            "items": {"type": "string", "maxLength": 255},
        },
        "direct_url": _read_only("string", "URL to access the image file kept in external store"),
        "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
        "self": _read_only("string", "An image self url"),
        "file": _read_only("string", "An image file url"),
        "stores": _read_only(
            "string",
            "Store in which image data resides.  Only present when the operator has enabled multiple "
            "stores.  May be a comma-separated list of store identifiers.",
        ),
        "schema": _read_only("string", "An image schema url"),
        "locations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "url": {"type": "string", "maxLength": 255},
                    "metadata": {"type": "object"},
                    "validation_data": {
                        "description": "Values to be used to populate the corresponding image properties. "
                        "If the image status is not 'queued', values must exactly match those already "
                        "contained in the image properties.",
                        "type": "object",
                        "writeOnly": True,
                        "additionalProperties": False,
                        "properties": {
                            "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
                            "os_hash_algo": {"type": "string", "maxLength": 64},
                            "os_hash_value": {"type": "string", "maxLength": 128},
                        },
                        "required": ["os_hash_algo", "os_hash_value"],
                    },
                },
                "required": ["url", "metadata"],
            },
            "description": "A set of URLs to access the image file kept in external store",
        },
    }


def stock_optional_properties() -> dict[str, Any]:
    """The typed optional properties of Glance's stock ``schema-image.json``."""
    return {
        "kernel_id": {
            "type": ["null", "string"],
            "pattern": UUID_PATTERN,
            "description": "ID of image stored in Glance that should be used as the kernel when booting an "
            "AMI-style image.",
            "is_base": False,
        },
        "ramdisk_id": {
            "type": ["null", "string"],
            "pattern": UUID_PATTERN,
            "description": "ID of image stored in Glance that should be used as the ramdisk when booting an "
            "AMI-style image.",
            "is_base": False,
        },
        "instance_uuid": {
            "type": "string",
            "description": "Metadata which can be used to record which instance this image is associated "
            "with. (Informational only, does not create an instance snapshot.)",
            "is_base": False,
        },
        "architecture": _optional_string(f"Operating system architecture as specified in {_PROPERTY_KEYS_DOC}"),
        "os_distro": _optional_string(
            f"Common name of operating system distribution as specified in {_PROPERTY_KEYS_DOC}"
        ),
        "os_version": _optional_string("Operating system version as specified by the distributor."),
        "description": _optional_string("A human-readable string describing this image."),
        "cinder_encryption_key_id": _optional_string(
            "Identifier in the OpenStack Key Management Service for the encryption key for the Block Storage "
            "Service to use when mounting a volume created from this image"
        ),
        "cinder_encryption_key_deletion_policy": _optional_string(
            "States the condition under which the Image Service will delete the object associated with the "
            "'cinder_encryption_key_id' image property.  If this property is missing, the Image Service will "
            "take no action",
            enum=["on_image_deletion", "do_not_delete"],
        ),
    }


def image_schema(disk_formats: Sequence[str], container_formats: Sequence[str]) -> dict[str, Any]:
    """The ``/v2/schemas/image`` document."""
    return {
        "name": "image",
        "properties": {**base_properties(disk_formats, container_formats), **stock_optional_properties()},
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def images_schema(image: Mapping[str, Any]) -> dict[str, Any]:
    """The ``/v2/schemas/images`` document, wrapping ``image``."""
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": dict(image)},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


class SchemaValidator:
    """A compiled schema; ``validate`` raises Invalid with Glance's message."""

    def __init__(self, schema: Mapping[str, Any], validator_class: type[Validator] = Draft4Validator) -> None:
        self.name = schema["name"]
        self.schema = dict(schema)
        validator_class.check_schema(self.schema)  # once, at start, not per request
        self._validator = validator_class(self.schema, format_checker=FormatChecker())

    def validate(self, document: Mapping[str, Any]) -> None:
        try:
            self._validator.validate(document)
        except ValidationError as exc:
            raise Invalid(f"Provided object does not match schema '{self.name}': {exc}") from None
