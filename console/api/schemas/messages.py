from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from console.api.schemas.base import ApiModel, Metadata

MESSAGE_TEXT_MAX = 256_000
Detail = Literal["auto", "low", "high"]


class TextPart(ApiModel):
    type: Literal["text"]
    text: str = Field(max_length=MESSAGE_TEXT_MAX)


class ImageFileRef(ApiModel):
    file_id: str
    detail: Detail = "auto"


class ImageFilePart(ApiModel):
    type: Literal["image_file"]
    image_file: ImageFileRef


class ImageUrlRef(ApiModel):
    url: str = Field(pattern=r"^(https?://|data:image/)", max_length=20_000_000)
    detail: Detail = "auto"


class ImageUrlPart(ApiModel):
    type: Literal["image_url"]
    image_url: ImageUrlRef


ContentPart = Annotated[TextPart | ImageFilePart | ImageUrlPart, Field(discriminator="type")]


class CodeInterpreterAttachmentTool(ApiModel):
    type: Literal["code_interpreter"]


class FileSearchAttachmentTool(ApiModel):
    type: Literal["file_search"]


AttachmentTool = Annotated[
    CodeInterpreterAttachmentTool | FileSearchAttachmentTool, Field(discriminator="type")
]


class Attachment(ApiModel):
    file_id: str
    tools: list[AttachmentTool] = Field(default_factory=list)


class CreateMessageRequest(ApiModel):
    role: Literal["user", "assistant"]
    content: (
        Annotated[str, Field(max_length=MESSAGE_TEXT_MAX)] | Annotated[list[ContentPart], Field(min_length=1)]
    )
    attachments: list[Attachment] | None = None
    metadata: Metadata = None


class ModifyMessageRequest(ApiModel):
    metadata: Metadata = None
