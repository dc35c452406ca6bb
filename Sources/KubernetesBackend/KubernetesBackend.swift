import Foundation
import Logging
import Synchronization
import TrainyardBackends
import TrainyardCore
import TrainyardKubernetes

/// Runs attempts as batch/v1 Jobs in one namespace.
///
/// `run()` keeps a cache of the namespace's Trainyard Jobs and pods from watches (and periodic
/// relists); `observe` answers from it, and reads from the API server only for a Job it has not
/// seen. `ensure` creates the attempt's Job under its deterministic name; when it already exists
/// (409) the Job is adopted, so no attempt ever runs twice.
public final class KubernetesBackend: ComputeBackend {
    public let name = "kubernetes"
    public let configuration: KubernetesBackendConfiguration
    private let client: KubernetesClient
    private let cache: KubernetesStateCache
    private let logger: Logger
    private let relists = Atomic<Int>(0)
    /// The wall clock that grace periods and the cache's ages are measured on (compared with the
    /// API server's timestamps).
    private let now: @Sendable () -> Date

    public init(
        configuration: KubernetesBackendConfiguration, client: KubernetesClient, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.client = client
        self.logger = logger
        self.now = now
        cache = KubernetesStateCache(now: now)
    }

    /// Full lists done by the watch loops so far (jobs and pods).
    public var relistCount: Int { relists.load(ordering: .relaxed) }

    public func ensure(_ identity: BackendIdentity, spec: JobSpec) async throws(BackendError) -> BackendObservation {
        let name = identity.resourceName
        if cache.knows(name) { return try await observe(identity) }
        let job = try KubernetesJobMapper.job(for: identity, spec: spec, configuration: configuration)
        do {
            let created = try await client.createJob(job, namespace: configuration.namespace)
            cache.insertIfAbsent(job: created, pods: [])
            logger.info("created Job", metadata: ["job": "\(identity.jobID)", "name": "\(name)", "namespace": "\(configuration.namespace)"])
        } catch  where error.kind == .alreadyExists {
            logger.info("adopting existing Job", metadata: ["job": "\(identity.jobID)", "name": "\(name)"])
            try await fetch(name)
        } catch {
            throw Self.backendError(error)
        }
        return try await observe(identity)
    }

    public func observe(_ identity: BackendIdentity) async throws(BackendError) -> BackendObservation {
        let name = identity.resourceName
        if let outcome = cache.abandonedOutcome(name) { return .finished(outcome) }
        if !cache.knows(name) { try await fetch(name) }
        let now = now()
        let seen = cache.snapshot(name)
        let pod = KubernetesOutcomeClassifier.representativePod(seen.pods, mainContainer: configuration.mainContainerName)
        let waitReason = pod?.containerStatus(configuration.mainContainerName)?.state?.waiting?.reason
        let jobFinished = ["Complete", "Failed", "FailureTarget", "SuccessCriteriaMet"].contains { seen.job?.condition($0) != nil }
        cache.noteProgress(
            name, waitingFailure: waitReason.map(KubernetesOutcomeClassifier.failingWaitReasons.contains) ?? false, jobFinished: jobFinished,
            now: now)
        let verdict = KubernetesOutcomeClassifier.classify(
            cache.snapshot(name), mainContainer: configuration.mainContainerName,
            waitingFailureGrace: configuration.waitingFailureGrace, podStatusGrace: configuration.podStatusGrace, now: now)
        if verdict.abandonJob, case .finished(let outcome) = verdict.observation {
            logger.warning("giving up on a Job that cannot start; deleting it", metadata: ["name": "\(name)"])
            do { try await client.deleteJob(name, namespace: configuration.namespace) } catch { throw Self.backendError(error) }
            // Its deletion must not read as a cancel or a deletion by someone else later.
            cache.recordAbandoned(name, outcome: outcome)
        }
        return verdict.observation
    }

