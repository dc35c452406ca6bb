import TrainyardAWS
import TrainyardBackends
import TrainyardCore

/// Builds the CreateTrainingJob / CreateProcessingJob request for one attempt, checking
/// SageMaker's documented limits first so a bad spec fails with a clear message instead of an
/// AWS ValidationException (or worse, a truncated value).
///
/// Secrets: SageMaker has no secret references in its job API, so each secret reference becomes
/// the environment variables `<ENV>_SECRET_ID` (the secret's name, the `SecretId` of AWS Secrets
/// Manager's GetSecretValue) and, with a key, `<ENV>_SECRET_KEY`; the job's code resolves them at
/// run time with its execution role. The value never leaves the secret store.
public struct SageMakerJobRequest: Sendable {
    public let configuration: SageMakerBackendConfiguration
    public let instanceTypes: InstanceTypeTable

    public init(configuration: SageMakerBackendConfiguration, instanceTypes: InstanceTypeTable = InstanceTypeTable()) {
        self.configuration = configuration
        self.instanceTypes = instanceTypes
    }

    /// The create action (`CreateTrainingJob` / `CreateProcessingJob`) and its body.
    public func make(_ identity: BackendIdentity, spec: JobSpec) -> Result<(action: String, body: JSONValue), SageMakerMappingError> {
        do {
            let kind = SageMakerJobKind(spec.kind)
            return .success(("Create\(kind.noun)", try body(kind, identity, spec)))
        } catch { return .failure(error) }
    }

    private func body(_ kind: SageMakerJobKind, _ identity: BackendIdentity, _ spec: JobSpec) throws(SageMakerMappingError) -> JSONValue {
        guard let image = spec.image, !image.isEmpty else { throw SageMakerMappingError("image is required on SageMaker") }
        let instanceType = try instanceTypes.choose(for: spec.resources).get()
        guard let output = spec.output?.uri ?? configuration.defaultOutputPath else {
            throw SageMakerMappingError("output is required on SageMaker (or set defaultOutputPath on the target)")
        }
        try Self.checkS3(output, field: "output.uri")
        let environment = try environment(spec, valueLimit: kind == .training ? 512 : 256, keyLimit: kind == .training ? 512 : 256)
        try Self.checkList(spec.command, field: "command", count: 100, length: 256)
        try Self.checkList(spec.args, field: "args", count: 100, length: 256)
        for input in spec.inputs {
            try Self.checkChannelName(input.name)
            try Self.checkS3(input.uri, field: "inputs[\(input.name)].uri")
        }
        let maxRuntimeLimit = kind == .training ? 2_419_200 : 777_600
        guard (1...maxRuntimeLimit).contains(spec.maxRuntimeSeconds) else {
            throw SageMakerMappingError("maxRuntimeSeconds must be 1...\(maxRuntimeLimit) on SageMaker \(kind.rawValue) jobs")
        }
        var body: [String: JSONValue] = [
            kind.nameField: .string(identity.resourceName),
            "RoleArn": .string(configuration.roleArn),
            "StoppingCondition": ["MaxRuntimeInSeconds": .number(Double(spec.maxRuntimeSeconds))],
            "Tags": try tags(identity, spec),
        ]
        if !environment.isEmpty { body["Environment"] = .object(environment.mapValues { .string($0) }) }
        let vpc: JSONValue? =
            configuration.subnets.isEmpty
            ? nil
            : [
                "Subnets": .array(configuration.subnets.map { .string($0) }),
                "SecurityGroupIds": .array(configuration.securityGroupIDs.map { .string($0) }),
            ]
        var container: [String: JSONValue] = [:]
        if !spec.command.isEmpty { container["ContainerEntrypoint"] = .array(spec.command.map { .string($0) }) }
        if !spec.args.isEmpty { container["ContainerArguments"] = .array(spec.args.map { .string($0) }) }
        switch kind {
        case .training:
            try Self.checkMap(spec.hyperparameters, field: "hyperparameters", count: 100, keyLength: 256, valueLength: 2500)
            guard spec.inputs.count <= 20 else { throw SageMakerMappingError("at most 20 input channels on SageMaker (got \(spec.inputs.count))") }
            container["TrainingImage"] = .string(image)
            container["TrainingInputMode"] = "File"
            body["AlgorithmSpecification"] = .object(container)
            if !spec.hyperparameters.isEmpty { body["HyperParameters"] = .object(spec.hyperparameters.mapValues { .string($0) }) }
            body["InputDataConfig"] = .array(
                spec.inputs.map { input in
                    [
                        "ChannelName": .string(input.name),
                        "DataSource": [
                            "S3DataSource": ["S3DataType": "S3Prefix", "S3Uri": .string(input.uri), "S3DataDistributionType": "FullyReplicated"]
                        ],
                    ] as JSONValue
                })
            if spec.inputs.isEmpty { body["InputDataConfig"] = nil }
            body["OutputDataConfig"] = ["S3OutputPath": .string(output)]
            var resources: [String: JSONValue] = [
                "InstanceType": .string(instanceType), "InstanceCount": 1, "VolumeSizeInGB": .number(Double(configuration.volumeSizeGB)),
            ]
            if let keepAlive = spec.warmPoolSeconds {
                guard (0...3600).contains(keepAlive) else {
                    throw SageMakerMappingError("warmPoolSeconds must be 0...3600 on SageMaker (got \(keepAlive))")
                }
                resources["KeepAlivePeriodInSeconds"] = .number(Double(keepAlive))
            }
            body["ResourceConfig"] = .object(resources)
            if let vpc { body["VpcConfig"] = vpc }
        case .processing:
            guard spec.hyperparameters.isEmpty else {
                throw SageMakerMappingError("SageMaker processing jobs take no hyperparameters: pass them as args or env")
            }
            container["ImageUri"] = .string(image)
            body["AppSpecification"] = .object(container)
            body["ProcessingInputs"] = .array(
                spec.inputs.map { input in
                    [
                        "InputName": .string(input.name),
                        "S3Input": [
                            "S3Uri": .string(input.uri), "LocalPath": .string("/opt/ml/processing/input/\(input.name)"), "S3DataType": "S3Prefix",
                            "S3InputMode": "File",
                        ],
                    ] as JSONValue
                })
            if spec.inputs.isEmpty { body["ProcessingInputs"] = nil }
            body["ProcessingOutputConfig"] = [
                "Outputs": [
                    [
                        "OutputName": "output",
                        "S3Output": ["S3Uri": .string(output), "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"],
                    ]
                ]
            ]
            body["ProcessingResources"] = [
                "ClusterConfig": [
                    "InstanceType": .string(instanceType), "InstanceCount": 1, "VolumeSizeInGB": .number(Double(configuration.volumeSizeGB)),
                ]
            ]
            if let vpc { body["NetworkConfig"] = ["VpcConfig": vpc] }
        }
        return .object(body)
    }

