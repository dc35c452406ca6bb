import Foundation
import Testing
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// The store's projection against real SQLite files.
@Suite("JobStore")
struct JobStoreTests {
    func temporaryStore() throws -> (JobStore, URL) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("store-test-\(UUID().uuidString).db")
        return (try JobStore(path: url.path), url)
    }

    func remove(_ url: URL) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) }
    }

    /// `jobs` and `attempts` rows only: the state, not the per-message history.
    func state(_ store: JobStore) throws -> String {
        try store.canonicalDump().split(separator: "\n").filter {
            $0.hasPrefix("jobs:") || $0.hasPrefix("attempts:") || $0.hasPrefix("cancel_requests:")
        }.joined(separator: "\n")
    }

    /// A random history of one job: its submit, 1-3 attempts with forward and backward states from
    /// every source, sometimes conflicting terminal reports, sometimes a cancel request.
    func history(_ generator: inout SplitMix64) -> [IngestRecord] {
        let id = JobID.derived(team: "t", idempotencyKey: String(generator.next()))
        let base = Date(timeIntervalSince1970: 1_790_000_000 + Double(generator.next() % 1000))
        var records: [IngestRecord] = [
            .submitted(SubmitCommand(jobID: id, spec: JobSpec(name: "p", team: "t", command: ["true"]), submittedAt: base))
        ]
        let attempts = Int(generator.next() % 3) + 1
        for attempt in 1...attempts {
            for _ in 0..<Int(generator.next() % 6) + 1 {
                let state = JobState.allCases.filter { $0 != .queued && $0 != .rejected }[Int(generator.next() % 8)]
                let source = EventSource.allCases.filter { $0 != .aggregator }[Int(generator.next() % 3)]
                records.append(
                    .event(
                        LifecycleEvent(
                            jobID: id, attempt: attempt, state: state, source: source,
                            occurredAt: base.addingTimeInterval(Double(generator.next() % 10_000) / 1000), team: "t", backend: "local",
                            resourceName: "ty-\(id.rawValue)-a\(attempt)", exitCode: state.isTerminal ? Int32(generator.next() % 3) : nil,
                            reason: state.isTerminal ? "r\(generator.next() % 2)" : nil, workerID: "w\(generator.next() % 2)")))
            }
        }
        if generator.next() % 3 == 0 {
            records.append(.cancelRequested(CancelCommand(jobID: id, requestedAt: base.addingTimeInterval(1), reason: "stop")))
        }
        return records
    }

    @Test("any order of a job history, with duplicates, gives the same job and attempt rows as the order it happened in")
    func orderIndependence() throws {
        var generator = SplitMix64(seed: 42)
        for round in 0..<150 {
            let records = (0..<5).flatMap { _ in history(&generator) }
            // Each message on its own partition, so the store's offset check never drops one.
            func messages(_ records: [IngestRecord]) -> [IngestMessage] {
                records.enumerated().map {
                    IngestMessage(position: MessagePosition(topic: "events", partition: Int32($0.offset), offset: 0), record: $0.element)
                }
            }
            let (inOrder, inOrderURL) = try temporaryStore()
            defer { remove(inOrderURL) }
            try inOrder.apply(messages(records))
            let expected = try state(inOrder)

            var shuffled = records + (0..<records.count / 3).map { _ in records[Int(generator.next() % UInt64(records.count))] }
            shuffled.shuffle(using: &generator)
            let (permuted, permutedURL) = try temporaryStore()
            defer { remove(permutedURL) }
            // Applied in several transactions, like a real aggregator's batches.
            let batches = stride(from: 0, to: shuffled.count, by: 7).map { Array(messages(shuffled)[$0..<min($0 + 7, shuffled.count)]) }
            for batch in batches { try permuted.apply(batch) }
            let actual = try state(permuted)
            let difference = zip(expected.split(separator: "\n"), actual.split(separator: "\n")).first { $0 != $1 }
            #expect(
                actual == expected,
                "round \(round) (seed 42) diverged:\n\(difference.map { "in order: \($0.0)\npermuted: \($0.1)" } ?? "row counts differ")")
        }
    }

    @Test("a batch applied again at the same offsets changes nothing (offsets are stored with the state)")
    func exactlyOnce() throws {
        var generator = SplitMix64(seed: 7)
        let records = (0..<10).flatMap { _ in history(&generator) }
        let messages = records.enumerated().map {
            IngestMessage(position: MessagePosition(topic: "events", partition: 0, offset: Int64($0.offset)), record: $0.element)
        }
        let (store, url) = try temporaryStore()
        defer { remove(url) }
        try store.apply(Array(messages.prefix(30)))
        try store.apply(Array(messages.prefix(50)))  // overlaps the first batch
        let once = try store.canonicalDump()
        try store.apply(messages)
        try store.apply(messages)
        let (clean, cleanURL) = try temporaryStore()
        defer { remove(cleanURL) }
        try clean.apply(messages)
        #expect(try store.canonicalDump() == clean.canonicalDump())
        #expect(try store.consumedOffsets()["events"]?[0] == Int64(messages.count))
        #expect(once != (try store.canonicalDump()))
    }

    @Test("a failed attempt followed by a successful retry: the job shows the retry, and queue wait and run time")
    func latestAttemptWins() throws {
        let (store, url) = try temporaryStore()
        defer { remove(url) }
        let id = JobID.generate()
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        func event(_ attempt: Int, _ state: JobState, _ seconds: Double, source: EventSource = .backend, exit: Int32? = nil) -> IngestRecord {
            .event(
                LifecycleEvent(
                    jobID: id, attempt: attempt, state: state, source: source, occurredAt: start.addingTimeInterval(seconds), team: "t",
                    exitCode: exit))
        }
        let records: [IngestRecord] = [
            event(2, .succeeded, 30, exit: 0), event(1, .claimed, 2, source: .worker), event(1, .running, 3),
            event(1, .failed, 10, source: .worker, exit: 1), event(2, .running, 20),
            .submitted(SubmitCommand(jobID: id, spec: JobSpec(name: "retry", team: "t", command: ["true"]), submittedAt: start)),
        ]
        try store.apply(
            records.enumerated().map {
                IngestMessage(position: MessagePosition(topic: "e", partition: 0, offset: Int64($0.offset)), record: $0.element)
            })
        let job = try #require(try store.job(id))
        #expect(job.state == .succeeded && job.attempt == 2 && job.exitCode == 0)
        #expect(job.queueWait == 2)
        #expect(job.runTime() == 10)
        #expect(job.name == "retry")
        #expect(try store.events(of: id).count == 6)
    }
}
