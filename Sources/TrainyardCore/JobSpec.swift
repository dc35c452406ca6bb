/// What a team asks Trainyard to run: one spec runs unchanged on any backend.
///
/// Written as YAML or JSON; `apiVersion` versions the schema. Secret values never appear here:
/// `secrets` names references that are resolved inside the job at run time.
public struct JobSpec: Codable, Sendable, Equatable {
    /// The only schema version this build reads.
    public static let currentAPIVersion = "trainyard/v1"

    public var apiVersion: String
    /// Human-readable name, unique only by convention.
    public var name: String
    /// The owning team: access control, routing and alerting key on it.
    public var team: String
    public var kind: JobKind
    /// Container image; required by container backends, informational for `local`.
    public var image: String?
    /// The program and its arguments, run as an argv (never through a shell).
    public var command: [String]
    public var args: [String]
    public var env: [String: String]
    public var secrets: [SecretReference]
    public var resources: Resources
    /// Hard limit on one attempt's run time; past it the attempt is TIMED_OUT.
    public var maxRuntimeSeconds: Int
    public var retry: RetryPolicy
    public var hyperparameters: [String: String]
    public var inputs: [InputChannel]
    public var output: OutputLocation?
    public var backend: BackendChoice
    /// Keep warm capacity this long after the job (backends that support warm pools).
    public var warmPoolSeconds: Int?
    public var labels: [String: String]
    /// Resubmitting with the same team and key yields the same job id.
    public var idempotencyKey: String?

    public init(
        name: String, team: String, kind: JobKind = .batch, image: String? = nil, command: [String],
        args: [String] = [], env: [String: String] = [:], secrets: [SecretReference] = [],
        resources: Resources = Resources(), maxRuntimeSeconds: Int = 3600, retry: RetryPolicy = RetryPolicy(),
        hyperparameters: [String: String] = [:], inputs: [InputChannel] = [], output: OutputLocation? = nil,
        backend: BackendChoice = .auto, warmPoolSeconds: Int? = nil, labels: [String: String] = [:],
        idempotencyKey: String? = nil
    ) {
        self.apiVersion = JobSpec.currentAPIVersion
        self.name = name
        self.team = team
        self.kind = kind
        self.image = image
        self.command = command
        self.args = args
        self.env = env
        self.secrets = secrets
        self.resources = resources
        self.maxRuntimeSeconds = maxRuntimeSeconds
        self.retry = retry
        self.hyperparameters = hyperparameters
        self.inputs = inputs
        self.output = output
        self.backend = backend
        self.warmPoolSeconds = warmPoolSeconds
        self.labels = labels
        self.idempotencyKey = idempotencyKey
    }

    enum CodingKeys: String, CodingKey {
        case apiVersion, name, team, kind, image, command, args, env, secrets, resources, maxRuntimeSeconds, retry
        case hyperparameters, inputs, output, backend, warmPoolSeconds, labels, idempotencyKey
    }

    /// Optional fields take their documented defaults.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decode(String.self, forKey: .apiVersion)
        name = try container.decode(String.self, forKey: .name)
        team = try container.decode(String.self, forKey: .team)
        kind = try container.decodeIfPresent(JobKind.self, forKey: .kind) ?? .batch
        image = try container.decodeIfPresent(String.self, forKey: .image)
        command = try container.decode([String].self, forKey: .command)
        args = try container.decodeIfPresent([String].self, forKey: .args) ?? []
        env = try container.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
        secrets = try container.decodeIfPresent([SecretReference].self, forKey: .secrets) ?? []
        resources = try container.decodeIfPresent(Resources.self, forKey: .resources) ?? Resources()
        maxRuntimeSeconds = try container.decodeIfPresent(Int.self, forKey: .maxRuntimeSeconds) ?? 3600
        retry = try container.decodeIfPresent(RetryPolicy.self, forKey: .retry) ?? RetryPolicy()
        hyperparameters = try container.decodeIfPresent([String: String].self, forKey: .hyperparameters) ?? [:]
        inputs = try container.decodeIfPresent([InputChannel].self, forKey: .inputs) ?? []
        output = try container.decodeIfPresent(OutputLocation.self, forKey: .output)
        backend = try container.decodeIfPresent(BackendChoice.self, forKey: .backend) ?? .auto
        warmPoolSeconds = try container.decodeIfPresent(Int.self, forKey: .warmPoolSeconds)
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        idempotencyKey = try container.decodeIfPresent(String.self, forKey: .idempotencyKey)
    }
}

