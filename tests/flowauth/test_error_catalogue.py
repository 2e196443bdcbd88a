"""The error catalogue: each code defined by one class, and the documented statuses read from it."""

from collections import Counter

from flowauth import errors
from flowauth.openapi import _subclasses, code_status
from flowauth.openapi import errors as documented_errors


def test_each_code_is_defined_by_one_class():
    codes = Counter(cls.default_code for cls in _subclasses(errors.FlowAuthError))
    assert codes and [code for code, count in codes.items() if count > 1] == []


def test_the_documented_status_of_every_code_is_its_class_status():
    for cls in _subclasses(errors.FlowAuthError):
        assert code_status()[cls.default_code] == cls.status_code
        assert list(documented_errors(cls.default_code)) == [cls.status_code]
