import Foundation
import LocalBackend
import Logging
import TrainyardBackends
import TrainyardCore
import Yams

/// The worker's configuration file (`--config`): the backend targets it runs jobs on and the
/// routing policy that picks one per job. Without a file a worker has one `local` target.
///
/// ```yaml
/// backends:
///   - {name: laptop, type: local, concurrency: 4}
/// routing:
///   default: laptop
///   rules:
///     - {kinds: [training], backend: laptop}
/// ```
public struct WorkerConfigFile: Decodable, Sendable {
    public var backends: [BackendEntry]
    /// Absent: every job goes to the first target.
    public var routing: RoutingPolicy?
    /// Which teams may reference which secrets: the file's top-level and per-target `secrets`
    /// sections (see `SecretPolicy`), read in the same pass as the rest.
    public var secretPolicy: SecretPolicy = .ownTeamOnly

    enum CodingKeys: String, CodingKey { case backends, routing }

    /// Reads and checks the file (once): types and required keys, the secret policy, and that
    /// routing names only configured targets.
    public static func load(path: String) throws -> WorkerConfigFile {
        let file = try ConfigFile.load(WorkerConfigDocument.self, path: path).file
        guard !file.backends.isEmpty else { throw ConfigFileError(path: path, message: "`backends` lists no target") }
        do {
            try file.policy.validate(targetNames: file.backends.map(\.name))
        } catch {
            throw ConfigFileError(path: path, message: error.message)
        }
        return file
    }

    /// The routing policy, defaulting to the first target.
    public var policy: RoutingPolicy { routing ?? RoutingPolicy(defaultTarget: backends[0].name) }

    /// A worker without a file: one `local` target.
    public static var localOnly: WorkerConfigFile {
        WorkerConfigFile(backends: [BackendEntry(name: "local", settings: .local(LocalTargetSettings()))])
    }

    /// What `worker --check-config` prints after "PATH: valid": one `target` line per entry, then
    /// one `route` line per routing rule.
    public var summary: [String] {
        backends.map { "target \($0.name): \($0.settings.typeName), concurrency \($0.concurrency.map(String.init) ?? "default")" }
            + policy.summary.map { "route \($0)" }
    }
}

/// The worker configuration file with its secret policy, decoded from one parse of the YAML.
private struct WorkerConfigDocument: Decodable {
    var file: WorkerConfigFile

    init(from decoder: Decoder) throws {
        file = try WorkerConfigFile(from: decoder)
        file.secretPolicy = try SecretPolicy(from: decoder)
    }
}

/// One entry of `backends`: a name, a type, an optional concurrency limit and the type's settings.
public struct BackendEntry: Decodable, Sendable {
    public var name: String
    /// Overrides the worker's `--concurrency` for this target.
    public var concurrency: Int?
    public var settings: BackendSettings
    /// What its attempts cost (see `TargetPriceSettings`); absent: the defaults.
    public var prices: TargetPriceSettings?

    public init(name: String, concurrency: Int? = nil, settings: BackendSettings, prices: TargetPriceSettings? = nil) {
        self.name = name
        self.concurrency = concurrency
        self.settings = settings
        self.prices = prices
    }

    enum CodingKeys: String, CodingKey { case name, type, concurrency, prices }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        concurrency = try container.decodeIfPresent(Int.self, forKey: .concurrency)
        if let concurrency, concurrency < 1 {
            throw DecodingError.dataCorruptedError(forKey: .concurrency, in: container, debugDescription: "must be at least 1")
        }
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "local": settings = .local(try LocalTargetSettings(from: decoder))
        case "kubernetes": settings = .kubernetes(try KubernetesTargetSettings(from: decoder))
        case "sagemaker": settings = .sagemaker(try SageMakerTargetSettings(from: decoder))
        case "simulated": settings = .simulated(try SimulatedTargetSettings(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container,
                debugDescription: "unknown backend type \"\(type)\" (known: local, kubernetes, sagemaker, simulated)")
        }
        prices = try container.decodeIfPresent(TargetPriceSettings.self, forKey: .prices)
        if let problem = prices?.validate(forType: type) {
            throw DecodingError.dataCorruptedError(forKey: .prices, in: container, debugDescription: problem)
        }
    }
}

/// Settings per backend type, read from the same mapping as the entry's name and type.
public enum BackendSettings: Sendable {
    case local(LocalTargetSettings)
    case kubernetes(KubernetesTargetSettings)
    case sagemaker(SageMakerTargetSettings)
    case simulated(SimulatedTargetSettings)

    /// The `type` key's value.
    public var typeName: String {
        switch self {
        case .local: "local"
        case .kubernetes: "kubernetes"
        case .sagemaker: "sagemaker"
        case .simulated: "simulated"
        }
    }

    /// Attempts per worker on a target of this type when neither its entry nor the worker's
    /// `--concurrency` says.
    public var defaultConcurrency: Int {
        switch self {
        case .simulated: SimulatedTargetSettings.defaultConcurrency
        case .local, .kubernetes, .sagemaker: 16
        }
    }
}

/// `type: local`
public struct LocalTargetSettings: Decodable, Sendable {
    /// Folder of secret files (default: `--secrets-dir` / TRAINYARD_SECRETS_DIR).
    var secretsDir: String?
    /// The unprivileged user jobs run as (the worker must run as root): see `LocalRunAs`.
    var runAs: LocalRunAs?
}

/// Reads YAML configuration files into their types, with errors that name the file and field.
public enum ConfigFile {
    /// Decodes the YAML file at `path`; every failure is a `ConfigFileError`.
    public static func load<Value: Decodable>(_ type: Value.Type, path: String) throws -> Value {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigFileError(path: path, message: "cannot read it: \(error.localizedDescription)")
        }
        do {
            return try YAMLDecoder().decode(Value.self, from: text)
        } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
            // Our own checks (unknown type, a limit) explain themselves.
            let field = JobSpecParser.violation(for: .dataCorrupted(context)).field
            throw ConfigFileError(path: path, message: "\(field): \(context.debugDescription)")
        } catch let error as DecodingError {
            throw ConfigFileError(path: path, message: JobSpecParser.violation(for: error).description)
        } catch {
            throw ConfigFileError(path: path, message: "not valid YAML: \(error)")
        }
    }
}

/// The configuration file could not be used; names the file and the offending field.
public struct ConfigFileError: Error, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}
