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
struct WorkerConfigFile: Decodable {
    var backends: [BackendEntry]
    /// Absent: every job goes to the first target.
    var routing: RoutingPolicy?

    static func load(path: String) throws -> WorkerConfigFile {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigFileError(path: path, message: "cannot read it: \(error.localizedDescription)")
        }
        do {
            let file = try YAMLDecoder().decode(WorkerConfigFile.self, from: text)
            guard !file.backends.isEmpty else { throw ConfigFileError(path: path, message: "`backends` lists no target") }
            return file
        } catch let error as ConfigFileError {
            throw error
        } catch let error as DecodingError {
            throw ConfigFileError(path: path, message: JobSpecParser.violation(for: error).description)
        } catch {
            throw ConfigFileError(path: path, message: "not valid YAML: \(error)")
        }
    }

    /// The routing policy, defaulting to the first target.
    var policy: RoutingPolicy { routing ?? RoutingPolicy(defaultTarget: backends[0].name) }
}

/// One entry of `backends`: a name, a type, an optional concurrency limit and the type's settings.
struct BackendEntry: Decodable {
    var name: String
    /// Overrides the worker's `--concurrency` for this target.
    var concurrency: Int?
    var settings: BackendSettings

    init(name: String, concurrency: Int? = nil, settings: BackendSettings) {
        self.name = name
        self.concurrency = concurrency
        self.settings = settings
    }

    enum CodingKeys: String, CodingKey { case name, type, concurrency }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        concurrency = try container.decodeIfPresent(Int.self, forKey: .concurrency)
        if let concurrency, concurrency < 1 {
            throw DecodingError.dataCorruptedError(forKey: .concurrency, in: container, debugDescription: "must be at least 1")
        }
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "local": settings = .local(try LocalTargetSettings(from: decoder))
        case "sagemaker": settings = .sagemaker(try SageMakerTargetSettings(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container, debugDescription: "unknown backend type \"\(type)\" (known: local, sagemaker)")
        }
    }
}

/// Settings per backend type, read from the same mapping as the entry's name and type.
enum BackendSettings {
    case local(LocalTargetSettings)
    case sagemaker(SageMakerTargetSettings)
}

/// `type: local`
struct LocalTargetSettings: Decodable {
    /// Folder of secret files (default: `--secrets-dir` / TRAINYARD_SECRETS_DIR).
    var secretsDir: String?
}

/// The configuration file could not be used; names the file and the offending field.
struct ConfigFileError: Error, CustomStringConvertible {
    var path: String
    var message: String
    var description: String { "\(path): \(message)" }
}
