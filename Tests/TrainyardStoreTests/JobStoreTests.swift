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

    /// Job counts as a scan of every job record gives them: "STATE team backend count" lines.
    func countsByScan(_ store: JobStore) throws -> [String] {
        var counts: [String: Int] = [:]
        for job in try store.jobs(matching: JobQuery(limit: 1_000_000)) {
            counts["\(job.state.rawValue) \(job.team) \(job.backend ?? job.requestedBackend ?? "none")", default: 0] += 1
        }
        return counts.map { "\($0.key) \($0.value)" }.sorted()
    }

    func keptCounts(_ store: JobStore) throws -> [String] {
        try store.jobCounts().map { "\($0.state.rawValue) \($0.team) \($0.backend) \($0.count)" }.sorted()
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
            // The reference must hold every job and attempt the history names: an ingest that
            // dropped its folds would otherwise leave two empty stores that compare equal.
            let attempts = Set(
                records.compactMap { record -> String? in
                    switch record {
                    case .submitted(let command): "\(command.jobID.rawValue) 0"
                    case .event(let event): "\(event.jobID.rawValue) \(event.attempt)"
                    default: nil
                    }
                })
            let rows = expected.split(separator: "\n")
            #expect(rows.filter { $0.hasPrefix("jobs:") }.count == Set(records.compactMap(\.jobID)).count, "round \(round): jobs missing")
            #expect(rows.filter { $0.hasPrefix("attempts:") }.count == attempts.count, "round \(round): attempts missing")

            var shuffled = records + (0..<records.count / 3).map { _ in records[Int(generator.next() % UInt64(records.count))] }
            shuffled.shuffle(using: &generator)
            let (permuted, permutedURL) = try temporaryStore()
            defer { remove(permutedURL) }
            // Applied in several transactions, like a real aggregator's batches.
            let batches = stride(from: 0, to: shuffled.count, by: 7).map { Array(messages(shuffled)[$0..<min($0 + 7, shuffled.count)]) }
            for batch in batches { try permuted.apply(batch) }
            let actual = try state(permuted)
            #expect(try keptCounts(permuted) == countsByScan(permuted), "round \(round) (seed 42): counts kept at write time differ from a scan")
            let difference = zip(expected.split(separator: "\n"), actual.split(separator: "\n")).first { $0 != $1 }
            #expect(
                actual == expected,
                "round \(round) (seed 42) diverged:\n\(difference.map { "in order: \($0.0)\npermuted: \($0.1)" } ?? "row counts differ")")
        }
    }

    @Test("the counts kept at write time follow every change of state, team and backend, as a scan of the jobs does")
    func keptJobCounts() throws {
        let (store, url) = try temporaryStore()
        defer { remove(url) }
        let base = Date(timeIntervalSince1970: 1_790_000_000)
        let (first, second) = (JobID.generate(), JobID.generate())
        func event(_ id: JobID, _ attempt: Int, _ state: JobState, _ backend: String, team: String = "a") -> IngestRecord {
            .event(
                LifecycleEvent(
                    jobID: id, attempt: attempt, state: state, source: .worker,
                    occurredAt: base.addingTimeInterval(Double(attempt * 10 + (state.isTerminal ? 5 : 1))),
                    team: team, backend: backend, resourceName: "ty-\(id.rawValue)-a\(attempt)", exitCode: state.isTerminal ? 0 : nil))
        }
        let steps: [[IngestRecord]] = [
            [.submitted(SubmitCommand(jobID: first, spec: JobSpec(name: "x", team: "a", command: ["true"]), submittedAt: base))],
            [
                event(first, 1, .running, "local"),
                .submitted(SubmitCommand(jobID: second, spec: JobSpec(name: "y", team: "b", command: ["true"]), submittedAt: base)),
            ],
            [event(first, 1, .failed, "local")],
            [event(first, 2, .running, "kubernetes"), event(second, 1, .succeeded, "simulated", team: "b")],
            [event(first, 2, .succeeded, "kubernetes")],
        ]
        for (offset, records) in steps.enumerated() {
            try store.apply(
                records.enumerated().map {
                    IngestMessage(position: MessagePosition(topic: "events", partition: Int32($0.offset), offset: Int64(offset)), record: $0.element)
                })
            #expect(try keptCounts(store) == countsByScan(store), "after step \(offset)")
        }
        #expect(try keptCounts(store) == ["SUCCEEDED a kubernetes 1", "SUCCEEDED b simulated 1"])
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

    // MARK: status outbox

    /// The statuses in the outbox, oldest first.
    func outbox(_ store: JobStore) throws -> [JobStatusMessage] {
        try store.pendingStatus(limit: 10_000).map { try JobStatusCodec.decode($0.payload) }
    }

    @Test("the outbox gets one status per real change of a job, none for duplicates or re-applied offsets")
    func outboxOncePerChange() throws {
        let (store, url) = try temporaryStore()
        defer { remove(url) }
        let id = JobID.generate()
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        func event(_ state: JobState, _ seconds: Double, source: EventSource = .backend, exit: Int32? = nil) -> IngestRecord {
            .event(
                LifecycleEvent(
                    jobID: id, attempt: 1, state: state, source: source, occurredAt: start.addingTimeInterval(seconds), team: "t", backend: "local",
                    exitCode: exit))
        }
        var offset: Int64 = 0
        func batch(_ records: [IngestRecord]) -> [IngestMessage] {
            records.map { record in
                defer { offset += 1 }
                return IngestMessage(position: MessagePosition(topic: "e", partition: 0, offset: offset), record: record)
            }
        }
        let submit = IngestRecord.submitted(
            SubmitCommand(jobID: id, spec: JobSpec(name: "outbox", team: "t", command: ["true"]), submittedAt: start))

        let first = batch([submit, event(.claimed, 1, source: .worker)])
        try store.apply(first)
        #expect(try outbox(store).map(\.state) == [.queued, .claimed])
        try store.apply(first)  // the same offsets again: skipped
        try store.apply(batch([submit, event(.claimed, 1, source: .worker)]))  // duplicates at new offsets: nothing changes
        #expect(try outbox(store).count == 2)

        // Several changes in one batch: one row each, in order.
        try store.apply(batch([event(.running, 2), event(.succeeded, 5, exit: 0)]))
        // A late, losing report of the same attempt (the backend outranks the worker) changes nothing.
        try store.apply(batch([event(.failed, 4, source: .worker, exit: 1)]))
        #expect(try outbox(store).map(\.state) == [.queued, .claimed, .running, .succeeded])

        // Any field of the status counts, not only the state: a cancel request read afterwards.
        try store.apply(batch([.cancelRequested(CancelCommand(jobID: id, requestedAt: start.addingTimeInterval(6), reason: "late"))]))
        let statuses = try outbox(store)
        #expect(statuses.count == 5)
        #expect(statuses.last?.cancelRequestedAt == start.addingTimeInterval(6))
        let job = try #require(try store.job(id))
        #expect(statuses.last == JobStatusMessage(job))
        #expect(statuses.last?.queueWaitSeconds == 1 && statuses.last?.runSeconds == 3 && statuses.last?.exitCode == 0)
        #expect(try store.pendingStatus(limit: 100).allSatisfy { $0.jobID == id })
    }

    @Test("whatever the order of a job's messages, the last status queued for it is its final record")
    func outboxEndsAtFinalRecord() throws {
        var generator = SplitMix64(seed: 99)
        for round in 0..<40 {
            let records = (0..<5).flatMap { _ in history(&generator) }
            var shuffled = records + (0..<records.count / 3).map { _ in records[Int(generator.next() % UInt64(records.count))] }
            shuffled.shuffle(using: &generator)
            let messages = shuffled.enumerated().map {
                IngestMessage(position: MessagePosition(topic: "events", partition: Int32($0.offset), offset: 0), record: $0.element)
            }
            let (store, url) = try temporaryStore()
            defer { remove(url) }
            for start in stride(from: 0, to: messages.count, by: 7) { try store.apply(Array(messages[start..<min(start + 7, messages.count)])) }

            let pending = try store.pendingStatus(limit: 10_000)
            #expect(pending.map(\.sequence) == pending.map(\.sequence).sorted())
            for jobID in Set(records.compactMap(\.jobID)) {
                let payloads = pending.filter { $0.jobID == jobID }.map(\.payload)
                let job = try #require(try store.job(jobID))
                #expect(payloads.last == (try JobStatusCodec.encode(JobStatusMessage(job))), "round \(round): \(jobID)")
                #expect(zip(payloads, payloads.dropFirst()).allSatisfy { $0 != $1 }, "round \(round): a status queued twice in a row")
            }
        }
    }

    @Test("the outbox survives reopening the store; deleteStatus removes through a sequence, and sequences are never reused")
    func outboxDurable() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("store-test-\(UUID().uuidString).db")
        defer { remove(url) }
        let ids = (0..<3).map { JobID.derived(team: "t", idempotencyKey: "durable-\($0)") }
        func submit(_ id: JobID, at offset: Int64) -> IngestMessage {
            IngestMessage(
                position: MessagePosition(topic: "requests", partition: 0, offset: offset),
                record: .submitted(
                    SubmitCommand(
                        jobID: id, spec: JobSpec(name: "d", team: "t", command: ["true"]), submittedAt: Date(timeIntervalSince1970: 1_790_000_000))))
        }
        let written: [(sequence: Int64, jobID: JobID, payload: Data)]
        do {
            let store = try JobStore(path: url.path)
            try store.apply(ids.enumerated().map { submit($0.element, at: Int64($0.offset)) })
            written = try store.pendingStatus(limit: 10)
        }
        let store = try JobStore(path: url.path)
        let reopened = try store.pendingStatus(limit: 10)
        #expect(reopened.map(\.jobID) == ids)
        #expect(reopened.map(\.sequence) == written.map(\.sequence) && reopened.map(\.payload) == written.map(\.payload))
        #expect(try store.pendingStatus(limit: 2).map(\.jobID) == Array(ids.prefix(2)))

        try store.deleteStatus(through: reopened[1].sequence)
        #expect(try store.pendingStatus(limit: 10).map(\.jobID) == [ids[2]])
        #expect(try store.pendingStatusCount() == 1)
        try store.deleteStatus(through: reopened[2].sequence)
        #expect(try store.pendingStatus(limit: 10).isEmpty)

        let later = JobID.derived(team: "t", idempotencyKey: "durable-later")
        try store.apply([submit(later, at: 3)])
        let next = try store.pendingStatus(limit: 10)
        #expect(next.map(\.jobID) == [later])
        #expect(next[0].sequence > reopened[2].sequence)
    }

    @Test("canonicalDump leaves the outbox out: stores that applied the same messages compare equal whatever is still unsent")
    func dumpIgnoresOutbox() throws {
        var generator = SplitMix64(seed: 11)
        let messages = (0..<4).flatMap { _ in history(&generator) }.enumerated().map {
            IngestMessage(position: MessagePosition(topic: "events", partition: 0, offset: Int64($0.offset)), record: $0.element)
        }
        let (sent, sentURL) = try temporaryStore()
        defer { remove(sentURL) }
        let (unsent, unsentURL) = try temporaryStore()
        defer { remove(unsentURL) }
        try sent.apply(messages)
        try unsent.apply(messages)
        let pending = try sent.pendingStatus(limit: 10_000)
        try sent.deleteStatus(through: try #require(pending.last).sequence)
        #expect(try sent.pendingStatusCount() == 0 && unsent.pendingStatusCount() == pending.count)
        #expect(try sent.canonicalDump() == unsent.canonicalDump())
        #expect(!(try unsent.canonicalDump()).contains("status_outbox"))
    }

    @Test("a file that is not a store is refused with an error naming it, and left untouched")
    func foreignFiles() throws {
        let directory = FileManager.default.temporaryDirectory
        let garbage = directory.appendingPathComponent("store-garbage-\(UUID().uuidString).db")
        defer { remove(garbage) }
        try Data(repeating: 0x5A, count: 8192).write(to: garbage)
        for open in [{ try JobStore(path: garbage.path) }, { try JobStore(readingAt: garbage.path) }] as [() throws -> JobStore] {
            let error = try #require(throws: SQLiteError.self) { try open() }
            #expect(error.description.contains(garbage.path), "\(error)")
        }

        let foreign = directory.appendingPathComponent("store-foreign-\(UUID().uuidString).db")
        defer { remove(foreign) }
        try SQLiteDatabase(path: foreign.path).execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        for open in [{ try JobStore(path: foreign.path) }, { try JobStore(readingAt: foreign.path) }] as [() throws -> JobStore] {
            let error = try #require(throws: SQLiteError.self) { try open() }
            #expect(error.description.contains(foreign.path) && error.description.contains("not a Trainyard store"), "\(error)")
        }
        let tables = try SQLiteDatabase(path: foreign.path, readOnly: true).read { connection in
            try connection.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0["name"].string }
        }
        #expect(tables == ["invoices"])
    }
}
