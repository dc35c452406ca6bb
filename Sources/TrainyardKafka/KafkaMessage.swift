import Foundation

/// A Kafka record header.
public struct KafkaHeader: Sendable, Equatable {
    public var key: String
    public var value: Data?

    public init(key: String, value: Data?) {
        self.key = key
        self.value = value
    }

    public init(key: String, string: String) {
        self.init(key: key, value: Data(string.utf8))
    }
}

/// A topic and partition.
public struct KafkaTopicPartition: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// A record to produce. `partition` nil lets the partitioner choose from the key.
public struct KafkaProducerMessage: Sendable {
    public var topic: String
    public var key: Data?
    public var value: Data
    public var headers: [KafkaHeader]
    public var partition: Int32?

    public init(topic: String, key: Data? = nil, value: Data, headers: [KafkaHeader] = [], partition: Int32? = nil) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
        self.partition = partition
    }

    public init(topic: String, key: String, value: Data, headers: [KafkaHeader] = []) {
        self.init(topic: topic, key: Data(key.utf8), value: value, headers: headers)
    }
}

/// Where the broker stored a produced record.
public struct KafkaDeliveryReport: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

/// A consumed record; bytes are copied out of librdkafka.
public struct KafkaMessage: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: Data?
    public var value: Data
    public var headers: [KafkaHeader]
    /// Producer or broker timestamp, when the record has one.
    public var timestamp: Date?

    public var topicPartition: KafkaTopicPartition { KafkaTopicPartition(topic: topic, partition: partition) }

    public func header(_ key: String) -> Data? { headers.last { $0.key == key }?.value }
}
