import Foundation
import Testing
import TrainyardKafka
import TrainyardTesting

/// The clients through a broker pause (issue #18), on a broker of the test's own.
@Suite("Kafka clients through a broker pause", .serialized)
struct KafkaBrokerPauseTests {
    let logger = TestEnvironment.logger("kafka-pause-tests")

    /// Records in flight when the broker froze time out; the local broker then fences the
    /// idempotent producer (PRODUCER_FENCED, fatal for a librdkafka handle). Without a new
    /// handle, every later send fails for good.
    @Test("a producer whose records timed out during a broker pause delivers again once the broker is back")
    func producerSurvivesPause() async throws {
        try await PrivateBroker.with { broker in try await producerSurvivesPause(broker) }
    }

    func producerSurvivesPause(_ broker: PrivateBroker) async throws {
        let common = KafkaConfiguration(bootstrapServers: broker.address, clientID: "trainyard-pause-test")
        let topic = TestEnvironment.uniqueName("pause")
        try await KafkaAdmin(configuration: common, logger: logger).createTopics([KafkaNewTopic(name: topic, partitions: 1)])
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(common: common, messageTimeoutMilliseconds: 2000), logger: logger)
        _ = try await producer.send(KafkaProducerMessage(topic: topic, key: "before", value: Data("before".utf8)))

        try await broker.pause()
        // Fails once its message timeout passes (the broker answers nothing while paused).
        let duringPause = await Result(catchingAsync: {
            try await producer.send(KafkaProducerMessage(topic: topic, key: "during", value: Data("during".utf8)))
        })
        broker.resume()
        #expect(throws: KafkaError.self) { try duringPause.get() }

        // As the worker's event publisher does: retry until the broker acknowledges.
        var delivered: KafkaDeliveryReport?
        let deadline = ContinuousClock.now + .seconds(180)
        while delivered == nil, ContinuousClock.now < deadline {
            do {
                delivered = try await producer.send(KafkaProducerMessage(topic: topic, key: "after", value: Data("after".utf8)))
            } catch {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        #expect(delivered != nil, "no send succeeded within 180 s of the broker's return")
        #expect(producer.replacements >= 1, "the fenced handle was never replaced")
        await producer.close()
    }
}

extension Result where Failure == any Error {
    /// The outcome of `body`, thrown error included.
    init(catchingAsync body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
