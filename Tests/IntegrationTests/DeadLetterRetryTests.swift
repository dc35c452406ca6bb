import Foundation
import SimulatedBackend
import Synchronization
import Testing
import TrainyardBackends
import TrainyardCore
import TrainyardKafka
import TrainyardObservability
import TrainyardTesting
import TrainyardWorker

/// A DLQ that refuses records while `failing` is set; counts tries and how many run at once.
final class FlakyDeadLetters: RejectionRecording {
    struct State {
        var failing = true
        var tries = 0
        var running = 0
        var mostAtOnce = 0
        var stored: [Int64] = []
    }
    struct Refused: Error {}

    let state = Mutex(State())

    func deadLetter(_ message: KafkaMessage, rejection: RequestRejection) async throws {
        state.withLock { state in
            state.tries += 1
            state.running += 1
            state.mostAtOnce = max(state.mostAtOnce, state.running)
        }
        // A broker round trip: concurrent tries (one per message) would overlap here.
        try? await Task.sleep(for: .milliseconds(5))
        let stored = state.withLock { state in
            state.running -= 1
            if !state.failing { state.stored.append(message.offset) }
            return !state.failing
        }
        if !stored { throw Refused() }
    }

    func publishRejected(_ event: LifecycleEvent) async throws {}

    var snapshot: State { state.withLock { $0 } }
    func setFailing(_ failing: Bool) { state.withLock { $0.failing = failing } }
}

/// Item 8 of issue #13: a DLQ that keeps refusing records costs one retry loop, pauses
/// consumption, commits nothing past an unrecorded request, and consumption resumes once it works.
@Suite("Dead-letter retry bound against the local broker", .serialized)
struct DeadLetterRetryTests {
    let logger = TestEnvironment.logger("dlq-retry")

    /// A worker in this process whose rejected requests go to `rejections`.
    func startWorker(_ fleet: Fleet, _ name: String, rejections: FlakyDeadLetters, registry: MetricsRegistry) throws -> (
        Worker, Task<Void, any Error>, KafkaProducer
    ) {
        let directory = try TestEnvironment.temporaryDirectory("dlq-retry")
        let backend = try SimulatedBackend(
            configuration: SimulatedBackendConfiguration(stateFile: directory.appendingPathComponent("simulated.sqlite")))
        let router = BackendRouter(single: BackendTarget(name: "simulated", backend: backend, concurrencyLimit: 4))
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: fleet.kafka), logger: logger)
        let configuration = WorkerConfiguration(
            kafka: fleet.kafka, topics: fleet.topics, groupID: fleet.workerGroup, workerID: name,
            rejectionRetry: (initialBackoff: .milliseconds(10), pauseAfterFailures: 3))
        let worker = try Worker(
            configuration: configuration, producer: producer, router: router, metrics: registry, logger: logger, rejections: rejections)
        return (worker, Task { try await worker.run() }, producer)
    }

    func produceGarbage(_ fleet: Fleet, count: Int) async throws {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: fleet.kafka), logger: logger)
        for index in 0..<count {
            try producer.enqueue(KafkaProducerMessage(topic: fleet.topics.requests, key: nil, value: Data("not json \(index)".utf8)))
        }
        try await producer.flush()
        await producer.close()
    }

    func isPaused(_ registry: MetricsRegistry) -> Bool { registry.render().contains("trainyard_worker_paused 1\n") }

    @Test("a refusing DLQ: one try at a time, consumption paused, nothing committed past it; it resumes when the DLQ works")
    func refusingDeadLetterQueue() async throws {
        try await Fleet.with(name: "dlq-retry", partitions: 1) { fleet in
            let first = FlakyDeadLetters()
            let firstMetrics = MetricsRegistry()
            let (worker, running, producer) = try startWorker(fleet, "dlq-worker-1", rejections: first, registry: firstMetrics)
            try await produceGarbage(fleet, count: 20)

            #expect(try await eventually(timeout: .seconds(120)) { isPaused(firstMetrics) && first.snapshot.tries >= 6 })
            #expect(first.snapshot.mostAtOnce == 1, "one retry loop, not one per rejected message")
            #expect(first.snapshot.stored.isEmpty)

            first.setFailing(false)
            #expect(try await eventually(timeout: .seconds(120)) { first.snapshot.stored.count == 20 && !isPaused(firstMetrics) })
            #expect(first.snapshot.stored == Array(0..<20), "recorded once each, in the order read")

            // Consumption resumed; a second outage with one more bad request, then a hand-over.
            first.setFailing(true)
            try await produceGarbage(fleet, count: 1)
            #expect(try await eventually(timeout: .seconds(120)) { isPaused(firstMetrics) })
            await worker.shutdown()
            try await running.value
            await producer.close()
            #expect(first.snapshot.mostAtOnce == 1)

            // The request that was never dead-lettered was not committed past: the next owner records it.
            let second = FlakyDeadLetters()
            second.setFailing(false)
            let (successor, successorRunning, successorProducer) = try startWorker(
                fleet, "dlq-worker-2", rejections: second, registry: MetricsRegistry())
            #expect(try await eventually(timeout: .seconds(120)) { second.snapshot.stored.contains(20) })
            await successor.shutdown()
            try await successorRunning.value
            await successorProducer.close()
        }
    }
}
