import Foundation
import TrainyardBackends
import TrainyardCore
import TrainyardKubernetes

/// Reads an attempt's log through the pods/log API: the attempt's pod is found by its labels
/// (job id and attempt), the main container's log is read, `previous` when that container
/// restarted and waits to run again. A container's log holds stdout and stderr together, so
/// every stream selection reads the same text.
public struct KubernetesLogSource: LogSource {
    public let backendName = "kubernetes"
    let client: KubernetesClient
    let namespace: String
    let container: String
    let poller: LogPoller

    public init(client: KubernetesClient, namespace: String, container: String = "main", poller: LogPoller = LogPoller()) {
        self.client = client
        self.namespace = namespace
        self.container = container
        self.poller = poller
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    public func read(_ query: LogQuery, attemptEnded: @escaping @Sendable () async -> Bool) async throws -> AsyncThrowingStream<String, any Error> {
        let pod = try await startedPod(query, attemptEnded: attemptEnded)
        let status = pod.containerStatus(container)
        let previous = (status?.restartCount ?? 0) > 0 && status?.state?.terminated == nil && status?.state?.running == nil
        let options = KubernetesPodLogOptions(container: container, follow: query.follow, previous: previous, tailLines: query.tail)
        do {
            return try await client.podLog(pod.metadata.name ?? "", namespace: namespace, options: options)
        } catch {
            throw Self.logError(error)
        }
    }

    /// The attempt's newest pod once its main container has started (or ended); a follow waits
    /// for it while the attempt has not ended.
    private func startedPod(_ query: LogQuery, attemptEnded: @Sendable () async -> Bool) async throws -> KubernetesPod {
        let selector = "trainyard.io/job-id=\(query.identity.jobID.rawValue),trainyard.io/attempt=\(query.identity.attempt)"
        while true {
            let pods: [KubernetesPod]
            do { pods = try await client.listPods(namespace: namespace, labelSelector: selector).items } catch { throw Self.logError(error) }
            let newest = pods.max { ($0.metadata.creationTimestamp ?? "") < ($1.metadata.creationTimestamp ?? "") }
            let state = newest?.containerStatus(container)
            let started = state?.state?.running != nil || state?.state?.terminated != nil || (state?.restartCount ?? 0) > 0
            if let newest, started { return newest }
            guard query.follow, !(await attemptEnded()) else {
                throw LogSourceError(
                    .notFound, newest == nil ? "no pod of \(query.identity.resourceName) in namespace \(namespace)" : "its container has not started")
            }
            try await Task.sleep(for: poller.interval)
        }
    }

    private static func logError(_ error: any Error) -> LogSourceError {
        if let error = error as? KubernetesError, error.kind == .notFound { return LogSourceError(.notFound, error.message) }
        return LogSourceError(.unavailable, "Kubernetes: \(error)")
    }
}
