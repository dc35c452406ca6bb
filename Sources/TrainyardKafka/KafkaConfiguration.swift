/// Settings every Kafka client shares.
///
/// Typed fields cover what Trainyard sets itself; `properties` passes any other librdkafka
/// property through unchanged (e.g. `security.protocol`, `sasl.mechanisms`, `ssl.ca.location`),
/// so SASL/SSL deployments need no code change. A property in `properties` overrides the typed
/// field it conflicts with.
public struct KafkaConfiguration: Sendable, Equatable {
    /// `host:port[,host:port…]`
    public var bootstrapServers: String
    public var clientID: String
    /// Extra librdkafka properties, applied last.
    public var properties: [String: String]

    public init(bootstrapServers: String = "127.0.0.1:19092", clientID: String = "trainyard", properties: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.properties = properties
    }

    var librdkafkaProperties: [String: String] {
        ["bootstrap.servers": bootstrapServers, "client.id": clientID]
    }
}

/// Producer settings.
public struct KafkaProducerConfiguration: Sendable, Equatable {
    public var common: KafkaConfiguration
    /// Exactly-once per partition from this producer (no duplicates on internal retries).
    public var idempotence: Bool
    /// How long to wait to fill a batch.
    public var lingerMilliseconds: Int
    /// Give up on a message after this long (delivery report carries the error).
    public var messageTimeoutMilliseconds: Int

    public init(
        common: KafkaConfiguration = KafkaConfiguration(), idempotence: Bool = true, lingerMilliseconds: Int = 5,
        messageTimeoutMilliseconds: Int = 30_000
    ) {
        self.common = common
        self.idempotence = idempotence
        self.lingerMilliseconds = lingerMilliseconds
        self.messageTimeoutMilliseconds = messageTimeoutMilliseconds
    }

    /// How a key picks its partition: murmur2, as Kafka's Java client does (librdkafka's
    /// `murmur2_random`; keyless messages go to a random partition). Part of the wire contract
    /// (docs/wire-format.md, "Partitioning"): every producer of a job's messages, in any
    /// language, must hash the job id the same way so its commands and events share a partition.
    public static let partitioner = "murmur2_random"

    var librdkafkaProperties: [String: String] {
        var properties = common.librdkafkaProperties
        properties["partitioner"] = Self.partitioner
        properties["enable.idempotence"] = idempotence ? "true" : "false"
        properties["linger.ms"] = String(lingerMilliseconds)
        properties["message.timeout.ms"] = String(messageTimeoutMilliseconds)
        return properties.merging(common.properties) { _, override in override }
    }
}

/// Where a consumer starts on a partition that has no committed offset (or whose position is
/// out of range).
public enum KafkaOffsetReset: String, Sendable {
    case earliest, latest
    /// Do not move: report the partition as an error (for consumers that keep their own offsets).
    case error
}

/// Partition assignment strategy of a consumer group.
public enum KafkaAssignmentStrategy: String, Sendable {
    case range = "range"
    case roundRobin = "roundrobin"
    /// Incremental rebalancing: only moved partitions are revoked.
    case cooperativeSticky = "cooperative-sticky"
}

/// Consumer settings. Offsets are never committed automatically: callers store the offsets that
/// are safe with `KafkaConsumer.storeOffset` and commit them with `commit()`; they are also
/// committed when partitions are revoked and on close.
public struct KafkaConsumerConfiguration: Sendable, Equatable {
    public var common: KafkaConfiguration
    public var groupID: String
    public var topics: [String]
    public var sessionTimeoutMilliseconds: Int
    /// Also the group's rebalance timeout. This consumer polls on its own thread whatever the
    /// caller does, so it can be short; a short one bounds how long a rebalance waits for a
    /// member that is gone (the local broker waits for it in full).
    public var maxPollIntervalMilliseconds: Int
    /// `earliest` by default: the local broker (Tansu 0.6.0) answers ListOffsets LATEST with the start of the last batch, so `latest` re-reads it.
    public var offsetReset: KafkaOffsetReset
    public var assignmentStrategy: KafkaAssignmentStrategy
    /// Messages buffered between the poll thread and the caller before the consumer pauses
    /// fetching (it keeps polling, so it stays in the group).
    public var bufferCapacity: Int
    /// Whether records' headers are read. librdkafka parses a record's headers only when asked,
    /// and asking costs about as much CPU as the rest of the record (even for a record without
    /// headers); a consumer that never looks at `KafkaMessage.headers` turns this off and gets
    /// them empty.
    public var readsHeaders: Bool

    public init(
        common: KafkaConfiguration = KafkaConfiguration(), groupID: String, topics: [String],
        sessionTimeoutMilliseconds: Int = 6000, maxPollIntervalMilliseconds: Int = 20_000,
        offsetReset: KafkaOffsetReset = .earliest, assignmentStrategy: KafkaAssignmentStrategy = .range,
        bufferCapacity: Int = 10_000, readsHeaders: Bool = true
    ) {
        self.common = common
        self.groupID = groupID
        self.topics = topics
        self.sessionTimeoutMilliseconds = sessionTimeoutMilliseconds
        self.maxPollIntervalMilliseconds = maxPollIntervalMilliseconds
        self.offsetReset = offsetReset
        self.assignmentStrategy = assignmentStrategy
        self.bufferCapacity = bufferCapacity
        self.readsHeaders = readsHeaders
    }

    var librdkafkaProperties: [String: String] {
        var properties = common.librdkafkaProperties
        properties["group.id"] = groupID
        properties["enable.auto.commit"] = "false"
        properties["enable.auto.offset.store"] = "false"
        properties["session.timeout.ms"] = String(sessionTimeoutMilliseconds)
        properties["heartbeat.interval.ms"] = String(max(100, sessionTimeoutMilliseconds / 3))
        properties["max.poll.interval.ms"] = String(maxPollIntervalMilliseconds)
        properties["auto.offset.reset"] = offsetReset.rawValue
        properties["partition.assignment.strategy"] = assignmentStrategy.rawValue
        return properties.merging(common.properties) { _, override in override }
    }
}
