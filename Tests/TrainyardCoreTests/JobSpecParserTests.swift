import Foundation
import Testing
import TrainyardCore

/// `JobSpecParser` (YAML and JSON) and the `JobSpecValidator` behind it: values, defaults, and
/// the exact field-level violations a bad spec gets.
@Suite("JobSpecParser")
struct JobSpecParserTests {
    // MARK: fixtures

    static let fullYAML = """
        apiVersion: trainyard/v1
        name: resnet50-imagenet
        team: ml-research
        kind: training
        image: ghcr.io/org/trainer:v1.2
        command:
          - python
          - -m
          - train
        args: ["--epochs", "10"]
        env:
          LOG_LEVEL: debug
          DATA_DIR: /data
        secrets:
          - env: WANDB_API_KEY
            secretName: wandb-api-key
            key: token
          - env: HF_TOKEN
            secretName: hf-token
        resources:
          cpu: 7.5
          memoryMiB: 30720
          gpu: 1
          instanceType: ml.g5.2xlarge
        maxRuntimeSeconds: 86400
        retry:
          maxAttempts: 5
          backoffSeconds: 30
          retryOnUserError: true
        hyperparameters:
          lr: "0.001"
          batch_size: "256"
        inputs:
          - name: train
            uri: s3://bucket/imagenet/train/
          - name: validation
            uri: s3://bucket/imagenet/val/
        output:
          uri: s3://bucket/runs/resnet50/
        backend: sagemaker
        warmPoolSeconds: 600
        labels:
          project: vision
          cost-center: "4711"
        idempotencyKey: airflow/dag_train/2026-11-29
        """

    static let fullJSON = """
        {
          "apiVersion": "trainyard/v1",
          "name": "resnet50-imagenet",
          "team": "ml-research",
          "kind": "training",
          "image": "ghcr.io/org/trainer:v1.2",
          "command": ["python", "-m", "train"],
          "args": ["--epochs", "10"],
          "env": {"LOG_LEVEL": "debug", "DATA_DIR": "/data"},
          "secrets": [
            {"env": "WANDB_API_KEY", "secretName": "wandb-api-key", "key": "token"},
            {"env": "HF_TOKEN", "secretName": "hf-token"}
          ],
          "resources": {"cpu": 7.5, "memoryMiB": 30720, "gpu": 1, "instanceType": "ml.g5.2xlarge"},
          "maxRuntimeSeconds": 86400,
          "retry": {"maxAttempts": 5, "backoffSeconds": 30, "retryOnUserError": true},
          "hyperparameters": {"lr": "0.001", "batch_size": "256"},
          "inputs": [
            {"name": "train", "uri": "s3://bucket/imagenet/train/"},
            {"name": "validation", "uri": "s3://bucket/imagenet/val/"}
          ],
          "output": {"uri": "s3://bucket/runs/resnet50/"},
          "backend": "sagemaker",
          "warmPoolSeconds": 600,
          "labels": {"project": "vision", "cost-center": "4711"},
          "idempotencyKey": "airflow/dag_train/2026-11-29"
        }
        """

    static let fullSpec = Fixtures.fullSpec

    /// The smallest valid spec, as top-level YAML keys in order.
    static let minimalFields: [(String, String)] = [
        ("apiVersion", "trainyard/v1"),
        ("name", "nightly-etl"),
        ("team", "data-eng"),
        ("command", "[\"./run.sh\"]"),
    ]

