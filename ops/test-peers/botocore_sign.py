#!/usr/bin/env python3
"""Signs requests with botocore's SigV4 (the reference the Swift signer is compared with).

Reads a JSON list on stdin; each item: method, url (scheme://host[:port]/wire-path, no query),
query ([[name, value]], decoded), headers ([[name, value]]), body (base64), accessKeyId,
secretAccessKey, sessionToken (or null), timestamp (YYYYMMDDTHHMMSSZ), region, service.
Prints a JSON list of {"authorization", "amzDate", "securityToken", "canonicalRequest"}.

botocore's own SigV4Auth does the work; the only step taken out of add_auth is the clock:
the request's timestamp is put in its context (as add_auth does with the current time).
"""

import base64
import json
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(item):
    credentials = Credentials(item["accessKeyId"], item["secretAccessKey"], item.get("sessionToken"))
    auth = SigV4Auth(credentials, item["service"], item["region"])
    request = AWSRequest(method=item["method"], url=item["url"], data=base64.b64decode(item["body"]),
                         params=[tuple(pair) for pair in item["query"]] or None)
    for name, value in item["headers"]:
        request.headers[name] = value
    request.context["timestamp"] = item["timestamp"]
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    auth._inject_signature_to_request(request, signature)
    return {"authorization": request.headers["Authorization"], "amzDate": request.headers["X-Amz-Date"],
            "securityToken": request.headers.get("X-Amz-Security-Token"), "canonicalRequest": canonical}


if __name__ == "__main__":
    json.dump([sign(item) for item in json.load(sys.stdin)], sys.stdout)
