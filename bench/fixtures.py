"""The benchmark's user and a fresh credential of each kind, made in-process on the bench database."""

EMAIL, PASSWORD = "bench@bench.example", "correct horse battery staple"


def bench_user():
    from accounts.models import User

    user = User.objects.filter(email=EMAIL).first()
    return user or User.objects.create_user(EMAIL, PASSWORD)


def flowauth_pair():
    """A new FlowAuth session: its access token and the first refresh token of its chain."""
    from tokens.services import issue_session

    return issue_session(bench_user())


def simplejwt_refresh() -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(bench_user()))


def simplejwt_access() -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(bench_user()).access_token)


def drf_token() -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=bench_user())[0].key
