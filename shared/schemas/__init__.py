"""JSON schemas of the API's documents, built once from the settings."""

from __future__ import annotations

from collections.abc import Sequence

from shared.schemas.image import SchemaValidator, image_schema, images_schema
from shared.schemas.location import VALIDATOR_CLASS, location_schema
from shared.schemas.member_task import collection_schema, member_schema, task_schema


class Schemas:
    """The schema documents the API serves and the validators built from them."""

    def __init__(self, disk_formats: Sequence[str], container_formats: Sequence[str]) -> None:
        self.image = image_schema(disk_formats, container_formats)
        self.images = images_schema(self.image)
        self.image_validator = SchemaValidator(self.image)
        member = member_schema()
        self.task_validator = SchemaValidator(task_schema())
        self.location_validator = SchemaValidator(location_schema(), VALIDATOR_CLASS)
        self.documents = {
            "image": self.image,
            "images": self.images,
            "member": member,
            "members": collection_schema("members", member),
            "task": task_schema(),
            "tasks": collection_schema("tasks", task_schema(stub=True)),
        }

    def document(self, name: str) -> dict | None:
        return self.documents.get(name)
