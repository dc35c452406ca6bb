import Foundation
import SageMakerBackend
import Testing
import TrainyardAWS
import TrainyardBackends
import TrainyardCore

@Suite struct SageMakerJobRequestTests {
    let requests = SageMakerJobRequest(
        configuration: SageMakerBackendConfiguration(
            roleArn: "arn:aws:iam::123456789012:role/exec", defaultOutputPath: "s3://bucket/default", subnets: ["subnet-1"],
            securityGroupIDs: ["sg-1"], extraTags: ["cost-center": "ml"]))
    let identity = BackendIdentity(jobID: JobID.generate(), attempt: 2, team: "vision")

    func spec(_ change: (inout JobSpec) -> Void = { _ in }) -> JobSpec {
        var spec = JobSpec(
            name: "train", team: "vision", kind: .training, image: "123.dkr.ecr.us-east-1.amazonaws.com/train:1", command: ["python", "train.py"],
            args: ["--epochs", "3"], env: ["MODE": "fast"], secrets: [SecretReference(env: "DB_PASSWORD", secretName: "prod-db", key: "password")],
            resources: Resources(cpu: 3, memoryMiB: 12_000), maxRuntimeSeconds: 7200, hyperparameters: ["lr": "0.1"],
            inputs: [InputChannel(name: "train", uri: "s3://bucket/train")], output: OutputLocation(uri: "s3://bucket/out"), warmPoolSeconds: 600,
            labels: ["project": "x"])
        change(&spec)
        return spec
    }

    func body(_ spec: JobSpec) throws -> (action: String, body: JSONValue) {
        try requests.make(identity, spec: spec).get()
    }

    @Test func trainingJobCarriesEveryPartOfTheSpec() throws {
        let (action, body) = try body(spec())
        #expect(action == "CreateTrainingJob")
        #expect(body["TrainingJobName"] == .string(identity.resourceName))
        #expect(body["RoleArn"] == "arn:aws:iam::123456789012:role/exec")
        #expect(
            body["AlgorithmSpecification"]
                == [
                    "TrainingImage": "123.dkr.ecr.us-east-1.amazonaws.com/train:1", "TrainingInputMode": "File",
                    "ContainerEntrypoint": ["python", "train.py"], "ContainerArguments": ["--epochs", "3"],
                ])
        #expect(body["Environment"] == ["MODE": "fast", "DB_PASSWORD_SECRET_ID": "prod-db", "DB_PASSWORD_SECRET_KEY": "password"])
        #expect(body["HyperParameters"] == ["lr": "0.1"])
        #expect(body["InputDataConfig"]?.array?.first?["DataSource"]?["S3DataSource"]?["S3Uri"] == "s3://bucket/train")
        #expect(body["OutputDataConfig"] == ["S3OutputPath": "s3://bucket/out"])
        #expect(
            body["ResourceConfig"] == ["InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30, "KeepAlivePeriodInSeconds": 600])
        #expect(body["StoppingCondition"] == ["MaxRuntimeInSeconds": 7200])
        #expect(body["VpcConfig"] == ["Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]])
        let tags = Dictionary(uniqueKeysWithValues: (body["Tags"]?.array ?? []).map { ($0["Key"]!.string!, $0["Value"]!.string!) })
        #expect(
            tags == [
                "trainyard.io/job-id": identity.jobID.rawValue, "trainyard.io/attempt": "2", "trainyard.io/team": "vision", "project": "x",
                "cost-center": "ml",
            ])
    }

    @Test func secretValuesNeverAppearOnlyReferences() throws {
        let bytes = String(decoding: try body(spec()).body.encoded(), as: UTF8.self)
        #expect(bytes.contains("prod-db"))
        #expect(!bytes.contains("SECRET_VALUE"))
    }

    @Test func processingJobUsesTheProcessingVocabulary() throws {
        let (action, body) = try body(
            spec {
                $0.kind = .processing
                $0.hyperparameters = [:]
            })
        #expect(action == "CreateProcessingJob")
        #expect(body["ProcessingJobName"] == .string(identity.resourceName))
        #expect(body["AppSpecification"]?["ImageUri"] == "123.dkr.ecr.us-east-1.amazonaws.com/train:1")
        #expect(body["ProcessingResources"]?["ClusterConfig"]?["InstanceType"] == "ml.m5.xlarge")
        #expect(body["NetworkConfig"]?["VpcConfig"]?["Subnets"] == ["subnet-1"])
        #expect(body["ProcessingOutputConfig"]?["Outputs"]?.array?.first?["S3Output"]?["S3Uri"] == "s3://bucket/out")
        guard case .failure(let error) = requests.make(identity, spec: spec { $0.kind = .processing }) else {
            Issue.record("a processing job with hyperparameters must be rejected")
            return
        }
        #expect(error.message.contains("take no hyperparameters"))
    }

    /// Each case: what is wrong, how the spec gets it, and what the message must say.
    static let limitCases: [(name: String, change: @Sendable (inout JobSpec) -> Void, message: String)] = [
        ("env count", { $0.env = Dictionary(uniqueKeysWithValues: (0..<100).map { ("K\($0)", "v") }) }, "at most 100"),
        ("env name", { $0.env = ["1BAD": "v"] }, "[a-zA-Z_][a-zA-Z0-9_]*"),
        ("env value", { $0.env = ["LONG": String(repeating: "x", count: 513)] }, "longer than 512"),
        ("hyperparameter count", { $0.hyperparameters = Dictionary(uniqueKeysWithValues: (0..<101).map { ("h\($0)", "v") }) }, "at most 100"),
        ("hyperparameter key", { $0.hyperparameters = [String(repeating: "k", count: 257): "v"] }, "longer than 256"),
        ("hyperparameter value", { $0.hyperparameters = ["k": String(repeating: "v", count: 2501)] }, "longer than 2500"),
        ("image", { $0.image = nil }, "image is required"),
        ("warm pool", { $0.warmPoolSeconds = 3601 }, "0...3600"),
        ("secret collides", { $0.env["DB_PASSWORD_SECRET_ID"] = "x" }, "also set by the secret reference"),
        ("channel", { $0.inputs = [InputChannel(name: "bad name", uri: "s3://b/x")] }, "channel name"),
        ("input uri", { $0.inputs = [InputChannel(name: "train", uri: "/local/path")] }, "must be an s3:// URI"),
        ("impossible resources", { $0.resources = Resources(cpu: 500, memoryMiB: 1024) }, "no SageMaker instance type offers"),
        ("explicit non-ml type", { $0.resources.instanceType = "m5.large" }, "is not a SageMaker instance type"),
        ("max runtime", { $0.maxRuntimeSeconds = 2_419_201 }, "maxRuntimeSeconds must be"),
    ]

    @Test func limitsAreCheckedUpFrontWithTheFieldInTheMessage() {
        for limit in Self.limitCases {
            switch requests.make(identity, spec: spec(limit.change)) {
            case .success: Issue.record("\(limit.name): expected a rejection")
            case .failure(let error): #expect(error.message.contains(limit.message), "\(limit.name): \(error.message)")
            }
        }
    }

    @Test func environmentWithSecretsAtTheLimitPasses() throws {
        // 98 env entries + 2 from the secret reference = 100.
        let (_, body) = try body(spec { $0.env = Dictionary(uniqueKeysWithValues: (0..<98).map { ("K\($0)", "v") }) })
        if case .object(let environment)? = body["Environment"] { #expect(environment.count == 100) } else { Issue.record("no Environment") }
    }
}
