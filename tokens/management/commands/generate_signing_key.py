import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tokens import keys


class Command(BaseCommand):
    help = (
        "Generate a signing key pair: the private key (PEM) for JWT_PRIVATE_KEY(_FILE), "
        "and the public key by kid for JWT_PUBLIC_KEYS, plus its JWKS entry."
    )

    def add_arguments(self, parser):
        parser.add_argument("--algorithm", choices=keys.ASYMMETRIC_ALGORITHMS, default="ES256")
        parser.add_argument("--kid", default="", help="key id; default: the RFC 7638 thumbprint")
        parser.add_argument("--private-key-file", default="", help="write the private PEM here (mode 0600)")

    def handle(self, *args, algorithm: str, kid: str, private_key_file: str, **options):
        private_key = keys.generate_private_key(algorithm)
        public_key = private_key.public_key()
        kid = kid or keys.thumbprint(public_key, algorithm)
        if not keys.valid_kid(kid):
            raise CommandError("--kid must be 1-64 characters of A-Z a-z 0-9 . _ : -")
        pem = keys.private_pem(private_key)
        if private_key_file:
            path = Path(private_key_file)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(pem)
            self.stdout.write(f"JWT_PRIVATE_KEY_FILE={path}")
        else:
            self.stdout.write(pem)
        jwk = {**keys.public_jwk(public_key, algorithm), "kid": kid, "alg": algorithm, "use": "sig"}
        self.stdout.write(f"JWT_ALGORITHM={algorithm}")
        self.stdout.write(f"JWT_KEY_ID={kid}")
        self.stdout.write("JWT_PUBLIC_KEYS=" + json.dumps({kid: keys.public_pem(public_key)}))
        self.stdout.write("JWKS=" + json.dumps({"keys": [jwk]}))
