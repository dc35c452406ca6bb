import Foundation
import KubernetesBackend
import LocalBackend
import Logging
import SageMakerBackend
import SimulatedBackend
import TrainyardBackends

/// What building a target's backend needs besides the target's own settings.
public struct BackendEnvironment: Sendable {
    /// Where local attempts and the simulated ledger live by default (`--state-dir`).
    public var stateDirectory: URL
    /// The worker's `--secrets-dir` / TRAINYARD_SECRETS_DIR, for local targets without their own.
    public var secretsDirectory: String?
    public var logger: Logger

    public init(stateDirectory: URL, secretsDirectory: String?, logger: Logger) {
        self.stateDirectory = stateDirectory
        self.secretsDirectory = secretsDirectory
        self.logger = logger
    }
}

/// A target's settings could not make a backend (the worker refuses to start, as for a bad flag).
public struct BackendTargetError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) { self.description = description }
}

extension BackendSettings {
    /// The backend these settings describe; nothing runs until its `run()` is called.
    public func makeBackend(in environment: BackendEnvironment) throws -> any ComputeBackend {
        switch self {
        case .local(let local):
            let secrets = local.secretsDir ?? environment.secretsDirectory
            return try LocalBackend(
                configuration: LocalBackendConfiguration(
                    stateDirectory: environment.stateDirectory, secretsDirectory: secrets.map { URL(fileURLWithPath: $0) },
                    runAs: try local.runAs?.resolved()),
                logger: environment.logger)
        case .kubernetes(let kubernetes):
            return try kubernetes.makeBackend(logger: environment.logger)
        case .sagemaker(let sagemaker):
            return try sagemaker.makeBackend(logger: environment.logger)
        case .simulated(let simulated):
            return try simulated.makeBackend(stateDirectory: environment.stateDirectory)
        }
    }
}
