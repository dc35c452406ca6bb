import Logging
import TrainyardBackends
import TrainyardCore
import TrainyardKubernetes

/// A Kubernetes target whose jobs run in a namespace per team: each team in `teamNamespaces` in
/// its own, every other team in the target's `namespace` (as a target without the map).
///
/// One `KubernetesBackend`, with its own watches, per namespace; each call goes to the one of the
/// attempt's team. A job's Secret references resolve in its namespace, so teams' Secrets kept in
/// their own namespaces stay out of each other's reach. Moving a team to another namespace while
/// its jobs run hides them from their workers: drain the team first.
public struct KubernetesTeamNamespaces: ComputeBackend {
    public let name = "kubernetes"
    private let defaultBackend: KubernetesBackend
    private let backendOfTeam: [String: KubernetesBackend]
    /// Every namespace's backend once, the default's first.
    private let all: [KubernetesBackend]

    public init(configuration: KubernetesBackendConfiguration, teamNamespaces: [String: String], client: KubernetesClient, logger: Logger) {
        var byNamespace = [configuration.namespace: KubernetesBackend(configuration: configuration, client: client, logger: logger)]
        for namespace in Set(teamNamespaces.values).subtracting([configuration.namespace]).sorted() {
            var own = configuration
            own.namespace = namespace
            byNamespace[namespace] = KubernetesBackend(configuration: own, client: client, logger: logger)
        }
        defaultBackend = byNamespace[configuration.namespace]!
        backendOfTeam = teamNamespaces.mapValues { byNamespace[$0]! }
        all = [defaultBackend] + byNamespace.filter { $0.key != configuration.namespace }.sorted { $0.key < $1.key }.map(\.value)
    }

    /// The namespace a team's jobs run in.
    public func namespace(ofTeam team: String) -> String { backend(team).configuration.namespace }

    private func backend(_ team: String) -> KubernetesBackend { backendOfTeam[team] ?? defaultBackend }

    public func ensure(_ identity: BackendIdentity, spec: JobSpec) async throws(BackendError) -> BackendObservation {
        try await backend(identity.team).ensure(identity, spec: spec)
    }

    public func observe(_ identity: BackendIdentity) async throws(BackendError) -> BackendObservation {
        try await backend(identity.team).observe(identity)
    }

    public func nextObservation(_ identity: BackendIdentity, after current: BackendObservation, timeout: Duration)
        async throws(BackendError) -> BackendObservation
    {
        try await backend(identity.team).nextObservation(identity, after: current, timeout: timeout)
    }

    public func stop(_ identity: BackendIdentity, reason: String) async throws(BackendError) {
        try await backend(identity.team).stop(identity, reason: reason)
    }

    /// The job's team is not known here, so every namespace is asked.
    public func existingAttempts(of jobID: JobID) async throws(BackendError) -> [Int] {
        var attempts = Set<Int>()
        for backend in all { attempts.formUnion(try await backend.existingAttempts(of: jobID)) }
        return attempts.sorted()
    }

    /// Every namespace's watches.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for backend in all { group.addTask { try await backend.run() } }
            try await group.waitForAll()
        }
    }
}
