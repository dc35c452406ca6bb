import CRdkafka
import Foundation
import Logging
import Synchronization

/// Owns one `rd_kafka_t` handle.
///
/// `@unchecked Sendable`: librdkafka documents `rd_kafka_t` as thread-safe for every call we
/// make on it; the pointer itself never changes after `init` and is destroyed once, in `deinit`,
/// when no other reference can exist.
final class RDKafkaClient: @unchecked Sendable {
    enum Kind { case producer, consumer }

    let handle: OpaquePointer
    let context: RDKafkaClientContext
    private let contextReference: Unmanaged<RDKafkaClientContext>

    /// Creates the handle. `context` receives librdkafka's callbacks (logs, errors, deliveries,
    /// rebalances) through the configuration's opaque pointer.
    init(kind: Kind, properties: [String: String], context: RDKafkaClientContext) throws(KafkaError) {
        guard let configuration = rd_kafka_conf_new() else { throw KafkaError.client("rd_kafka_conf_new failed") }
        var errorText = [CChar](repeating: 0, count: 512)
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(configuration, name, value, &errorText, errorText.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(configuration)
                throw KafkaError(code: -1, name: "INVALID_CONFIG", message: "\(name): \(String(cBuffer: errorText))")
            }
        }
        let reference = Unmanaged.passRetained(context)
        rd_kafka_conf_set_opaque(configuration, reference.toOpaque())
        rd_kafka_conf_set_log_cb(configuration, rdkafkaLogCallback)
        rd_kafka_conf_set_error_cb(configuration, rdkafkaErrorCallback)
        switch kind {
        case .producer:
            rd_kafka_conf_set_dr_msg_cb(configuration, rdkafkaDeliveryCallback)
        case .consumer:
            rd_kafka_conf_set_rebalance_cb(configuration, rdkafkaRebalanceCallback)
        }
        let type = kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
        guard let created = rd_kafka_new(type, configuration, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(configuration)
            reference.release()
            throw KafkaError(code: -1, name: "CREATE_FAILED", message: String(cBuffer: errorText))
        }
        handle = created
        self.context = context
        contextReference = reference
    }

    deinit {
        rd_kafka_destroy(handle)
        contextReference.release()
    }

    /// Topic → partition count, from a metadata request to the cluster.
    func partitionCounts(timeoutMilliseconds: Int32 = 5000) throws(KafkaError) -> [String: Int] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let error = rd_kafka_metadata(handle, 1, nil, &metadata, timeoutMilliseconds)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw RDKafkaError.make(error) }
        defer { rd_kafka_metadata_destroy(metadata) }
        var counts: [String: Int] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            counts[String(cString: topic.topic)] = Int(topic.partition_cnt)
        }
        return counts
    }
}

/// Where librdkafka's callbacks land; one per client.
///
/// `@unchecked Sendable`: `logger` is immutable and Sendable; `handlers` is only written before the
/// client handle exists and read afterwards (the handle's creation orders the two).
final class RDKafkaClientContext: @unchecked Sendable {
    let logger: Logger
    /// Called on the thread serving the client's queue (the poll thread), once per record.
    var onDelivery: (@Sendable (RDKafkaDelivery) -> Void)?
    /// Called on the consumer's poll thread from inside `rd_kafka_consumer_poll`.
    var onRebalance: (@Sendable (OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?
    /// The last fatal error reported, if any.
    let fatalError = Mutex<KafkaError?>(nil)

    init(logger: Logger) { self.logger = logger }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> RDKafkaClientContext? {
        opaque.map { Unmanaged<RDKafkaClientContext>.fromOpaque($0).takeUnretainedValue() }
    }
}

enum RDKafkaError {
    static func make(_ code: rd_kafka_resp_err_t, message: String? = nil) -> KafkaError {
        KafkaError(
            code: code.rawValue, name: String(cString: rd_kafka_err2name(code)),
            message: message ?? String(cString: rd_kafka_err2str(code)),
            isRetriable: isRetriable(code))
    }

    /// Takes ownership of `error` and destroys it.
    static func take(_ error: OpaquePointer) -> KafkaError {
        defer { rd_kafka_error_destroy(error) }
        return KafkaError(
            code: rd_kafka_error_code(error).rawValue, name: String(cString: rd_kafka_error_name(error)),
            message: String(cString: rd_kafka_error_string(error)), isRetriable: rd_kafka_error_is_retriable(error) != 0)
    }

    static func isRetriable(_ code: rd_kafka_resp_err_t) -> Bool {
        switch code {
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__QUEUE_FULL,
            RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
            true
        default:
            false
        }
    }
}

// MARK: C callbacks (non-capturing; context comes from the opaque pointer)

private let rdkafkaLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    handle, level, facility, text in
    guard let handle, let context = RDKafkaClientContext.from(rd_kafka_opaque(handle)) else { return }
    let message = "\(facility.map { String(cString: $0) } ?? "-"): \(text.map { String(cString: $0) } ?? "")"
    // syslog levels: 0-3 error, 4 warning, 5-6 notice/info, 7 debug.
    let swiftLevel: Logger.Level = level <= 3 ? .error : level == 4 ? .warning : level <= 6 ? .info : .debug
    context.logger.log(level: swiftLevel, "\(message)", metadata: ["librdkafka": "log"])
}

private let rdkafkaErrorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    handle, code, reason, opaque in
    guard let context = RDKafkaClientContext.from(opaque) else { return }
    let error = rd_kafka_resp_err_t(rawValue: code)
    let text = reason.map { String(cString: $0) } ?? ""
    if error == RD_KAFKA_RESP_ERR__FATAL, let handle {
        var buffer = [CChar](repeating: 0, count: 512)
        let original = rd_kafka_fatal_error(handle, &buffer, buffer.count)
        let fatal = RDKafkaError.make(original, message: String(cBuffer: buffer))
        context.fatalError.withLock { $0 = fatal }
        context.logger.critical("librdkafka fatal error: \(fatal)")
    } else if error == RD_KAFKA_RESP_ERR__TRANSPORT || error == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN {
        context.logger.warning("Kafka: \(text)", metadata: ["librdkafka": "error", "code": "\(code)"])
    } else {
        context.logger.error("Kafka: \(text)", metadata: ["librdkafka": "error", "code": "\(code)"])
    }
}

private let rdkafkaDeliveryCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, opaque in
    guard let message, let context = RDKafkaClientContext.from(opaque) else { return }
    context.onDelivery?(RDKafkaDelivery(message: message))
}

private let rdkafkaRebalanceCallback:
    @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?) -> Void = {
        handle, error, partitions, opaque in
        guard let handle, let partitions, let context = RDKafkaClientContext.from(opaque) else { return }
        context.onRebalance?(handle, error, partitions)
    }

extension String {
    /// The NUL-terminated text librdkafka wrote into `buffer`.
    init(cBuffer buffer: [CChar]) {
        self = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
