import CRdkafka
import Foundation
import Logging

/// Reads records from a consumer's queue and copies them out of librdkafka's memory. Used only
/// on the consumer's poll thread.
///
/// The keys and values of a poll are copied into shared blocks (`ArenaLimit` bytes at most, a
/// larger record gets a block of its own) rather than one allocation per record: each record's
/// `key` and `value` is a `Data` slice of its block (so its `startIndex` need not be 0), and a
/// block is freed once the last record sharing it is. Short keys (up to 14 bytes) are inline.
///
/// `@unchecked Sendable`: every member (the queue, the pointer array, the batch and the
/// topic-name cache) is touched only by the one poll thread that owns this reader; the queue
/// reference is released once, in `deinit`.
final class RDKafkaMessageReader: @unchecked Sendable {
    private let client: RDKafkaClient
    /// The consumer queue (`rd_kafka_poll_set_consumer` routed every event of the handle to it).
    private let queue: OpaquePointer
    /// The records of one poll, as librdkafka handed them over.
    private let pointers: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    private let pointerCapacity: Int
    /// Whether headers are read (librdkafka parses them on request, at a cost).
    private let readsHeaders: Bool
    /// Largest block that keys and values of several records share: a record kept long (e.g.
    /// a job request while its job runs) keeps at most this much of its neighbours alive.
    static let arenaLimit = 16 * 1024
    /// The records of the last `poll`, for the consumer to move into its buffer (its storage is reused).
    var batch: [KafkaConsumerEvent] = []
    /// librdkafka's topic-name pointer → the name, so names are not re-decoded for every record.
    private var topicNames: [UnsafePointer<CChar>: (copy: UnsafeMutablePointer<CChar>, name: String)] = [:]
    /// The entry of `topicNames` used last.
    private var lastTopic: (pointer: UnsafePointer<CChar>, copy: UnsafeMutablePointer<CChar>, name: String)?

    /// `maximumBatch`: the most records one `poll` takes; `readsHeaders`: false leaves every
    /// record's headers empty.
    init(client: RDKafkaClient, maximumBatch: Int, readsHeaders: Bool) throws(KafkaError) {
        guard let queue = rd_kafka_queue_get_consumer(client.handle) else { throw KafkaError.client("no consumer queue (not subscribed?)") }
        self.client = client
        self.queue = queue
        pointerCapacity = max(1, maximumBatch)
        self.readsHeaders = readsHeaders
        pointers = .allocate(capacity: pointerCapacity)
    }

    deinit {
        topicNames.values.forEach { free($0.copy) }
        pointers.deallocate()
        rd_kafka_queue_destroy(queue)
    }

    /// Waits up to `timeoutMilliseconds` for a record, then takes what else is ready, up to
    /// `maximumBatch` records, appending them to `batch`; returns how many it appended.
    /// Rebalance callbacks run inside (both calls serve the queue's other events).
    func poll(timeoutMilliseconds: Int32, logger: Logger) -> Int {
        guard let first = rd_kafka_consumer_poll(client.handle, timeoutMilliseconds) else { return 0 }
        pointers[0] = first
        var count = 1
        while count < pointerCapacity {
            let taken = rd_kafka_consume_batch_queue(queue, 0, pointers + count, pointerCapacity - count)
            guard taken > 0 else { break }
            count += taken
        }
        // Appends go to a local array: a stored property of a class would be checked for
        // exclusive access on every record.
        var batch: [KafkaConsumerEvent] = []
        swap(&batch, &self.batch)
        defer { swap(&batch, &self.batch) }
        let before = batch.count
        var start = 0
        while start < count {
            start = takeBlock(from: start, of: count, into: &batch, logger: logger)
        }
        return batch.count - before
    }

    /// Converts the records from `start` whose keys and values fit one block (at least one
    /// record), destroys them and returns the index after the last one taken.
    private func takeBlock(from start: Int, of count: Int, into batch: inout [KafkaConsumerEvent], logger: Logger) -> Int {
        var end = start
        var size = 0
        while end < count {
            let message = pointers[end]!.pointee
            let bytes =
                message.err == RD_KAFKA_RESP_ERR_NO_ERROR
                ? (message.payload == nil ? 0 : message.len) + (message.key == nil ? 0 : message.key_len) : 0
            if end > start && size + bytes > Self.arenaLimit { break }
            size += bytes
            end += 1
        }
        let block = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 1)
        var ranges: [(key: Range<Int>?, value: Range<Int>?)] = []
        ranges.reserveCapacity(end - start)
        var used = 0
        func copy(_ bytes: UnsafeMutableRawPointer?, _ count: Int) -> Range<Int>? {
            guard let bytes else { return nil }
            (block + used).copyMemory(from: bytes, byteCount: count)
            defer { used += count }
            return used..<used + count
        }
        for index in start..<end {
            let message = pointers[index]!.pointee
            guard message.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                ranges.append((nil, nil))
                continue
            }
            ranges.append((copy(message.key, message.key_len), copy(message.payload, message.len)))
        }
        let arena = Data(bytesNoCopy: block, count: used, deallocator: .custom { pointer, _ in pointer.deallocate() })
        for index in start..<end {
            let raw = pointers[index]!
            let (key, value) = ranges[index - start]
            if raw.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                batch.append(.message(read(raw, key: key.map { arena[$0] }, value: value.map { arena[$0] } ?? Data())))
            } else {
                report(raw, logger: logger)
            }
            rd_kafka_message_destroy(raw)
        }
        return end
    }

    /// Logs an error a consumer poll returned (end of partition is not one).
    private func report(_ raw: UnsafeMutablePointer<rd_kafka_message_t>, logger: Logger) {
        let error = raw.pointee.err
        if error == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET {
            // Only with `offsetReset: .error`: the position is outside the partition.
            let partition = raw.pointee.rkt.map { "\(String(cString: rd_kafka_topic_name($0)))[\(raw.pointee.partition)]" } ?? "?"
            logger.critical(
                "\(partition): the position to resume at is outside the partition (\(RDKafkaError.make(error).message)); nothing is read from it until an operator acts (were the topics recreated?)"
            )
        } else if error != RD_KAFKA_RESP_ERR__PARTITION_EOF {
            logger.warning("consume error: \(RDKafkaError.make(error))")
        }
    }

    /// The record `raw` with the key and value already copied out (headers are copied here).
    private func read(_ raw: UnsafeMutablePointer<rd_kafka_message_t>, key: Data?, value: Data) -> KafkaMessage {
        let message = raw.pointee
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        if readsHeaders, rd_kafka_message_headers(raw, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
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