    /// The minimal spec with `overrides` applied: a non-nil value replaces (or adds, at the end)
    /// that top-level key; nil removes it. Values are YAML fragments (may span lines).
    static func yaml(_ overrides: [String: String?] = [:]) -> String {
        var lines: [String] = []
        for (key, value) in minimalFields {
            if let override = overrides[key] {
                if let override { lines.append("\(key): \(override)") }
            } else {
                lines.append("\(key): \(value)")
            }
        }
        let baseKeys = Set(minimalFields.map(\.0))
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) where !baseKeys.contains(key) {
            if let value { lines.append("\(key): \(value)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The violations `parse` reports for `bytes`, or nil when it accepts them.
    static func violations(_ bytes: Data) -> [SpecViolation]? {
        do {
            _ = try JobSpecParser.parse(bytes)
            return nil
        } catch {
            return error.violations
        }
    }

    static func violations(_ text: String) -> [SpecViolation]? { violations(Data(text.utf8)) }

    static func v(_ field: String, _ message: String) -> SpecViolation { SpecViolation(field: field, message: message) }

    static let imageMessage = "is not a valid image reference (registry/repository[:tag][@sha256:digest])"
    static let identifierMessage = "is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)"
    static let digest = String(repeating: "0123456789abcdef", count: 4)

    // MARK: valid specs

    @Test("a full YAML spec and the same spec as JSON parse to equal values")
    func fullSpecYAMLAndJSON() throws {
        let fromYAML = try JobSpecParser.parse(Data(Self.fullYAML.utf8))
        let fromJSON = try JobSpecParser.parse(Data(Self.fullJSON.utf8))
        #expect(fromYAML == fromJSON)
        #expect(fromYAML == Self.fullSpec)
    }

    @Test("JSON is recognised after leading whitespace")
    func jsonAfterWhitespace() throws {
        let spec = try JobSpecParser.parse(Data(("\n \t\r\n" + Self.fullJSON).utf8))
        #expect(spec == Self.fullSpec)
    }

    @Test("omitted optional fields take their documented defaults")
    func defaults() throws {
        let spec = try JobSpecParser.parse(Data(Self.yaml().utf8))
        #expect(spec == JobSpec(name: "nightly-etl", team: "data-eng", command: ["./run.sh"]))
        #expect(spec.apiVersion == "trainyard/v1")
        #expect(spec.kind == .batch)
        #expect(spec.image == nil)
        #expect(spec.args.isEmpty && spec.env.isEmpty && spec.secrets.isEmpty)
        #expect(spec.resources == Resources(cpu: 1, memoryMiB: 1024, gpu: 0, instanceType: nil))
        #expect(spec.maxRuntimeSeconds == 3600)
        #expect(spec.retry == RetryPolicy(maxAttempts: 3, backoffSeconds: 5, retryOnUserError: false))
        #expect(spec.hyperparameters.isEmpty && spec.inputs.isEmpty && spec.output == nil)
        #expect(spec.backend == .auto)
        #expect(spec.warmPoolSeconds == nil)
        #expect(spec.labels.isEmpty)
        #expect(spec.idempotencyKey == nil)
    }

    @Test("partly given nested objects take defaults for their omitted fields")
    func nestedDefaults() throws {
        let text = Self.yaml(["resources": "\n  gpu: 2", "retry": "\n  retryOnUserError: true"])
        let spec = try JobSpecParser.parse(Data(text.utf8))
        #expect(spec.resources == Resources(cpu: 1, memoryMiB: 1024, gpu: 2))
        #expect(spec.retry == RetryPolicy(maxAttempts: 3, backoffSeconds: 5, retryOnUserError: true))

        let json = #"{"apiVersion":"trainyard/v1","name":"n","team":"t","command":["x"],"resources":{},"retry":{}}"#
        let fromJSON = try JobSpecParser.parse(Data(json.utf8))
        #expect(fromJSON.resources == Resources())
        #expect(fromJSON.retry == RetryPolicy())
    }

    @Test(
        "valid image references are accepted",
        arguments: [
            "python:3.11-slim",
            "ghcr.io/org/img:v1",
            "localhost:5000/a/b@sha256:" + String(repeating: "0123456789abcdef", count: 4),
            "busybox",
            "registry.example.com:443/team/sub/img:2026.11.29_rc-1",
            "img@sha256:" + String(repeating: "ab", count: 32),
        ])
    func goodImages(image: String) throws {
        let spec = try JobSpecParser.parse(Data(Self.yaml(["image": "\"\(image)\""]).utf8))
        #expect(spec.image == image)
    }

    @Test("a spec of exactly the size limit is accepted")
    func documentAtLimit() throws {
        var text = Self.yaml() + "# "
        text += String(repeating: "x", count: JobSpecParser.maxDocumentBytes - text.utf8.count - 1) + "\n"
        #expect(text.utf8.count == JobSpecParser.maxDocumentBytes)
        #expect(Self.violations(text) == nil)
    }

    // MARK: invalid specs, one problem each

    struct BadSpec: Sendable, CustomTestStringConvertible {
        var label: String
        var text: String
        var expected: [SpecViolation]
        var testDescription: String { label }
    }

    static let badSpecs: [BadSpec] = [
        BadSpec(
            label: "negative cpu", text: yaml(["resources": "\n  cpu: -1"]),
            expected: [v("resources.cpu", "must be > 0 and ≤ 1024 (got -1.0)")]),
        BadSpec(
            label: "cpu 0", text: yaml(["resources": "\n  cpu: 0"]),
            expected: [v("resources.cpu", "must be > 0 and ≤ 1024 (got 0.0)")]),
        BadSpec(
            label: "memoryMiB 0", text: yaml(["resources": "\n  memoryMiB: 0"]),
            expected: [v("resources.memoryMiB", "must be > 0 and ≤ 4194304 (got 0)")]),
        BadSpec(
            label: "gpu 65", text: yaml(["resources": "\n  gpu: 65"]),
            expected: [v("resources.gpu", "must be between 0 and 64 (got 65)")]),
        BadSpec(
            label: "image UPPER/case", text: yaml(["image": "\"UPPER/case\""]),
            expected: [v("image", "\"UPPER/case\" " + imageMessage)]),
        BadSpec(
            label: "image repo:", text: yaml(["image": "\"repo:\""]),
            expected: [v("image", "\"repo:\" " + imageMessage)]),
        BadSpec(
            label: "image a//b", text: yaml(["image": "\"a//b\""]),
            expected: [v("image", "\"a//b\" " + imageMessage)]),
        BadSpec(
            label: "image with a short digest", text: yaml(["image": "\"image@sha256:short\""]),
            expected: [v("image", "\"image@sha256:short\" " + imageMessage)]),
        BadSpec(
            label: "image with an upper-case digest", text: yaml(["image": "\"img@sha256:\(digest.uppercased())\""]),
            expected: [v("image", "\"img@sha256:\(digest.uppercased())\" " + imageMessage)]),
        BadSpec(
            label: "kubernetes backend without an image", text: yaml(["backend": "kubernetes"]),
            expected: [v("image", "is required for the kubernetes backend")]),
        BadSpec(
            label: "env name 1PATH", text: yaml(["env": "\n  1PATH: /bin"]),
            expected: [v("env.1PATH", identifierMessage)]),
        BadSpec(
            label: "env name A-B", text: yaml(["env": "\n  A-B: x"]),
            expected: [v("env.A-B", identifierMessage)]),
        BadSpec(
            label: "secret env also set in env",
            text: yaml(["env": "\n  PATH: /bin", "secrets": "\n  - env: PATH\n    secretName: sys-path"]),
            expected: [v("secrets[0].env", "PATH is also set in env")]),
        BadSpec(
            label: "secret env listed twice",
            text: yaml(["secrets": "\n  - env: TOKEN\n    secretName: a\n  - env: TOKEN\n    secretName: b"]),
            expected: [v("secrets[1].env", "TOKEN is listed twice")]),
        BadSpec(
            label: "unknown backend", text: yaml(["backend": "gpu-cluster"]),
            expected: [v("backend", "must be one of auto, local, sagemaker, kubernetes")]),
        BadSpec(
            label: "unknown kind", text: yaml(["kind": "inference"]),
            expected: [v("kind", "must be one of training, processing, batch, hpo")]),
        BadSpec(
            label: "missing team", text: yaml(["team": nil]),
            expected: [v("team", "is required")]),
        BadSpec(
            label: "missing apiVersion", text: yaml(["apiVersion": nil]),
            expected: [v("apiVersion", "is required")]),
        BadSpec(
            label: "missing secretName in secrets[0]", text: yaml(["secrets": "\n  - env: TOKEN"]),
            expected: [v("secrets[0].secretName", "is required")]),
        BadSpec(
            label: "command is a string", text: yaml(["command": "\"a string\""]),
            expected: [v("command", "must be a list")]),
        BadSpec(
            label: "env is a list", text: yaml(["env": "[A, B]"]),
            expected: [v("env", "must be a mapping")]),
        BadSpec(
            label: "retry.maxAttempts is not a number", text: yaml(["retry": "\n  maxAttempts: three"]),
            expected: [v("retry.maxAttempts", "must be an integer")]),
        BadSpec(
            label: "apiVersion trainyard/v2", text: yaml(["apiVersion": "trainyard/v2"]),
            expected: [v("apiVersion", "unsupported version \"trainyard/v2\" (this build reads trainyard/v1)")]),
        BadSpec(
            label: "maxRuntimeSeconds 0", text: yaml(["maxRuntimeSeconds": "0"]),
            expected: [v("maxRuntimeSeconds", "must be between 1 and 2419200 (got 0)")]),
        BadSpec(
            label: "maxRuntimeSeconds over 28 days", text: yaml(["maxRuntimeSeconds": "2419201"]),
            expected: [v("maxRuntimeSeconds", "must be between 1 and 2419200 (got 2419201)")]),
        BadSpec(
            label: "retry.maxAttempts 11", text: yaml(["retry": "\n  maxAttempts: 11"]),
            expected: [v("retry.maxAttempts", "must be between 1 and 10 (got 11)")]),
        BadSpec(
            label: "hyperparameter value of 2501 characters",
            text: yaml(["hyperparameters": "\n  lr: \"\(String(repeating: "1", count: 2501))\""]),
            expected: [v("hyperparameters.lr", "value must be at most 2500 characters")]),
        BadSpec(
            label: "empty idempotency key", text: yaml(["idempotencyKey": "\"\""]),
            expected: [v("idempotencyKey", "must be 1-256 printable characters")]),
        BadSpec(
            label: "invalid YAML", text: "name: [unclosed\nteam: x\n",
            expected: [v("", "not valid YAML: did not find expected ',' or ']' (line 2, column 5)")]),
        BadSpec(
            label: "invalid JSON", text: #"{"apiVersion": "trainyard/v1", "name": }"#,
            expected: [v("", "not valid YAML or JSON")]),
        BadSpec(
            label: "JSON missing team",
            text: #"{"apiVersion":"trainyard/v1","name":"n","command":["x"]}"#,
            expected: [v("team", "is required")]),
        BadSpec(
            label: "JSON command is a string",
            text: #"{"apiVersion":"trainyard/v1","name":"n","team":"t","command":"a string"}"#,
            expected: [v("command", "must be a list")]),
        BadSpec(
            label: "JSON unknown backend",
            text: #"{"apiVersion":"trainyard/v1","name":"n","team":"t","command":["x"],"backend":"gpu-cluster"}"#,
            expected: [v("backend", "must be one of auto, local, sagemaker, kubernetes")]),
    ]

    @Test("a bad spec gets exactly the expected violations", arguments: badSpecs)
    func badSpec(_ bad: BadSpec) {
        #expect(Self.violations(bad.text) == bad.expected)
    }

    @Test("101 env entries are one violation, on env")
    func tooManyEnvEntries() {
        let entries = (0...100).map { "\n  VAR_\($0): v" }.joined()
        #expect(Self.violations(Self.yaml(["env": entries])) == [Self.v("env", "at most 100 entries (got 101)")])
    }

    @Test("env and secrets together over 100 entries are one violation, on secrets")
    func tooManyEnvAndSecrets() {
        let env = (0..<60).map { "\n  VAR_\($0): v" }.joined()
        let secrets = (0..<41).map { "\n  - env: SECRET_\($0)\n    secretName: s\($0)" }.joined()
        #expect(
            Self.violations(Self.yaml(["env": env, "secrets": secrets]))
                == [Self.v("secrets", "env and secrets together must be at most 100 entries")])
    }

    @Test("a document over 256 KiB is rejected before parsing")
    func oversizedDocument() {
        var text = Self.yaml() + "# "
        text += String(repeating: "x", count: JobSpecParser.maxDocumentBytes + 1 - text.utf8.count - 1) + "\n"
        #expect(text.utf8.count == 262_145)
        #expect(Self.violations(text) == [Self.v("", "document is 262145 bytes; the limit is 262144")])
    }

    @Test("a YAML document that is not UTF-8 is rejected")
    func notUTF8() {
        var bytes = Data(Self.yaml().utf8)
        bytes.append(contentsOf: [0x6C, 0x61, 0x62, 0x65, 0x6C, 0x3A, 0x20, 0xFF, 0xFE, 0xC3, 0x28, 0x0A])
        #expect(Self.violations(bytes) == [Self.v("", "document is not UTF-8 text")])
    }

    // MARK: many problems at once

    @Test("every validation problem of one spec is reported, in field order")
    func multipleViolations() {
        let text = """
            apiVersion: trainyard/v2
            name: "bad name!"
            team: ML
            image: "UPPER/case"
            command: []
            env:
              A-B: y
              1PATH: x
            resources:
              cpu: -1
              memoryMiB: 0
              gpu: 65
            maxRuntimeSeconds: 0
            retry:
              maxAttempts: 11
            hyperparameters:
              lr: "\(String(repeating: "9", count: 2501))"
            """
        let v = Self.v
        #expect(
            Self.violations(text) == [
                v("apiVersion", "unsupported version \"trainyard/v2\" (this build reads trainyard/v1)"),
                v("name", "must be 1-128 characters of letters, digits, '.', '_' or '-'"),
                v("team", "must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit"),
                v("image", "\"UPPER/case\" " + Self.imageMessage),
                v("command", "must name a program"),
                v("env.1PATH", Self.identifierMessage),
                v("env.A-B", Self.identifierMessage),
                v("resources.cpu", "must be > 0 and ≤ 1024 (got -1.0)"),
                v("resources.memoryMiB", "must be > 0 and ≤ 4194304 (got 0)"),
                v("resources.gpu", "must be between 0 and 64 (got 65)"),
                v("maxRuntimeSeconds", "must be between 1 and 2419200 (got 0)"),
                v("retry.maxAttempts", "must be between 1 and 10 (got 11)"),
                v("hyperparameters.lr", "value must be at most 2500 characters"),
            ])
    }

    @Test("validate(_:) reports what parse would, for an already decoded spec")
    func validateDecodedSpec() {
        var spec = Self.fullSpec
        #expect(throws: Never.self) { try JobSpecParser.validate(spec) }
        spec.resources.gpu = 65
        spec.retry.maxAttempts = 0
        #expect(
            throws: InvalidSpecError([
                Self.v("resources.gpu", "must be between 0 and 64 (got 65)"),
                Self.v("retry.maxAttempts", "must be between 1 and 10 (got 0)"),
            ])
        ) { try JobSpecParser.validate(spec) }
    }

    @Test("InvalidSpecError describes every violation")
    func errorDescription() {
        let error = InvalidSpecError([Self.v("", "not valid YAML or JSON"), Self.v("resources.gpu", "too many")])
        #expect(error.description == "invalid job spec: not valid YAML or JSON; resources.gpu: too many")
    }
}
