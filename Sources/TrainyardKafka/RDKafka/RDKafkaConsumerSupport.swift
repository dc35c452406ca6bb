import CRdkafka
import Foundation
import Logging
import Synchronization

/// Rebalance handling, run on the consumer's poll thread from inside `rd_kafka_consumer_poll`.
enum Rebalance {
    static func handle(
        handle: OpaquePointer, error: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
        state: LockedConsumerState, startingOffsets: KafkaConsumer.StartingOffsets?, logger: Logger
    ) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        let entries = RDKafkaTopicPartitionList.read(partitions).map(\.0)
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if let startingOffsets {
                let offsets = startingOffsets(entries)
                for index in 0..<Int(partitions.pointee.cnt) {
                    let element = partitions.pointee.elems[index]
                    let key = KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)
                    if let offset = offsets[key] { partitions.pointee.elems[index].offset = offset }
                }
            }
            if cooperative {
                if let failure = rd_kafka_incremental_assign(handle, partitions) { logger.error("assign failed: \(RDKafkaError.take(failure))") }
            } else {
                let result = rd_kafka_assign(handle, partitions)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR { logger.error("assign failed: \(RDKafkaError.make(result))") }
            }
            let pauseNew = state.withLock { state in
                state.assigned.formUnion(entries)
                state.append([.assigned(entries)], droppingRevoked: false)
                return state.internallyPaused ? entries : entries.filter { state.userPaused.contains($0) }
            }
            setPaused(handle, pauseNew, paused: true, logger: logger)
            logger.info("partitions assigned", metadata: ["partitions": "\(describe(entries))"])
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let toCommit: [(KafkaTopicPartition, Int64)] = state.withLock { state in
                entries.compactMap { partition -> (KafkaTopicPartition, Int64)? in
                    guard let offset = state.stored[partition], state.committed[partition] != offset else { return nil }
                    return (partition, offset)
                }
            }
            if !toCommit.isEmpty {
                let result = RDKafkaTopicPartitionList.with(toCommit) { rd_kafka_commit(handle, $0, 0) }
                if result != RD_KAFKA_RESP_ERR_NO_ERROR { logger.warning("commit on revoke failed: \(RDKafkaError.make(result))") }
            }
            let waiter = state.withLock { state in
                state.revocations += 1
                state.assigned.subtract(entries)
                for partition in entries {
                    state.stored[partition] = nil
                    state.committed[partition] = nil
                }
                state.buffer.removeAll { event in
                    if case .message(let message) = event { return entries.contains(message.topicPartition) }
                    return false
                }
                state.bufferedCount = state.buffer.count
                state.append([.revoked(entries)], droppingRevoked: false)
                return state.takeWaiter()
            }
            waiter?.resume()
            if cooperative {
                if let failure = rd_kafka_incremental_unassign(handle, partitions) { logger.error("unassign failed: \(RDKafkaError.take(failure))") }
            } else {
                _ = rd_kafka_assign(handle, nil)
            }
            logger.info("partitions revoked", metadata: ["partitions": "\(describe(entries))"])
        default:
            logger.error("rebalance error: \(RDKafkaError.make(error))")
            _ = rd_kafka_assign(handle, nil)
        }
        if error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            let waiter = state.withLock { $0.takeWaiter() }
            waiter?.resume()
        }
    }

    /// `topic[0,1,2] other[3]`
    static func describe(_ partitions: [KafkaTopicPartition]) -> String {
        Dictionary(grouping: partitions, by: \.topic).sorted { $0.key < $1.key }.map { topic, entries in
            "\(topic)[\(entries.map(\.partition).sorted().map(String.init).joined(separator: ","))]"
        }.joined(separator: " ")
    }

    static func setPaused(_ handle: OpaquePointer, _ partitions: [KafkaTopicPartition], paused: Bool, logger: Logger) {
        guard !partitions.isEmpty else { return }
        let result = RDKafkaTopicPartitionList.with(partitions.map { ($0, crdkafka_offset_invalid) }) { list in
            paused ? rd_kafka_pause_partitions(handle, list) : rd_kafka_resume_partitions(handle, list)
        }
        if result != RD_KAFKA_RESP_ERR_NO_ERROR { logger.warning("\(paused ? "pause" : "resume") failed: \(RDKafkaError.make(result))") }
    }
}

/// Copies consumed records out of librdkafka's memory. Used only on the consumer's poll thread.
///
/// `@unchecked Sendable`: the topic-name cache is touched only by the one poll thread that owns
/// this reader.
final class RDKafkaMessageReader: @unchecked Sendable {
    /// librdkafka's topic-name pointer → the name, so names are not re-decoded for every record.
    private var topicNames: [UnsafePointer<CChar>: (copy: UnsafeMutablePointer<CChar>, name: String)] = [:]

    deinit { topicNames.values.forEach { free($0.copy) } }

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
        if let cached = topicNames[pointer], strcmp(cached.copy, pointer) == 0 { return cached.name }
        if let stale = topicNames[pointer] { free(stale.copy) }
        let name = String(cString: pointer)
        topicNames[pointer] = (strdup(pointer)!, name)
        return name
    }
}
