"""Run inside an app's container (`docker compose exec -T APP python -c "$(cat probes.py)" ...`):
the sidecars' ports are not published and daprd's image has no shell, so the compose tests ask
from where an app stands, in its network namespace, with its own environment. Standard library
only (the app image's Python); prints one JSON object.

    invoke VERB APP-ID/METHOD BODY   through this app's sidecar, with this app's own token
    tls HOST PORT CA-PEM             a TLS handshake with a sidecar's internal gRPC port, trusting CA-PEM,
                                     without a client certificate
"""

import json
import os
import socket
import ssl
import sys
import urllib.error
import urllib.request

# What a gRPC client sends first: the HTTP/2 connection preface and an empty SETTINGS frame.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def invoke(verb: str, target: str, body: str) -> dict[str, object]:
    """Service invocation as the app makes it: its sidecar, its DAPR_API_TOKEN. An app's 4xx
    arrives as 200 plus x-shop-status (services/shared/app.py), restored here."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{os.environ['DAPR_HTTP_PORT']}/v1.0/invoke/{target}",
        data=body.encode() or None,
        method=verb,
        headers={"dapr-api-token": os.environ["DAPR_API_TOKEN"], "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers, text = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, text = error.code, error.headers, error.read()
    return {"status": int(headers.get("x-shop-status", status)), "body": text.decode()}


def tls(host: str, port: str, ca: str) -> dict[str, object]:
    """Who the sidecar says it is (its certificate, checked against CA), and whether it then
    refuses a client that has no certificate (TLS 1.3: its refusal arrives on the first read)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # sidecars are named by SPIFFE id, not by host name
    context.load_verify_locations(cadata=ca)
    with socket.create_connection((host, int(port)), timeout=5) as raw, context.wrap_socket(raw) as conn:
        names = (conn.getpeercert() or {}).get("subjectAltName", ())
        peer = [name[1] for name in names if name[0] == "URI"]
        try:
            conn.sendall(HTTP2_PREFACE)
            conn.recv(64)
            conn.recv(64)
            refused = ""
        except (ssl.SSLError, ConnectionResetError) as error:
            refused = str(error)
        except TimeoutError:
            refused = ""  # accepted, and waiting for more
    return {"peer": peer, "refused": refused}


if __name__ == "__main__":
    probe, *args = sys.argv[1:]
    print(json.dumps({"invoke": invoke, "tls": tls}[probe](*args)))
