"""Template helpers: one colour per state everywhere."""

from django import template
from django.utils.html import format_html

register = template.Library()

# ready, in progress, failed, out of date, out of compliance — one colour each, everywhere.
STATE_CLASSES = {
    "pending": ("text-bg-secondary", "hourglass"),
    "in_progress": ("text-bg-primary", "arrow-repeat"),
    "succeeded": ("text-bg-success", "check-circle"),
    "ready": ("text-bg-success", "check-circle"),
    "failed": ("text-bg-danger", "x-octagon"),
    "cancelled": ("text-bg-light border", "slash-circle"),
    "out_of_date": ("text-bg-warning", "arrow-up-circle"),
    "out_of_compliance": ("text-bg-orange", "exclamation-triangle"),
}
LEVEL_CLASSES = {"info": "primary", "success": "success", "warning": "warning", "danger": "danger", "error": "danger"}


@register.simple_tag
def state_badge(state: str, label: str | None = None):
    css, icon = STATE_CLASSES.get(state, ("text-bg-secondary", "circle"))
    text = label or state.replace("_", " ")
    return format_html(
        '<span class="badge {} state-badge" data-state="{}"><i class="bi bi-{}"></i> {}</span>', css, state, icon, text
    )


@register.filter
def level_class(level: str) -> str:
    return LEVEL_CLASSES.get(level, "secondary")
