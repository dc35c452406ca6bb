import Foundation
import TrainyardCore

/// Values shared by several test files.
enum Fixtures {
    /// The spec of JobSpecParserTests.fullYAML / fullJSON: every field set.
    static let fullSpec = JobSpec(
        name: "resnet50-imagenet", team: "ml-research", kind: .training, image: "ghcr.io/org/trainer:v1.2",
        command: ["python", "-m", "train"], args: ["--epochs", "10"],
        env: ["LOG_LEVEL": "debug", "DATA_DIR": "/data"],
        secrets: [
            SecretReference(env: "WANDB_API_KEY", secretName: "wandb-api-key", key: "token"),
            SecretReference(env: "HF_TOKEN", secretName: "hf-token"),
        ],
        resources: Resources(cpu: 7.5, memoryMiB: 30720, gpu: 1, instanceType: "ml.g5.2xlarge"),
        maxRuntimeSeconds: 86400,
        retry: RetryPolicy(maxAttempts: 5, backoffSeconds: 30, retryOnUserError: true),
        hyperparameters: ["lr": "0.001", "batch_size": "256"],
        inputs: [
            InputChannel(name: "train", uri: "s3://bucket/imagenet/train/"),
            InputChannel(name: "validation", uri: "s3://bucket/imagenet/val/"),
        ],
        output: OutputLocation(uri: "s3://bucket/runs/resnet50/"),
        backend: .sagemaker, warmPoolSeconds: 600, labels: ["project": "vision", "cost-center": "4711"],
        idempotencyKey: "airflow/dag_train/2026-11-29")

    /// A wire-exact time: whole milliseconds since 1970 (timestamps on topics carry milliseconds).
    static func date(milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// 2025-11-29T04:05:06.789Z
    static let submittedAt = date(milliseconds: 1_764_389_106_789)
}
