import CRdkafka
import Foundation
import Logging
import Synchronization

/// Publishes records to Kafka.
///
/// `send` returns after the broker acknowledged the record (its delivery report) or throws a
/// `KafkaError`; `enqueue` + `flush` is the fast path for bulk publishing. Idempotence is on by
/// default. A dedicated thread serves librdkafka's delivery reports; call `close()` when done.
public final class KafkaProducer: Sendable {
    private let client: RDKafkaClient
    private let poller: RDKafkaPollThread
    private let outcomes: ProducerOutcomes
    private let logger: Logger

    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        let outcomes = ProducerOutcomes()
        let context = RDKafkaClientContext(logger: logger)
        context.onDelivery = { message in outcomes.delivered(message) }
        client = try RDKafkaClient(kind: .producer, properties: configuration.librdkafkaProperties, context: context)
        let client = client
        poller = RDKafkaPollThread(name: "trainyard-kafka-producer") { _ = rd_kafka_poll(client.handle, 100) }
        self.outcomes = outcomes
        self.logger = logger
    }

    /// Produces `message` and waits for its delivery report.
    public func send(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<KafkaDeliveryReport, Error>) in
            let waiter = Unmanaged.passRetained(DeliveryWaiter(continuation))
            do {
                try produceRetryingWhileFull(message, opaque: waiter.toOpaque())
            } catch {
                waiter.release()
                continuation.resume(throwing: error)
            }
        }
    }

    /// Hands `message` to librdkafka without waiting; `flush()` reports failed deliveries.
    public func enqueue(_ message: KafkaProducerMessage) throws(KafkaError) {
        try produceRetryingWhileFull(message, opaque: nil)
    }

    /// Waits until every enqueued record is delivered or failed.
    /// - Throws: the last delivery error, when any `enqueue`d record failed since the last flush.
    public func flush(timeout: Duration = .seconds(30)) async throws {
        let client = client
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        let result = await RDKafkaBlocking.run { rd_kafka_flush(client.handle, milliseconds) }
        if result != RD_KAFKA_RESP_ERR_NO_ERROR { throw RDKafkaError.make(result) }
        if let failure = outcomes.takeFailure() { throw failure }
    }

    /// Flushes, then stops the delivery-report thread. The producer cannot be used afterwards.
    public func close(timeout: Duration = .seconds(30)) async {
        do { try await flush(timeout: timeout) } catch { logger.error("Kafka producer closed with undelivered records: \(error)") }
        await poller.stop()
    }

    private func produceRetryingWhileFull(_ message: KafkaProducerMessage, opaque: UnsafeMutableRawPointer?) throws(KafkaError) {
        var waited = 0
        while true {
            guard let error = produce(message, opaque: opaque) else { return }
            // The local queue is full: librdkafka drains it as the poll thread serves reports.
            guard error.code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue, waited < 30_000 else { throw error }
            usleep(1000)
            waited += 1
        }
    }

    private func produce(_ message: KafkaProducerMessage, opaque: UnsafeMutableRawPointer?) -> KafkaError? {
        var headers: OpaquePointer?
        if !message.headers.isEmpty {
            headers = rd_kafka_headers_new(message.headers.count)
            for header in message.headers {
                _ = header.value.withUnsafeBytesOrNil { bytes in
                    rd_kafka_header_add(headers, header.key, -1, bytes?.baseAddress, bytes?.count ?? 0)
                }
            }
        }
        let error: OpaquePointer? = message.topic.withCString { topic in
            message.value.withUnsafeBytes { value in
                message.key.withUnsafeBytesOrNil { key in
                    var arguments = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 7)
                    arguments[0].vtype = RD_KAFKA_VTYPE_TOPIC
                    arguments[0].u.cstr = topic
                    arguments[1].vtype = RD_KAFKA_VTYPE_PARTITION
                    arguments[1].u.i32 = message.partition ?? crdkafka_partition_unassigned
                    arguments[2].vtype = RD_KAFKA_VTYPE_VALUE
                    arguments[2].u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                    arguments[2].u.mem.size = value.count
                    arguments[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    arguments[3].u.i = RD_KAFKA_MSG_F_COPY
                    arguments[4].vtype = RD_KAFKA_VTYPE_OPAQUE
                    arguments[4].u.ptr = opaque
                    var count = 5
                    if let key {
                        arguments[count].vtype = RD_KAFKA_VTYPE_KEY
                        arguments[count].u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
                        arguments[count].u.mem.size = key.count
                        count += 1
                    }
                    if let headers {
                        arguments[count].vtype = RD_KAFKA_VTYPE_HEADERS
                        arguments[count].u.headers = headers
                        count += 1
                    }
                    return rd_kafka_produceva(client.handle, &arguments, count)
                }
            }
        }
        guard let error else { return nil }  // librdkafka now owns the headers
        if let headers { rd_kafka_headers_destroy(headers) }
        return RDKafkaError.take(error)
    }
}

/// Delivery outcomes of records produced without a waiter.
private final class ProducerOutcomes: Sendable {
    private let lastFailure = Mutex<KafkaError?>(nil)

    func delivered(_ message: UnsafePointer<rd_kafka_message_t>) {
        let result: Result<KafkaDeliveryReport, KafkaError>
        if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            result = .success(
                KafkaDeliveryReport(
                    topic: String(cString: rd_kafka_topic_name(message.pointee.rkt)),
                    partition: message.pointee.partition, offset: message.pointee.offset))
        } else {
            result = .failure(RDKafkaError.make(message.pointee.err))
        }
        if let opaque = message.pointee._private {
            Unmanaged<DeliveryWaiter>.fromOpaque(opaque).takeRetainedValue().complete(result)
        } else if case .failure(let error) = result {
            lastFailure.withLock { $0 = error }
        }
    }

    func takeFailure() -> KafkaError? {
        lastFailure.withLock { failure in
            defer { failure = nil }
            return failure
        }
    }
}

/// The continuation of one `send`, carried through librdkafka as the message's opaque pointer.
private final class DeliveryWaiter: Sendable {
    private let continuation: CheckedContinuation<KafkaDeliveryReport, Error>

    init(_ continuation: CheckedContinuation<KafkaDeliveryReport, Error>) { self.continuation = continuation }

    func complete(_ result: Result<KafkaDeliveryReport, KafkaError>) { continuation.resume(with: result.mapError { $0 }) }
}

extension Optional where Wrapped == Data {
    fileprivate func withUnsafeBytesOrNil<Result>(_ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
        switch self {
        case .some(let data): data.withUnsafeBytes { body($0) }
        case .none: body(nil)
        }
    }
}
