import Foundation
import SimulatedBackend
import Testing
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// Real worker processes on the simulated backend (`type: simulated`, one state file for the
/// host), the real broker and aggregator: the backend contract holds across a `kill -9`.
@Suite("Simulated backend in the fleet", .serialized)
struct SimulatedFleetTests {
    /// What each job is scripted to do, and the terminal state that follows.
    enum Plan: CaseIterable {
        case succeeds, fails, timesOut

        var labels: [String: String] {
            switch self {
            case .succeeds: [SimulationLabel.seconds.rawValue: "3"]
            case .fails: [SimulationLabel.seconds.rawValue: "3", SimulationLabel.exitCode.rawValue: "7"]
            case .timesOut: [SimulationLabel.seconds.rawValue: "3600"]
            }
        }
        var state: JobState {
            switch self {
            case .succeeds: .succeeded
            case .fails: .failed
            case .timesOut: .timedOut
            }
        }
        /// The attempt's runtime limit. The jobs that time out run for 30 s first, so the mid-run
        /// kill lands while attempts run even when the aggregator lags a loaded machine by
        /// seconds (with a 4 s limit for all, every job had once ended before the store showed
        /// one running).
        var maxRuntimeSeconds: Int { self == .timesOut ? 30 : 4 }
    }

    @Test("kill -9 of a worker mid-run: every job ends in its scripted state, each attempt started exactly once")
    func killedWorker() async throws {
        try await Fleet.with(name: "simulated") { fleet in
            let config = fleet.home.appendingPathComponent("worker.yaml")
            try "backends:\n  - {name: dry-run, type: simulated, concurrency: 1000}\n".write(to: config, atomically: true, encoding: .utf8)
            let ledger = try SimulatedAttemptLedger(path: fleet.stateDirectory.appendingPathComponent("simulated.sqlite").path)
            try fleet.startAggregator()
            try fleet.startWorker("worker-1", arguments: ["--config", config.path])
            try fleet.startWorker("worker-2", arguments: ["--config", config.path])
            let plans = (0..<150).map { Plan.allCases[$0 % Plan.allCases.count] }
            let ids = try await fleet.submit(
                plans.enumerated().map { index, plan in
                    JobSpec(
                        name: "sim-\(index)", team: "simulated-fleet", command: ["true"], maxRuntimeSeconds: plan.maxRuntimeSeconds,
                        retry: RetryPolicy(maxAttempts: 2, backoffSeconds: 0), labels: plan.labels)
                })

            // Mid-run: every attempt created and some of them still running.
            let midRun = try await eventually(timeout: .seconds(120)) {
                let started = try ids.filter { try !ledger.attempts(of: $0).isEmpty }.count
                return try started == ids.count && fleet.records(ids).values.contains { $0.state == .running }
            }
            try #require(midRun, "the jobs never all started:\n\(fleet.logTail("worker-1"))")
            fleet.crash("worker-1")
            try fleet.startWorker("worker-3", arguments: ["--config", config.path])

            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(180))
            for (id, plan) in zip(ids, plans) {
                let record = try #require(records[id])
                #expect(record.state == plan.state && record.attempt == 1, "\(id) \(plan): \(record.state) attempt \(record.attempt)")
                if plan == .fails { #expect(record.exitCode == 7) }
                #expect(try ledger.attempts(of: id) == [1])
                #expect(try ledger.startCount(of: "ty-\(id.rawValue)-a1") == 1, "\(id) started more than once")
            }
            // One terminal state per job in the history: re-published outcomes of one attempt agree.
            let store = try JobStore(readingAt: fleet.databasePath)
            for id in ids {
                let terminal = Set(try store.events(of: id).map(\.event).filter { $0.state.isTerminal }.map(\.state))
                #expect(terminal.count == 1, "\(id): terminal events \(terminal)")
            }
        }
    }
}
