"""oidc-provider-mock's own command line, served over HTTPS.

The package has no TLS option. Its CLI hands its WSGI app to uvicorn.run, so
this adds the certificate and key to that call and leaves every other option
to the CLI. Flask then sees https requests: the issuer in the discovery
document and in ID tokens is https://HOST:PORT.

    python oidc_provider_tls.py CERT KEY [oidc-provider-mock options...]
"""

import functools
import sys

import uvicorn
from oidc_provider_mock.__main__ import run

cert, key, *args = sys.argv[1:]
uvicorn.run = functools.partial(uvicorn.run, ssl_certfile=cert, ssl_keyfile=key)
run.main(args=args, prog_name="oidc-provider-mock")