    /// The spec's env plus the secret references, checked against SageMaker's `Environment` limits.
    private func environment(_ spec: JobSpec, valueLimit: Int, keyLimit: Int) throws(SageMakerMappingError) -> [String: String] {
        var environment = spec.env
        for secret in spec.secrets {
            for (name, value) in [("\(secret.env)_SECRET_ID", secret.secretName), ("\(secret.env)_SECRET_KEY", secret.key)] {
                guard let value else { continue }
                guard environment[name] == nil else {
                    throw SageMakerMappingError("env \(name) is also set by the secret reference of \(secret.env); rename one of them")
                }
                environment[name] = value
            }
        }
        try Self.checkMap(environment, field: "env (with secret references)", count: 100, keyLength: keyLimit, valueLength: valueLimit)
        for key in environment.keys where !Self.isEnvironmentName(key) {
            throw SageMakerMappingError("env name \"\(key)\" does not match SageMaker's pattern [a-zA-Z_][a-zA-Z0-9_]*")
        }
        return environment
    }

    /// Tags: the target's extra tags, the spec's labels, then the identity (which always wins).
    private func tags(_ identity: BackendIdentity, _ spec: JobSpec) throws(SageMakerMappingError) -> JSONValue {
        var tags = configuration.extraTags
        tags.merge(spec.labels) { _, label in label }
        tags.merge(identity.labels) { _, own in own }
        guard tags.count <= 50 else { throw SageMakerMappingError("at most 50 tags on SageMaker: labels plus 3 Trainyard tags (got \(tags.count))") }
        for (key, value) in tags {
            guard (1...128).contains(key.count), value.count <= 256, !key.lowercased().hasPrefix("aws:") else {
                throw SageMakerMappingError("label \"\(key)\" cannot be a SageMaker tag (key 1...128 characters not starting with aws:, value ≤ 256)")
            }
        }
        return .array(tags.sorted { $0.key < $1.key }.map { ["Key": .string($0.key), "Value": .string($0.value)] })
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    private static func checkMap(_ map: [String: String], field: String, count: Int, keyLength: Int, valueLength: Int) throws(SageMakerMappingError) {
        guard map.count <= count else { throw SageMakerMappingError("\(field): at most \(count) entries on SageMaker (got \(map.count))") }
        for (key, value) in map.sorted(by: { $0.key < $1.key }) {
            guard (1...keyLength).contains(key.count) else {
                throw SageMakerMappingError("\(field): key \"\(key.prefix(40))…\" is longer than \(keyLength) characters")
            }
            guard value.count <= valueLength else {
                throw SageMakerMappingError("\(field): the value of \(key) is longer than \(valueLength) characters")
            }
        }
    }

    private static func checkList(_ list: [String], field: String, count: Int, length: Int) throws(SageMakerMappingError) {
        guard list.count <= count else { throw SageMakerMappingError("\(field): at most \(count) items on SageMaker (got \(list.count))") }
        if let long = list.firstIndex(where: { $0.count > length }) {
            throw SageMakerMappingError("\(field)[\(long)] is longer than \(length) characters (SageMaker's limit)")
        }
    }

    private static func checkChannelName(_ name: String) throws(SageMakerMappingError) {
        let allowed = name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".-_".unicodeScalars.contains($0))
        }
        guard allowed, (1...64).contains(name.count) else {
            throw SageMakerMappingError("input channel name \"\(name)\" must be 1...64 characters of [A-Za-z0-9.-_]")
        }
    }

    private static func checkS3(_ uri: String, field: String) throws(SageMakerMappingError) {
        guard uri.hasPrefix("s3://") || uri.hasPrefix("https://") else {
            throw SageMakerMappingError("\(field) must be an s3:// URI (got \"\(uri)\")")
        }
    }
}
