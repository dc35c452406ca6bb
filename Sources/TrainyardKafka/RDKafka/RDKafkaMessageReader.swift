import CRdkafka
import Foundation

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
