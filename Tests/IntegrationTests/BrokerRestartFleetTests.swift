import Foundation
import Testing
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// A fleet (aggregator, two workers) through a broker killed with SIGKILL mid-run and started
/// again on the same port and the same S3-compatible storage (issue #18).
@Suite("A fleet through a broker restart", .serialized)
struct BrokerRestartFleetTests {
    /// A job that records its start (`<job id> <attempt>`, one line per start) and then runs 2 s.
    func spec(_ name: String, startsFile: URL) -> JobSpec {
        JobSpec(
            name: name, team: "restart-tests",
            command: ["/bin/sh", "-c", "echo \"$TRAINYARD_JOB_ID $TRAINYARD_ATTEMPT\" >> '\(startsFile.path)'; sleep 2"],
            maxRuntimeSeconds: 120, retry: RetryPolicy(maxAttempts: 1, backoffSeconds: 0))
    }

    @Test(
        "a broker killed (-9) mid-run and restarted on its S3 storage: every job ends once, nothing starts twice, the store equals a replay of the topics and the status topic has every final record"
    )
    func restartOnObjectStore() async throws {
        try await BrokerObjectStore.with { storage in
            try await PrivateBroker.with(storage: storage) { broker in
                try await Fleet.with(name: "broker-restart", brokers: broker.address) { fleet in
                    let startsFile = fleet.home.appendingPathComponent("starts")
                    try fleet.startAggregator()
                    try fleet.startWorker("worker-1", concurrency: 4)
                    try fleet.startWorker("worker-2", concurrency: 4)
                    let ids = try await fleet.submit((0..<60).map { spec("job-\($0)", startsFile: startsFile) })
                    let underWay = try await eventually(timeout: .seconds(120)) {
                        try fleet.records(ids).values.filter { $0.state.isTerminal }.count >= 8
                    }
                    try #require(underWay, "fewer than 8 jobs ended before the restart; worker log:\n\(fleet.logTail("worker-1"))")

                    try await broker.restart()

                    let records = try await fleet.waitForTerminal(ids, timeout: .seconds(300))
                    try #require(
                        records.count == ids.count && records.values.allSatisfy { $0.state.isTerminal },
                        """
                        \(records.values.filter { !$0.state.isTerminal }.count) jobs not terminal
                        worker-1:\n\(fleet.logTail("worker-1"))\nworker-2:\n\(fleet.logTail("worker-2"))
                        aggregator:\n\(fleet.logTail("aggregator"))\nbroker:\n\(broker.logTail())
                        """)
                    #expect(records.values.allSatisfy { $0.state == .succeeded && $0.attempt == 1 })

                    // Every job's compute started exactly once.
                    let starts = try String(contentsOf: startsFile, encoding: .utf8).split(separator: "\n").map(String.init)
                    #expect(starts.count == ids.count, "\(starts.count) starts for \(ids.count) jobs")
                    #expect(Set(starts) == Set(ids.map { "\($0.rawValue) 1" }))

                    // The topics kept what was written before the kill: a replay from offset 0
                    // rebuilds exactly the store.
                    let replayHome = try TestEnvironment.temporaryDirectory("restart-replay")
                    defer { try? FileManager.default.removeItem(at: replayHome) }
                    try fleet.start(
                        "replay", ["aggregator", "--group", TestEnvironment.uniqueName("replay"), "--no-status-topic", "--no-alerts"],
                        environment: ["TRAINYARD_HOME": replayHome.path])
                    let replayPath = replayHome.appendingPathComponent("trainyard.db").path
                    var live = ""
                    var replayed = ""
                    let converged = try await eventually(timeout: .seconds(180), every: .milliseconds(500)) {
                        guard FileManager.default.fileExists(atPath: replayPath) else { return false }
                        live = (try? JobStore(readingAt: fleet.databasePath).canonicalDump()) ?? live
                        replayed = (try? JobStore(readingAt: replayPath).canonicalDump()) ?? replayed
                        return !live.isEmpty && live == replayed
                    }
                    #expect(converged, "the store differs from a replay of the topics; replay log:\n\(fleet.logTail("replay"))")

                    // The status topic has each job's final record.
                    let recording = try TopicRecording(topic: fleet.topics.status, kafka: fleet.kafka)
                    let expected = try ids.map { ($0, try JobStatusCodec.encode(JobStatusMessage(try #require(records[$0])))) }
                    let complete = try await eventually(timeout: .seconds(180), every: .milliseconds(250)) {
                        let messages = recording.valuesByKey
                        return expected.allSatisfy { id, final in messages[id.rawValue]?.last == final }
                    }
                    await recording.stop()
                    #expect(complete, "the status topic lacks final records; aggregator log:\n\(fleet.logTail("aggregator"))")
                }
            }
        }
    }
}
