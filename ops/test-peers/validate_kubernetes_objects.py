#!/usr/bin/env python3
"""Validates every Job a kube-apiserver stand-in received against the Kubernetes OpenAPI schema
(kubernetes-validate, strict: unknown fields are errors). Usage: validate_kubernetes_objects.py
BASE_URL [KUBERNETES_VERSION]. Prints one line per object; exits 1 if any is invalid or none was
received."""

import json
import sys
import urllib.request

import kubernetes_validate


def main():
    base = sys.argv[1].rstrip("/")
    version = sys.argv[2] if len(sys.argv) > 2 else kubernetes_validate.latest_version()
    with urllib.request.urlopen(f"{base}/_standin/created-jobs") as response:
        objects = json.load(response)
    if not objects:
        print("no Jobs were created")
        return 1
    failures = 0
    for obj in objects:
        name = obj.get("metadata", {}).get("name")
        try:
            kubernetes_validate.validate(obj, version, strict=True)
            print(f"valid {obj.get('kind')} {name} (Kubernetes {version})")
        except kubernetes_validate.ValidationError as error:
            failures += 1
            print(f"INVALID {obj.get('kind')} {name}: {error.message} at {'.'.join(str(p) for p in error.path)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