    public func stop(_ identity: BackendIdentity, reason: String) async throws(BackendError) {
        let name = identity.resourceName
        if case .finished = try await observe(identity) { return }
        do { try await client.deleteJob(name, namespace: configuration.namespace) } catch { throw Self.backendError(error) }
        cache.recordStop(name, reason: reason)
        logger.info("deleted Job to cancel it", metadata: ["job": "\(identity.jobID)", "name": "\(name)"])
    }

    public func existingAttempts(of jobID: JobID) async throws(BackendError) -> [Int] {
        do {
            let jobs = try await client.listJobs(namespace: configuration.namespace, labelSelector: "trainyard.io/job-id=\(jobID.rawValue)")
            // The attempt comes from the Job's name, which this scheme derived; a label (or a name)
            // someone else wrote with attempt 0, a negative or a huge number is not an attempt.
            return Set(jobs.items.compactMap { $0.metadata.name.flatMap { BackendIdentity.attempt(inResourceName: $0, of: jobID) } }).sorted()
        } catch {
            throw Self.backendError(error)
        }
    }

    /// Watches Jobs and pods for the worker's lifetime, then shuts the API client down (the
    /// backend is not used after its background work ends; a client dropped while open traps).
    public func run() async throws {
        await watch(clock: ContinuousClock())
        // Several namespaces' backends may share one client: the first shutdown wins.
        try? await client.shutdown()
    }

    /// Runs the Job and pod informers; they wait on `clock`.
    func watch<C: Clock<Duration>>(clock: C) async {
        let namespace = configuration.namespace
        let selector = KubernetesJobMapper.managedBySelector
        let interval = configuration.relistInterval
        let timeout = configuration.watchTimeoutSeconds
        let (client, cache) = (client, cache)
        let jobs = KubernetesInformer<KubernetesJob, C>(
            kind: "jobs", relistInterval: interval, watchTimeoutSeconds: timeout,
            list: { () async throws(KubernetesError) in try await client.listJobs(namespace: namespace, labelSelector: selector) },
            watch: { (version, seconds) async throws(KubernetesError) in
                try await client.watchJobs(namespace: namespace, labelSelector: selector, resourceVersion: version, timeoutSeconds: seconds)
            },
            replaceAll: { cache.replaceJobs($0) }, upsert: { cache.upsert(job: $0) }, remove: { cache.remove(job: $0) },
            resourceVersion: { $0.metadata.resourceVersion }, logger: logger, onRelist: { [self] in relists.add(1, ordering: .relaxed) }, clock: clock
        )
        let pods = KubernetesInformer<KubernetesPod, C>(
            kind: "pods", relistInterval: interval, watchTimeoutSeconds: timeout,
            list: { () async throws(KubernetesError) in try await client.listPods(namespace: namespace, labelSelector: selector) },
            watch: { (version, seconds) async throws(KubernetesError) in
                try await client.watchPods(namespace: namespace, labelSelector: selector, resourceVersion: version, timeoutSeconds: seconds)
            },
            replaceAll: cache.replacePods, upsert: { cache.upsert(pod: $0) }, remove: { cache.remove(pod: $0) },
            resourceVersion: { $0.metadata.resourceVersion }, logger: logger, onRelist: { [self] in relists.add(1, ordering: .relaxed) }, clock: clock
        )
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await jobs.run() }
            group.addTask { await pods.run() }
        }
    }

    /// Reads one Job (and its pods) the watch has not delivered yet.
    private func fetch(_ name: String) async throws(BackendError) {
        do {
            let job = try await client.job(name, namespace: configuration.namespace)
            let pods = try await client.listPods(namespace: configuration.namespace, labelSelector: "job-name=\(name)")
            cache.insertIfAbsent(job: job, pods: pods.items)
        } catch  where error.kind == .notFound {
            return
        } catch {
            throw Self.backendError(error)
        }
    }

    /// Kubernetes errors in the worker's vocabulary.
    static func backendError(_ error: KubernetesError) -> BackendError {
        switch error.kind {
        case .configuration, .invalid: BackendError(.invalidRequest, error.message)
        case .quotaExceeded: BackendError(.capacity, error.message)
        case .transient, .notFound, .gone, .alreadyExists: BackendError(.transient, error.message)
        }
    }
}
