import Foundation
import Logging
import TrainyardCore
import TrainyardKafka

/// Publishes lifecycle events, retrying until the broker acknowledges them, and records
/// rejected requests (one try each: the worker's rejection loop retries).
public struct EventPublisher: RejectionRecording {
    let producer: KafkaProducer
    let topics: TopicNames
    let logger: Logger

    public init(producer: KafkaProducer, topics: TopicNames, logger: Logger) {
        self.producer = producer
        self.topics = topics
        self.logger = logger
    }

    /// Publishes `event` (key = job id) and returns once it is stored on the broker.
    /// - Throws: `CancellationError` only; delivery failures are retried with backoff.
    public func publish(_ event: LifecycleEvent) async throws {
        try await sendRetrying(try message(event), what: description(event))
    }

    /// Hands `event` to the producer without waiting for its delivery: for the events that gate
    /// nothing (the states before an attempt's outcome, heartbeats). One job's events share a key,
    /// so a partition, and the idempotent producer keeps their order: the job's outcome, which is
    /// `publish`ed and gates the request's commit, is stored after them. When the producer
    /// refuses the event at once, it is published (waited for, retried) instead.
    public func post(_ event: LifecycleEvent) async throws {
        let message = try message(event)
        do {
            try producer.enqueue(message)
        } catch {
            try await sendRetrying(message, what: description(event))
        }
    }

    /// The events topic's message of `event` (key = job id).
    private func message(_ event: LifecycleEvent) throws -> KafkaProducerMessage {
        KafkaProducerMessage(topic: topics.events, key: event.jobID.rawValue, value: try LifecycleEventCodec.encode(event))
    }

    private func description(_ event: LifecycleEvent) -> String { "\(event.state.rawValue) event of \(event.jobID)" }

    /// Sends the original bytes of an unusable request to the DLQ, with the reason in headers.
    /// One try: throws when the broker does not store it (the worker's rejection loop retries).
    public func deadLetter(_ message: KafkaMessage, rejection: RequestRejection) async throws {
        var headers = message.headers
        headers.append(KafkaHeader(key: "trainyard-error-code", string: rejection.code.rawValue))
        headers.append(KafkaHeader(key: "trainyard-error-reason", string: rejection.reason))
        headers.append(KafkaHeader(key: "trainyard-source-topic", string: message.topic))
        headers.append(KafkaHeader(key: "trainyard-source-partition", string: String(message.partition)))
        headers.append(KafkaHeader(key: "trainyard-source-offset", string: String(message.offset)))
        _ = try await producer.send(KafkaProducerMessage(topic: topics.deadLetters, key: message.key, value: message.value, headers: headers))
    }

    /// Publishes a rejected request's REJECTED event. One try, like `deadLetter`.
    public func publishRejected(_ event: LifecycleEvent) async throws {
        _ = try await producer.send(try message(event))
    }

    private func sendRetrying(_ message: KafkaProducerMessage, what: String) async throws {
        var delay = Duration.milliseconds(100)
        while true {
            do {
                _ = try await producer.send(message)
                return
            } catch {
                logger.warning("publishing \(what) failed, retrying in \(delay): \(error)")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }
}
