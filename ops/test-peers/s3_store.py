#!/usr/bin/env python3
"""An S3-compatible object store (moto's S3) with one bucket, for a Tansu broker whose topics,
records, consumer groups and offsets must survive the broker's restart (`--storage-engine
s3://BUCKET/`).

Prints one JSON line on stdout when the bucket exists: endpoint, bucket, region. Runs until stdin
closes or SIGTERM. Used by the test kit (`BrokerObjectStore`) and `ops/chaos --broker-faults
--broker-storage s3`; the broker reads the settings `broker_environment` gives.
"""

import argparse
import json
import sys

REGION = "us-east-1"


def broker_environment(endpoint: str) -> dict[str, str]:
    """What Tansu needs to use this store: the endpoint, plain HTTP, fake credentials (moto does
    not check them here)."""
    return {"AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}


def start(bucket: str):
    """Starts moto's S3 on a free loopback port and creates `bucket`; returns (server, endpoint)."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=bucket)
    return server, endpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", default="tansu")
    args = parser.parse_args()
    server, endpoint = start(args.bucket)
    print(json.dumps({"endpoint": endpoint, "bucket": args.bucket, "region": REGION}), flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    server.stop()


if __name__ == "__main__":
    main()
