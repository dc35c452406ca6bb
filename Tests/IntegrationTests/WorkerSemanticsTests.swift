import Foundation
import Glibc
import Testing
import TrainyardCore
import TrainyardKafka
import TrainyardStore
import TrainyardTesting

/// Retries, backpressure and hand-over, with real worker processes on the real local broker.
@Suite("Worker semantics against the local broker", .serialized)
struct WorkerSemanticsTests {
    func spec(_ name: String, _ script: String, maxAttempts: Int = 1, retryOnUserError: Bool = false) -> JobSpec {
        JobSpec(
            name: name, team: "semantics", command: ["/bin/sh", "-c", script], maxRuntimeSeconds: 120,
            retry: RetryPolicy(maxAttempts: maxAttempts, backoffSeconds: 0.1, retryOnUserError: retryOnUserError))
    }

    @Test("user-code failures retry only when the spec asks; infrastructure failures retry by default")
    func retries() async throws {
        try await Fleet.with(name: "retries") { fleet in
            try fleet.startAggregator()
            try fleet.startWorker("worker-1")
            let ids = try await fleet.submit([
                spec("fails-once-no-retry", "exit 4", maxAttempts: 3),
                spec("fails-twice-then-succeeds", "[ \"$TRAINYARD_ATTEMPT\" -ge 3 ] || exit 5", maxAttempts: 3, retryOnUserError: true),
                spec("loses-its-supervisor", "[ \"$TRAINYARD_ATTEMPT\" -ge 2 ] || sleep 300", maxAttempts: 2),
            ])
            let (noRetry, userRetry, infrastructure) = (ids[0], ids[1], ids[2])

            // Make attempt 1 of the third job lose its supervisor: an infrastructure failure.
            let started = fleet.stateDirectory.appendingPathComponent("runs/ty-\(infrastructure.rawValue)-a1/started.json")
            let appeared = try await eventually(timeout: .seconds(120)) { FileManager.default.fileExists(atPath: started.path) }
            try #require(appeared, "attempt 1 never started:\n\(fleet.logTail("worker-1"))")
            struct Started: Decodable { var supervisorPID: Int32 }
            let supervisor = try JSONDecoder().decode(Started.self, from: Data(contentsOf: started)).supervisorPID
            #expect(kill(supervisor, SIGKILL) == 0)

            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            #expect(records[noRetry]?.state == .failed && records[noRetry]?.attempt == 1 && records[noRetry]?.exitCode == 4)
            #expect(records[userRetry]?.state == .succeeded && records[userRetry]?.attempt == 3)
            #expect(records[infrastructure]?.state == .succeeded && records[infrastructure]?.attempt == 2)

            let store = try JobStore(readingAt: fleet.databasePath)
            let firstAttempt = try store.events(of: infrastructure).map(\.event).filter { $0.attempt == 1 && $0.state.isTerminal }
            #expect(firstAttempt.contains { $0.state == .failed && $0.failureClass == .infrastructure })
            // Every attempt is a new backend resource.
            for attempt in 1...3 {
                #expect(
                    FileManager.default.fileExists(
                        atPath: fleet.stateDirectory.appendingPathComponent("runs/ty-\(userRetry.rawValue)-a\(attempt)").path))
            }
        }
    }

    @Test("the concurrency limit holds: never more jobs at once than the limit, and the rest still run")
    func backpressure() async throws {
        try await Fleet.with(name: "backpressure") { fleet in
            try fleet.startAggregator()
            try fleet.startWorker("worker-1", concurrency: 2)
            let ids = try await fleet.submit((0..<8).map { spec("sleeper-\($0)", "sleep 0.5") })
            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            #expect(records.values.allSatisfy { $0.state == .succeeded })

            struct Started: Decodable { var startedAt: String }
            struct Finished: Decodable { var finishedAt: String }
            var intervals: [(Date, Date)] = []
            for id in ids {
                let run = fleet.stateDirectory.appendingPathComponent("runs/ty-\(id.rawValue)-a1")
                let start = try JSONDecoder().decode(Started.self, from: Data(contentsOf: run.appendingPathComponent("started.json"))).startedAt
                let end = try JSONDecoder().decode(Finished.self, from: Data(contentsOf: run.appendingPathComponent("status.json"))).finishedAt
                intervals.append((WireFormat.parseTimestamp(start)!, WireFormat.parseTimestamp(end)!))
            }
            // Jobs running at once peak at some job's start: count the jobs running at each start.
            // (Counting the jobs that overlap a job's whole interval would also count two that ran
            // one after the other within a longer one.)
            let mostAtOnce = intervals.map { interval in intervals.filter { $0.0 <= interval.0 && interval.0 < $0.1 }.count }.max() ?? 0
            #expect(mostAtOnce <= 2, "at most 2 jobs at once, saw \(mostAtOnce)")
            #expect(mostAtOnce == 2, "the limit was used")
        }
    }

    @Test("a worker killed with -9 while jobs run: its successor adopts them, nothing starts twice")
    func handOverAfterCrash() async throws {
        try await Fleet.with(name: "handover") { fleet in
            try fleet.startAggregator()
            try fleet.startWorker("worker-1")
            let starts = fleet.home.appendingPathComponent("starts.log").path
            let ids = try await fleet.submit(
                (0..<6).map { spec("long-\($0)", "echo \"$TRAINYARD_JOB_ID $TRAINYARD_ATTEMPT\" >> \(starts); sleep 4") })
            // Every job has started (each writes its line first); most are still sleeping when the
            // worker dies, and a slow machine may let some finish first: either way the successor
            // must adopt them, not start them again.
            let allStarted = try await eventually(timeout: .seconds(120)) {
                ((try? String(contentsOfFile: starts, encoding: .utf8)) ?? "").split(separator: "\n").count >= ids.count
            }
            try #require(allStarted, "jobs never ran:\n\(fleet.logTail("worker-1"))")
            fleet.crash("worker-1")
            try fleet.startWorker("worker-2")

            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            #expect(records.values.allSatisfy { $0.state == .succeeded && $0.attempt == 1 }, "\(records.values.map(\.state))")
            let lines = try String(contentsOfFile: starts, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == ids.count && Set(lines).count == ids.count, "each job started once: \(lines)")
            // The outcome was published by the successor.
            let store = try JobStore(readingAt: fleet.databasePath)
            let reporters = Set(try ids.compactMap { try store.events(of: $0).last { $0.event.state == .succeeded }?.event.workerID })
            #expect(reporters.count == 1)
        }
    }
}
