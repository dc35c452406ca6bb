import Foundation
import KubernetesBackend
import LocalBackend
import Logging
import SageMakerBackend
import SimulatedBackend
import TrainyardAWS
import TrainyardBackends
import TrainyardKubernetes

/// The log readers of the aggregator's API, one per backend type of the workers' configuration
/// file (the first target of a type wins: one Kubernetes namespace, one SageMaker region).
/// Without a file: the local run directories under the state directory, and the simulated line.
public func makeLogSources(workerConfig: WorkerConfigFile?, stateDirectory: URL, logger: Logger) -> [any LogSource] {
    var sources: [any LogSource] = []
    for entry in workerConfig?.backends ?? [] {
        // A target whose logs cannot be reached must not keep the aggregator from running: its
        // logs answer 503 instead.
        do {
            switch entry.settings {
            case .local: sources.append(LocalLogSource(stateDirectory: stateDirectory))
            case .simulated: sources.append(SimulatedLogSource())
            case .kubernetes(let kubernetes): sources.append(try kubernetes.makeLogSource(logger: logger))
            case .sagemaker(let sagemaker): sources.append(try sagemaker.makeLogSource(logger: logger))
            }
        } catch {
            logger.warning("job logs of target \(entry.name) cannot be read: \(error)")
        }
    }
    sources += [LocalLogSource(stateDirectory: stateDirectory), SimulatedLogSource()]
    return sources
}

extension KubernetesTargetSettings {
    /// pods/log of the target's namespace, with the target's connection.
    public func makeLogSource(logger: Logger) throws -> KubernetesLogSource {
        let connection = try KubernetesConnectionLoader.automatic(kubeconfigPath: kubeconfig, context: context)
        return KubernetesLogSource(
            client: try KubernetesClient(connection: connection, logger: logger), namespace: namespace ?? connection.defaultNamespace ?? "default")
    }
}

extension SageMakerTargetSettings {
    /// CloudWatch Logs of the target's region (at `endpoint` when one is set: an emulator).
    public func makeLogSource(logger: Logger) throws -> SageMakerLogSource {
        let region = try resolveAWSRegion(explicit: region)
        var url = AWSServiceConfiguration.defaultEndpoint(hostPrefix: "logs", region: region)
        if let endpoint {
            guard let parsed = URL(string: endpoint), parsed.host != nil else { throw AWSConfigurationError("endpoint \"\(endpoint)\" is not a URL") }
            url = parsed
        }
        let logs = AWSJSONClient(
            configuration: AWSServiceConfiguration(
                endpoint: url, region: region, signingName: "logs", targetPrefix: "Logs_20140328", jsonVersion: "1.1"),
            credentials: AWSCredentialChain(), retry: AWSRetryPolicy(maxAttempts: maxAttempts ?? 8), logger: logger)
        return SageMakerLogSource(logs: logs)
    }
}
