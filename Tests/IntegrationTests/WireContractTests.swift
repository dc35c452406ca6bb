import Foundation
import Testing
import TrainyardCore
import TrainyardKafka
import TrainyardTesting

/// The wire contract as another language's service meets it: Java's partitioner, the JSON
/// Schemas against every message a running fleet writes and reads, the example clients (Python
/// and kcat) against a real fleet, and the docs' field tables against the schemas.
@Suite("Wire contract against the local broker", .serialized)
struct WireContractTests {
    /// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), which the Java client's
    /// default partitioner applies to a record's key.
    static func murmur2(_ data: [UInt8]) -> Int32 {
        let m: UInt32 = 0x5bd1_e995
        var h: UInt32 = 0x9747_b28c ^ UInt32(data.count)
        let whole = data.count - data.count % 4
        for index in stride(from: 0, to: whole, by: 4) {
            var k = UInt32(data[index]) | UInt32(data[index + 1]) << 8 | UInt32(data[index + 2]) << 16 | UInt32(data[index + 3]) << 24
            k = k &* m
            k ^= k >> 24
            k = k &* m
            h = (h &* m) ^ k
        }
        let tail = data.count % 4
        if tail == 3 { h ^= UInt32(data[whole + 2]) << 16 }
        if tail >= 2 { h ^= UInt32(data[whole + 1]) << 8 }
        if tail >= 1 {
            h ^= UInt32(data[whole])
            h = h &* m
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// The partition Java's client picks for `key` on a topic of `partitions` partitions.
    static func javaPartition(_ key: String, partitions: Int32) -> Int32 {
        (murmur2(Array(key.utf8)) & 0x7fff_ffff) % partitions
    }

    @Test("Kafka's own murmur2 vectors")
    func murmur2Vectors() {
        #expect(Self.murmur2(Array("21".utf8)) == -973_932_308)
        #expect(Self.murmur2(Array("foobar".utf8)) == -790_332_482)
        #expect(Self.murmur2(Array("abc".utf8)) == 479_470_107)
    }

    @Test("the Swift producer puts every key on the partition Java's client picks (12 partitions), as read back")
    func partitionerMatchesJava() async throws {
        let topic = TestEnvironment.uniqueName("partitioner")
        let kafka = try await TestEnvironment.kafka(topics: [topic], partitions: 12)
        let recording = try TopicRecording(topic: topic, kafka: kafka)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: kafka), logger: TestEnvironment.logger("partitioner"))
        let keys =
            ["21", "foobar", "abc"] + (0..<40).map { JobID.derived(team: "contract", idempotencyKey: "key-\($0)").rawValue }
            + (0..<40).map { _ in JobID.generate().rawValue }
        var expected: [String: Int32] = [:]
        for key in keys {
            let report = try await producer.send(KafkaProducerMessage(topic: topic, key: key, value: Data(key.utf8)))
            expected[key] = Self.javaPartition(key, partitions: 12)
            #expect(report.partition == expected[key], "\(key): delivered to \(report.partition), Java picks \(expected[key]!)")
        }
        await producer.close()
        #expect(Set(expected.values).count >= 8, "keys spread over too few partitions to tell partitioners apart")
        let all = try await eventually(timeout: .seconds(120)) { recording.records.count >= keys.count }
        await recording.stop()
        #expect(all, "read back \(recording.records.count) of \(keys.count)")
        for record in recording.records {
            let key = String(decoding: record.key ?? Data(), as: UTF8.self)
            #expect(record.partition == expected[key], "\(key) read from partition \(record.partition), Java picks \(expected[key] ?? -1)")
        }
    }

    @Test("docs/wire-format.md's field tables equal the schemas; the v1 corpus validates and its invalid examples are refused")
    func documentationAndCorpus() async throws {
        let result = try await TestEnvironment.run(try TestPython.interpreter(), [Self.tool.path, "check"])
        #expect(result.status == 0, "\(result)")
    }

    static let tool = TestEnvironment.repositoryFile("ops/wire-contract.d/wire_contract.py")

