import TrainyardCore
import TrainyardKafka

/// Publishes submit and cancel commands to the requests topic, keyed by job id (so each job's
/// commands reach the worker that owns its partition, in order). The CLI and the HTTP API both
/// submit through it: the store is written only by the aggregator, from the topics.
public struct JobRequestPublisher: Sendable {
    private let producer: KafkaProducer
    private let topic: String

    /// - Parameter topic: the requests topic (`TopicNames.requests`).
    public init(producer: KafkaProducer, topic: String) {
        self.producer = producer
        self.topic = topic
    }

    /// Sends `request` and returns once the broker has acknowledged it.
    public func publish(_ request: JobRequest) async throws {
        _ = try await producer.send(KafkaProducerMessage(topic: topic, key: request.jobID.rawValue, value: try JobRequestCodec.encode(request)))
    }
}