/// What sort of work a job is; routing policies key on it.
public enum JobKind: String, Codable, Sendable, CaseIterable {
    case training, processing, batch, hpo
}

/// Where a job runs: `auto` lets the routing policy decide.
public enum BackendChoice: String, Codable, Sendable, CaseIterable {
    case auto, local, sagemaker, kubernetes
}

/// An environment variable whose value is resolved inside the job from a secret store.
public struct SecretReference: Codable, Sendable, Equatable {
    /// The environment variable the job sees.
    public var env: String
    /// The secret's name in the backend's secret store (never its value).
    public var secretName: String
    /// Optional key inside the secret.
    public var key: String?

    public init(env: String, secretName: String, key: String? = nil) {
        self.env = env
        self.secretName = secretName
        self.key = key
    }
}

/// Compute a job asks for; adapters map it to their own vocabulary.
public struct Resources: Codable, Sendable, Equatable {
    public var cpu: Double
    public var memoryMiB: Int
    public var gpu: Int
    /// An explicit backend instance type (e.g. `ml.m5.xlarge`) wins over the mapping.
    public var instanceType: String?

    public init(cpu: Double = 1, memoryMiB: Int = 1024, gpu: Int = 0, instanceType: String? = nil) {
        self.cpu = cpu
        self.memoryMiB = memoryMiB
        self.gpu = gpu
        self.instanceType = instanceType
    }

    enum CodingKeys: String, CodingKey { case cpu, memoryMiB, gpu, instanceType }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cpu = try container.decodeIfPresent(Double.self, forKey: .cpu) ?? 1
        memoryMiB = try container.decodeIfPresent(Int.self, forKey: .memoryMiB) ?? 1024
        gpu = try container.decodeIfPresent(Int.self, forKey: .gpu) ?? 0
        instanceType = try container.decodeIfPresent(String.self, forKey: .instanceType)
    }
}

/// How many attempts a job gets and when.
public struct RetryPolicy: Codable, Sendable, Equatable {
    /// Total attempts, including the first.
    public var maxAttempts: Int
    /// Base of the exponential backoff between attempts.
    public var backoffSeconds: Double
    /// Retry also when the job's own code fails (infrastructure failures always retry).
    public var retryOnUserError: Bool

    public init(maxAttempts: Int = 3, backoffSeconds: Double = 5, retryOnUserError: Bool = false) {
        self.maxAttempts = maxAttempts
        self.backoffSeconds = backoffSeconds
        self.retryOnUserError = retryOnUserError
    }

    enum CodingKeys: String, CodingKey { case maxAttempts, backoffSeconds, retryOnUserError }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        maxAttempts = try container.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? 3
        backoffSeconds = try container.decodeIfPresent(Double.self, forKey: .backoffSeconds) ?? 5
        retryOnUserError = try container.decodeIfPresent(Bool.self, forKey: .retryOnUserError) ?? false
    }
}

/// A named input the job reads (e.g. an S3 prefix).
public struct InputChannel: Codable, Sendable, Equatable {
    public var name: String
    public var uri: String

    public init(name: String, uri: String) {
        self.name = name
        self.uri = uri
    }
}

/// Where the job writes its artifacts.
public struct OutputLocation: Codable, Sendable, Equatable {
    public var uri: String

    public init(uri: String) { self.uri = uri }
}
