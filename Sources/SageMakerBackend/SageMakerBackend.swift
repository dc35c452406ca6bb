import Foundation
import Logging
import TrainyardAWS
import TrainyardBackends
import TrainyardCore

/// Runs attempts as SageMaker training jobs (processing jobs for `kind: processing`).
///
/// - ensure: CreateTrainingJob named after the attempt's identity; `ResourceInUse` means the
///   job exists already (another worker, or a lost response) and it is adopted, never recreated.
/// - observe: answers from the state cache; Describe only on a cache miss.
/// - run: long-polls the event queue and describes every tracked job at the reconcile interval
///   (Describe is the authority; events only make changes visible sooner).
/// - stop: StopTrainingJob. existingAttempts: ListTrainingJobs / ListProcessingJobs by name.
public struct SageMakerBackend: ComputeBackend {
    public let name = "sagemaker"
    private let api: SageMakerAPI
    private let requests: SageMakerJobRequest
    private let configuration: SageMakerBackendConfiguration
    private let cache: SageMakerStateCache<ContinuousClock>
    private let events: SageMakerEventQueue?
    private let logger: Logger

    /// `sqs` is needed only with an event queue.
    public init(configuration: SageMakerBackendConfiguration, sagemaker: AWSJSONClient, sqs: AWSJSONClient?, logger: Logger) {
        self.configuration = configuration
        self.api = SageMakerAPI(client: sagemaker)
        self.requests = SageMakerJobRequest(configuration: configuration)
        self.cache = SageMakerStateCache(clock: ContinuousClock())
        self.logger = logger
        if let queue = configuration.eventQueueURL, let sqs {
            events = SageMakerEventQueue(
                sqs: sqs, queueURL: queue, waitSeconds: configuration.eventWaitSeconds, maxReceives: 5, cache: cache, logger: logger)
        } else {
            events = nil
        }
    }

    public func ensure(_ identity: BackendIdentity, spec: JobSpec) async throws(BackendError) -> BackendObservation {
        let name = identity.resourceName
        let kind = SageMakerJobKind(spec.kind)
        if let known = await cache.status(name) { return known.observation }
        let request: (action: String, body: JSONValue)
        switch requests.make(identity, spec: spec) {
        case .success(let made): request = made
        case .failure(let error): throw BackendError(.invalidRequest, error.message)
        }
        do {
            _ = try await api.client.call(request.action, request.body)
            await cache.track(name, kind: kind)
            logger.info("created SageMaker \(kind.rawValue) job", metadata: ["job": "\(name)"])
            return .pending(reason: "SageMaker: created")
        } catch let error where error.code == "ResourceInUse" {
            logger.info("SageMaker job exists already: adopting it", metadata: ["job": "\(name)"])
            await cache.track(name, kind: kind)
            guard let status = try await describe(name, kind: kind) else {
                throw BackendError(.transient, "\(name) was reported in use but cannot be described yet")
            }
            return status.observation
        } catch {
            throw Self.backendError(error, action: request.action)
        }
    }

    public func observe(_ identity: BackendIdentity) async throws(BackendError) -> BackendObservation {
        let name = identity.resourceName
        let (cached, receipts) = await cache.observe(name)
        if !receipts.isEmpty, let events { await events.delete(receipts) }
        if let cached { return cached.observation }
        guard let status = try await describe(name, kind: await cache.kind(name)) else { return .absent }
        await cache.track(name, kind: status.kind)
        return status.observation
    }

    public func stop(_ identity: BackendIdentity, reason: String) async throws(BackendError) {
        let name = identity.resourceName
        var kind = await cache.kind(name)
        if kind == nil { kind = try await describe(name, kind: nil)?.kind }
        guard let kind else { return }
        do {
            _ = try await api.client.call("Stop\(kind.noun)", [kind.nameField: .string(name)])
            logger.info("stop requested", metadata: ["job": "\(name)", "reason": "\(reason)"])
        } catch let error where error.code == "ResourceNotFound" || error.code == "ValidationException" {
            // Not found, or no longer in progress (SageMaker answers ValidationException): nothing to stop.
            logger.info("nothing to stop: \(error.message)", metadata: ["job": "\(name)"])
        } catch {
            throw Self.backendError(error, action: "Stop\(kind.noun)")
        }
    }

    public func existingAttempts(of jobID: JobID) async throws(BackendError) -> [Int] {
        let prefix = "ty-\(jobID.rawValue)-a"
        var attempts: Set<Int> = []
        for kind in SageMakerJobKind.allCases {
            let names: [String]
            do { names = try await api.listNames(kind, containing: prefix) } catch { throw Self.backendError(error, action: "List\(kind.noun)s") }
            for name in names {
                guard let attempt = BackendIdentity.attempt(inResourceName: name, of: jobID) else { continue }
                attempts.insert(attempt)
                await cache.recordKind(name, kind)
            }
        }
        return attempts.sorted()
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            if let events { group.addTask { await events.run() } }
            group.addTask { await reconcilePeriodically() }
        }
    }

    /// Describes every tracked unfinished job whose state is older than the reconcile interval
    /// (so a missed event costs at most one interval), and deletes receipts whose tracking ended.
    private func reconcilePeriodically() async {
        let tick = min(configuration.reconcileInterval, .seconds(5))
        while !Task.isCancelled {
            do { try await Task.sleep(for: tick) } catch { return }
            for (name, kind) in await cache.due(olderThan: configuration.reconcileInterval) {
                do {
                    if try await describe(name, kind: kind) == nil { await cache.forget(name) }
                } catch {
                    logger.warning("reconcile: describe failed: \(error)", metadata: ["job": "\(name)"])
                }
            }
            if let events { await events.delete(await cache.expiredReceipts()) }
        }
    }

    /// Describes `name` (both families when the kind is unknown) and merges the answer into the
    /// cache; nil when no such job exists.
    private func describe(_ name: String, kind: SageMakerJobKind?) async throws(BackendError) -> SageMakerJobStatus? {
        for candidate in kind.map({ [$0] }) ?? SageMakerJobKind.allCases {
            let status: SageMakerJobStatus?
            do { status = try await api.describe(candidate, name: name) } catch {
                throw Self.backendError(error, action: "Describe\(candidate.noun)")
            }
            if let status {
                await cache.record(name, status)
                return await cache.status(name) ?? status
            }
        }
        return nil
    }

    /// Maps an AWS failure that survived the client's retries to what the worker should do.
    static func backendError(_ error: AWSError, action: String) -> BackendError {
        switch error.kind {
        case .throttled, .serverError, .connection: return BackendError(.transient, "\(action): \(error)")
        case .client where error.code == "ResourceLimitExceeded": return BackendError(.capacity, "\(action): \(error)")
        case .client: return BackendError(.invalidRequest, "\(action): \(error.code): \(error.message)")
        }
    }
}
