import Foundation
import Testing
import TrainyardCore
import TrainyardKafka
import TrainyardStore
import TrainyardTesting

/// Malformed and invalid requests go to the DLQ with their reason; the worker keeps going.
@Suite("Bad input against the local broker", .serialized)
struct BadInputTests {
    let logger = TestEnvironment.logger("bad-input")

    func produce(_ fleet: Fleet, _ payloads: [(key: String?, value: Data)]) async throws {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: fleet.kafka), logger: logger)
        for payload in payloads {
            try producer.enqueue(KafkaProducerMessage(topic: fleet.topics.requests, key: payload.key.map { Data($0.utf8) }, value: payload.value))
        }
        try await producer.flush()
        await producer.close()
    }

    /// Reads the DLQ until `count` letters arrived (or the timeout passed).
    func deadLetters(_ fleet: Fleet, count: Int, timeout: Duration = .seconds(120)) async throws -> [KafkaMessage] {
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                common: fleet.kafka, groupID: TestEnvironment.uniqueName("dlq"), topics: [fleet.topics.deadLetters]),
            logger: logger)
        let letters = LetterBox()
        let reader = Task {
            for await event in consumer.events {
                if case .message(let message) = event { await letters.add(message) }
            }
        }
        _ = try await eventually(timeout: timeout) { await letters.count >= count }
        // Give duplicates a moment to show up before counting.
        try await Task.sleep(for: .seconds(1))
        await consumer.close()
        await reader.value
        return await letters.all
    }

    func submit(_ spec: JobSpec, id: JobID = .generate()) throws -> (key: String?, value: Data) {
        (id.rawValue, try JobRequestCodec.encode(.submit(SubmitCommand(jobID: id, spec: spec, submittedAt: Date()))))
    }

    @Test("every kind of bad request is dead-lettered with its reason, REJECTED when its job id is known, and the next message runs")
    func badRequests() async throws {
        try await Fleet.with(name: "bad-input") { fleet in
            try fleet.startAggregator()
            try fleet.startWorker("worker-1")
            let good = JobSpec(name: "good", team: "qa", command: ["true"])
            var negativeCPU = good
            negativeCPU.resources.cpu = -1
            var badImage = good
            badImage.image = "Not A/Valid//Image"
            var badEnvName = good
            badEnvName.env = ["1PATH": "x"]
            var tooManyEnv = good
            tooManyEnv.env = Dictionary(uniqueKeysWithValues: (0..<101).map { ("V\($0)", "x") })
            let unknownBackendID = JobID.generate()
            let unknownBackend = try JSONSerialization.data(withJSONObject: [
                "schema": 1, "type": "submit", "jobId": unknownBackendID.rawValue, "submittedAt": "2026-11-29T00:00:00.000Z",
                "spec": ["apiVersion": "trainyard/v1", "name": "x", "team": "qa", "command": ["true"], "backend": "gpu-cluster"],
            ])
            let unknownSchemaID = JobID.generate()
            let bad: [(key: String?, value: Data, code: String, jobID: JobID?)] =
                [
                    (nil, Data("not json at all".utf8), "MALFORMED", nil),
                    (nil, Data([0xff, 0xfe, 0x00, 0x01]), "MALFORMED", nil),
                    (
                        unknownSchemaID.rawValue, Data("{\"schema\":99,\"type\":\"submit\",\"jobId\":\"\(unknownSchemaID.rawValue)\"}".utf8),
                        "UNKNOWN_SCHEMA", unknownSchemaID
                    ),
                    (nil, Data(repeating: UInt8(ascii: " "), count: 600 * 1024), "OVERSIZED", nil),
                ]
                + [negativeCPU, badImage, badEnvName, tooManyEnv].map { spec in
                    let id = JobID.generate()
                    let message = try! submit(spec, id: id)
                    return (message.key, message.value, "INVALID_SPEC", id)
                } + [(unknownBackendID.rawValue, unknownBackend, "INVALID_SPEC", unknownBackendID)]
            let goodID = JobID.generate()
            try await produce(fleet, bad.map { ($0.key, $0.value) } + [try submit(good, id: goodID)])

            let letters = try await deadLetters(fleet, count: bad.count)
            #expect(letters.count == bad.count, "one letter per bad message")
            for expected in bad {
                let letter = letters.first { $0.value == expected.value }
                #expect(letter != nil, "dead letter with the original bytes for \(expected.code)")
                #expect(letter.flatMap { $0.header("trainyard-error-code") }.map { String(decoding: $0, as: UTF8.self) } == expected.code)
                #expect(letter.flatMap { $0.header("trainyard-error-reason") }.map { !$0.isEmpty } == true)
                #expect(letter.flatMap { $0.header("trainyard-source-offset") } != nil)
            }
            let ids = bad.compactMap(\.jobID) + [goodID]
            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            #expect(records[goodID]?.state == .succeeded, "the message after the bad ones ran")
            for id in bad.compactMap(\.jobID) {
                #expect(records[id]?.state == .rejected)
                #expect(records[id]?.failureClass == .invalidRequest)
            }
            #expect(records[bad[4].jobID!]?.reason?.contains("resources.cpu: must be > 0") == true)
        }
    }

    @Test("10,000 random and mutated messages: no crash, every one processed or dead-lettered")
    func fuzz() async throws {
        try await Fleet.with(name: "fuzz") { fleet in
            try fleet.startAggregator()
            try fleet.startWorker("worker-1", concurrency: 64)
            var generator = SplitMix64(seed: 0x7472_6169_6e79_6172)
            let template = try JobRequestCodec.encode(
                .submit(SubmitCommand(jobID: .generate(), spec: JobSpec(name: "fuzz", team: "qa", command: ["true"]), submittedAt: Date())))
            var messages: [Data] = []
            for index in 0..<10_000 {
                if index % 2 == 0 {
                    messages.append(Data((0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }))
                } else {
                    var bytes = Array(template)
                    for _ in 0..<Int.random(in: 1...4, using: &generator) {
                        switch Int.random(in: 0...2, using: &generator) {
                        case 0: bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                        case 1: bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &generator)...)
                        default: bytes.insert(UInt8.random(in: 32...126, using: &generator), at: Int.random(in: 0...bytes.count, using: &generator))
                        }
                        if bytes.isEmpty { bytes = [0x7b] }
                    }
                    messages.append(Data(bytes))
                }
            }
            let verdicts = messages.map { JobRequestCodec.decode($0) }
            let invalid = verdicts.filter { if case .failure = $0 { true } else { false } }.count
            let validIDs = Set(verdicts.compactMap { verdict -> JobID? in if case .success(let request) = verdict { request.jobID } else { nil } })
            try await produce(fleet, messages.map { (nil, $0) })

            let letters = try await deadLetters(fleet, count: invalid, timeout: .seconds(300))
            #expect(letters.count == invalid, "every invalid message dead-lettered once (\(invalid) expected)")
            let records = try await fleet.waitForTerminal(Array(validIDs), timeout: .seconds(120))
            #expect(records.count == validIDs.count, "every valid request reached the store")
            #expect(records.values.allSatisfy { $0.state.isTerminal })
            let alive = fleet.isRunning("worker-1")
            #expect(alive, "the worker survived:\n\(fleet.logTail("worker-1"))")
        }
    }
}

actor LetterBox {
    private(set) var all: [KafkaMessage] = []
    func add(_ message: KafkaMessage) { all.append(message) }
    var count: Int { all.count }
}
