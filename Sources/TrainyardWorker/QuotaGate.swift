import Foundation
import Logging
import TrainyardCore
import TrainyardKafka
import TrainyardQuota

/// The worker's side of fleet-wide team quotas (docs/fair-share.md): it folds the claims topic,
/// appends a claim before a job's first start and waits to read it back granted, holds a job
/// whose claim was denied until its team has room again, and releases a job's grant once its
/// terminal event was delivered.
actor QuotaGate {
    private let source: any QuotaPolicySource
    private let producer: KafkaProducer
    private let consumerConfiguration: KafkaConsumerConfiguration
    /// The admin client's settings: without the consumer-only fetch wait (librdkafka warns).
    private let adminKafka: KafkaConfiguration
    private var consumer: KafkaConsumer?
    private var closed = false
    private let topic: String
    private let workerID: String
    private let logger: Logger
    private let metrics: QuotaMetrics
    private var ledger = QuotaLedger()
    /// Jobs waiting to read their own claim back, with when they appended it.
    private var decisions: [JobID: (since: ContinuousClock.Instant, waiter: CheckedContinuation<QuotaLedger.Decision?, Never>)] = [:]
    /// Held jobs waiting for a release of their team (or the next tick, to re-check cancels).
    private var held: [String: [CheckedContinuation<Void, Never>]] = [:]

    /// Jobs held (or waiting for their claim's decision) at which the worker pauses its
    /// partitions; it resumes at half. About a few kilobytes each (the request).
    static let heldLimit = 1024

    /// A claim not read back within this time is appended again (its record may be lost).
    static let claimTimeout: Duration = .seconds(30)

    init(source: any QuotaPolicySource, configuration: WorkerConfiguration, producer: KafkaProducer, metrics: QuotaMetrics, logger: Logger) {
        self.source = source
        self.metrics = metrics
        self.producer = producer
        adminKafka = configuration.kafka
        topic = configuration.topics.quotaClaims
        workerID = configuration.workerID
        self.logger = logger
        // Every worker reads the whole topic: a group of its own, from the start, never committed.
        // The requests consumer's short fetch wait: a claim is read back, and a release wakes the
        // held jobs, within it (at librdkafka's 500 ms default the local broker held every fetch
        // that long, and a slot freed meanwhile went to a job already waiting there).
        consumerConfiguration = KafkaConsumerConfiguration(
            common: configuration.consumerKafka, groupID: "\(configuration.groupID)-quota-\(configuration.workerID)-\(UUID().uuidString)",
            topics: [topic], sessionTimeoutMilliseconds: configuration.sessionTimeoutMilliseconds, offsetReset: .earliest)
    }

    /// Creates the claims topic if needed (a consumer subscribed to a missing topic would not see
    /// it appear for minutes), then folds it until closed; wakes held jobs every second.
    func run() async {
        guard let consumer = await openConsumer() else { return }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.tickPeriodically() }
            for await event in consumer.events {
                if case .message(let message) = event { fold(message) }
            }
            group.cancelAll()
        }
    }

    private func openConsumer() async -> KafkaConsumer? {
        while !closed {
            do {
                let admin = try KafkaAdmin(configuration: adminKafka, logger: logger)
                _ = try await admin.createTopics([KafkaNewTopic(name: topic, partitions: 1)])
                let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
                self.consumer = consumer
                return consumer
            } catch {
                logger.warning("cannot open the quota claims topic \(topic), retrying: \(error)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return nil
    }

    func close() async {
        closed = true
        await consumer?.close()
        for (_, entry) in decisions { entry.waiter.resume(returning: nil) }
        decisions = [:]
        wakeAll()
    }

    /// What became of a job at the gate.
    enum Admission: Equatable {
        /// It holds a grant, or was cancelled (the execution then records the cancel without
        /// starting anything).
        case admitted
        /// Its partition was handed over: the new owner takes the job.
        case handedOver
        /// Its grant was released before: the job ended already (a request read again), so it
        /// must not start; its request is done.
        case ended
    }

    /// Returns once `job` holds a grant, was cancelled, handed over, or is found ended.
    /// `held` is told the reason each time the job is held for a new one.
    func admit(
        _ job: JobID, team: String, target: String, resources: QuotaResources, tracker: JobTracker, held report: @Sendable (String) async -> Void
    ) async -> Admission {
        var reported: String?
        while true {
            if tracker.handedOver { return .handedOver }
            if tracker.cancelReason != nil { return .admitted }
            let limits = source.policy.limits(team: team, target: target)
            let claim = QuotaClaim(team: team, target: target, job: job, attempt: 1, resources: resources, limits: limits, worker: workerID)
            let denial: QuotaDenial?
            switch ledger.decision(for: claim) {
            case .denied(let local): denial = local  // no room in this worker's fold: no need to append a claim yet
            case .released: return .ended
            case .granted, .alreadyGranted:
                switch await decide(claim) {
                case .granted, .alreadyGranted: return .admitted
                case .denied(let decided): denial = decided
                case .released: return .ended
                case nil: continue  // not read back in time (or closing): check again
                }
            }
            if let denial, denial.reason != reported {
                reported = denial.reason
                await report(denial.reason)
            }
            await withCheckedContinuation { held[team, default: []].append($0) }
        }
    }

    /// Appends the release of `job`'s grant (retrying until the producer takes it).
    func release(_ job: JobID) async {
        guard let value = try? QuotaRecord.release(QuotaRelease(job: job, worker: workerID)).encoded() else { return }
        await append(value)
    }

    private func decide(_ claim: QuotaClaim) async -> QuotaLedger.Decision? {
        guard let value = try? QuotaRecord.claim(claim).encoded() else { return nil }
        // Waiting first: the record may be read back before the producer call returns.
        return await withCheckedContinuation { continuation in
            decisions[claim.job] = (.now, continuation)
            do { try producer.enqueue(message(value)) } catch {
                logger.warning("could not append a quota claim: \(error)")
                decisions.removeValue(forKey: claim.job)?.waiter.resume(returning: nil)
            }
        }
    }

    private func append(_ value: [UInt8]) async {
        while true {
            do {
                _ = try await producer.send(message(value))
                return
            } catch {
                logger.warning("could not append to the quota claims topic, retrying: \(error)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// All records go to partition 0: the fold needs one total order.
    private func message(_ value: [UInt8]) -> KafkaProducerMessage {
        KafkaProducerMessage(topic: topic, key: nil, value: Data(value), partition: 0)
    }

    private func fold(_ message: KafkaMessage) {
        guard let record = QuotaRecord.decode(Array(message.value)) else {
            logger.warning("skipped a record of the quota claims topic that is not one", metadata: ["offset": "\(message.offset)"])
            return
        }
        switch record {
        case .claim(let claim):
            let decision = ledger.apply(claim)
            if decision == .granted { metrics.running.withLock { $0[claim.team] = ledger.usage(team: claim.team).attempts } }
            if claim.worker == workerID, let entry = decisions.removeValue(forKey: claim.job) { entry.waiter.resume(returning: decision) }
        case .release(let release):
            guard let grant = ledger.apply(release) else { return }
            metrics.running.withLock { $0[grant.team] = ledger.usage(team: grant.team).attempts }
            for waiter in held.removeValue(forKey: grant.team) ?? [] { waiter.resume() }
        }
    }

    private func tickPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = ContinuousClock.now
            for (job, entry) in decisions where now - entry.since > Self.claimTimeout {
                decisions[job] = nil
                entry.waiter.resume(returning: nil)
            }
            wakeAll()
        }
    }

    private func wakeAll() {
        let waiters = held.values.flatMap { $0 }
        held = [:]
        for waiter in waiters { waiter.resume() }
    }
}
