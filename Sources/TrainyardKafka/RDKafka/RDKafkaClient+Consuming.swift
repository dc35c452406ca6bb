import CRdkafka
import Logging

extension RDKafkaClient {
    /// Subscribes to `topics` and routes every event of the handle to the consumer queue, so
    /// `pollMessages` alone serves rebalances, logs and errors.
    func subscribe(_ topics: [String]) throws(KafkaError) {
        rd_kafka_poll_set_consumer(handle)
        let error = RDKafkaTopicPartitionList.with(topics.map { (KafkaTopicPartition(topic: $0, partition: -1), crdkafka_offset_invalid) }) {
            rd_kafka_subscribe(handle, $0)
        }
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw RDKafkaError.make(error) }
    }

    /// Commits `offsets` (next offset to read, per partition) and waits for the answer.
    func commit(_ offsets: [(KafkaTopicPartition, Int64)]) -> KafkaError? {
        RDKafkaTopicPartitionList.with(offsets) { list in
            let error = rd_kafka_commit(handle, list, 0)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR { return RDKafkaError.make(error) }
            return RDKafkaTopicPartitionList.elementErrors(list).first
        }
    }

    /// Pauses or resumes fetching from `partitions` (a non-blocking request to librdkafka).
    func setPaused(_ partitions: [KafkaTopicPartition], paused: Bool, logger: Logger) {
        rdkafkaSetPaused(handle, partitions, paused: paused, logger: logger)
    }

    /// Moves the fetch position of assigned partitions (a non-blocking request to librdkafka,
    /// which drops records it fetched from the old position).
    func seek(_ offsets: [(KafkaTopicPartition, Int64)], logger: Logger) {
        guard !offsets.isEmpty else { return }
        RDKafkaTopicPartitionList.with(offsets) { list in
            if let failure = rd_kafka_seek_partitions(handle, list, 0) { logger.error("seek failed: \(RDKafkaError.take(failure))") }
        }
    }

    /// Records not yet read on `partitions`, from the last fetch's high watermarks.
    func lag(of partitions: [KafkaTopicPartition]) -> Int64 {
        guard !partitions.isEmpty else { return 0 }
        return RDKafkaTopicPartitionList.with(partitions.map { ($0, crdkafka_offset_invalid) }) { list in
            guard rd_kafka_position(handle, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return 0 }
            return RDKafkaTopicPartitionList.read(list).reduce(Int64(0)) { total, entry in
                var low: Int64 = 0
                var high: Int64 = 0
                rd_kafka_get_watermark_offsets(handle, entry.0.topic, entry.0.partition, &low, &high)
                let position = entry.1 >= 0 ? entry.1 : low
                return total + max(0, high - position)
            }
        }
    }

    /// Leaves the group (blocking: serves the final rebalance).
    func closeConsumer() -> KafkaError? {
        let error = rd_kafka_consumer_close(handle)
        return error == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : RDKafkaError.make(error)
    }
}

/// Pauses or resumes fetching from `partitions` of the consumer `handle`.
func rdkafkaSetPaused(_ handle: OpaquePointer, _ partitions: [KafkaTopicPartition], paused: Bool, logger: Logger) {
    guard !partitions.isEmpty else { return }
    let result = RDKafkaTopicPartitionList.with(partitions.map { ($0, crdkafka_offset_invalid) }) { list in
        paused ? rd_kafka_pause_partitions(handle, list) : rd_kafka_resume_partitions(handle, list)
    }
    if result != RD_KAFKA_RESP_ERR_NO_ERROR { logger.warning("\(paused ? "pause" : "resume") failed: \(RDKafkaError.make(result))") }
}

/// The committed offsets of `partitions` of the consumer `handle` (those that have one), waiting
/// up to `timeoutMilliseconds`; empty if the broker does not answer in time.
func rdkafkaCommittedOffsets(_ handle: OpaquePointer, _ partitions: [KafkaTopicPartition], timeoutMilliseconds: Int32) -> [KafkaTopicPartition: Int64]
{
    guard !partitions.isEmpty else { return [:] }
    return RDKafkaTopicPartitionList.with(partitions.map { ($0, crdkafka_offset_invalid) }) { list in
        guard rd_kafka_committed(handle, list, timeoutMilliseconds) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [:] }
        return Dictionary(RDKafkaTopicPartitionList.read(list).filter { $0.1 >= 0 }, uniquingKeysWith: { first, _ in first })
    }
}