    @Test(
        "every message on every topic of a running fleet validates against the schemas; invalid requests are refused by the worker too; the Python and kcat clients submit, resubmit, cancel and follow"
    )
    func fleetMessagesAndClients() async throws {
        try await Fleet.with(name: "contract", partitions: 12) { fleet in
            let topicNames = [
                ("requests", fleet.topics.requests), ("events", fleet.topics.events), ("status", fleet.topics.status),
                ("alerts", fleet.topics.alerts), ("dlq", fleet.topics.deadLetters),
            ]
            let recordings = try topicNames.map { ($0.0, try TopicRecording(topic: $0.1, kafka: fleet.kafka)) }
            let alertsFile = fleet.home.appendingPathComponent("alerts.yaml")
            try """
            evaluationIntervalSeconds: 0.3
            jobFailed: {resolveAfterSeconds: 3}
            failureRate: {windowSeconds: 600, threshold: 0.5, minimumFinished: 2}
            """.write(to: alertsFile, atomically: true, encoding: .utf8)
            let port = try Fleet.freePort()
            try fleet.startAggregator(httpPort: port, arguments: ["--alerts-config", alertsFile.path])
            let ready = try await eventually(timeout: .seconds(120)) { (try? await Fleet.get(port: port, path: "/readyz"))?.0 == 200 }
            try #require(ready, "the aggregator never became ready:\n\(fleet.logTail("aggregator"))")
            try fleet.startWorker("worker-1", arguments: ["--heartbeat-interval", "0.5"])

            func spec(_ name: String, _ command: [String], maxRuntime: Int = 60, backend: BackendChoice = .auto) -> JobSpec {
                JobSpec(
                    name: name, team: "contract", command: command, maxRuntimeSeconds: maxRuntime, retry: RetryPolicy(maxAttempts: 1, backoffSeconds: 0),
                    backend: backend, labels: ["suite": "wire-contract"], idempotencyKey: "\(fleet.topics.prefix)/\(name)")
            }
            let ids = try await fleet.submit([
                spec("succeeds", ["sleep", "1.5"]), spec("fails-1", ["/bin/sh", "-c", "exit 3"]), spec("fails-2", ["/bin/sh", "-c", "exit 4"]),
                spec("times-out", ["sleep", "30"], maxRuntime: 1), spec("cancelled", ["sleep", "300"]),
                // Valid, but the fleet's routing has no SageMaker target: QUEUED, then REJECTED.
                JobSpec(name: "unroutable", team: "contract", image: "registry.example.com/a/b:1", command: ["true"], backend: .sagemaker),
            ])
            let cancelled = ids[4]
            let running = try await eventually(timeout: .seconds(120)) { try fleet.records([cancelled])[cancelled]?.state == .running }
            try #require(running, "the long job never ran:\n\(fleet.logTail("worker-1"))")
            try await fleet.cancel(cancelled, reason: "cancelled by the wire contract test")

            // The corpus's invalid requests, byte for byte: each must reach the DLQ with its code.
            let invalid = try WireContractCorpus.invalidExamples()
            let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: fleet.kafka), logger: TestEnvironment.logger("contract"))
            for (index, example) in invalid.enumerated() {
                _ = try await producer.send(KafkaProducerMessage(topic: fleet.topics.requests, key: "invalid-\(index)", value: example.bytes))
            }
            await producer.close()

            // The example clients, as other teams' services would run them, at the same time.
            var clientEnvironment = fleet.environment
            clientEnvironment["TRAINYARD_TOPIC_PREFIX"] = fleet.topics.prefix
            async let python = TestEnvironment.run(
                try TestPython.interpreter(),
                [
                    TestEnvironment.repositoryFile("ops/examples/clients/python/trainyard_client.py").path, "--brokers", fleet.kafka.bootstrapServers,
                    "--topic-prefix", fleet.topics.prefix, "demo", "--team", "contract-python", "--partitions", "12",
                ], environment: clientEnvironment)
            async let kcat = TestEnvironment.run(
                URL(fileURLWithPath: "/bin/bash"), [TestEnvironment.repositoryFile("ops/examples/clients/kcat/trainyard-kcat").path, "demo", "contract-kcat"],
                environment: clientEnvironment)
            let (pythonRun, kcatRun) = try await (python, kcat)
            #expect(pythonRun.status == 0 && pythonRun.output.contains("python-client: ok"), "\(pythonRun)")
            #expect(kcatRun.status == 0 && kcatRun.output.contains("kcat-client: ok"), "\(kcatRun)")
            let clientJobs = (pythonRun.output + kcatRun.output).split(whereSeparator: \.isNewline).compactMap { line -> JobID? in
                guard line.hasPrefix("submitted ") else { return nil }
                return JobID(String(line.split(separator: " ")[1]))
            }
            #expect(clientJobs.count == 4, "the clients submitted \(clientJobs)")

