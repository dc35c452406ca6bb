import Foundation
import Testing
import TrainyardAggregator
import TrainyardCore
import TrainyardKafka
import TrainyardObservability
import TrainyardStore
import TrainyardTesting

/// `<prefix>.status` as another service sees it, written by a real aggregator process.
@Suite("Status topic against the local broker", .serialized)
struct StatusTopicTests {
    func spec(_ name: String, _ command: [String]) -> JobSpec {
        JobSpec(name: name, team: "status-tests", command: command, maxRuntimeSeconds: 120, retry: RetryPolicy(maxAttempts: 1, backoffSeconds: 0))
    }

    @Test("each job's status changes reach the status topic in order, and the last one per key is its final record, across an aggregator kill -9")
    func statusTopic() async throws {
        try await Fleet.with(name: "status") { fleet in
            // The worker starts once the aggregator holds its partitions, so every submit is applied
            // before its job's first event (QUEUED is then the first status of every job).
            let aggregatorPort = try Fleet.freePort()
            try fleet.startAggregator(httpPort: aggregatorPort)
            let ready = try await eventually(timeout: .seconds(120)) { (try? await Fleet.get(port: aggregatorPort, path: "/readyz"))?.0 == 200 }
            try #require(ready, "the aggregator never became ready:\n\(fleet.logTail("aggregator"))")
            try fleet.startWorker("worker-1")

            let scripted = try await fleet.submit([
                spec("succeeds", ["true"]),
                spec("exits-3", ["/bin/sh", "-c", "exit 3"]),
                spec("cancelled", ["sleep", "300"]),
            ])
            let (succeeds, fails, cancelled) = (scripted[0], scripted[1], scripted[2])
            let ids = try await scripted + fleet.submit((0..<40).map { spec("job-\($0)", ["sleep", "0.\($0 % 5)"]) })

            let running = try await eventually(timeout: .seconds(120)) { try fleet.records([cancelled])[cancelled]?.state == .running }
            try #require(running, "the long job never ran; worker log:\n\(fleet.logTail("worker-1"))")
            try await fleet.cancel(cancelled, reason: "no longer needed")

            // kill -9 mid-run, once every submit is applied (so a restart re-reads only events).
            let midRun = try await eventually(timeout: .seconds(120)) {
                let records = try fleet.records(ids)
                return records.count == ids.count && records.values.allSatisfy { $0.submittedAt != nil }
                    && records.values.filter { $0.state.isTerminal }.count >= 15
            }
            try #require(midRun, "jobs did not progress; worker log:\n\(fleet.logTail("worker-1"))")
            fleet.crash("aggregator")
            try fleet.startAggregator()
            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(180))
            try #require(records.count == ids.count && records.values.allSatisfy { $0.state.isTerminal }, "\(fleet.logTail("aggregator"))")
            #expect(records[succeeds]?.state == .succeeded)
            #expect(records[fails]?.state == .failed && records[fails]?.exitCode == 3)
            #expect(records[cancelled]?.state == .cancelled)

            // Another service's view: the status topic from the beginning.
            let recording = try TopicRecording(topic: fleet.topics.status, kafka: fleet.kafka)
            let expected = try ids.map { ($0, try JobStatusCodec.encode(JobStatusMessage(try #require(records[$0])))) }
            let complete = try await eventually(timeout: .seconds(180), every: .milliseconds(250)) {
                let messages = recording.valuesByKey
                return expected.allSatisfy { id, final in messages[id.rawValue]?.last == final }
            }
            await recording.stop()
            let received = recording.valuesByKey
            let missing = expected.filter { received[$0.0.rawValue]?.last != $0.1 }.map(\.0)
            #expect(complete, "no final status for \(missing.count) jobs, e.g. \(missing.prefix(3)); aggregator log:\n\(fleet.logTail("aggregator"))")
            #expect(Set(received.keys) == Set(ids.map(\.rawValue)), "statuses for jobs not submitted")

            let store = try JobStore(readingAt: fleet.databasePath)
            for id in ids {
                let payloads = received[id.rawValue] ?? []
                // A restart may send again what was sent and not yet deleted: byte-identical repeats.
                var seen = Set<Data>()
                let statuses = try payloads.filter { seen.insert($0).inserted }.map(JobStatusCodec.decode)
                var path: [(attempt: Int, state: JobState)] = []
                for status in statuses where path.last.map({ $0 != (status.attempt, status.state) }) ?? true {
                    path.append((status.attempt, status.state))
                }
                let pathText = path.map { "\($0.attempt):\($0.state.rawValue)" }.joined(separator: " ")
                // The requests and events topics are read independently: when a worker's first event
                // of the job is read before its submit, the aggregator never saw it QUEUED (its
                // state is already past that), so the path starts at that event.
                let submitReadLate = path.first.map { $0.attempt > 0 } == true
                #expect(path.first.map { $0 == (0, .queued) } == true || submitReadLate, "\(id): \(pathText)")
                let forward = zip(path, path.dropFirst()).allSatisfy { earlier, later in
                    earlier.attempt < later.attempt
                        || (earlier.attempt == later.attempt
                            && (earlier.state.rank < later.state.rank || (earlier.state.isTerminal && later.state.isTerminal)))
                }
                #expect(forward, "\(id) went backwards: \(pathText)")
                // Every state an event reported on the way (terminal ones may lose to a higher authority).
                let reported = Set(
                    try store.events(of: id).filter { !$0.event.state.isTerminal }.map { "\($0.event.attempt):\($0.event.state.rawValue)" }
                ).subtracting(submitReadLate ? ["0:QUEUED"] : [])
                #expect(
                    reported.isSubset(of: pathText.split(separator: " ").map(String.init)), "\(id): \(pathText) misses one of \(reported.sorted())")
                #expect(statuses.last.map { $0 == JobStatusMessage(records[id]!) } == true)
            }
            let final = try received.mapValues { try JobStatusCodec.decode($0.last!) }
            #expect(final[fails.rawValue]?.exitCode == 3 && final[fails.rawValue]?.failureClass == .userError)
            #expect(final[cancelled.rawValue]?.cancelRequestedAt != nil && final[cancelled.rawValue]?.reason == "no longer needed")
            #expect(final[succeeds.rawValue]?.runSeconds != nil && final[succeeds.rawValue]?.queueWaitSeconds != nil)
            #expect(try await eventually(timeout: .seconds(120)) { try store.pendingStatusCount() == 0 }, "the outbox was not emptied")
        }
    }

    @Test("the publisher deletes outbox rows only once the broker has them, sends them keyed by job id in order, and wakes on demand")
    func publisherDeletesAfterDelivery() async throws {
        let topic = TestEnvironment.uniqueName("status")
        let kafka = try await TestEnvironment.kafka(topics: [topic], partitions: 2)
        let directory = try TestEnvironment.temporaryDirectory("publisher")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try JobStore(path: directory.appendingPathComponent("trainyard.db").path)
        let logger = TestEnvironment.logger("status-publisher")
        let ids = (0..<5).map { JobID.derived(team: "t", idempotencyKey: "publisher-\($0)") }
        var offset: Int64 = 0
        func apply(_ records: [IngestRecord]) throws {
            try store.apply(
                records.map { record in
                    defer { offset += 1 }
                    return IngestMessage(position: MessagePosition(topic: "events", partition: 0, offset: offset), record: record)
                })
        }
        try apply(ids.map { .submitted(SubmitCommand(jobID: $0, spec: JobSpec(name: "p", team: "t", command: ["true"]), submittedAt: Date())) })
        try apply(ids.map { .event(LifecycleEvent(jobID: $0, attempt: 1, state: .claimed, source: .worker, team: "t")) })
        let queued = try store.pendingStatus(limit: 100)
        #expect(queued.count == 10)

        // Nothing acknowledged (no broker there): nothing deleted.
        var quiet = logger
        quiet.logLevel = .critical  // librdkafka's connection errors are expected here
        let nowhere = try KafkaProducer(
            configuration: KafkaProducerConfiguration(
                common: KafkaConfiguration(bootstrapServers: "127.0.0.1:\(try Fleet.freePort())"), messageTimeoutMilliseconds: 1000),
            logger: quiet)
        let failing = StatusPublisher(store: store, producer: nowhere, topic: topic, metrics: MetricsRegistry(), logger: quiet)
        await #expect(throws: (any Error).self) { try await failing.publishPending() }
        #expect(try store.pendingStatusCount() == 10)
        await nowhere.close(timeout: .seconds(1))

        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: kafka), logger: logger)
        let publisher = StatusPublisher(
            store: store, producer: producer, topic: topic, batchSize: 4, idleInterval: .seconds(3600), metrics: MetricsRegistry(), logger: logger)
        let running = Task { await publisher.run() }
        #expect(try await eventually(timeout: .seconds(120)) { try store.pendingStatusCount() == 0 }, "the first round did not empty the outbox")
        // A long idle interval: only wake() makes the publisher look again.
        try apply(ids.map { .event(LifecycleEvent(jobID: $0, attempt: 1, state: .running, source: .backend, team: "t")) })
        let later = try store.pendingStatus(limit: 100)
        publisher.wake()
        #expect(try await eventually(timeout: .seconds(120)) { try store.pendingStatusCount() == 0 }, "wake() did not publish")
        running.cancel()
        await running.value
        await producer.close()

        let recording = try TopicRecording(topic: topic, kafka: kafka)
        let all = queued + later
        _ = try await eventually(timeout: .seconds(120)) { recording.messages.count >= all.count }
        await recording.stop()
        let received = recording.valuesByKey
        for id in ids {
            #expect(received[id.rawValue] == all.filter { $0.jobID == id }.map(\.payload), "\(id): sent once each, in order")
        }
    }
}
