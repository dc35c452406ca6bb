import CRdkafka

/// Admin requests (blocking: run them through `RDKafkaBlocking`).
extension RDKafkaClient {
    /// Creates the topics that do not exist yet. Returns the names it created; a topic that
    /// already exists is not an error (its partition count is left as it is).
    func createTopics(_ topics: [KafkaNewTopic], timeoutMilliseconds milliseconds: Int32) throws(KafkaError) -> [String] {
        let client = self
        var errorText = [CChar](repeating: 0, count: 512)
        var handles: [OpaquePointer?] = []
        defer { handles.forEach { rd_kafka_NewTopic_destroy($0) } }
        for topic in topics {
            guard
                let handle = rd_kafka_NewTopic_new(
                    topic.name, Int32(topic.partitions), Int32(topic.replicationFactor), &errorText, errorText.count)
            else {
                throw KafkaError(code: -1, name: "INVALID_TOPIC", message: "\(topic.name): \(String(cBuffer: errorText))")
            }
            handles.append(handle)
            for (name, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
                let result = rd_kafka_NewTopic_set_config(handle, name, value)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR { throw RDKafkaError.make(result, message: "\(topic.name): config \(name)") }
            }
        }
        let results = try Self.runAdminRequest(client, timeoutMilliseconds: milliseconds) { queue, options in
            handles.withUnsafeMutableBufferPointer { rd_kafka_CreateTopics(client.handle, $0.baseAddress, $0.count, options, queue) }
        } extract: { event in
            var count = 0
            let result = rd_kafka_event_CreateTopics_result(event)
            let items = rd_kafka_CreateTopics_result_topics(result, &count)
            return (0..<count).map { items![$0] }
        }
        var created: [String] = []
        for (name, error, message) in results {
            if error == RD_KAFKA_RESP_ERR_NO_ERROR {
                created.append(name)
            } else if error != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
                throw RDKafkaError.make(error, message: "\(name): \(message)")
            }
        }
        return created
    }

    /// Deletes topics; missing ones are ignored.
    func deleteTopics(_ names: [String], timeoutMilliseconds milliseconds: Int32) throws(KafkaError) {
        let client = self
        var handles: [OpaquePointer?] = names.map { rd_kafka_DeleteTopic_new($0) }
        defer { handles.forEach { rd_kafka_DeleteTopic_destroy($0) } }
        let results = try Self.runAdminRequest(client, timeoutMilliseconds: milliseconds) { queue, options in
            handles.withUnsafeMutableBufferPointer { rd_kafka_DeleteTopics(client.handle, $0.baseAddress, $0.count, options, queue) }
        } extract: { event in
            var count = 0
            let result = rd_kafka_event_DeleteTopics_result(event)
            let items = rd_kafka_DeleteTopics_result_topics(result, &count)
            return (0..<count).map { items![$0] }
        }
        for (name, error, message) in results where error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART {
            throw RDKafkaError.make(error, message: "\(name): \(message)")
        }
    }

    /// Sends one admin request and waits for its result event on a private queue.
    private static func runAdminRequest(
        _ client: RDKafkaClient, timeoutMilliseconds: Int32,
        send: (OpaquePointer, OpaquePointer) -> Void,
        extract: (OpaquePointer) -> [OpaquePointer?]
    ) throws(KafkaError) -> [(String, rd_kafka_resp_err_t, String)] {
        guard let queue = rd_kafka_queue_new(client.handle) else { throw KafkaError.client("rd_kafka_queue_new failed") }
        defer { rd_kafka_queue_destroy(queue) }
        guard let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_ANY) else {
            throw KafkaError.client("rd_kafka_AdminOptions_new failed")
        }
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errorText = [CChar](repeating: 0, count: 512)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMilliseconds, &errorText, errorText.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMilliseconds, &errorText, errorText.count)
        send(queue, options)
        guard let event = rd_kafka_queue_poll(queue, timeoutMilliseconds + 1000) else {
            throw KafkaError(code: RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue, name: "_TIMED_OUT", message: "admin request timed out", isRetriable: true)
        }
        defer { rd_kafka_event_destroy(event) }
        let requestError = rd_kafka_event_error(event)
        if requestError != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw RDKafkaError.make(requestError, message: rd_kafka_event_error_string(event).map { String(cString: $0) })
        }
        return extract(event).compactMap { item in
            guard let item else { return nil }
            return (
                String(cString: rd_kafka_topic_result_name(item)), rd_kafka_topic_result_error(item),
                rd_kafka_topic_result_error_string(item).map { String(cString: $0) } ?? ""
            )
        }
    }
}
