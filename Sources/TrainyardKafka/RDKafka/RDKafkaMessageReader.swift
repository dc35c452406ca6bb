import CRdkafka
import Foundation
import Logging

/// Reads records from a consumer's queue and copies them out of librdkafka's memory. Used only
/// on the consumer's poll thread.
///
/// `@unchecked Sendable`: every member (the queue, the pointer array, the batch and the
/// topic-name cache) is touched only by the one poll thread that owns this reader; the queue
/// reference is released once, in `deinit`.
final class RDKafkaMessageReader: @unchecked Sendable {
    private let client: RDKafkaClient
    /// The consumer queue (`rd_kafka_poll_set_consumer` routed every event of the handle to it).
    private let queue: OpaquePointer
    /// What `rd_kafka_consume_batch_queue` fills.
    private let pointers: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    private static let pointerCapacity = 512
    /// The records of the last `poll`, for the consumer to move into its buffer (its storage is reused).
    var batch: [KafkaConsumerEvent] = []
    /// librdkafka's topic-name pointer → the name, so names are not re-decoded for every record.
    private var topicNames: [UnsafePointer<CChar>: (copy: UnsafeMutablePointer<CChar>, name: String)] = [:]
    /// The entry of `topicNames` used last.
    private var lastTopic: (pointer: UnsafePointer<CChar>, copy: UnsafeMutablePointer<CChar>, name: String)?

    init(client: RDKafkaClient) throws(KafkaError) {
        guard let queue = rd_kafka_queue_get_consumer(client.handle) else { throw KafkaError.client("no consumer queue (not subscribed?)") }
        self.client = client
        self.queue = queue
        pointers = .allocate(capacity: Self.pointerCapacity)
    }

    deinit {
        topicNames.values.forEach { free($0.copy) }
        pointers.deallocate()
        rd_kafka_queue_destroy(queue)
    }

    /// Waits up to `timeoutMilliseconds` for a record, then takes what else is ready in batches, up
    /// to `maximum` records, appending them to `batch`; returns how many it appended. Rebalance
    /// callbacks run inside (both calls serve the queue's other events).
    func poll(maximum: Int, timeoutMilliseconds: Int32, logger: Logger) -> Int {
        guard let first = rd_kafka_consumer_poll(client.handle, timeoutMilliseconds) else { return 0 }
        // Appends go to a local array: a stored property of a class would be checked for
        // exclusive access on every record.
        var batch: [KafkaConsumerEvent] = []
        swap(&batch, &self.batch)
        defer { swap(&batch, &self.batch) }
        let before = batch.count
        take(first, into: &batch, logger: logger)
        while batch.count - before < maximum {
            let count = rd_kafka_consume_batch_queue(queue, 0, pointers, min(Self.pointerCapacity, maximum - (batch.count - before)))
            guard count > 0 else { break }
            for index in 0..<count { take(pointers[index]!, into: &batch, logger: logger) }
        }
        return batch.count - before
    }

    /// Appends `raw` to `batch` (or logs its error) and destroys it.
    private func take(_ raw: UnsafeMutablePointer<rd_kafka_message_t>, into batch: inout [KafkaConsumerEvent], logger: Logger) {
        defer { rd_kafka_message_destroy(raw) }
        let error = raw.pointee.err
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if error == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET {
                // Only with `offsetReset: .error`: the position is outside the partition.
                let partition = raw.pointee.rkt.map { "\(String(cString: rd_kafka_topic_name($0)))[\(raw.pointee.partition)]" } ?? "?"
                logger.critical(
                    "\(partition): the position to resume at is outside the partition (\(RDKafkaError.make(error).message)); nothing is read from it until an operator acts (were the topics recreated?)"
                )
            } else if error != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                logger.warning("consume error: \(RDKafkaError.make(error))")
            }
            return
        }
        batch.append(.message(read(raw)))
    }

    func read(_ raw: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaMessage {
        let message = raw.pointee
        let value = message.payload.map { Data(bytes: $0, count: message.len) } ?? Data()
        let key = message.key.map { Data(bytes: $0, count: message.key_len) }
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        if rd_kafka_message_headers(raw, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            var index = 0
            var name: UnsafePointer<CChar>?
            var bytes: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(headerList, index, &name, &bytes, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "", value: bytes.map { Data(bytes: $0, count: size) }))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(raw, &timestampType)
        return KafkaMessage(
            topic: topicName(rd_kafka_topic_name(message.rkt)), partition: message.partition, offset: message.offset,
            key: key, value: value, headers: headers,
            timestamp: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    private func topicName(_ pointer: UnsafePointer<CChar>) -> String {
        // Consecutive records mostly share a topic: compare with the last one before hashing.
        if let last = lastTopic, last.pointer == pointer, strcmp(last.copy, pointer) == 0 { return last.name }
        let name = cachedTopicName(pointer)
        lastTopic = topicNames[pointer].map { (pointer, $0.copy, $0.name) }
        return name
    }

    private func cachedTopicName(_ pointer: UnsafePointer<CChar>) -> String {
        if let cached = topicNames[pointer], strcmp(cached.copy, pointer) == 0 { return cached.name }
        if let stale = topicNames[pointer] { free(stale.copy) }
        let name = String(cString: pointer)
        topicNames[pointer] = (strdup(pointer)!, name)
        return name
    }
}
