import CRdkafka
import Logging

/// Rebalance handling, run on the consumer's poll thread from inside `rd_kafka_consumer_poll`.
enum RDKafkaRebalance {
    static func handle(
        handle: OpaquePointer, error: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
        state: LockedConsumerState, startingOffsets: KafkaConsumer.StartingOffsets?, logger: Logger
    ) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        let entries = RDKafkaTopicPartitionList.read(partitions).map(\.0)
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            var offsets: [KafkaTopicPartition: Int64] = [:]
            if let startingOffsets {
                offsets = startingOffsets(entries)
                for index in 0..<Int(partitions.pointee.cnt) {
                    let element = partitions.pointee.elems[index]
                    let key = KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)
                    if let offset = offsets[key] { partitions.pointee.elems[index].offset = offset }
                }
            }
            // Where reading starts, for the offset-continuity check: a broker that exposes a
            // later batch first could otherwise skip records already at the first fetch. This
            // blocks the poll thread, so it is kept short: two slow lookups of 10 s in a row once
            // passed max.poll.interval.ms (20 s) and cost the member its partitions. Without an
            // answer the check starts at the first record read.
            let uncovered = entries.filter { offsets[$0] == nil }
            offsets.merge(rdkafkaCommittedOffsets(handle, uncovered, timeoutMilliseconds: 2_000)) { explicit, _ in explicit }
            if cooperative {
                if let failure = rd_kafka_incremental_assign(handle, partitions) { logger.error("assign failed: \(RDKafkaError.take(failure))") }
            } else {
                let result = rd_kafka_assign(handle, partitions)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR { logger.error("assign failed: \(RDKafkaError.make(result))") }
            }
            state.withLock { state in
                // librdkafka keeps a partition's pause flag across an unassign and a new assign,
                // so every new partition is set explicitly, paused or not.
                let (pause, resume) = state.assign(entries, startingOffsets: offsets)
                rdkafkaSetPaused(handle, pause, paused: true, logger: logger)
                rdkafkaSetPaused(handle, resume, paused: false, logger: logger)
            }
            logger.info("partitions assigned", metadata: ["partitions": "\(describe(entries))"])
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            // A lost assignment (session timed out, e.g. while the broker was unreachable) belongs
            // to another member already: a commit would be rejected, and could block for long.
            let lost = rd_kafka_assignment_lost(handle) != 0
            let toCommit = lost ? [] : state.withLock { $0.uncommitted(of: entries) }
            if !toCommit.isEmpty {
                let result = RDKafkaTopicPartitionList.with(toCommit) { rd_kafka_commit(handle, $0, 0) }
                if result != RD_KAFKA_RESP_ERR_NO_ERROR { logger.warning("commit on revoke failed: \(RDKafkaError.make(result))") }
            }
            state.withLock { $0.revoke(entries) }?.resume()
            if cooperative {
                if let failure = rd_kafka_incremental_unassign(handle, partitions) { logger.error("unassign failed: \(RDKafkaError.take(failure))") }
            } else {
                _ = rd_kafka_assign(handle, nil)
            }
            logger.info(lost ? "partitions lost" : "partitions revoked", metadata: ["partitions": "\(describe(entries))"])
        default:
            logger.error("rebalance error: \(RDKafkaError.make(error))")
            _ = rd_kafka_assign(handle, nil)
        }
        if error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            state.withLock { $0.takeWaiter() }?.resume()
        }
    }

    /// `topic[0,1,2] other[3]`
    static func describe(_ partitions: [KafkaTopicPartition]) -> String {
        Dictionary(grouping: partitions, by: \.topic).sorted { $0.key < $1.key }.map { topic, entries in
            "\(topic)[\(entries.map(\.partition).sorted().map(String.init).joined(separator: ","))]"
        }.joined(separator: " ")
    }
}
