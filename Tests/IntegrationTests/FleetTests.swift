import Foundation
import Glibc
import Testing
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// The whole fleet as real processes (aggregator, workers, supervisors, jobs) on the real local broker.
@Suite("Fleet against the local broker", .serialized)
struct FleetTests {
    func spec(_ name: String, _ command: [String], maxRuntimeSeconds: Int = 120, maxAttempts: Int = 1) -> JobSpec {
        JobSpec(
            name: name, team: "fleet-tests", command: command, maxRuntimeSeconds: maxRuntimeSeconds,
            retry: RetryPolicy(maxAttempts: maxAttempts, backoffSeconds: 0))
    }

    @Test("200 jobs on two workers all reach SUCCEEDED, each started exactly once")
    func twoHundredJobs() async throws {
        try await Fleet.with(name: "two-hundred") { fleet in
            try fleet.startAggregator()
            try fleet.startWorker("worker-1")
            try fleet.startWorker("worker-2")
            let ids = try await fleet.submit((0..<200).map { spec("job-\($0)", ["/bin/sh", "-c", "echo $TRAINYARD_JOB_ID > out.txt"]) })

            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            let succeeded = records.values.filter { $0.state == .succeeded && $0.exitCode == 0 && $0.attempt == 1 }
            #expect(
                succeeded.count == 200,
                "not all succeeded: \(records.values.filter { $0.state != .succeeded }.prefix(5))\n\(fleet.logTail("worker-1"))")

            // One run directory per job, each started once, each job's own output.
            let runs = try FileManager.default.contentsOfDirectory(atPath: fleet.stateDirectory.appendingPathComponent("runs").path)
            #expect(runs.count == 200)
            for id in ids {
                let run = fleet.stateDirectory.appendingPathComponent("runs/ty-\(id.rawValue)-a1")
                let output = try String(contentsOf: run.appendingPathComponent("work/out.txt"), encoding: .utf8)
                #expect(output == "\(id.rawValue)\n")
            }
            // Both workers took part.
            let store = try JobStore(readingAt: fleet.databasePath)
            let workers = Set(try ids.flatMap { try store.events(of: $0).compactMap(\.event.workerID) })
            #expect(workers.count == 2, "workers seen: \(workers)")
        }
    }

    @Test("a non-zero exit is FAILED with its exit code, a cancel is CANCELLED with its process gone, a timeout is TIMED_OUT")
    func failureCancelTimeout() async throws {
        try await Fleet.with(name: "outcomes") { fleet in
            try fleet.startAggregator()
            try fleet.startWorker("worker-1")
            let ids = try await fleet.submit([
                spec("exits-7", ["/bin/sh", "-c", "echo failing >&2; exit 7"]),
                spec("runs-long", ["sleep", "300"]),
                spec("too-slow", ["sleep", "300"], maxRuntimeSeconds: 1),
            ])
            let (failing, long, slow) = (ids[0], ids[1], ids[2])

            let running = try await eventually(timeout: .seconds(120)) { try fleet.records([long])[long]?.state == .running }
            try #require(running, "the long job never ran; worker log:\n\(fleet.logTail("worker-1"))")
            let processFile = fleet.stateDirectory.appendingPathComponent("runs/ty-\(long.rawValue)-a1/process.json")
            struct ProcessRecord: Decodable { var pid: Int32 }
            // RUNNING is reported from started.json, written just before the spawn; process.json
            // follows the spawn.
            var recorded: ProcessRecord?
            _ = try await eventually(timeout: .seconds(120)) {
                recorded = (try? Data(contentsOf: processFile)).flatMap { try? JSONDecoder().decode(ProcessRecord.self, from: $0) }
                return recorded != nil
            }
            let pid = try #require(recorded, "no \(processFile.path); worker log:\n\(fleet.logTail("worker-1"))").pid
            #expect(kill(pid, 0) == 0, "the long job's process runs")
            try await fleet.cancel(long, reason: "no longer needed")

            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            #expect(records[failing]?.state == .failed)
            #expect(records[failing]?.exitCode == 7)
            #expect(records[failing]?.failureClass == .userError)
            #expect(records[long]?.state == .cancelled)
            #expect(records[long]?.reason == "no longer needed")
            #expect(records[slow]?.state == .timedOut)
            #expect(try await eventually(timeout: .seconds(120)) { kill(pid, 0) != 0 && errno == ESRCH }, "the cancelled job's process is gone")
            let stderr = try String(
                contentsOf: fleet.stateDirectory.appendingPathComponent("runs/ty-\(failing.rawValue)-a1/stderr.log"), encoding: .utf8)
            #expect(stderr == "failing\n")
        }
    }

    @Test("an aggregator killed mid-stream resumes to exactly the state of a clean replay")
    func aggregatorRestart() async throws {
        try await Fleet.with(name: "restart") { fleet in
            try fleet.startAggregator()
            try fleet.startWorker("worker-1")
            try fleet.startWorker("worker-2")
            let ids = try await fleet.submit((0..<120).map { spec("job-\($0)", ["sleep", "0.\($0 % 5)"]) })

            // Kill -9 twice while events stream in, restarting each time.
            for round in 0..<2 {
                _ = try await eventually(timeout: .seconds(120)) {
                    let terminal = try fleet.records(ids).values.filter { $0.state.isTerminal }.count
                    return terminal >= 30 * (round + 1)
                }
                fleet.crash("aggregator")
                try fleet.startAggregator()
            }
            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(180))
            #expect(records.values.filter { $0.state == .succeeded }.count == 120)

            // A second aggregator with its own group and store replays the topics from offset 0.
            let replayHome = try TestEnvironment.temporaryDirectory("replay")
            defer { try? FileManager.default.removeItem(at: replayHome) }
            try fleet.start(
                "replay",
                ["aggregator", "--group", TestEnvironment.uniqueName("replay"), "--no-status-topic", "--no-alerts", "--http-address", "127.0.0.1:0"],
                environment: ["TRAINYARD_HOME": replayHome.path])
            let replayPath = replayHome.appendingPathComponent("trainyard.db").path
            var restarted = ""
            var replayed = ""
            let converged = try await eventually(timeout: .seconds(240), every: .milliseconds(500)) {
                guard FileManager.default.fileExists(atPath: replayPath) else { return false }
                restarted = try JobStore(readingAt: fleet.databasePath).canonicalDump()
                replayed = try JobStore(readingAt: replayPath).canonicalDump()
                return restarted == replayed
            }
            #expect(
                converged,
                "restarted store differs from a clean replay:\n\(firstDifference(restarted, replayed))\nreplay log:\n\(fleet.logTail("replay"))")
            #expect(restarted.split(separator: "\n").filter { $0.hasPrefix("job_events") }.count >= 120 * 4)
        }
    }

    private func firstDifference(_ left: String, _ right: String) -> String {
        let leftLines = left.split(separator: "\n")
        let rightLines = right.split(separator: "\n")
        for (index, pair) in zip(leftLines, rightLines).enumerated() where pair.0 != pair.1 {
            return "line \(index):\n< \(pair.0)\n> \(pair.1)"
        }
        return "lengths \(leftLines.count) vs \(rightLines.count)"
    }
}
