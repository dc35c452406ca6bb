import Foundation
import Logging
import Synchronization
import TrainyardBackends
import TrainyardCore
import TrainyardKafka
import TrainyardObservability
import TrainyardQuota

/// Claims requests from the requests topic, runs them on backends and publishes their lifecycle.
///
/// Commit policy: a request's offset stays pending until its job no longer needs this
/// partition's owner (terminal event delivered, or rejected to the DLQ); the committed position
/// is the oldest pending offset (`PartitionProgress`). A worker newly assigned a partition
/// re-reads from there and runs the same idempotent steps for each request: it finds the
/// attempts already in the backend (by their deterministic names), adopts a running one, and
/// re-publishes the outcome of a finished one; it never starts a second copy.
public actor Worker {
    private let configuration: WorkerConfiguration
    private let consumer: KafkaConsumer
    private let publisher: EventPublisher
    private let router: BackendRouter
    private let logger: Logger
    private let metrics: WorkerMetrics

    private var progress: [KafkaTopicPartition: PartitionProgress] = [:]
    private var trackers: [JobID: JobTracker] = [:]
    private var limiters: [String: ConcurrencyLimiter] = [:]
    private var waitingForSlot = 0
    /// Fleet-wide team quotas; nil when no quotas are configured.
    private let quotaGate: QuotaGate?
    /// The quotas in force, for the teams' fair-share weights at the slots; nil: all weigh 1.
    private let quotas: (any QuotaPolicySource)?
    /// Jobs waiting for their quota claim's decision or held for their team's quota.
    private var heldForQuota = 0
    /// Jobs whose ensure is failing with a capacity (quota) error, per target.
    private var capacityBlocked: [String: Set<ObjectIdentifier>] = [:]
    private var paused = false
    private var stopping = false
    /// Rejected requests not yet recorded; `recordingRejections` while the one loop runs.
    private var rejectionBacklog: RejectionBacklog
    private var recordingRejections = false
    private let rejectionRecorder: any RejectionRecording

    /// - Parameter rejections: where rejected requests are recorded; the DLQ and events topic by
    ///   default (tests inject failures here).
    /// - Parameter quotas: the team quotas in force (see docs/fair-share.md); nil for none.
    public init(
        configuration: WorkerConfiguration, producer: KafkaProducer, router: BackendRouter, metrics: MetricsRegistry, logger: Logger,
        rejections: (any RejectionRecording)? = nil,
        quotas: (any QuotaPolicySource)? = nil
    ) throws {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.metrics = WorkerMetrics(registry: metrics)
        let publisher = EventPublisher(producer: producer, topics: configuration.topics, logger: logger)
        self.publisher = publisher
        rejectionRecorder = rejections ?? publisher
        rejectionBacklog = RejectionBacklog(
            pauseAfterFailures: configuration.rejectionRetry.pauseAfterFailures, initialBackoff: configuration.rejectionRetry.initialBackoff,
            maximumBackoff: .seconds(10))
        consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                common: configuration.consumerKafka, groupID: configuration.groupID, topics: [configuration.topics.requests],
                sessionTimeoutMilliseconds: configuration.sessionTimeoutMilliseconds, assignmentStrategy: configuration.assignmentStrategy,
                bufferCapacity: 256),
            logger: logger)
        self.metrics.collect(from: consumer, registry: metrics)
        let quotaMetrics = QuotaMetrics(registry: metrics)
        if let quotas { quotaMetrics.collect(from: quotas, registry: metrics) }
        self.quotas = quotas
        quotaGate = quotas.map { QuotaGate(source: $0, configuration: configuration, producer: producer, metrics: quotaMetrics, logger: logger) }
    }

    /// True once the worker has joined its group and holds partitions (or shut down cleanly).
    public var isReady: Bool { !consumer.assignment.isEmpty }

    /// Runs until `shutdown()`; jobs still running are left to their supervisors and the next owner.
    public func run() async throws {
        logger.info("worker started", metadata: ["worker": "\(configuration.workerID)", "group": "\(configuration.groupID)"])
        await withDiscardingTaskGroup { group in
            group.addTask { await self.commitPeriodically() }
            if let quotaGate { group.addTask { await quotaGate.run() } }
            for await event in consumer.events {
                switch event {
                case .assigned(let partitions):
                    for partition in partitions { progress[partition] = PartitionProgress() }
                case .revoked(let partitions):
                    handOver(Set(partitions))
                case .message(let message):
                    progress[message.topicPartition, default: PartitionProgress()].read(message.offset)
                    handle(message, group: &group)
                }
            }
            group.cancelAll()
        }
        logger.info("worker stopped", metadata: ["worker": "\(configuration.workerID)"])
    }

    /// Stops claiming, commits what is safe and leaves the group. Running jobs keep running.
    public func shutdown() async {
        guard !stopping else { return }
        stopping = true
        logger.info("shutting down: handing over \(trackers.count) in-flight jobs")
        handOver(Set(progress.keys))
        storeSafeOffsets()
        await consumer.close()
        await quotaGate?.close()
    }

    // MARK: requests

    private func handle(_ message: KafkaMessage, group: inout DiscardingTaskGroup) {
        switch JobRequestCodec.decode(message.value) {
        case .failure(let rejection):
            reject(message, rejection, group: &group)
        case .success(.cancel(let command)):
            trackers[command.jobID]?.cancelReason = command.reason ?? "cancelled by request"
            logger.debug("cancel requested", metadata: ["job": "\(command.jobID)", "tracked": "\(trackers[command.jobID] != nil)"])
            done(message)
        case .success(.submit(let command)):
            // A duplicate submit of a job already in flight here: not routed (nor checked) again.
            if trackers[command.jobID] != nil { return done(message) }
            switch router.route(command.spec) {
            case .failure(let error):
                let rejection = RequestRejection(code: .invalidSpec, reason: error.message, jobID: command.jobID, team: command.spec.team)
                group.addTask { await self.adoptOrReject(message, command, rejection) }
            case .success(let target):
                let tracker = JobTracker(partition: message.topicPartition, offset: message.offset)
                trackers[command.jobID] = tracker
                group.addTask { await self.execute(command, on: target, tracker: tracker) }
            }
        }
    }

    /// A submit the router refuses may be of a job that started before the worker's secret policy
    /// was tightened (re-read after a hand-over): its running attempt is adopted and tracked to
    /// its end, with no further attempts. Any other is rejected.
    private func adoptOrReject(_ message: KafkaMessage, _ command: SubmitCommand, _ rejection: RequestRejection) async {
        if case .success(let target) = router.route(ignoringSecrets: command.spec),
            let latest = await existingAttempts(command.jobID, target.backend).last
        {
            guard progress[message.topicPartition] != nil, trackers[command.jobID] == nil else { return done(message) }
            logger.warning(
                "adopting a job the secret policy now refuses; no further attempts: \(rejection.reason)", metadata: ["job": "\(command.jobID)"])
            var lastAttemptOnly = command
            lastAttemptOnly.spec.retry.maxAttempts = min(command.spec.retry.maxAttempts, latest)
            let tracker = JobTracker(partition: message.topicPartition, offset: message.offset)
            trackers[command.jobID] = tracker
            await execute(lastAttemptOnly, on: target, tracker: tracker)
        } else if queueRejection(message, rejection) {
            await recordRejections()
        }
    }

    /// Queues a rejected request for the rejection loop (its offset stays pending until recorded).
    private func reject(_ message: KafkaMessage, _ rejection: RequestRejection, group: inout DiscardingTaskGroup) {
        if queueRejection(message, rejection) { group.addTask { await self.recordRejections() } }
    }

    /// Adds a rejected request to the backlog; true when the caller must run the rejection loop.
    private func queueRejection(_ message: KafkaMessage, _ rejection: RequestRejection) -> Bool {
        metrics.requestsRejected.labels(rejection.code.rawValue).increment()
        logger.warning("rejected request", metadata: ["offset": "\(message.topicPartition)@\(message.offset)", "reason": "\(rejection)"])
        rejectionBacklog.append(message, rejection)
        guard !recordingRejections else { return false }
        recordingRejections = true
        return true
    }

    /// The one rejection loop: records the backlog in order, retrying the head with backoff;
    /// while it keeps failing, consumption is paused (see `RejectionBacklog`).
    private func recordRejections() async {
        while let entry = rejectionBacklog.head, !Task.isCancelled {
            do {
                if !entry.deadLettered {
                    try await rejectionRecorder.deadLetter(entry.message, rejection: entry.rejection)
                    rejectionBacklog.deadLettered(entry)
                }
                if let jobID = entry.rejection.jobID {
                    try await rejectionRecorder.publishRejected(
                        LifecycleEvent(
                            jobID: jobID, attempt: 0, state: .rejected, source: .worker, team: entry.rejection.team,
                            failureClass: .invalidRequest, reason: entry.rejection.description, workerID: configuration.workerID))
                }
                rejectionBacklog.recorded(entry)
                done(entry.message)
            } catch {
                let delay = rejectionBacklog.failed()
                logger.error(
                    "could not record rejection of \(entry.message.topicPartition)@\(entry.message.offset), retrying in \(delay): \(error)")
                updatePause()
                try? await Task.sleep(for: delay)
            }
            updatePause()
        }
        recordingRejections = false
        updatePause()
    }

    private func done(_ message: KafkaMessage) {
        progress[message.topicPartition]?.done(message.offset)
    }

    // MARK: jobs

    /// Drives one job to a terminal state: claim, ensure, track, retry.
    private func execute(_ command: SubmitCommand, on target: BackendTarget, tracker: JobTracker) async {
        let backend = target.backend
        let limiter = limiter(for: target)
        // A job the backend already has (a request re-read after a hand-over) is adopted at once:
        // it already runs or has finished, so queueing it behind new work would only delay its
        // outcome (and hold back the partition's commits).
        let existing = await existingAttempts(command.jobID, backend)
        if existing.isEmpty, let quotaGate {
            let admission = await admit(command, on: target, tracker: tracker, quotaGate)
            if admission == .ended, !tracker.handedOver { progress[tracker.partition]?.done(tracker.offset) }
            if admission != .admitted {
                if trackers[command.jobID] === tracker { trackers[command.jobID] = nil }
                return
            }
        }
        if !existing.isEmpty {
            await limiter.acquireNow(team: command.spec.team)
        } else {
            waitingForSlot += 1
            updatePause()
            await limiter.acquire(team: command.spec.team, weight: quotas?.policy.weight(team: command.spec.team) ?? 1)
            waitingForSlot -= 1
            updatePause()
        }
        let execution = JobExecution(
            command: command, backend: backend, pricing: target.pricing, tracker: tracker, publisher: publisher, workerID: configuration.workerID,
            observeInterval: configuration.observeInterval, heartbeatInterval: configuration.heartbeatInterval,
            launchTimeout: configuration.launchTimeout, metrics: metrics, logger: logger, knownAttempts: existing,
            capacityBlocked: { blocked in await self.setCapacityBlocked(target.name, ObjectIdentifier(tracker), blocked) })
        let inFlight = metrics.inFlight.labels(backend.name)
        inFlight.add(1)
        let finished = await execution.run()
        setCapacityBlocked(target.name, ObjectIdentifier(tracker), false)
        inFlight.add(-1)
        await limiter.release(team: command.spec.team)
        if finished, !tracker.handedOver {
            await quotaGate?.release(command.jobID)
            progress[tracker.partition]?.done(tracker.offset)
        }
        if trackers[command.jobID] === tracker { trackers[command.jobID] = nil }
    }

    /// Waits until the job's team may start it (or it was handed over, or found ended). A held
    /// job is reported QUEUED with the reason; it counts towards the held-jobs backpressure.
    private func admit(
        _ command: SubmitCommand, on target: BackendTarget, tracker: JobTracker, _ gate: QuotaGate
    ) async -> QuotaGate.Admission {
        heldForQuota += 1
        updatePause()
        let (publisher, workerID, spec) = (publisher, configuration.workerID, command.spec)
        let admitted = await gate.admit(
            command.jobID, team: spec.team, target: target.name, resources: QuotaResources(gpus: spec.resources.gpu, cpus: spec.resources.cpu),
            tracker: tracker
        ) { reason in
            try? await publisher.post(
                LifecycleEvent(
                    jobID: command.jobID, attempt: 1, state: .queued, source: .worker, team: spec.team, backend: target.backend.name,
                    reason: reason, workerID: workerID))
        }
        heldForQuota -= 1
        updatePause()
        return admitted
    }

    /// The attempts the backend has for the job; empty when it has none (or cannot say now).
    private func existingAttempts(_ jobID: JobID, _ backend: any ComputeBackend) async -> [Int] {
        (try? await backend.existingAttempts(of: jobID)) ?? []
    }

    private func limiter(for target: BackendTarget) -> ConcurrencyLimiter {
        if let limiter = limiters[target.name] { return limiter }
        let limiter = ConcurrencyLimiter(limit: target.concurrencyLimit)
        limiters[target.name] = limiter
        return limiter
    }

    /// Backpressure for quota errors: while any job of a target cannot be created for lack of
    /// capacity, the worker claims no new work (partitions carry every target's jobs, so all pause).
    private func setCapacityBlocked(_ target: String, _ job: ObjectIdentifier, _ blocked: Bool) {
        if blocked { capacityBlocked[target, default: []].insert(job) } else { capacityBlocked[target]?.remove(job) }
        updatePause()
    }

    /// Pauses the assigned partitions while the backlog of jobs waiting for a slot is full, a
    /// target reports capacity errors or rejected requests cannot be recorded; resumes when the
    /// backlog is down to half and none of the others holds.
    private func updatePause() {
        let backlogFull = SlotBacklog(capacity: configuration.slotBacklog).isFull(waiting: waitingForSlot, paused: paused)
        let heldFull = SlotBacklog(capacity: QuotaGate.heldLimit).isFull(waiting: heldForQuota, paused: paused)
        let shouldPause = backlogFull || heldFull || capacityBlocked.values.contains { !$0.isEmpty } || rejectionBacklog.isBlocked
        guard shouldPause != paused else { return }
        paused = shouldPause
        // The whole assignment, also partitions assigned while paused (a rebalance during a pause).
        if shouldPause { consumer.pauseAll() } else { consumer.resumeAll() }
        metrics.paused.labels().set(shouldPause ? 1 : 0)
        logger.debug(shouldPause ? "slot backlog full, capacity error or rejections not recorded: partitions paused" : "partitions resumed")
    }

    /// Stops tracking the jobs of `partitions`; their new owner takes over.
    private func handOver(_ partitions: Set<KafkaTopicPartition>) {
        for (jobID, tracker) in trackers where partitions.contains(tracker.partition) {
            tracker.handedOver = true
            trackers[jobID] = nil
        }
        for partition in partitions { progress[partition] = nil }
        rejectionBacklog.drop(partitions)
        updatePause()
    }

    // MARK: offsets

    private func commitPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.commitInterval)
            storeSafeOffsets()
            do { try await consumer.commit() } catch { logger.warning("offset commit failed: \(error)") }
        }
    }

    private func storeSafeOffsets() {
        for (partition, state) in progress {
            if let position = state.committablePosition { consumer.storeOffset(partition, nextOffset: position) }
        }
    }
}

/// The worker's handle on one in-flight job, shared with the job's execution.
final class JobTracker: Sendable {
    let partition: KafkaTopicPartition
    let offset: Int64
    private let state = Mutex<(cancelReason: String?, handedOver: Bool)>((nil, false))

    init(partition: KafkaTopicPartition, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }

    /// Set when a cancel command arrived.
    var cancelReason: String? {
        get { state.withLock { $0.cancelReason } }
        set { state.withLock { $0.cancelReason = newValue } }
    }

    /// Set when the partition moved to another worker (or this one shuts down).
    var handedOver: Bool {
        get { state.withLock { $0.handedOver } }
        set { state.withLock { $0.handedOver = newValue } }
    }
}
