/// An error from librdkafka or the broker, with librdkafka's code and name.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// librdkafka's response error code (negative: client-side, positive: broker).
    public var code: Int32
    /// librdkafka's name for the code, e.g. `UNKNOWN_TOPIC_OR_PART`.
    public var name: String
    public var message: String
    /// True when retrying the same operation later may succeed.
    public var isRetriable: Bool

    public init(code: Int32, name: String, message: String, isRetriable: Bool = false) {
        self.code = code
        self.name = name
        self.message = message
        self.isRetriable = isRetriable
    }

    /// An error raised by this module itself (configuration, closed client…).
    public static func client(_ message: String) -> KafkaError {
        KafkaError(code: -1, name: "CLIENT", message: message)
    }

    public var description: String { "Kafka error \(name) (\(code)): \(message)" }
}
