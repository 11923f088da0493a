"""A form's errors beside their fields: each field's message, the attributes that tie it to its field
(`aria-invalid`, `aria-describedby`, `autofocus` on the first) and the summary at the top linking to them.

A form's view fills a `FormErrors` in the fields' page order; its template asks `errors.attrs(id)` on each
control and `errors.message(id)` for the text under it (templates/admin/_form_errors.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup, escape


@dataclass(frozen=True)
class FieldError:
    field_id: str  # the control's id on the page
    label: str  # the field as its label reads, for the summary
    message: str

    @property
    def error_id(self) -> str:
        return f"{self.field_id}-error"


@dataclass
class FormErrors:
    """The errors of one post, in the order their fields appear; `general` is what belongs to no field."""

    fields: list[FieldError] = field(default_factory=list)
    general: list[str] = field(default_factory=list)

    def add(self, field_id: str, label: str, message: str) -> None:
        self.fields.append(FieldError(field_id, label, message))

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def __len__(self) -> int:
        return len(self.fields) + len(self.general)

    def get(self, field_id: str) -> FieldError | None:
        return next((e for e in self.fields if e.field_id == field_id), None)

    def attrs(self, field_id: str, help_id: str | None = None) -> Markup:
        """The control's `aria-describedby` (its error, then its help) and, when it is invalid,
        `aria-invalid` and, on the first invalid control, `autofocus` (a full page, so no script is needed)."""
        error = self.get(field_id)
        described = " ".join(i for i in (error.error_id if error else None, help_id) if i)
        parts = [f'aria-describedby="{escape(described)}"'] if described else []
        if error:
            parts.append('aria-invalid="true"')
            if error is self.fields[0]:
                parts.append("autofocus")
        return Markup(" ".join(parts))
