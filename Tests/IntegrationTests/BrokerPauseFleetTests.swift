import Foundation
import Testing
import TrainyardAPI
import TrainyardCore
import TrainyardTesting

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A fleet (aggregator with the API, two workers) through a broker pause longer than the
/// session timeout, on a broker of the test's own (issue #18).
@Suite("A fleet through a broker pause", .serialized)
struct BrokerPauseFleetTests {
    func spec(_ name: String) -> JobSpec {
        JobSpec(
            name: name, team: "pause-tests", command: ["sleep", "1"], maxRuntimeSeconds: 120, retry: RetryPolicy(maxAttempts: 1, backoffSeconds: 0))
    }

    /// GET with an API key; the status code.
    func get(port: Int, path: String, key: String) async throws -> Int {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    @Test("while the broker is paused the API answers reads without 5xx; afterwards every job ends and the status topic has each job's final record")
    func pause() async throws {
        try await PrivateBroker.with { broker in
            try await Fleet.with(name: "broker-pause", brokers: broker.address) { fleet in
                let keyFile = fleet.home.appendingPathComponent("api-keys.yaml").path
                let key = APIKeyFile.generateKey()
                try APIKeyFile.append(key: key, name: "admin", team: nil, to: keyFile)
                let port = try Fleet.freePort()
                try fleet.start(
                    "aggregator", ["aggregator", "--group", fleet.aggregatorGroup, "--http-address", "127.0.0.1:\(port)", "--api-keys", keyFile])
                let ready = try await eventually(timeout: .seconds(120)) { (try? await Fleet.get(port: port, path: "/readyz"))?.0 == 200 }
                try #require(ready, "the aggregator never became ready:\n\(fleet.logTail("aggregator"))")
                try fleet.startWorker("worker-1", concurrency: 4)
                try fleet.startWorker("worker-2", concurrency: 4)

                let ids = try await fleet.submit((0..<40).map { spec("job-\($0)") })
                let underWay = try await eventually(timeout: .seconds(120)) {
                    try fleet.records(ids).values.filter { $0.state.isTerminal }.count >= 4
                }
                try #require(underWay, "no job ended before the pause; worker log:\n\(fleet.logTail("worker-1"))")

                // Longer than the session timeout (6 s) and the producers' message timeout (30 s).
                try await broker.pause()
                let paused = ContinuousClock.now
                var answers = 0
                var serverErrors: [String] = []
                while ContinuousClock.now - paused < .seconds(35) {
                    for path in ["/v1/jobs?limit=10", "/v1/jobs/\(ids[0])", "/v1/jobs/\(ids[0])/events", "/healthz"] {
                        let status = try await get(port: port, path: path, key: key)
                        answers += 1
                        if status >= 500 { serverErrors.append("\(path) → \(status)") }
                    }
                    try await Task.sleep(for: .milliseconds(500))
                }
                broker.resume()
                #expect(answers >= 8)
                #expect(serverErrors.isEmpty, "5xx while the broker was paused: \(serverErrors.prefix(5))")

                let records = try await fleet.waitForTerminal(ids, timeout: .seconds(300))
                try #require(
                    records.count == ids.count && records.values.allSatisfy { $0.state.isTerminal },
                    "\(records.values.filter { !$0.state.isTerminal }.count) jobs not terminal; worker log:\n\(fleet.logTail("worker-1"))")
                #expect(records.values.allSatisfy { $0.state == .succeeded })

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
