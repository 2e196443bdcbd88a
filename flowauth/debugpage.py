"""What Django's error pages and error mails may show (DEBUG on, as under ``make run``, or off).

Django's SafeExceptionReporterFilter masks settings whose names look secret,
and POST values only for views marked ``sensitive_post_parameters``, and
only while DEBUG is off. FlowAuth's filter is always on, masks every POST
value and every uploaded file name, masks settings by a wider pattern (the
introspection clients, URLs, the webhook secret) and any URL's password,
and redacts tokens from the query string and from every frame's variables.
"""

import re

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from flowauth.logformat import redact

# Django's names plus what FlowAuth's settings call their secrets.
HIDDEN = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CLIENTS|CREDENTIAL|PRIVATE|WEBHOOK|DSN|"
    r"DATABASE|REDIS|_URL$|^URL$|LOCATION|CODE|OTP",
    flags=re.IGNORECASE,
)
# scheme://user:password@host: the password goes, the rest stays readable.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*(?P<at>@)", flags=re.IGNORECASE)


def _mask_url_passwords(text: str) -> str:
    return _URL_PASSWORD.sub(lambda m: m["head"] + "********" + m["at"], text)


def _scrub(text: str) -> str:
    return _mask_url_passwords(redact(text))


class FlowAuthExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = HIDDEN

    def is_active(self, request) -> bool:
        return True  # under DEBUG too: a developer's screen is shared, recorded, pasted

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        return _mask_url_passwords(cleansed) if isinstance(cleansed, str) else cleansed

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        return {name: _scrub(value) if isinstance(value, str) else value for name, value in meta.items()}

    def get_post_parameters(self, request):
        if request is None:
            return {}
        return {name: self.cleansed_substitute for name in request.POST}

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        items = variables.items() if isinstance(variables, dict) else variables
        return [(name, self._cleanse_variable(request, name, value)) for name, value in items]

    def _cleanse_variable(self, request, name, value):
        if isinstance(value, str):
            return self.cleansed_substitute if self.hidden_settings.search(name) else _scrub(value)
        if isinstance(value, (dict, list, tuple)):
            return self.cleanse_setting(name, value)
        return value


class FlowAuthExceptionReporter(ExceptionReporter):
    """Django's reporter, with the query string's tokens redacted and no body, ever."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        # Every frame variable as the page prints it (a request's repr carries its query string).
        for frame in data.get("frames", []):
            if "vars" in frame:
                frame["vars"] = [(name, _scrub(str(value))) for name, value in frame["vars"]]
        if data.get("exception_value"):
            data["exception_value"] = _scrub(str(data["exception_value"]))
        if self.request is not None:
            data["request_GET_items"] = [(key, redact(value)) for key, value in self.request.GET.items()]
            data["request_FILES_items"] = [(key, self.filter.cleansed_substitute) for key in self.request.FILES]
            data["request_insecure_uri"] = redact(data.get("request_insecure_uri", ""))
        return data

    def _get_raw_insecure_uri(self):
        return redact(super()._get_raw_insecure_uri())
