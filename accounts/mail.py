"""Rendering and sending account mail: a subject, a text and an HTML part, translated.

Called only from tasks (accounts/tasks.py), never from a request.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

TEMPLATE_DIR = "accounts/email"


def render(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) of ``template`` in the active language."""
    subject = render_to_string(f"{TEMPLATE_DIR}/{template}_subject.txt", context)
    text = render_to_string(f"{TEMPLATE_DIR}/{template}.txt", context)
    html = render_to_string(f"{TEMPLATE_DIR}/{template}.html", context)
    return " ".join(subject.split()), text, html


def send(template: str, to: str, context: dict, *, language: str | None = None) -> None:
    with translation.override(language or settings.LANGUAGE_CODE):
        subject, text, html = render(template, context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    message.send()