            let records = try await fleet.waitForTerminal(ids + clientJobs)
            #expect(ids.map { records[$0]?.state } == [.succeeded, .failed, .failed, .timedOut, .cancelled, .rejected])
            for id in clientJobs { #expect(records[id]?.attempt ?? 0 <= 1, "\(id) ran more than once: \(String(describing: records[id]))") }

            // Let the alerts fire and resolve, the status outbox drain and the DLQ fill.
            func values(_ topic: String) -> [KafkaMessage] { recordings.first { $0.0 == topic }!.1.records }
            let settled = try await eventually(timeout: .seconds(120), every: .milliseconds(250)) {
                let alerts = values("alerts").compactMap { try? AlertCodec.decode($0.value) }
                let finalStatus = Dictionary(values("status").map { (String(decoding: $0.key ?? Data(), as: UTF8.self), $0.value) }) { _, last in last }
                return alerts.contains { $0.status == .firing } && alerts.contains { $0.status == .resolved }
                    && (ids + clientJobs).allSatisfy { id in finalStatus[id.rawValue].flatMap { try? JobStatusCodec.decode($0) }?.state.isTerminal == true }
                    && values("dlq").count >= invalid.count + 1
            }
            #expect(settled, "alerts, status or DLQ incomplete:\n\(fleet.logTail("aggregator"))")
            for (_, recording) in recordings { await recording.stop() }

            // Every invalid example is in the DLQ with the code its name gives.
            let letters = values("dlq")
            for example in invalid {
                let letter = letters.first { $0.value == example.bytes }
                let code = letter?.header("trainyard-error-code").map { String(decoding: $0, as: UTF8.self) }
                #expect(code == example.code, "\(example.name): dead-lettered with \(code ?? "nothing")")
            }
            // What the topics carried: every kind of message the contract describes.
            let events = values("events").compactMap { try? LifecycleEventCodec.decode($0.value) }
            let states = Set(events.map(\.state))
            #expect(states.isSuperset(of: [.claimed, .running, .succeeded, .failed, .cancelled, .timedOut, .rejected]), "\(states)")
            #expect(events.contains { $0.observedAt != nil }, "no heartbeat was recorded")

            // The schemas' verdict on all of it.
            let file = fleet.home.appendingPathComponent("recorded.jsonl")
            var lines = ""
            for (topic, recording) in recordings {
                for message in recording.records {
                    var headers: [String: String] = [:]
                    for header in message.headers { headers[header.key] = header.value.map { String(decoding: $0, as: UTF8.self) } ?? "" }
                    let key = String(decoding: message.key ?? Data(), as: UTF8.self)
                    let line: [String: Any] = [
                        "topic": topic, "key": key, "value": String(decoding: message.value, as: UTF8.self), "headers": headers,
                        "expectInvalid": topic == "requests" && key.hasPrefix("invalid-"),
                    ]
                    lines += String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self) + "\n"
                }
            }
            try lines.write(to: file, atomically: true, encoding: .utf8)
            let verdict = try await TestEnvironment.run(try TestPython.interpreter(), [Self.tool.path, "validate", file.path])
            #expect(verdict.status == 0 && verdict.output.contains("failures=0"), "\(verdict)")
            print(String(verdict.output.prefix { $0 != "\n" }))
        }
    }
}

/// The invalid requests of the recorded v1 corpus (docs/schemas/examples/v1/invalid).
enum WireContractCorpus {
    struct Example {
        var name: String
        var code: String
        var bytes: Data
    }

    static func invalidExamples() throws -> [Example] {
        let directory = TestEnvironment.repositoryFile("docs/schemas/examples/v1/invalid")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted().map { name in
            Example(name: name, code: String(name.prefix { $0 != "." }), bytes: try Data(contentsOf: directory.appendingPathComponent(name)))
        }
    }
}
