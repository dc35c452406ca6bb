import Foundation
import Testing
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// A fleet (aggregator, two workers) through a broker killed with SIGKILL mid-run and started
/// again on the same port and the same S3-compatible storage (issue #18).
///
/// Tansu 0.6.0's S3 engine writes a produce as three objects in turn (the producer's sequence in
/// meta.json, the partition's watermark, then the batch); a record whose sequence was stored but
/// whose batch was not when the broker died is answered DUPLICATE_SEQUENCE_NUMBER on the
/// client's retry, which librdkafka takes for delivered, so a terminal event in flight at the
/// kill can vanish and its job stays RUNNING in the store; a status record the aggregator's outbox
/// sent just before the kill can vanish the same way. Those two checks are a known issue of the
/// broker; everything else is checked strictly.
@Suite("A fleet through a broker restart", .serialized)
struct BrokerRestartFleetTests {
    /// A job that records its start and its end (`<job id> <attempt>`, one line each) around 2 s of sleep.
    func spec(_ name: String, startsFile: URL, endsFile: URL) -> JobSpec {
        JobSpec(
            name: name, team: "restart-tests",
            command: [
                "/bin/sh", "-c",
                "echo \"$TRAINYARD_JOB_ID $TRAINYARD_ATTEMPT\" >> '\(startsFile.path)'; sleep 2; echo \"$TRAINYARD_JOB_ID $TRAINYARD_ATTEMPT\" >> '\(endsFile.path)'",
            ],
            maxRuntimeSeconds: 120, retry: RetryPolicy(maxAttempts: 1, backoffSeconds: 0))
    }

    @Test(
        "a broker killed (-9) mid-run and restarted on its S3 storage: every job runs once to its end, the store equals a replay of the topics and the status topic follows the store"
    )
    func restartOnObjectStore() async throws {
        try await BrokerObjectStore.with { storage in
            try await PrivateBroker.with(storage: storage) { broker in
                try await Fleet.with(name: "broker-restart", brokers: broker.address) { fleet in
                    let startsFile = fleet.home.appendingPathComponent("starts")
                    let endsFile = fleet.home.appendingPathComponent("ends")
                    try fleet.startAggregator()
                    try fleet.startWorker("worker-1", concurrency: 4)
                    try fleet.startWorker("worker-2", concurrency: 4)
                    let ids = try await fleet.submit((0..<60).map { spec("job-\($0)", startsFile: startsFile, endsFile: endsFile) })
                    let underWay = try await eventually(timeout: .seconds(120)) {
                        try fleet.records(ids).values.filter { $0.state.isTerminal }.count >= 8
                    }
                    try #require(underWay, "fewer than 8 jobs ended before the restart; worker log:\n\(fleet.logTail("worker-1"))")

                    try await broker.restart()

                    // Every job's compute ran to its end, and started exactly once.
                    let lines = { (file: URL) in ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
                    let ended = try await eventually(timeout: .seconds(300), every: .milliseconds(250)) { lines(endsFile).count >= ids.count }
                    try #require(
                        ended,
                        """
                        \(lines(endsFile).count) of \(ids.count) jobs ended
                        worker-1:\n\(fleet.logTail("worker-1"))\nworker-2:\n\(fleet.logTail("worker-2"))\nbroker:\n\(broker.logTail())
                        """)
                    let everyJobOnce = Set(ids.map { "\($0.rawValue) 1" })
                    #expect(lines(startsFile).count == ids.count && Set(lines(startsFile)) == everyJobOnce, "starts: \(lines(startsFile).count)")
                    #expect(lines(endsFile).count == ids.count && Set(lines(endsFile)) == everyJobOnce, "ends: \(lines(endsFile).count)")

                    // The store: every job SUCCEEDED in attempt 1, unless the broker lost its terminal event.
                    let records = try await fleet.waitForTerminal(ids, timeout: .seconds(180))
                    try #require(records.count == ids.count, "\(records.count) of \(ids.count) jobs in the store")
                    #expect(records.values.allSatisfy { $0.attempt == 1 && (!$0.state.isTerminal || $0.state == .succeeded) })
                    withKnownIssue("Tansu 0.6.0 on S3 can drop a record in flight when it is killed (see the suite's comment)", isIntermittent: true)
                    {
                        let open = records.values.filter { !$0.state.isTerminal }
                        #expect(open.isEmpty, "\(open.count) jobs not terminal: \(open.map { "\($0.jobID.rawValue) \($0.state)" })")
                    }

                    // The topics kept what was written before the kill: a replay from offset 0
                    // rebuilds exactly the store.
                    let replayHome = try TestEnvironment.temporaryDirectory("restart-replay")
                    defer { try? FileManager.default.removeItem(at: replayHome) }
                    try fleet.start(
                        "replay",
                        [
                            "aggregator", "--group", TestEnvironment.uniqueName("replay"), "--no-status-topic", "--no-alerts", "--http-address",
                            "127.0.0.1:0",
                        ],
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

                    // The status topic has each job's latest record, unless the broker lost one
                    // the aggregator's outbox had sent just before the kill (the same known issue).
                    let recording = try TopicRecording(topic: fleet.topics.status, kafka: fleet.kafka)
                    let expected = try ids.map { ($0, try JobStatusCodec.encode(JobStatusMessage(try #require(records[$0])))) }
                    let complete = try await eventually(timeout: .seconds(120), every: .milliseconds(250)) {
                        let messages = recording.valuesByKey
                        return expected.allSatisfy { id, latest in messages[id.rawValue]?.last == latest }
                    }
                    await recording.stop()
                    withKnownIssue("Tansu 0.6.0 on S3 can drop a record in flight when it is killed (see the suite's comment)", isIntermittent: true)
                    {
                        #expect(complete, "the status topic lacks latest records; aggregator log:\n\(fleet.logTail("aggregator"))")
                    }
                }
            }
        }
    }
}
