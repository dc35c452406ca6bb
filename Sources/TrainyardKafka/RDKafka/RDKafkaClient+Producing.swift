import CRdkafka
import Foundation

/// The delivery report of one produced record, valid only inside the delivery callback.
struct RDKafkaDelivery {
    fileprivate let message: UnsafePointer<rd_kafka_message_t>

    init(message: UnsafePointer<rd_kafka_message_t>) { self.message = message }

    /// The pointer the record was produced with (nil for records produced without one).
    var opaque: UnsafeMutableRawPointer? { message.pointee._private }

    /// True when the broker acknowledged the record (cheaper than building `result`).
    var succeeded: Bool { message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR }

    /// Where the record was stored, or why it was not.
    var result: Result<KafkaDeliveryReport, KafkaError> {
        guard succeeded else { return .failure(RDKafkaError.make(message.pointee.err)) }
        return .success(
            KafkaDeliveryReport(
                topic: String(cString: rd_kafka_topic_name(message.pointee.rkt)), partition: message.pointee.partition,
                offset: message.pointee.offset))
    }
}

extension RDKafkaClient {
    /// Hands `message` to librdkafka, which copies its bytes. Returns nil when it was queued.
    ///
    /// With `blockWhileFull` librdkafka waits (on a condition variable, until the poll thread has
    /// served delivery reports) instead of failing with `QUEUE_FULL` when its local queue is full.
    func produce(_ message: KafkaProducerMessage, opaque: UnsafeMutableRawPointer?, blockWhileFull: Bool) -> KafkaError? {
        var headers: OpaquePointer?
        if !message.headers.isEmpty {
            headers = rd_kafka_headers_new(message.headers.count)
            for header in message.headers {
                _ = header.value.withUnsafeBytesOrNil { bytes in
                    rd_kafka_header_add(headers, header.key, -1, bytes?.baseAddress, bytes?.count ?? 0)
                }
            }
        }
        let flags = RD_KAFKA_MSG_F_COPY | (blockWhileFull ? RD_KAFKA_MSG_F_BLOCK : 0)
        let error: OpaquePointer? = message.topic.withCString { topic in
            message.value.withUnsafeBytes { value in
                message.key.withUnsafeBytesOrNil { key in
                    withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { arguments in
                        var count = 0
                        func add(_ type: rd_kafka_vtype_t, _ set: (inout rd_kafka_vu_t) -> Void) {
                            var argument = rd_kafka_vu_t()
                            argument.vtype = type
                            set(&argument)
                            arguments.initializeElement(at: count, to: argument)
                            count += 1
                        }
                        add(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = topic }
                        add(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = message.partition ?? crdkafka_partition_unassigned }
                        add(RD_KAFKA_VTYPE_VALUE) {
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                            $0.u.mem.size = value.count
                        }
                        add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = flags }
                        if let opaque { add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = opaque } }
                        if let key {
                            add(RD_KAFKA_VTYPE_KEY) {
                                $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
                                $0.u.mem.size = key.count
                            }
                        }
                        if let headers { add(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = headers } }
                        defer { arguments.baseAddress!.deinitialize(count: count) }
                        return rd_kafka_produceva(handle, arguments.baseAddress, count)
                    }
                }
            }
        }
        guard let error else { return nil }  // librdkafka now owns the headers
        if let headers { rd_kafka_headers_destroy(headers) }
        return RDKafkaError.take(error)
    }

    /// Serves delivery reports (and logs, errors) for up to `timeoutMilliseconds`; returns how
    /// many events it served.
    @discardableResult
    func poll(timeoutMilliseconds: Int32) -> Int {
        Int(rd_kafka_poll(handle, timeoutMilliseconds))
    }

    /// Waits until every queued record is delivered or failed (blocking).
    func flush(timeoutMilliseconds: Int32) -> KafkaError? {
        let result = rd_kafka_flush(handle, timeoutMilliseconds)
        return result == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : RDKafkaError.make(result)
    }
}

extension KafkaError {
    /// librdkafka's local queue is full (the record was not queued).
    var isQueueFull: Bool { code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue }

    /// The broker no longer accepts this producer's id or epoch (or librdkafka raised a fatal
    /// error): every later record of the same handle would fail the same way, so the handle must
    /// be replaced. Seen from the local broker after a pause longer than `message.timeout.ms`:
    /// librdkafka bumps the idempotent producer's epoch and the broker answers PRODUCER_FENCED
    /// to every produce from then on.
    var invalidatesProducer: Bool {
        switch rd_kafka_resp_err_t(rawValue: code) {
        case RD_KAFKA_RESP_ERR_PRODUCER_FENCED, RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH, RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID,
            RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, RD_KAFKA_RESP_ERR_INVALID_PRODUCER_ID_MAPPING, RD_KAFKA_RESP_ERR__FATAL:
            true
        default:
            false
        }
    }
}

extension Optional where Wrapped == Data {
    fileprivate func withUnsafeBytesOrNil<Result>(_ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
        switch self {
        case .some(let data): data.withUnsafeBytes { body($0) }
        case .none: body(nil)
        }
    }
}
